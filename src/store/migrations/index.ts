import { type Kysely, type Migration, type MigrationProvider, Migrator } from 'kysely';
import { AccordError } from '../../errors/index.js';
import type { Database } from '../schema.js';
import type { StoreDialect } from '../store.js';
import { initialMigration } from './0001-initial.js';
import { inboxMigration } from './0002-inbox.js';
import { outboxReceiptsMigration } from './0003-outbox-receipts.js';
import { recallsMigration } from './0004-recalls.js';
import { consentRequestsMigration } from './0005-consent-requests.js';
import { auditLogMigration } from './0007-audit-log.js';
import { auditGossipMigration } from './0008-audit-gossip.js';
import { breachProtocolMigration } from './0009-breach-protocol.js';
import { stixObjectsMigration } from './0010-stix-objects.js';
import { streamEventsMigration } from './0012-stream-events.js';
import { stixDateAddedMigration } from './0013-stix-date-added.js';
import { entityIndexMigration } from './0014-entity-index.js';
import { alertsAndSearchMigration } from './0015-alerts-and-search.js';
import { teamAlertRulesMigration } from './0016-team-alert-rules.js';
import { stixCollectionOrderMigration } from './0018-stix-collection-order.js';

/** Names of the tables where Kysely records applied migrations and holds its migration lock. */
export const MIGRATION_TABLE = 'accord_migration';
export const MIGRATION_LOCK_TABLE = 'accord_migration_lock';

/** Every migration, keyed by a name that sorts in the order they must run. Never edit a released one. */
export function storeMigrations(dialect: StoreDialect): Record<string, Migration> {
  return {
    '0001_initial': initialMigration(dialect),
    '0002_inbox': inboxMigration(),
    '0003_outbox_receipts': outboxReceiptsMigration(),
    '0004_recalls': recallsMigration(),
    '0005_consent_requests': consentRequestsMigration(dialect),
    '0007_audit_log': auditLogMigration(dialect),
    '0008_audit_gossip': auditGossipMigration(dialect),
    '0009_breach_protocol': breachProtocolMigration(dialect),
    '0010_stix_objects': stixObjectsMigration(),
    '0012_stream_events': streamEventsMigration(dialect),
    '0013_stix_date_added': stixDateAddedMigration(),
    '0014_entity_index': entityIndexMigration(),
    '0015_alerts_and_search': alertsAndSearchMigration(dialect),
    '0016_team_alert_rules': teamAlertRulesMigration(),
    '0018_stix_collection_order': stixCollectionOrderMigration(),
  };
}

/** Whether a migration failed only because a schema other than `own` vanished under it (3F000). */
function droppedElsewhere(error: unknown, own: string | undefined): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (code !== '3F000' || typeof message !== 'string') return false;
  const named = /^schema "([^"]+)" does not exist$/.exec(message)?.[1];
  return named !== undefined && named !== own;
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
  let outcome = await migrator.migrateToLatest();
  // Kysely's PostgreSQL introspector, which the migrator asks whether its own table exists, reads
  // every table of every schema on the server (PostgresIntrospector.getTables). Another schema
  // dropped while it reads (another application's, or another test's) fails it with 3F000 naming
  // that schema: no fault of this store, and gone on a second read. Nothing has run by then.
  // Retried for up to about 10 s, so only a server dropping schemas without pause outlasts it.
  for (let attempt = 1; attempt <= 40 && droppedElsewhere(outcome.error, options.schema); attempt++) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(250, 10 * attempt)));
    outcome = await migrator.migrateToLatest();
  }
  const { error, results = [] } = outcome;
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
