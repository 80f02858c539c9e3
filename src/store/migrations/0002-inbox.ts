import { type Kysely, type Migration, sql } from 'kysely';

/**
 * The federation inbox: one row per authenticated envelope (its first answer, so a retry of the
 * same envelope is answered the same way), and the derived versions received through it. Types
 * and IF NOT EXISTS as in 0001, for the same reasons; the same on both dialects.
 */
export function inboxMigration(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const schema = db.schema;

      // No foreign key to arrangements: the row records what the envelope named, held locally or not.
      await schema
        .createTable('inbox')
        .ifNotExists()
        .addColumn('envelope_id', 'text', (c) => c.primaryKey())
        .addColumn('sender', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('arrangement_id', 'text', (c) => c.notNull())
        .addColumn('arrangement_version', 'integer', (c) => c.notNull())
        .addColumn('product_id', 'text', (c) => c.notNull())
        .addColumn('product_version', 'integer', (c) => c.notNull())
        .addColumn('envelope_digest', 'text', (c) => c.notNull())
        .addColumn('remote_address', 'text')
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('code', 'text')
        .addColumn('reason', 'text')
        .addColumn('receipt_json', 'text')
        .addColumn('received_at', 'text', (c) => c.notNull())
        .addCheckConstraint('inbox_outcome_check', sql`outcome in ('stored', 'refused')`)
        // DESIGN.md §2.3: a refusal always names its reason.
        .addCheckConstraint(
          'inbox_refusal_reason_check',
          sql`outcome = 'stored' or (code is not null and reason is not null)`,
        )
        .execute();
      await schema
        .createIndex('inbox_sender_idx')
        .ifNotExists()
        .on('inbox')
        .columns(['sender', 'received_at'])
        .execute();
      await schema
        .createIndex('inbox_received_idx')
        .ifNotExists()
        .on('inbox')
        .column('received_at')
        .execute();

      await schema
        .createTable('received_products')
        .ifNotExists()
        .addColumn('envelope_id', 'text', (c) => c.primaryKey())
        .addColumn('product_id', 'text', (c) => c.notNull())
        .addColumn('product_version', 'integer', (c) => c.notNull())
        .addColumn('originator', 'text', (c) => c.notNull())
        .addColumn('sender', 'text', (c) => c.notNull())
        .addColumn('arrangement_id', 'text', (c) => c.notNull())
        .addColumn('arrangement_version', 'integer', (c) => c.notNull())
        .addColumn('document_json', 'text', (c) => c.notNull())
        .addColumn('banner', 'text', (c) => c.notNull())
        .addColumn('classification_rank', 'integer', (c) => c.notNull())
        .addColumn('received_at', 'text', (c) => c.notNull())
        .addForeignKeyConstraint('received_products_inbox_fk', ['envelope_id'], 'inbox', ['envelope_id'])
        .execute();
      await schema
        .createIndex('received_products_product_idx')
        .ifNotExists()
        .on('received_products')
        .columns(['product_id', 'product_version'])
        .execute();
      await schema
        .createIndex('received_products_received_idx')
        .ifNotExists()
        .on('received_products')
        .column('received_at')
        .execute();
    },

    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('received_products').ifExists().execute();
      await db.schema.dropTable('inbox').ifExists().execute();
    },
  };
}
