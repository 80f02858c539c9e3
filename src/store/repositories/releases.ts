import type { ReleasesTable } from '../schema.js';
import type { ReleaseRecord, ReleaseRepository } from '../store.js';
import { nowIso, parseStoredJson, type RepositoryContext } from './context.js';

function toRelease(row: ReleasesTable): ReleaseRecord {
  return {
    id: row.id,
    productId: row.product_id,
    version: row.version,
    recipient: row.recipient,
    arrangementId: row.arrangement_id,
    arrangementVersion: row.arrangement_version,
    effect: row.effect === 'allow' ? 'allow' : 'deny',
    decision: parseStoredJson<unknown>(row.decision_json),
    by: row.released_by,
    at: row.released_at,
  };
}

export function createReleaseRepository(ctx: RepositoryContext): ReleaseRepository {
  const { db } = ctx;
  return {
    async add(release) {
      const row: ReleasesTable = {
        id: release.id,
        product_id: release.productId,
        version: release.version,
        recipient: release.recipient,
        arrangement_id: release.arrangementId,
        arrangement_version: release.arrangementVersion,
        effect: release.effect,
        decision_json: JSON.stringify(release.decision) ?? 'null',
        released_by: release.by,
        released_at: nowIso(ctx),
      };
      await db.insertInto('releases').values(row).execute();
      return toRelease(row);
    },

    async get(id) {
      const row = await db.selectFrom('releases').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? undefined : toRelease(row);
    },

    async list(filter = {}) {
      let query = db.selectFrom('releases').selectAll();
      if (filter.productId !== undefined) query = query.where('product_id', '=', filter.productId);
      if (filter.recipient !== undefined) query = query.where('recipient', '=', filter.recipient);
      const rows = await query.orderBy('released_at').orderBy('id').execute();
      return rows.map(toRelease);
    },
  };
}
