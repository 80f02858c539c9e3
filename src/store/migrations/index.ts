import { type Kysely, type Migration, type MigrationProvider, Migrator } from 'kysely';
import { AccordError } from '../../errors/index.js';
import type { Database } from '../schema.js';
import type { StoreDialect } from '../store.js';
import { initialMigration } from './0001-initial.js';
import { inboxMigration } from './0002-inbox.js';
import { outboxReceiptsMigration } from './0003-outbox-receipts.js';
import { auditLogMigration } from './0007-audit-log.js';

/** Names of the tables where Kysely records applied migrations and holds its migration lock. */
export const MIGRATION_TABLE = 'accord_migration';
export const MIGRATION_LOCK_TABLE = 'accord_migration_lock';

/** Every migration, keyed by a name that sorts in the order they must run. Never edit a released one. */
export function storeMigrations(dialect: StoreDialect): Record<string, Migration> {
  return {
    '0001_initial': initialMigration(dialect),
    '0002_inbox': inboxMigration(),
    '0003_outbox_receipts': outboxReceiptsMigration(),
    '0007_audit_log': auditLogMigration(dialect),
  };
}

/**
 * Brings the schema to the latest migration. Safe to run any number of times and from several
 * processes at once (Kysely takes a lock). Returns the names of the migrations it applied.
 */
export async function migrateToLatest(
  db: Kysely<Database>,
  dialect: StoreDialect,
  options: { readonly schema?: string } = {},
): Promise<readonly string[]> {
  const provider: MigrationProvider = { getMigrations: async () => storeMigrations(dialect) };
  const migrator = new Migrator({
    db,
    provider,
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
    ...(options.schema === undefined ? {} : { migrationTableSchema: options.schema }),
  });
  const { error, results = [] } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results.find((r) => r.status === 'Error')?.migrationName;
    const message = error instanceof Error ? error.message : String(error);
    throw new AccordError(
      'STORE_MIGRATION_FAILED',
      `store migration ${failed ?? '(before any migration ran)'} failed: ${message}`,
      failed === undefined ? {} : { migration: failed },
      { cause: error },
    );
  }
  return results.filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
