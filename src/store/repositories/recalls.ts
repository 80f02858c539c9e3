import type { RecallsTable } from '../schema.js';
import type { RecallRecord, RecallRepository } from '../store.js';
import { isoInstant, type RepositoryContext } from './context.js';

function toRecall(row: RecallsTable): RecallRecord {
  return {
    id: row.id,
    productId: row.product_id,
    version: row.version,
    reason: row.reason,
    by: row.recalled_by,
    at: row.recalled_at,
  };
}

export function createRecallRepository(ctx: RepositoryContext): RecallRepository {
  const { db } = ctx;
  return {
    async add(recall) {
      const row: RecallsTable = {
        id: recall.id,
        product_id: recall.productId,
        version: recall.version,
        reason: recall.reason,
        recalled_by: recall.by,
        // The instant the recall message carries, so the row and the envelopes agree.
        recalled_at: isoInstant(recall.at, 'at'),
      };
      await db.insertInto('recalls').values(row).execute();
      return toRecall(row);
    },

    async get(id) {
      const row = await db.selectFrom('recalls').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? undefined : toRecall(row);
    },

    async list(productId) {
      const rows = await db
        .selectFrom('recalls')
        .selectAll()
        .where('product_id', '=', productId)
        .orderBy('recalled_at')
        .orderBy('id')
        .execute();
      return rows.map(toRecall);
    },
  };
}
