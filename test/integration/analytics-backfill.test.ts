import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';

// Issue 9: a node that held products before the entity and search indexes existed finds them
// indexed once it migrates (0015 backfills the current version of each own product).

const dir = mkdtempSync(join(tmpdir(), 'accord-backfill-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('migration 0015', () => {
  it('indexes the products a node held before it, and not a recalled one', async () => {
    const file = join(dir, 'accord.sqlite');
    const store = await openStore({ kind: 'sqlite', file });
    const draft = (id: string, text: string) => ({
      document: {
        id,
        version: 1,
        originator: 'USA',
        author: 'ann',
        title: `Report ${id}`,
        titleMarking: 'U',
        discipline: 'CYBINT' as const,
        categories: ['cyber'],
        portions: [{ id: 'p1', marking: 'U', text }],
        reliability: 'B' as const,
        credibility: 2,
        createdAt: '2026-11-26T12:00:00Z',
      },
      banner: 'UNCLASSIFIED',
      rank: 0,
      portionRanks: { p1: 0 },
    });
    await store.products.createDraft(draft('kept', 'Beacon to 203.0.113.9.'));
    await store.products.createDraft(draft('gone', 'Beacon to 203.0.113.9 as well.'));
    await store.products.setState('gone', 'submitted');
    await store.products.setState('gone', 'recalled');
    await store.close();

    // The store as it was before issue 9's indexes: 0015 and every later migration not applied
    // (0016 alters 0015's rules table; those after it run again as they are), nothing indexed.
    const raw = new BetterSqlite3(file);
    raw.exec(`drop table alerts; drop table alert_rules; drop table search_fts; drop table search_text;
      delete from entity_occurrences;
      delete from accord_migration where name >= '0015';`);
    raw.close();

    const upgraded = await openStore({ kind: 'sqlite', file });
    try {
      expect((await upgraded.entities.of('own', 'kept')).map((e) => e.value)).toEqual(['203.0.113.9']);
      expect(await upgraded.entities.of('own', 'gone')).toEqual([]);
      expect((await upgraded.search.match('beacon')).map((h) => h.productId)).toEqual(['kept']);
    } finally {
      await upgraded.close();
    }
  });
});
