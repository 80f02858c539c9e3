// Issue 9: correlation update per new product with N entity occurrences already stored (SQLite).
// One operation stores a new product version (its entities and full-text rows are written in the
// same transaction) and looks up every stored occurrence of its entities: what correlating a new
// product costs. The ceiling is the bare indexed lookup of one (type, value) on the same table.
// N is ACCORD_BENCH_ENTITIES (1,000,000 by default), seeded through a prepared statement straight
// into entity_occurrences, since writing a million products through the service would take hours.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { openStore, type ProductVersionInput } from '../../src/store/index.js';
import type { AsyncBenchCase, Suite } from '../harness.js';

const STORED = Number(process.env.ACCORD_BENCH_ENTITIES ?? 1_000_000);
// Each seeded address is held by about four products, as indicators repeat across reports.
const DISTINCT = Math.max(1, Math.floor(STORED / 4));
const ENTITIES_PER_PRODUCT = 5;

const addressOf = (k: number): string => `10.${(k >> 16) & 255}.${(k >> 8) & 255}.${k & 255}`;

function seed(file: string): void {
  const db = new BetterSqlite3(file);
  try {
    const insert = db.prepare(
      `insert into entity_occurrences (source, product_id, version, portion_id, entity_type, value, originator, reported_at)
       values ('received', ?, 1, 'p1', 'ipv4', ?, 'GBR', '2026-11-26T12:00:00.000Z')`,
    );
    const many = db.transaction((from: number, to: number) => {
      for (let i = from; i < to; i++) insert.run(`seed-${i}`, addressOf(i % DISTINCT));
    });
    for (let i = 0; i < STORED; i += 100_000) many(i, Math.min(STORED, i + 100_000));
  } finally {
    db.close();
  }
}

function versionOf(i: number): ProductVersionInput {
  const addresses = Array.from({ length: ENTITIES_PER_PRODUCT }, (_, j) =>
    addressOf((i * 7919 + j * 104729) % DISTINCT),
  );
  const text = `Beaconing observed to ${addresses.join(', ')} over the last day.`;
  return {
    document: {
      id: `bench-${i}`,
      version: 1,
      originator: 'USA',
      author: 'bench',
      title: `Infrastructure report ${i}`,
      titleMarking: 'U',
      discipline: 'CYBINT',
      categories: ['cyber'],
      portions: [{ id: 'p1', marking: 'U', text }],
      reliability: 'B',
      credibility: 2,
      createdAt: '2026-11-26T12:00:00.000Z',
    },
    banner: 'UNCLASSIFIED',
    rank: 0,
    portionRanks: { p1: 0 },
  };
}

const correlationCase: AsyncBenchCase = {
  name: `correlation updates/s: store a product (${ENTITIES_PER_PRODUCT} addresses) and find every stored occurrence, ${STORED.toLocaleString('en')} occurrences held (SQLite)`,
  ceiling: 'bare indexed lookup of one (type, value)',
  latencySamples: 200,
  setupAsync: async () => {
    const dir = mkdtempSync(join(tmpdir(), 'accord-bench-correlation-'));
    const file = join(dir, 'accord.sqlite');
    const migrated = await openStore({ kind: 'sqlite', file });
    await migrated.close();
    seed(file);
    const store = await openStore({ kind: 'sqlite', file });
    return {
      run: async (i) => {
        const input = versionOf(i);
        await store.products.createDraft(input);
        const mine = await store.entities.of('own', input.document.id);
        return (await store.entities.sharing(mine.map((e) => ({ type: e.type, value: e.value })))).length;
      },
      ceiling: async (i) =>
        (await store.entities.sharing([{ type: 'ipv4', value: addressOf(i % DISTINCT) }])).length,
      close: async () => {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

export const correlationSuite: Suite = { name: 'correlation', cases: [correlationCase] };
