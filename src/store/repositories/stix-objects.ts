import type { StixObjectsTable } from '../schema.js';
import type { StixObjectRecord, StixObjectRepository } from '../store.js';
import { atomic, nowIso, parseStoredJson, type RepositoryContext } from './context.js';

// Rows per INSERT: 7 parameters each stays far below SQLite's and PostgreSQL's parameter limits.
const BATCH_ROWS = 500;

// The object is parsed when first read: a TAXII page of 1,000 out of a million rows parses 1,000.
function toRecord(row: StixObjectsTable): StixObjectRecord {
  let parsed: Record<string, unknown> | undefined;
  return {
    stixId: row.stix_id,
    version: row.version,
    type: row.type,
    productId: row.product_id,
    portionId: row.portion_id,
    get object() {
      parsed ??= parseStoredJson<Record<string, unknown>>(row.object_json);
      return parsed;
    },
    dateAdded: row.date_added,
  };
}

export function createStixObjectRepository(ctx: RepositoryContext): StixObjectRepository {
  const { db } = ctx;
  return {
    async addMany(objects) {
      const dateAdded = nowIso(ctx);
      return atomic(db, async (tx) => {
        let added = 0;
        for (let start = 0; start < objects.length; start += BATCH_ROWS) {
          const rows = objects.slice(start, start + BATCH_ROWS).map((o) => ({
            stix_id: o.stixId,
            version: o.version,
            type: o.type,
            product_id: o.productId,
            portion_id: o.portionId,
            object_json: o.json,
            date_added: dateAdded,
          }));
          const result = await tx
            .insertInto('stix_objects')
            .values(rows)
            .onConflict((oc) => oc.columns(['stix_id', 'version']).doNothing())
            .executeTakeFirst();
          added += Number(result.numInsertedOrUpdatedRows ?? 0n);
        }
        return added;
      });
    },

    async list(filter = {}) {
      let query = db.selectFrom('stix_objects').selectAll();
      if (filter.productId === null) query = query.where('product_id', 'is', null);
      else if (filter.productId !== undefined) query = query.where('product_id', '=', filter.productId);
      // Oldest import first; id and version make the order stable within one import.
      const rows = await query.orderBy('date_added').orderBy('stix_id').orderBy('version').execute();
      return rows.map(toRecord);
    },
  };
}
