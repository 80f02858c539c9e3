import type { ExpressionBuilder } from 'kysely';
import type { AlertRulesTable, AlertsTable, Database } from '../schema.js';
import type { AlertRecord, AlertRepository, AlertRuleRecord, EntitySource, RuleHolder } from '../store.js';
import { isoInstant, pageOf, parseStoredJson, type RepositoryContext } from './context.js';

function toRule(row: AlertRulesTable): AlertRuleRecord {
  return {
    id: row.id,
    ownerId: row.owner_id,
    team: row.team,
    kind: row.kind,
    params: parseStoredJson<Record<string, unknown>>(row.params_json),
    createdAt: row.created_at,
  };
}

function toAlert(row: AlertsTable): AlertRecord {
  return {
    id: row.id,
    ruleId: row.rule_id,
    ownerId: row.owner_id,
    dedupeKey: row.dedupe_key,
    product: { source: row.product_source as EntitySource, id: row.product_id, version: row.product_version },
    detail: parseStoredJson<Record<string, unknown>>(row.detail_json),
    firedAt: row.fired_at,
  };
}

/** A user's own rules (no team) or their teams' rules. */
function heldBy(eb: ExpressionBuilder<Database, 'alert_rules'>, holder: RuleHolder) {
  const own = eb.and([eb('owner_id', '=', holder.userId), eb('team', 'is', null)]);
  return holder.teams.length === 0 ? own : eb.or([own, eb('team', 'in', [...holder.teams])]);
}

export function createAlertRepository(ctx: RepositoryContext): AlertRepository {
  const { db } = ctx;
  return {
    async addRule(rule) {
      const row: AlertRulesTable = {
        id: rule.id,
        owner_id: rule.ownerId,
        kind: rule.kind,
        params_json: JSON.stringify(rule.params),
        created_at: isoInstant(rule.createdAt, 'createdAt'),
        team: rule.team,
      };
      await db.insertInto('alert_rules').values(row).execute();
      return toRule(row);
    },

    async rules(holder) {
      let query = db.selectFrom('alert_rules').selectAll();
      if (holder !== undefined) query = query.where((eb) => heldBy(eb, holder));
      return (await query.orderBy('created_at').orderBy('id').execute()).map(toRule);
    },

    async deleteRule(id, holder) {
      const result = await db
        .deleteFrom('alert_rules')
        .where('id', '=', id)
        .where((eb) => heldBy(eb, holder))
        .executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },

    async add(alert) {
      const row: AlertsTable = {
        id: alert.id,
        rule_id: alert.ruleId,
        owner_id: alert.ownerId,
        dedupe_key: alert.dedupeKey,
        product_source: alert.product.source,
        product_id: alert.product.id,
        product_version: alert.product.version,
        detail_json: JSON.stringify(alert.detail),
        fired_at: isoInstant(alert.firedAt, 'firedAt'),
      };
      const inserted = await db
        .insertInto('alerts')
        .values(row)
        .onConflict((oc) => oc.column('dedupe_key').doNothing())
        .returning('id')
        .executeTakeFirst();
      return inserted === undefined ? undefined : toAlert(row);
    },

    async get(id) {
      const row = await db.selectFrom('alerts').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? undefined : toAlert(row);
    },

    async list(ownerId, page = {}) {
      const { limit, offset } = pageOf(page);
      const rows = await db
        .selectFrom('alerts')
        .selectAll()
        .where('owner_id', '=', ownerId)
        .orderBy('fired_at', 'desc')
        .orderBy('id', 'desc')
        .limit(limit)
        .offset(offset)
        .execute();
      return rows.map(toAlert);
    },
  };
}
