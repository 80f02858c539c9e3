import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { AccordError } from '../../errors/index.js';
import type { Database } from '../schema.js';
import { StatementCache } from './statement-cache.js';

/** File name of the embedded database inside a node's data directory. */
export const SQLITE_FILE_NAME = 'accord.sqlite';

/** Path of the embedded database for a data directory. */
export function sqliteFileIn(dataDir: string): string {
  return join(dataDir, SQLITE_FILE_NAME);
}

export interface SqliteOptions {
  /** How long a write waits for another process's lock before failing with SQLITE_BUSY. */
  readonly busyTimeoutMs?: number;
}

/**
 * Opens (creating if needed) one SQLite file through better-sqlite3 and wraps it in Kysely.
 * WAL lets readers in other processes (the CLI beside a running server) proceed during writes;
 * foreign keys are off by default in SQLite and must be switched on per connection.
 */
export function openSqlite(file: string, options: SqliteOptions = {}): Kysely<Database> {
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
    throw new AccordError('STORE_CONFIG_INVALID', 'busyTimeoutMs must be a non-negative integer', {
      path: 'busyTimeoutMs',
    });
  }
  let sqlite: BetterSqlite3.Database;
  try {
    if (file !== ':memory:') mkdirSync(dirname(resolve(file)), { recursive: true });
    sqlite = new BetterSqlite3(file, { timeout: busyTimeoutMs });
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('foreign_keys = ON');
    // Issue 4: a recalled product's content must be erased, and an UPDATE otherwise leaves the old
    // row's bytes in the page's free space; secure_delete overwrites freed content with zeros.
    sqlite.pragma('secure_delete = ON');
    sqlite.pragma(`busy_timeout = ${busyTimeoutMs}`);
    // synchronous stays FULL (the default): a committed release and its outbox row survive power loss.
  } catch (error) {
    throw new AccordError(
      'SERVICE_UNAVAILABLE',
      `cannot open the SQLite database ${file}: ${error instanceof Error ? error.message : String(error)}`,
      { file },
      { cause: error },
    );
  }
  // Kysely's driver prepares every query anew; the cache hands it the statement prepared before.
  const statements = new StatementCache(sqlite);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: statements }) });
  caches.set(db, statements);
  return db;
}

const caches = new WeakMap<Kysely<Database>, StatementCache>();

/**
 * Runs a write synchronously on the one connection of a database openSqlite opened, through the
 * same statement cache Kysely uses. Only safe while a transaction holds that connection (the
 * store gives it to repositories inside store.transaction() alone); undefined for other databases.
 */
export function directWriterOf(
  db: Kysely<Database>,
): ((sql: string, parameters: readonly unknown[]) => void) | undefined {
  const statements = caches.get(db);
  if (statements === undefined) return undefined;
  return (sql, parameters) => void statements.prepare(sql).run(parameters);
}
