import type { Kysely, Migration } from 'kysely';

/**
 * STIX 2.1 interop (issue 6): every imported STIX object kept as it came, by id and version
 * (`modified`, or `created` for unversioned objects, '' for observables), so export(import(x))
 * gives back the same ids, versions, markings and custom properties. A report's row names the
 * product it became; a note's row also names the portion.
 */
export function stixObjectsMigration(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('stix_objects')
        .ifNotExists()
        .addColumn('stix_id', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('product_id', 'text')
        .addColumn('portion_id', 'text')
        .addColumn('object_json', 'text', (c) => c.notNull())
        .addColumn('date_added', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('stix_objects_pk', ['stix_id', 'version'])
        .execute();
      await db.schema
        .createIndex('stix_objects_product')
        .ifNotExists()
        .on('stix_objects')
        .column('product_id')
        .execute();
    },

    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('stix_objects').ifExists().execute();
    },
  };
}
