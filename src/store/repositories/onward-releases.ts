import type { OnwardReleasesTable } from '../schema.js';
import type { OnwardReleaseRecord, OnwardReleaseRepository } from '../store.js';
import { nowIso, parseStoredJson, type RepositoryContext } from './context.js';

function toOnward(row: OnwardReleasesTable): OnwardReleaseRecord {
  return {
    id: row.id,
    envelopeId: row.envelope_id,
    productId: row.product_id,
    productVersion: row.product_version,
    originator: row.originator,
    recipient: row.recipient,
    arrangementId: row.arrangement_id,
    arrangementVersion: row.arrangement_version,
    effect: row.effect === 'allow' ? 'allow' : 'deny',
    decision: parseStoredJson<unknown>(row.decision_json),
    consentRequestId: row.consent_request_id,
    by: row.released_by,
    at: row.released_at,
  };
}

export function createOnwardReleaseRepository(ctx: RepositoryContext): OnwardReleaseRepository {
  const { db } = ctx;
  return {
    async add(release) {
      const row: OnwardReleasesTable = {
        id: release.id,
        envelope_id: release.envelopeId,
        product_id: release.productId,
        product_version: release.productVersion,
        originator: release.originator,
        recipient: release.recipient,
        arrangement_id: release.arrangementId,
        arrangement_version: release.arrangementVersion,
        effect: release.effect,
        decision_json: JSON.stringify(release.decision) ?? 'null',
        consent_request_id: release.consentRequestId,
        released_by: release.by,
        released_at: nowIso(ctx),
      };
      await db.insertInto('onward_releases').values(row).execute();
      return toOnward(row);
    },

    async get(id) {
      const row = await db.selectFrom('onward_releases').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? undefined : toOnward(row);
    },

    async list(filter = {}) {
      let query = db.selectFrom('onward_releases').selectAll();
      if (filter.productId !== undefined) query = query.where('product_id', '=', filter.productId);
      if (filter.recipient !== undefined) query = query.where('recipient', '=', filter.recipient);
      const rows = await query.orderBy('released_at').orderBy('id').execute();
      return rows.map(toOnward);
    },
  };
}
