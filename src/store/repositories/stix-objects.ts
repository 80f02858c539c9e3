import { type RawBuilder, sql } from 'kysely';
import type { StixObjectsTable } from '../schema.js';
import type { StixObjectRecord, StixObjectRepository } from '../store.js';
import { atomic, nowIso, parseStoredJson, type RepositoryContext } from './context.js';

// Rows per INSERT: 7 parameters each stays far below SQLite's and PostgreSQL's parameter limits.
const BATCH_ROWS = 500;

/** The marking-definition ids a STIX object names: object markings and granular markings. */
export function markingRefsOfObject(object: Readonly<Record<string, unknown>>): string[] {
  const refs: unknown[] = Array.isArray(object.object_marking_refs) ? [...object.object_marking_refs] : [];
  if (Array.isArray(object.granular_markings)) {
    for (const g of object.granular_markings as unknown[]) {
      if (typeof g === 'object' && g !== null) refs.push((g as { marking_ref?: unknown }).marking_ref);
    }
  }
  return [...new Set(refs.filter((r): r is string => typeof r === 'string'))];
}

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

type ListColumn = 'product_id' | 'stix_id' | 'type';

export function createStixObjectRepository(ctx: RepositoryContext): StixObjectRepository {
  const { db } = ctx;
  // `column` is one of a list of values passed as ONE parameter, however long the list: an array
  // on PostgreSQL, a JSON array on SQLite (a reader may see many thousand products). `probe:
  // false` keeps SQLite from answering it through the column's index (a unary plus): the
  // product index would find every object of every product a reader sees and sort them all.
  const isIn = (column: ListColumn, values: readonly string[], probe = true): RawBuilder<boolean> =>
    ctx.dialect === 'postgres'
      ? sql<boolean>`${sql.ref(column)} = any(${[...values]}::text[])`
      : sql<boolean>`${sql.raw(probe ? '' : '+')}${sql.ref(column)} in (select value from json_each(${JSON.stringify(values)}))`;

  return {
    async addMany(objects) {
      const dateAdded = nowIso(ctx);
      return atomic(db, async (tx) => {
        let added = 0;
        for (let start = 0; start < objects.length; start += BATCH_ROWS) {
          const batch = objects.slice(start, start + BATCH_ROWS);
          const rows = batch.map((o) => ({
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
          const marks = new Map<string, { product_id: string; marking_ref: string }>();
          for (const o of batch) {
            if (o.productId === null) continue;
            const refs =
              o.markingRefs ?? markingRefsOfObject(parseStoredJson<Record<string, unknown>>(o.json));
            for (const ref of refs) {
              marks.set(`${o.productId}\u0000${ref}`, { product_id: o.productId, marking_ref: ref });
            }
          }
          if (marks.size > 0) {
            await tx
              .insertInto('stix_product_markings')
              .values([...marks.values()])
              .onConflict((oc) => oc.columns(['product_id', 'marking_ref']).doNothing())
              .execute();
          }
        }
        return added;
      });
    },

    async list(filter = {}) {
      let query = db.selectFrom('stix_objects').selectAll();
      if (filter.productId === null) query = query.where('product_id', 'is', null);
      else if (filter.productId !== undefined) query = query.where('product_id', '=', filter.productId);
      if (filter.types !== undefined) {
        if (filter.types.length === 0) return [];
        query = query.where('type', 'in', [...filter.types]);
      }
      // Oldest import first; id and version make the order stable within one import.
      const rows = await query.orderBy('date_added').orderBy('stix_id').orderBy('version').execute();
      return rows.map(toRecord);
    },

    async collectionPage({ productIds, after, limit, types, ids }) {
      if (productIds.length === 0 || types?.length === 0 || ids?.length === 0) return [];
      let query = db
        .selectFrom('stix_objects')
        .selectAll()
        .where(isIn('product_id', productIds, false))
        .where(sql<boolean>`(date_added, stix_id, version) > (${after[0]}, ${after[1]}, ${after[2]})`);
      if (types !== undefined) query = query.where(isIn('type', types, false));
      if (ids !== undefined) query = query.where(isIn('stix_id', ids));
      const rows = await query
        .orderBy('date_added')
        .orderBy('stix_id')
        .orderBy('version')
        .limit(limit)
        .execute();
      return rows.map(toRecord);
    },

    async keysAddedAt(dateAdded, productIds) {
      if (productIds.length === 0) return [];
      const rows = await db
        .selectFrom('stix_objects')
        .select(['stix_id', 'version'])
        .where('date_added', '=', dateAdded)
        .where(isIn('product_id', productIds))
        .orderBy('stix_id')
        .orderBy('version')
        .execute();
      return rows.map((r) => ({ stixId: r.stix_id, version: r.version }));
    },

    async versionsOf(stixIds, productIds, options = {}) {
      if (stixIds.length === 0 || productIds.length === 0) return [];
      const rows = await db
        .selectFrom('stix_objects')
        .select(['stix_id', 'version', 'type', 'product_id', 'portion_id', 'date_added'])
        .select((options.objects === true ? sql<string>`object_json` : sql<string>`'{}'`).as('object_json'))
        .where(isIn('stix_id', stixIds))
        .where(isIn('product_id', productIds, false))
        .orderBy('date_added')
        .orderBy('stix_id')
        .orderBy('version')
        .execute();
      return rows.map(toRecord);
    },

    async productsWithObjects(productIds) {
      if (productIds.length === 0) return new Set();
      // One probe of the product index each, rather than reading every object of every product.
      const candidates =
        ctx.dialect === 'postgres'
          ? sql<{ id: string }>`select p.id from unnest(${[...productIds]}::text[]) as p(id)
              where exists (select 1 from stix_objects s where s.product_id = p.id)`
          : sql<{ id: string }>`select p.value as id from json_each(${JSON.stringify(productIds)}) as p
              where exists (select 1 from stix_objects s where s.product_id = p.value)`;
      const result = await candidates.execute(db);
      return new Set(result.rows.map((r) => r.id));
    },

    async markingRefsOf(productIds) {
      if (productIds.length === 0) return new Set();
      const rows = await db
        .selectFrom('stix_product_markings')
        .select('marking_ref')
        .distinct()
        .where(isIn('product_id', productIds))
        .execute();
      return new Set(rows.map((r) => r.marking_ref));
    },
  };
}
