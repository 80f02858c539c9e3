import type { Kysely, Migration } from 'kysely';

/**
 * Recalls (issue 4), on both sides of the federation. At the originator: `recalls`, one row per
 * recall of a product (one version, or all when `version` is null), and `outbox.recall_id`, which
 * ties each recall envelope to its recall so that the status per recipient is a join. At the
 * recipient: `received_recalls`, each recall accepted from an originator (kept even when nothing
 * was held, so a release of a recalled version arriving later is refused), and on
 * `received_products` when and by which recall a version's content was erased. Nullable columns
 * added, so existing rows stay as they are; the same on both dialects.
 */
export function recallsMigration(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const schema = db.schema;

      await schema
        .createTable('recalls')
        .ifNotExists()
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('product_id', 'text', (c) => c.notNull())
        // Null: every version of the product.
        .addColumn('version', 'integer')
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('recalled_by', 'text', (c) => c.notNull())
        .addColumn('recalled_at', 'text', (c) => c.notNull())
        .addForeignKeyConstraint('recalls_product_fk', ['product_id'], 'products', ['id'])
        .execute();
      await schema
        .createIndex('recalls_product_idx')
        .ifNotExists()
        .on('recalls')
        .columns(['product_id', 'recalled_at'])
        .execute();

      // SQLite adds a column with REFERENCES only when its default is null, which it is.
      await schema
        .alterTable('outbox')
        .addColumn('recall_id', 'text', (c) => c.references('recalls.id'))
        .execute();
      await schema.createIndex('outbox_recall_idx').ifNotExists().on('outbox').column('recall_id').execute();

      // No foreign key to inbox: the row is written in the inbox row's transaction, before it,
      // because the receipt in the inbox row counts what this recall erased.
      await schema
        .createTable('received_recalls')
        .ifNotExists()
        .addColumn('envelope_id', 'text', (c) => c.primaryKey())
        .addColumn('recall_id', 'text', (c) => c.notNull())
        .addColumn('originator', 'text', (c) => c.notNull())
        .addColumn('product_id', 'text', (c) => c.notNull())
        // Null: every version of the product.
        .addColumn('product_version', 'integer')
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('recalled_at', 'text', (c) => c.notNull())
        .addColumn('received_at', 'text', (c) => c.notNull())
        .execute();
      await schema
        .createIndex('received_recalls_product_idx')
        .ifNotExists()
        .on('received_recalls')
        .columns(['product_id', 'originator'])
        .execute();

      await schema.alterTable('received_products').addColumn('recalled_at', 'text').execute();
      await schema
        .alterTable('received_products')
        .addColumn('recall_envelope_id', 'text', (c) => c.references('received_recalls.envelope_id'))
        .execute();
    },

    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropIndex('outbox_recall_idx').ifExists().execute();
      await db.schema.alterTable('received_products').dropColumn('recall_envelope_id').execute();
      await db.schema.alterTable('received_products').dropColumn('recalled_at').execute();
      await db.schema.alterTable('outbox').dropColumn('recall_id').execute();
      await db.schema.dropTable('received_recalls').ifExists().execute();
      await db.schema.dropTable('recalls').ifExists().execute();
    },
  };
}
