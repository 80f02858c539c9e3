import BetterSqlite3 from 'better-sqlite3';
import fc from 'fast-check';
import { Kysely, SqliteDialect } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { errorOf } from '../../../test/fixtures/errors.js';
import type { Database } from '../schema.js';
import { reusableRuns, runReused } from './reused-query.js';

describe('reusableRuns', () => {
  it('keeps every row once, in order, in runs of a power of two no larger than 512', () => {
    fc.assert(
      fc.property(fc.nat({ max: 5000 }), (count) => {
        const rows = Array.from({ length: count }, (_, i) => i);
        const runs = reusableRuns(rows);
        expect(runs.flat()).toEqual(rows);
        for (const run of runs) expect([1, 2, 4, 8, 16, 32, 64, 128, 256, 512]).toContain(run.length);
        // Largest first and at most one run of each size below 512: few statements per batch.
        const small = runs.map((r) => r.length).filter((n) => n < 512);
        expect(new Set(small).size).toBe(small.length);
      }),
    );
  });
});

describe('runReused', () => {
  let raw: BetterSqlite3.Database;
  let db: Kysely<Database>;

  beforeEach(() => {
    raw = new BetterSqlite3(':memory:');
    raw.exec(
      'create table audit_queue (seq integer primary key, entry_json text not null, queued_at text not null)',
    );
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: raw }) });
  });

  afterEach(async () => {
    await db.destroy();
  });

  const insert = (entry: string, at: string) => () =>
    db.insertInto('audit_queue').values({ entry_json: entry, queued_at: at });

  it('compiles a query once and binds the parameters of each later run', async () => {
    await runReused(db, 'q', ['a', 't1'], insert('a', 't1'));
    // A later run binds its own parameters; the builder it passes is not used again.
    await runReused(db, 'q', ['b', 't2'], insert('not', 'used'));
    expect(raw.prepare('select entry_json, queued_at from audit_queue order by seq').all()).toEqual([
      { entry_json: 'a', queued_at: 't1' },
      { entry_json: 'b', queued_at: 't2' },
    ]);
  });

  it('refuses a first run whose parameters are not in the order the compiled query binds them', () => {
    const error = errorOf(() => runReused(db, 'swapped', ['t1', 'a'], insert('a', 't1')));
    expect(error).toMatchObject({ code: 'STORE_FAILED' });
    expect(raw.prepare('select count(*) as n from audit_queue').get()).toEqual({ n: 0 });
  });
});
