import { type DerivedDocument, type RecalledDocument, recalledDocumentOf } from '../../federation/index.js';
import type { ReceivedProductsTable } from '../schema.js';
import type { RecalledProduct, ReceivedProduct, ReceivedProductRepository } from '../store.js';
import { atomic, isoInstant, pageOf, parseStoredJson, type RepositoryContext } from './context.js';
import { dropIndexed, indexedVersionOf, indexVersion } from './entities.js';

function toReceived(row: ReceivedProductsTable): ReceivedProduct {
  const fields = {
    envelopeId: row.envelope_id,
    productId: row.product_id,
    productVersion: row.product_version,
    originator: row.originator,
    sender: row.sender,
    arrangementId: row.arrangement_id,
    arrangementVersion: row.arrangement_version,
    banner: row.banner,
    rank: row.classification_rank,
    receivedAt: row.received_at,
  };
  const document = parseStoredJson<DerivedDocument | RecalledDocument>(row.document_json);
  if (row.recalled_at === null)
    return { ...fields, document: document as DerivedDocument, recalledAt: null, recallEnvelopeId: null };
  // Issue 4: a row marked recalled yields its tombstone only, whatever its document column holds.
  return {
    ...fields,
    document: recalledDocumentOf(document),
    recalledAt: row.recalled_at,
    // recall() sets both columns together.
    recallEnvelopeId: row.recall_envelope_id ?? '',
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
        recalled_at: null,
        recall_envelope_id: null,
      };
      await atomic(db, async (db) => {
        await db.insertInto('received_products').values(row).execute();
        // Issue 9: reads show the latest version received, so that one's entities are indexed.
        const indexed = await indexedVersionOf(db, 'received', product.productId);
        if (indexed === undefined || indexed <= product.productVersion) {
          await indexVersion(db, 'received', {
            id: product.productId,
            version: product.productVersion,
            originator: product.originator,
            reportedAt: row.received_at,
            title: product.document.title,
            portions: product.document.portions,
          });
        }
      });
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
      if (filter.productId !== undefined) query = query.where('product_id', '=', filter.productId);
      const rows = await query
        .orderBy('received_at', 'desc')
        .orderBy('envelope_id', 'desc')
        .limit(limit)
        .offset(offset)
        .execute();
      return rows.map(toReceived);
    },

    async originatorsOf(productId, version) {
      let query = db
        .selectFrom('received_products')
        .select('originator')
        .distinct()
        .where('product_id', '=', productId);
      if (version !== null) query = query.where('product_version', '=', version);
      const rows = await query.orderBy('originator').execute();
      return rows.map((r) => r.originator);
    },

    async recall(target) {
      const recalledAt = isoInstant(target.recalledAt, 'recalledAt');
      return atomic(db, async (db) => {
        let query = db
          .selectFrom('received_products')
          .selectAll()
          .where('product_id', '=', target.productId)
          .where('originator', '=', target.originator)
          .where('recalled_at', 'is', null);
        if (target.version !== null) query = query.where('product_version', '=', target.version);
        const held = await query.orderBy('product_version').orderBy('envelope_id').execute();
        const erased: RecalledProduct[] = [];
        for (const row of held) {
          // The whole document column is overwritten by the tombstone: no field of the content
          // survives in the row (what the engine keeps of old row images is its own: see
          // openSqlite's secure_delete, and VACUUM on PostgreSQL).
          const tombstone = recalledDocumentOf(parseStoredJson<DerivedDocument>(row.document_json));
          const erasedRow: ReceivedProductsTable = {
            ...row,
            document_json: JSON.stringify(tombstone),
            recalled_at: recalledAt,
            recall_envelope_id: target.recallEnvelopeId,
          };
          await db
            .updateTable('received_products')
            .set({
              document_json: erasedRow.document_json,
              recalled_at: erasedRow.recalled_at,
              recall_envelope_id: erasedRow.recall_envelope_id,
            })
            .where('envelope_id', '=', row.envelope_id)
            .where('recalled_at', 'is', null)
            .execute();
          erased.push(toReceived(erasedRow) as RecalledProduct);
        }
        // What a recall erased links nothing any more; the latest version is what reads show.
        const indexed = await indexedVersionOf(db, 'received', target.productId);
        if (erased.some((e) => e.productVersion === indexed))
          await dropIndexed(db, 'received', target.productId);
        return erased;
      });
    },
  };
}
