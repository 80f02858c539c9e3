// The stores a benchmark node runs on, shared by the suites that run whole nodes: a SQLite file in
// a temporary directory, or PostgreSQL in a schema of its own that is dropped afterwards, and the
// teardown list that removes them whatever failed on the way.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { openStore, type Store, type User } from '../src/store/index.js';

export const PG_URL = process.env.ACCORD_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export type BenchStoreKind = 'sqlite' | 'postgres';

/** Teardown steps, run last first, each even if an earlier one failed. */
export class Cleanup {
  readonly #steps: (() => Promise<void> | void)[] = [];
  readonly #what: string;

  constructor(what: string) {
    this.#what = what;
  }

  add(step: () => Promise<void> | void): void {
    this.#steps.push(step);
  }

  async run(): Promise<void> {
    const errors: unknown[] = [];
    for (const step of this.#steps.reverse()) {
      try {
        await step();
      } catch (error) {
        errors.push(error);
      }
    }
    this.#steps.length = 0;
    if (errors.length > 0) throw new AggregateError(errors, `${this.#what}: cleanup failed`);
  }
}

/** A pg client for the bench's own bookkeeping (reachability, dropping its schema). */
async function withPg<T>(work: (client: pg.Client) => Promise<T>, timeoutMs = 3000): Promise<T> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function pgReachable(): Promise<boolean> {
  try {
    await withPg((client) => client.query('select 1'));
    return true;
  } catch {
    return false;
  }
}

/** The URL without its password, for the skipped row. */
function shownUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable ACCORD_TEST_PG_URL)';
  }
}

/** Why a case on `kind` cannot run here (PostgreSQL not reachable), or undefined when it can. */
export async function unavailable(kind: BenchStoreKind): Promise<string | undefined> {
  if (kind === 'sqlite' || (await pgReachable())) return undefined;
  return `PostgreSQL not reachable at ${shownUrl(PG_URL)}; start it, or point ACCORD_TEST_PG_URL at one`;
}

/**
 * Opens a store of `kind` on the clock `now`: a SQLite file `accord.sqlite` in `dataDir`, or a
 * fresh PostgreSQL schema, whose dropping is added to `cleanup` before the store opens (which
 * creates it), so a failed open is cleaned too. Closing the store is the caller's.
 */
export async function openBenchStore(
  kind: BenchStoreKind,
  dataDir: string,
  now: () => number,
  cleanup: Cleanup,
): Promise<Store> {
  if (kind === 'sqlite') {
    return openStore(
      { kind: 'sqlite', file: join(dataDir, 'accord.sqlite') },
      { now: () => new Date(now()) },
    );
  }
  const schema = `accord_bench_${randomBytes(6).toString('hex')}`;
  cleanup.add(() =>
    withPg((client) => client.query(`drop schema if exists "${schema}" cascade`)).then(() => undefined),
  );
  return openStore({ kind: 'postgres', url: PG_URL, schema }, { now: () => new Date(now()) });
}

/**
 * The reader the analytics benches read as: a GBR analyst cleared to SECRET without caveats, so the
 * read policy has portions to withhold; built in memory, never stored.
 */
export function benchReader(createdAt: string): User {
  return {
    id: 'bench-reader',
    username: 'analyst.gbr',
    displayName: 'GBR analyst',
    nationality: 'GBR',
    clearance: 'SECRET',
    caveats: [],
    communities: [],
    roles: ['analyst'],
    passwordHash: null,
    disabled: false,
    createdAt,
  };
}
