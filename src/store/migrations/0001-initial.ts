import { type Kysely, type Migration, sql } from 'kysely';
import type { StoreDialect } from '../store.js';

/** This migration's tables in creation order, dropped in reverse; a frozen copy, not STORE_TABLES. */
const TABLES = [
  'partners',
  'communities',
  'community_members',
  'arrangements',
  'users',
  'api_tokens',
  'sessions',
  'login_attempts',
  'products',
  'product_versions',
  'portions',
  'approvals',
  'attachments',
  'product_attachments',
  'releases',
  'consents',
  'outbox',
] as const;

/**
 * The first schema. Types are the portable subset: text, integer, double precision, and bytes as
 * `bytea` (PostgreSQL) or `blob` (SQLite), the only place the dialects differ. Creates use
 * IF NOT EXISTS because Kysely runs SQLite migrations outside a transaction: a rerun after a
 * partial failure completes instead of tripping over the tables already made.
 */
export function initialMigration(dialect: StoreDialect): Migration {
  const bytes = dialect === 'postgres' ? 'bytea' : 'blob';
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const schema = db.schema;

      await schema
        .createTable('partners')
        .ifNotExists()
        .addColumn('code', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('endpoint', 'text')
        .addColumn('keys_json', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();

      await schema
        .createTable('communities')
        .ifNotExists()
        .addColumn('code', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();

      // Members need not be local partners: a community lists every member nation.
      await schema
        .createTable('community_members')
        .ifNotExists()
        .addColumn('community_code', 'text', (c) => c.notNull())
        .addColumn('partner_code', 'text', (c) => c.notNull())
        .addColumn('from_day', 'text', (c) => c.notNull())
        .addColumn('until_day', 'text')
        .addPrimaryKeyConstraint('community_members_pk', ['community_code', 'partner_code', 'from_day'])
        .addForeignKeyConstraint(
          'community_members_community_fk',
          ['community_code'],
          'communities',
          ['code'],
          (f) => f.onDelete('cascade'),
        )
        .execute();

      await schema
        .createTable('arrangements')
        .ifNotExists()
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('document_json', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('version_hash', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('arrangements_pk', ['id', 'version'])
        .addCheckConstraint(
          'arrangements_status_check',
          sql`status in ('draft', 'active', 'suspended', 'terminated')`,
        )
        .execute();

      await schema
        .createTable('users')
        .ifNotExists()
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('username', 'text', (c) => c.notNull())
        .addColumn('display_name', 'text', (c) => c.notNull())
        .addColumn('nationality', 'text', (c) => c.notNull())
        .addColumn('clearance', 'text', (c) => c.notNull())
        .addColumn('caveats_json', 'text', (c) => c.notNull())
        .addColumn('communities_json', 'text', (c) => c.notNull())
        .addColumn('roles_json', 'text', (c) => c.notNull())
        .addColumn('password_hash', 'text')
        .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('users_username_unique', ['username'])
        .execute();

      await schema
        .createTable('api_tokens')
        .ifNotExists()
        .addColumn('token_sha256', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('label', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('last_used_at', 'text')
        .addForeignKeyConstraint('api_tokens_user_fk', ['user_id'], 'users', ['id'], (f) =>
          f.onDelete('cascade'),
        )
        .execute();
      await schema
        .createIndex('api_tokens_user_idx')
        .ifNotExists()
        .on('api_tokens')
        .column('user_id')
        .execute();

      await schema
        .createTable('sessions')
        .ifNotExists()
        .addColumn('session_sha256', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('csrf_token', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addForeignKeyConstraint('sessions_user_fk', ['user_id'], 'users', ['id'], (f) =>
          f.onDelete('cascade'),
        )
        .execute();
      await schema.createIndex('sessions_user_idx').ifNotExists().on('sessions').column('user_id').execute();
      await schema
        .createIndex('sessions_expires_idx')
        .ifNotExists()
        .on('sessions')
        .column('expires_at')
        .execute();

      await schema
        .createTable('login_attempts')
        .ifNotExists()
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('username', 'text', (c) => c.notNull())
        .addColumn('ip', 'text', (c) => c.notNull())
        .addColumn('ok', 'integer', (c) => c.notNull())
        .addColumn('attempted_at', 'text', (c) => c.notNull())
        .execute();
      await schema
        .createIndex('login_attempts_username_idx')
        .ifNotExists()
        .on('login_attempts')
        .columns(['username', 'attempted_at'])
        .execute();
      await schema
        .createIndex('login_attempts_ip_idx')
        .ifNotExists()
        .on('login_attempts')
        .columns(['ip', 'attempted_at'])
        .execute();

      await schema
        .createTable('products')
        .ifNotExists()
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('originator', 'text', (c) => c.notNull())
        .addColumn('author', 'text', (c) => c.notNull())
        .addColumn('current_version', 'integer', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addCheckConstraint(
          'products_state_check',
          sql`state in ('draft', 'submitted', 'approved', 'rejected', 'released', 'recalled')`,
        )
        .execute();
      await schema
        .createIndex('products_originator_idx')
        .ifNotExists()
        .on('products')
        .column('originator')
        .execute();
      await schema
        .createIndex('products_updated_idx')
        .ifNotExists()
        .on('products')
        .column('updated_at')
        .execute();

      await schema
        .createTable('product_versions')
        .ifNotExists()
        .addColumn('product_id', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('document_json', 'text', (c) => c.notNull())
        .addColumn('title', 'text', (c) => c.notNull())
        .addColumn('banner', 'text', (c) => c.notNull())
        .addColumn('classification_rank', 'integer', (c) => c.notNull())
        .addColumn('discipline', 'text', (c) => c.notNull())
        .addColumn('categories_json', 'text', (c) => c.notNull())
        .addColumn('search_text', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        // double precision: REAL affinity on SQLite, float8 on PostgreSQL (float4 would lose metres).
        .addColumn('min_lon', 'double precision')
        .addColumn('min_lat', 'double precision')
        .addColumn('max_lon', 'double precision')
        .addColumn('max_lat', 'double precision')
        .addPrimaryKeyConstraint('product_versions_pk', ['product_id', 'version'])
        .addForeignKeyConstraint('product_versions_product_fk', ['product_id'], 'products', ['id'], (f) =>
          f.onDelete('cascade'),
        )
        .execute();
      await schema
        .createIndex('product_versions_discipline_idx')
        .ifNotExists()
        .on('product_versions')
        .column('discipline')
        .execute();
      await schema
        .createIndex('product_versions_created_idx')
        .ifNotExists()
        .on('product_versions')
        .column('created_at')
        .execute();

      await schema
        .createTable('portions')
        .ifNotExists()
        .addColumn('product_id', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('portion_id', 'text', (c) => c.notNull())
        .addColumn('marking', 'text', (c) => c.notNull())
        .addColumn('classification_rank', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('portions_pk', ['product_id', 'version', 'portion_id'])
        .addForeignKeyConstraint(
          'portions_version_fk',
          ['product_id', 'version'],
          'product_versions',
          ['product_id', 'version'],
          (f) => f.onDelete('cascade'),
        )
        .execute();

      await schema
        .createTable('approvals')
        .ifNotExists()
        .addColumn('product_id', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('approver', 'text', (c) => c.notNull())
        .addColumn('decision', 'text', (c) => c.notNull())
        .addColumn('comment', 'text')
        .addColumn('decided_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('approvals_pk', ['product_id', 'version', 'approver'])
        .addForeignKeyConstraint(
          'approvals_version_fk',
          ['product_id', 'version'],
          'product_versions',
          ['product_id', 'version'],
          (f) => f.onDelete('cascade'),
        )
        .addCheckConstraint('approvals_decision_check', sql`decision in ('approved', 'rejected')`)
        .execute();

      await schema
        .createTable('attachments')
        .ifNotExists()
        .addColumn('sha256', 'text', (c) => c.primaryKey())
        .addColumn('size', 'integer', (c) => c.notNull())
        .addColumn('media_type', 'text', (c) => c.notNull())
        .addColumn('bytes', bytes, (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();

      await schema
        .createTable('product_attachments')
        .ifNotExists()
        .addColumn('product_id', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('sha256', 'text', (c) => c.notNull())
        .addColumn('filename', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('product_attachments_pk', ['product_id', 'version', 'filename'])
        .addForeignKeyConstraint(
          'product_attachments_version_fk',
          ['product_id', 'version'],
          'product_versions',
          ['product_id', 'version'],
          (f) => f.onDelete('cascade'),
        )
        .addForeignKeyConstraint('product_attachments_blob_fk', ['sha256'], 'attachments', ['sha256'])
        .execute();
      await schema
        .createIndex('product_attachments_sha256_idx')
        .ifNotExists()
        .on('product_attachments')
        .column('sha256')
        .execute();

      await schema
        .createTable('releases')
        .ifNotExists()
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('product_id', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('recipient', 'text', (c) => c.notNull())
        .addColumn('arrangement_id', 'text')
        .addColumn('arrangement_version', 'integer')
        .addColumn('effect', 'text', (c) => c.notNull())
        .addColumn('decision_json', 'text', (c) => c.notNull())
        .addColumn('released_by', 'text', (c) => c.notNull())
        .addColumn('released_at', 'text', (c) => c.notNull())
        .addForeignKeyConstraint('releases_version_fk', ['product_id', 'version'], 'product_versions', [
          'product_id',
          'version',
        ])
        .addForeignKeyConstraint(
          'releases_arrangement_fk',
          ['arrangement_id', 'arrangement_version'],
          'arrangements',
          ['id', 'version'],
        )
        .addCheckConstraint('releases_effect_check', sql`effect in ('allow', 'deny')`)
        .execute();
      await schema
        .createIndex('releases_product_idx')
        .ifNotExists()
        .on('releases')
        .columns(['product_id', 'version'])
        .execute();
      await schema
        .createIndex('releases_recipient_idx')
        .ifNotExists()
        .on('releases')
        .column('recipient')
        .execute();

      // No foreign key to products: a consent may arrive before the product it covers.
      await schema
        .createTable('consents')
        .ifNotExists()
        .addColumn('product_id', 'text', (c) => c.notNull())
        .addColumn('originator', 'text', (c) => c.notNull())
        .addColumn('recipient', 'text', (c) => c.notNull())
        .addColumn('granted_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text')
        .addColumn('signature', 'text')
        .addPrimaryKeyConstraint('consents_pk', ['product_id', 'originator', 'recipient', 'granted_at'])
        .execute();
      await schema
        .createIndex('consents_recipient_idx')
        .ifNotExists()
        .on('consents')
        .column('recipient')
        .execute();

      await schema
        .createTable('outbox')
        .ifNotExists()
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('release_id', 'text', (c) => c.notNull())
        .addColumn('recipient', 'text', (c) => c.notNull())
        .addColumn('payload_json', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('next_attempt_at', 'text', (c) => c.notNull())
        .addColumn('last_error', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('delivered_at', 'text')
        .addForeignKeyConstraint('outbox_release_fk', ['release_id'], 'releases', ['id'])
        .addCheckConstraint('outbox_status_check', sql`status in ('pending', 'delivered', 'failed')`)
        .execute();
      await schema
        .createIndex('outbox_due_idx')
        .ifNotExists()
        .on('outbox')
        .columns(['status', 'next_attempt_at'])
        .execute();
    },

    async down(db: Kysely<unknown>): Promise<void> {
      for (const table of [...TABLES].reverse()) {
        await db.schema.dropTable(table).ifExists().execute();
      }
    },
  };
}
