import type { DerivedDocument } from '../../federation/index.js';
import type { ReceivedProductsTable } from '../schema.js';
import type { ReceivedProduct, ReceivedProductRepository } from '../store.js';
import { isoInstant, pageOf, parseStoredJson, type RepositoryContext } from './context.js';

function toReceived(row: ReceivedProductsTable): ReceivedProduct {
  return {
    envelopeId: row.envelope_id,
    productId: row.product_id,
    productVersion: row.product_version,
    originator: row.originator,
    sender: row.sender,
    arrangementId: row.arrangement_id,
    arrangementVersion: row.arrangement_version,
    document: parseStoredJson<DerivedDocument>(row.document_json),
    banner: row.banner,
    rank: row.classification_rank,
    receivedAt: row.received_at,
  };
}

export function createReceivedProductRepository(ctx: RepositoryContext): ReceivedProductRepository {
  const { db } = ctx;
  return {
    async add(product) {
      const row: ReceivedProductsTable = {
        envelope_id: product.envelopeId,
        product_id: product.productId,
        product_version: product.productVersion,
        originator: product.originator,
        sender: product.sender,
        arrangement_id: product.arrangementId,
        arrangement_version: product.arrangementVersion,
        // Kept exactly as it arrived, signature included, so it can be verified again at any time.
        document_json: JSON.stringify(product.document),
        banner: product.banner,
        classification_rank: product.rank,
        received_at: isoInstant(product.receivedAt, 'receivedAt'),
      };
      await db.insertInto('received_products').values(row).execute();
      return toReceived(row);
    },

    async get(productId, version) {
      let query = db.selectFrom('received_products').selectAll().where('product_id', '=', productId);
      if (version !== undefined) query = query.where('product_version', '=', version);
      const row = await query
        .orderBy('product_version', 'desc')
        .orderBy('received_at', 'desc')
        .orderBy('envelope_id', 'desc')
        .limit(1)
        .executeTakeFirst();
      return row === undefined ? undefined : toReceived(row);
    },

    async list(filter = {}) {
      const { limit, offset } = pageOf(filter);
      let query = db.selectFrom('received_products').selectAll();
      if (filter.originator !== undefined) query = query.where('originator', '=', filter.originator);
      if (filter.sender !== undefined) query = query.where('sender', '=', filter.sender);
      if (filter.arrangementId !== undefined)
        query = query.where('arrangement_id', '=', filter.arrangementId);
      const rows = await query
        .orderBy('received_at', 'desc')
        .orderBy('envelope_id', 'desc')
        .limit(limit)
        .offset(offset)
        .execute();
      return rows.map(toReceived);
    },
  };
}
