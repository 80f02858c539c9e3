import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { AccordError } from '../../errors/index.js';
import type { Database } from '../schema.js';
import type { Page } from '../store.js';

/** What every repository is built from: a database handle (the pool or one transaction) and the store's settings. */
export interface RepositoryContext {
  readonly db: Kysely<Database>;
  readonly now: () => Date;
  readonly maxAttachmentBytes: number;
  /**
   * SQLite, inside a transaction only: runs a write at once on the connection the transaction
   * holds, without Kysely's per-query promise chain. Returns false (nothing run) once the
   * transaction's callback has ended; the caller then goes through `db`, which refuses.
   */
  readonly runNow?: DirectRun;
}

/** Runs one write statement synchronously; false when it may no longer run (see RepositoryContext). */
export type DirectRun = (sql: string, parameters: readonly unknown[]) => boolean;

export function nowIso(ctx: RepositoryContext): string {
  return ctx.now().toISOString();
}

/**
 * Runs a multi-statement write atomically: inside the caller's transaction when there is one
 * (Kysely has no nested transactions), else in a transaction of its own.
 */
export function atomic<T>(db: Kysely<Database>, work: (db: Kysely<Database>) => Promise<T>): Promise<T> {
  return db.isTransaction ? work(db) : db.transaction().execute(work);
}

/** Parses JSON the store itself wrote; the caller names the type it stored. */
export function parseStoredJson<T>(text: string): T {
  return JSON.parse(text) as T;
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Rows changed by an insert, update or delete, as reported by either driver. */
export function affectedRows(count: bigint | undefined): number {
  return Number(count ?? 0n);
}

// The last instant isoInstant normalised (a valid one): the same text gives the same answer.
let lastInstant: { readonly value: string; readonly iso: string } | undefined;

/** Normalises an instant to `toISOString()` form so that stored instants compare as strings. */
export function isoInstant(value: string, field: string): string {
  // Writes at a high rate (audit events) carry the same instant many times a millisecond.
  if (value === lastInstant?.value) return lastInstant.iso;
  const time = Date.parse(value);
  if (Number.isNaN(time)) {
    throw new AccordError('INPUT_INVALID', `${field} is not an ISO 8601 instant`, { path: field });
  }
  const iso = new Date(time).toISOString();
  lastInstant = { value, iso };
  return iso;
}

const ISO_DAY = /^\d{4}-\d{2}-\d{2}$/;

export function isoDay(value: string, field: string): string {
  if (!ISO_DAY.test(value) || Number.isNaN(Date.parse(value))) {
    throw new AccordError('INPUT_INVALID', `${field} is not an ISO 8601 day (YYYY-MM-DD)`, { path: field });
  }
  return value;
}

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;

export function pageOf(page: Page): { limit: number; offset: number } {
  const limit = page.limit ?? DEFAULT_PAGE_SIZE;
  const offset = page.offset ?? 0;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
    throw new AccordError('INPUT_INVALID', `limit must be an integer from 1 to ${MAX_PAGE_SIZE}`, {
      path: 'limit',
    });
  }
  if (!Number.isInteger(offset) || offset < 0) {
    throw new AccordError('INPUT_INVALID', 'offset must be a non-negative integer', { path: 'offset' });
  }
  return { limit, offset };
}

export function notFound(what: string, details: Record<string, unknown>): AccordError {
  return new AccordError('STORE_NOT_FOUND', `${what} does not exist`, details);
}
