import { type Kysely, type Migration, sql } from 'kysely';
import { markingRefsOfObject } from '../repositories/stix-objects.js';

const BACKFILL_ROWS = 2000;

/**
 * TAXII 2.1 (issue 6): a collection page is read in SQL, keyset over the objects of the products a
 * reader sees whole, instead of building every visible object per request.
 * - `stix_objects_collection` orders objects as a collection serves them (date added, id, version)
 *   and carries the product and type, so skipping what a reader may not see reads the index only.
 *   It replaces 0013's narrower index of the same order.
 * - `stix_product_markings`: the marking definitions each product's stored objects name, so the
 *   definitions a page's objects point at are found without parsing every object.
 */
export function stixCollectionOrderMigration(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createIndex('stix_objects_collection')
        .ifNotExists()
        .on('stix_objects')
        .columns(['date_added', 'stix_id', 'version', 'product_id', 'type'])
        .execute();
      await db.schema.dropIndex('stix_objects_date_added').ifExists().execute();
      await db.schema
        .createTable('stix_product_markings')
        .ifNotExists()
        .addColumn('product_id', 'text', (c) => c.notNull())
        .addColumn('marking_ref', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('stix_product_markings_pk', ['product_id', 'marking_ref'])
        .execute();
      // Backfill from what earlier imports stored, a batch at a time.
      let after = { stix_id: '', version: '' };
      for (;;) {
        const rows = await sql<{ stix_id: string; version: string; product_id: string; object_json: string }>`
          select stix_id, version, product_id, object_json from stix_objects
          where product_id is not null and (stix_id, version) > (${after.stix_id}, ${after.version})
          order by stix_id, version limit ${BACKFILL_ROWS}`.execute(db);
        const last = rows.rows.at(-1);
        if (last === undefined) break;
        const pairs = new Map<string, { product_id: string; marking_ref: string }>();
        for (const row of rows.rows) {
          for (const ref of markingRefsOfObject(JSON.parse(row.object_json) as Record<string, unknown>)) {
            pairs.set(`${row.product_id}\u0000${ref}`, { product_id: row.product_id, marking_ref: ref });
          }
        }
        if (pairs.size > 0) {
          await (db as Kysely<{ stix_product_markings: { product_id: string; marking_ref: string } }>)
            .insertInto('stix_product_markings')
            .values([...pairs.values()])
            .onConflict((oc) => oc.columns(['product_id', 'marking_ref']).doNothing())
            .execute();
        }
        after = last;
      }
    },

    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('stix_product_markings').ifExists().execute();
      await db.schema
        .createIndex('stix_objects_date_added')
        .ifNotExists()
        .on('stix_objects')
        .columns(['date_added', 'stix_id', 'version'])
        .execute();
      await db.schema.dropIndex('stix_objects_collection').ifExists().execute();
    },
  };
}
