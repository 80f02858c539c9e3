import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StatementCache } from './statement-cache.js';

describe('StatementCache', () => {
  let raw: BetterSqlite3.Database;

  beforeEach(() => {
    raw = new BetterSqlite3(':memory:');
    raw.exec('create table t (id integer primary key, v text)');
  });

  afterEach(() => {
    if (raw.open) raw.close();
  });

  it('hands the same prepared statement back for the same DML text', () => {
    const cache = new StatementCache(raw);
    const first = cache.prepare('select v from t where id = ?');
    expect(cache.prepare('select v from t where id = ?')).toBe(first);
    expect(cache.prepare('insert into t (v) values (?)')).not.toBe(first);
    expect(cache.size).toBe(2);
  });

  it('binds each call afresh: a reused statement answers with the new parameters', () => {
    const cache = new StatementCache(raw);
    cache.prepare('insert into t (id, v) values (?, ?)').run([1, 'one']);
    cache.prepare('insert into t (id, v) values (?, ?)').run([2, 'two']);
    expect(cache.prepare('select v from t where id = ?').all([1])).toEqual([{ v: 'one' }]);
    expect(cache.prepare('select v from t where id = ?').all([2])).toEqual([{ v: 'two' }]);
  });

  it('keeps at most its capacity, dropping the least recently used', () => {
    const cache = new StatementCache(raw, 2);
    const a = cache.prepare('select 1');
    const b = cache.prepare('select 2');
    expect(cache.prepare('select 1')).toBe(a); // a is now the most recent
    cache.prepare('select 3'); // evicts b
    expect(cache.size).toBe(2);
    expect(cache.prepare('select 1')).toBe(a);
    expect(cache.prepare('select 2')).not.toBe(b);
  });

  it('does not keep pragmas or DDL, whose compiled program may outlive a schema change', () => {
    const cache = new StatementCache(raw);
    const info = cache.prepare('pragma table_info(t)');
    expect(cache.prepare('pragma table_info(t)')).not.toBe(info);
    cache.prepare('create table u (id integer)').run([]);
    expect(cache.size).toBe(0);
  });

  it('re-prepares a kept statement after the schema changes under it', () => {
    const cache = new StatementCache(raw);
    cache.prepare('insert into t (id, v) values (?, ?)').run([1, 'one']);
    expect(cache.prepare('select * from t').all([])).toEqual([{ id: 1, v: 'one' }]);
    raw.exec("alter table t add column w text not null default 'x'");
    expect(cache.prepare('select * from t').all([])).toEqual([{ id: 1, v: 'one', w: 'x' }]);
  });

  it('prepares a fresh statement while the kept one is still being iterated', () => {
    const cache = new StatementCache(raw);
    raw.exec("insert into t (v) values ('a'), ('b')");
    const iterating = cache.prepare('select v from t order by id');
    const rows = iterating.iterate([]);
    rows.next();
    const second = cache.prepare('select v from t order by id');
    expect(second).not.toBe(iterating);
    expect(second.all([])).toEqual([{ v: 'a' }, { v: 'b' }]);
    rows.return?.();
  });

  it('runs Kysely transactions over kept begin/commit/rollback statements', async () => {
    const db = new Kysely<{ t: { id: number; v: string } }>({
      dialect: new SqliteDialect({ database: new StatementCache(raw) }),
    });
    for (let i = 1; i <= 3; i++) {
      await db.transaction().execute(async (trx) => {
        await trx
          .insertInto('t')
          .values({ id: i, v: `v${i}` })
          .execute();
      });
    }
    await expect(
      db.transaction().execute(async (trx) => {
        await trx.insertInto('t').values({ id: 9, v: 'rolled back' }).execute();
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    const rows = await db.selectFrom('t').select(['id', 'v']).orderBy('id').execute();
    expect(rows).toEqual([
      { id: 1, v: 'v1' },
      { id: 2, v: 'v2' },
      { id: 3, v: 'v3' },
    ]);
    expect((await sql<{ n: number }>`select count(*) as n from t`.execute(db)).rows).toEqual([{ n: 3 }]);
    await db.destroy();
    expect(raw.open).toBe(false);
  });
});
