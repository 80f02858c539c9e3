import type BetterSqlite3 from 'better-sqlite3';
import type { SqliteDatabase } from 'kysely';

/** Prepared statements kept per connection: the store issues a few dozen distinct SQL texts. */
export const DEFAULT_STATEMENT_CACHE_SIZE = 256;

// Only statements whose compiled program stays right across schema changes are kept. A DML
// statement opens the database with OP_Transaction, which compares the schema cookie and makes
// sqlite3_step re-prepare it after a migration (sqlite3_prepare_v2, https://sqlite.org/c3ref/prepare.html);
// begin/commit/rollback read no schema. PRAGMA and DDL texts (migrations) are prepared anew each
// time: some pragmas compute their answer when prepared, and they run once anyway.
const CACHEABLE = /^\s*(?:select|insert|update|delete|with|begin|commit|rollback)\b/i;

/**
 * Kysely's SQLite driver calls `database.prepare(sql)` for every query it runs; better-sqlite3
 * then parses and plans the text each time (about a tenth of an envelope's ingest in the issue 4
 * profile). This keeps the prepared `Statement` per SQL text, least recently used first out, and
 * hands Kysely the same one again. Parameters are bound on each `all`/`run`, so nothing of one
 * query carries over to the next. A statement still being iterated (`busy`, Kysely's
 * streamQuery) is not handed out twice: a fresh one is prepared for the second caller.
 * An evicted statement is finalised when the GC collects it; `close` finalises them all.
 */
export class StatementCache implements SqliteDatabase {
  readonly #db: BetterSqlite3.Database;
  readonly #capacity: number;
  readonly #statements = new Map<string, BetterSqlite3.Statement>();

  constructor(db: BetterSqlite3.Database, capacity = DEFAULT_STATEMENT_CACHE_SIZE) {
    this.#db = db;
    this.#capacity = capacity;
  }

  /** How many prepared statements are kept now (for tests). */
  get size(): number {
    return this.#statements.size;
  }

  prepare(sql: string): BetterSqlite3.Statement {
    if (this.#capacity <= 0 || !CACHEABLE.test(sql)) return this.#db.prepare(sql);
    const kept = this.#statements.get(sql);
    if (kept !== undefined && !kept.busy) {
      // Map keeps insertion order: moved to the end, it is the most recently used.
      this.#statements.delete(sql);
      this.#statements.set(sql, kept);
      return kept;
    }
    const statement = this.#db.prepare(sql);
    if (kept === undefined) {
      if (this.#statements.size >= this.#capacity) {
        const oldest = this.#statements.keys().next().value;
        if (oldest !== undefined) this.#statements.delete(oldest);
      }
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  close(): void {
    this.#statements.clear();
    this.#db.close();
  }
}
