import type { ReceivedRecallsTable } from '../schema.js';
import type { ReceivedRecall, ReceivedRecallRepository } from '../store.js';
import { isoInstant, type RepositoryContext } from './context.js';

function toReceivedRecall(row: ReceivedRecallsTable): ReceivedRecall {
  return {
    envelopeId: row.envelope_id,
    recallId: row.recall_id,
    originator: row.originator,
    productId: row.product_id,
    productVersion: row.product_version,
    reason: row.reason,
    recalledAt: row.recalled_at,
    receivedAt: row.received_at,
  };
}

export function createReceivedRecallRepository(ctx: RepositoryContext): ReceivedRecallRepository {
  const { db } = ctx;
  return {
    async add(recall) {
      const row: ReceivedRecallsTable = {
        envelope_id: recall.envelopeId,
        recall_id: recall.recallId,
        originator: recall.originator,
        product_id: recall.productId,
        product_version: recall.productVersion,
        reason: recall.reason,
        recalled_at: isoInstant(recall.recalledAt, 'recalledAt'),
        received_at: isoInstant(recall.receivedAt, 'receivedAt'),
      };
      await db.insertInto('received_recalls').values(row).execute();
      return toReceivedRecall(row);
    },

    async get(envelopeId) {
      const row = await db
        .selectFrom('received_recalls')
        .selectAll()
        .where('envelope_id', '=', envelopeId)
        .executeTakeFirst();
      return row === undefined ? undefined : toReceivedRecall(row);
    },

    async covering(originator, productId, version) {
      const row = await db
        .selectFrom('received_recalls')
        .selectAll()
        .where('originator', '=', originator)
        .where('product_id', '=', productId)
        .where((eb) => eb.or([eb('product_version', 'is', null), eb('product_version', '=', version)]))
        .orderBy('received_at')
        .orderBy('envelope_id')
        .limit(1)
        .executeTakeFirst();
      return row === undefined ? undefined : toReceivedRecall(row);
    },
  };
}
