import type { Kysely, Migration } from 'kysely';

/**
 * Issue 9, correlation: one row per entity found in the current version of a product, own or
 * received, written in the transaction that stores the version. The portion is kept so a reader's
 * link is judged on the portion holding the entity, never on the product as a whole.
 */
export function entityIndexMigration(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('entity_occurrences')
        .ifNotExists()
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('product_id', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('portion_id', 'text', (c) => c.notNull())
        .addColumn('entity_type', 'text', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('originator', 'text', (c) => c.notNull())
        .addColumn('reported_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('entity_occurrences_pk', [
          'source',
          'product_id',
          'portion_id',
          'entity_type',
          'value',
        ])
        .execute();
      // The correlation lookup: every occurrence of one (type, value).
      await db.schema
        .createIndex('entity_occurrences_value')
        .ifNotExists()
        .on('entity_occurrences')
        .columns(['entity_type', 'value'])
        .execute();
    },

    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('entity_occurrences').ifExists().execute();
    },
  };
}
