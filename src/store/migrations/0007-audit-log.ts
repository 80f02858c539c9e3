import { type Kysely, type Migration, sql } from 'kysely';
import type { StoreDialect } from '../store.js';

/**
 * The tamper-evident audit log (issue 5): a queue that services write in the transaction of the
 * change an event records; the log's entries (index, RFC 9162 leaf hash, canonical JSON, time);
 * the hashes of perfect subtrees above the leaves, written once as appends complete them, from
 * which proofs are served in O(log n) lookups; and the signed tree heads. Indices and sizes are
 * bigint on PostgreSQL (a log may outgrow int4), integer (64-bit) on SQLite; hashes are bytes.
 */
export function auditLogMigration(dialect: StoreDialect): Migration {
  const bytes = dialect === 'postgres' ? 'bytea' : 'blob';
  const big = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const schema = db.schema;

      // The queue's order is the order events were queued in; SQLite's AUTOINCREMENT never reuses a
      // number, PostgreSQL's bigserial draws from a sequence.
      await (dialect === 'postgres'
        ? schema
            .createTable('audit_queue')
            .ifNotExists()
            .addColumn('seq', 'bigserial', (c) => c.primaryKey())
        : schema
            .createTable('audit_queue')
            .ifNotExists()
            .addColumn('seq', 'integer', (c) => c.primaryKey().autoIncrement())
      )
        .addColumn('entry_json', 'text', (c) => c.notNull())
        .addColumn('queued_at', 'text', (c) => c.notNull())
        .execute();

      await schema
        .createTable('audit_entries')
        .ifNotExists()
        .addColumn('idx', big, (c) => c.primaryKey())
        .addColumn('leaf_hash', bytes, (c) => c.notNull())
        .addColumn('entry_json', 'text', (c) => c.notNull())
        .addColumn('recorded_at', 'text', (c) => c.notNull())
        .addCheckConstraint('audit_entries_idx_check', sql`idx >= 0`)
        .execute();

      await schema
        .createTable('audit_nodes')
        .ifNotExists()
        .addColumn('level', 'integer', (c) => c.notNull())
        .addColumn('idx', big, (c) => c.notNull())
        .addColumn('hash', bytes, (c) => c.notNull())
        .addPrimaryKeyConstraint('audit_nodes_pk', ['level', 'idx'])
        .addCheckConstraint('audit_nodes_level_check', sql`level >= 1 and level <= 63 and idx >= 0`)
        .execute();

      // One size may be signed more than once (a head on demand, later): size and time are the key.
      await schema
        .createTable('audit_tree_heads')
        .ifNotExists()
        .addColumn('tree_size', big, (c) => c.notNull())
        .addColumn('root_hash', 'text', (c) => c.notNull())
        .addColumn('signed_at', 'text', (c) => c.notNull())
        .addColumn('node_id', 'text', (c) => c.notNull())
        .addColumn('signature', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('audit_tree_heads_pk', ['tree_size', 'signed_at'])
        .execute();
    },

    async down(db: Kysely<unknown>): Promise<void> {
      for (const table of ['audit_tree_heads', 'audit_nodes', 'audit_entries', 'audit_queue']) {
        await db.schema.dropTable(table).ifExists().execute();
      }
    },
  };
}
