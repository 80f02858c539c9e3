import type { Kysely, Migration } from 'kysely';
import type { StoreDialect } from '../store.js';

/**
 * Gossip of audit tree heads (issue 5): every signed head this node fetched from a partner and
 * verified under the key an arrangement pins, and the incidents gossip opens when a partner shows
 * two histories. An incident's `dedupe_key` names the pair of conflicting heads, so the same fork
 * seen again in a later round opens nothing new.
 */
export function auditGossipMigration(dialect: StoreDialect): Migration {
  const big = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('audit_peer_heads')
        .ifNotExists()
        .addColumn('partner', 'text', (c) => c.notNull())
        .addColumn('tree_size', big, (c) => c.notNull())
        .addColumn('root_hash', 'text', (c) => c.notNull())
        .addColumn('signed_at', 'text', (c) => c.notNull())
        .addColumn('node_id', 'text', (c) => c.notNull())
        .addColumn('signature', 'text', (c) => c.notNull())
        .addColumn('fetched_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('audit_peer_heads_pk', ['partner', 'tree_size', 'root_hash', 'signed_at'])
        .execute();

      await db.schema
        .createTable('incidents')
        .ifNotExists()
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('partner', 'text', (c) => c.notNull())
        .addColumn('detected_at', 'text', (c) => c.notNull())
        .addColumn('evidence_json', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('dedupe_key', 'text', (c) => c.notNull().unique())
        .execute();
    },

    async down(db: Kysely<unknown>): Promise<void> {
      for (const table of ['incidents', 'audit_peer_heads']) {
        await db.schema.dropTable(table).ifExists().execute();
      }
    },
  };
}
