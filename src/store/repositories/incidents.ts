import type { IncidentStepsTable, IncidentsTable } from '../schema.js';
import type {
  IncidentEffects,
  IncidentKind,
  IncidentRecord,
  IncidentRepository,
  IncidentSeverity,
  IncidentState,
  IncidentStep,
  IncidentStepAction,
} from '../store.js';
import { affectedRows, notFound, parseStoredJson, type RepositoryContext } from './context.js';

function toIncident(row: IncidentsTable): IncidentRecord {
  return {
    id: row.id,
    kind: row.kind as IncidentKind,
    partner: row.partner,
    detectedAt: row.detected_at,
    evidence: parseStoredJson<unknown>(row.evidence_json),
    state: row.state as IncidentState,
    origin: row.origin,
    arrangement:
      row.arrangement_id === null || row.arrangement_version === null
        ? null
        : { id: row.arrangement_id, version: Number(row.arrangement_version) },
    reporter: row.reporter,
    severity: row.severity as IncidentSeverity | null,
    description: row.description,
    products: row.products_json === null ? [] : parseStoredJson<string[]>(row.products_json),
    notifyBy: row.notify_by,
    updatedAt: row.updated_at,
  };
}

function toStep(row: IncidentStepsTable): IncidentStep {
  return {
    incidentId: row.incident_id,
    seq: Number(row.seq),
    action: row.action as IncidentStepAction,
    state: row.state as IncidentState,
    at: row.at,
    byPartner: row.by_partner,
    byUser: row.by_user,
    note: row.note,
    effects: parseStoredJson<IncidentEffects>(row.effects_json),
  };
}

export function createIncidentRepository(ctx: RepositoryContext): IncidentRepository {
  const { db } = ctx;
  return {
    async open(incident, dedupeKey) {
      const result = await db
        .insertInto('incidents')
        .values({
          id: incident.id,
          kind: incident.kind,
          partner: incident.partner,
          detected_at: incident.detectedAt,
          evidence_json: JSON.stringify(incident.evidence ?? null),
          state: incident.state,
          dedupe_key: dedupeKey,
          origin: incident.origin,
          arrangement_id: incident.arrangement?.id ?? null,
          arrangement_version: incident.arrangement?.version ?? null,
          reporter: incident.reporter,
          severity: incident.severity,
          description: incident.description,
          products_json: JSON.stringify(incident.products),
          notify_by: incident.notifyBy,
          updated_at: incident.updatedAt,
        })
        .onConflict((oc) => oc.doNothing())
        .executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
    },

    async get(id) {
      const row = await db.selectFrom('incidents').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? undefined : toIncident(row);
    },

    async list(options = {}) {
      let query = db.selectFrom('incidents').selectAll();
      const ids = options.arrangementIds;
      if (ids !== undefined) {
        if (ids.length === 0) return [];
        query = query.where('arrangement_id', 'in', [...ids]);
      }
      const rows = await query.orderBy('detected_at').orderBy('id').execute();
      return rows.map(toIncident);
    },

    async setState(id, state, updatedAt) {
      const result = await db
        .updateTable('incidents')
        .set({ state, updated_at: updatedAt })
        .where('id', '=', id)
        .executeTakeFirst();
      if (affectedRows(result.numUpdatedRows) === 0) throw notFound('incident', { id });
    },

    async addStep(step) {
      const result = await db
        .insertInto('incident_steps')
        .values({
          incident_id: step.incidentId,
          seq: step.seq,
          state: step.state,
          action: step.action,
          at: step.at,
          by_partner: step.byPartner,
          by_user: step.byUser,
          note: step.note,
          effects_json: JSON.stringify(step.effects),
        })
        .onConflict((oc) => oc.doNothing())
        .executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
    },

    async steps(id) {
      const rows = await db
        .selectFrom('incident_steps')
        .selectAll()
        .where('incident_id', '=', id)
        .orderBy('seq')
        .execute();
      return rows.map(toStep);
    },
  };
}
