// Issue 9: search latency with N products held (SQLite; ACCORD_BENCH_PRODUCTS, 1,000,000 by
// default). The products are seeded by prepared statements straight into the tables a stored
// version fills (products, versions, portions, the full-text rows and so the FTS5 index), since
// writing a million through the service would take hours. Each query names one operation code
// that ten products carry, in portions of two labels, and runs through SearchService as a GBR
// analyst cleared to SECRET: the full-text match, then decideRead per candidate, then rank, count
// and page. The ceiling is the bare FTS5 match of the same words (store.search.match).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { DEFAULT_REGISTRY } from '../../src/markings/index.js';
import { CorrelationService } from '../../src/services/correlation-service.js';
import { ProductService } from '../../src/services/product-service.js';
import { ReceivedService } from '../../src/services/received-service.js';
import { SearchService } from '../../src/services/search-service.js';
import { openStore } from '../../src/store/index.js';
import { benchReader } from '../bench-store.js';
import type { AsyncBenchCase, Suite } from '../harness.js';

const PRODUCTS = Number(process.env.ACCORD_BENCH_PRODUCTS ?? 1_000_000);
const PER_CODE = 10;
const CODES = Math.max(1, Math.floor(PRODUCTS / PER_CODE));
const AT = '2026-11-26T12:00:00.000Z';

const codeOf = (k: number): string => `op${k.toString(36)}x`;

function seed(file: string): void {
  const db = new BetterSqlite3(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = OFF');
    const product = db.prepare(
      `insert into products (id, originator, author, current_version, state, created_at, updated_at) values (?, 'USA', 'bench', 1, 'submitted', '${AT}', '${AT}')`,
    );
    const version = db.prepare(
      `insert into product_versions (product_id, version, document_json, title, banner, classification_rank, discipline, categories_json, search_text, created_at) values (?, 1, ?, ?, ?, 3, 'SIGINT', '["cyber"]', ?, '${AT}')`,
    );
    const portion = db.prepare(
      'insert into portions (product_id, version, portion_id, marking, classification_rank) values (?, 1, ?, ?, ?)',
    );
    const text = db.prepare(
      `insert into search_text (source, product_id, version, portion_id, body) values ('own', ?, 1, ?, ?)`,
    );
    const many = db.transaction((from: number, to: number) => {
      for (let i = from; i < to; i++) {
        const id = `USA-bench-${i}`;
        const code = codeOf(i % CODES);
        const title = `Report ${i} on operation ${code}`;
        const p1 = `Operation ${code} used relay 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255} this week.`;
        const p2 = `Sensitive collection on ${code}.`;
        const document = {
          id,
          version: 1,
          originator: 'USA',
          author: 'bench',
          title,
          titleMarking: 'U',
          discipline: 'SIGINT',
          categories: ['cyber'],
          portions: [
            { id: 'p1', marking: 'C//REL TO USA, GBR', text: p1 },
            { id: 'p2', marking: 'TS//NOFORN', text: p2 },
          ],
          reliability: 'B',
          credibility: 2,
          createdAt: AT,
        };
        product.run(id);
        version.run(id, JSON.stringify(document), title, 'TOP SECRET//NOFORN', `${p1}\n${p2}`);
        portion.run(id, 'p1', 'C//REL TO USA, GBR', 2);
        portion.run(id, 'p2', 'TS//NOFORN', 4);
        text.run(id, '', title);
        text.run(id, 'p1', p1);
        text.run(id, 'p2', p2);
      }
    });
    for (let i = 0; i < PRODUCTS; i += 50_000) many(i, Math.min(PRODUCTS, i + 50_000));
  } finally {
    db.close();
  }
}

const searchCase: AsyncBenchCase = {
  name: `searches/s through the read policy, ${PRODUCTS.toLocaleString('en')} products held, ${PER_CODE} matching (SQLite FTS5)`,
  ceiling: 'bare FTS5 match of the same words',
  latencySamples: 500,
  setupAsync: async () => {
    const dir = mkdtempSync(join(tmpdir(), 'accord-bench-search-'));
    const file = join(dir, 'accord.sqlite');
    const migrated = await openStore({ kind: 'sqlite', file });
    await migrated.close();
    seed(file);
    const store = await openStore({ kind: 'sqlite', file });
    const deps = { store, partner: 'USA', registry: DEFAULT_REGISTRY, now: () => Date.parse(AT) };
    const products = new ProductService(deps);
    const correlation = new CorrelationService({ store, products, received: new ReceivedService(deps) });
    const search = new SearchService({ store, correlation });
    const actor = { user: benchReader(AT), via: 'local' as const };
    const query = (i: number) => codeOf((i * 7919) % CODES);
    return {
      run: async (i) => (await search.search(actor, { q: query(i), limit: 20 })).total,
      ceiling: async (i) => (await store.search.match(query(i))).length,
      close: async () => {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

export const searchSuite: Suite = { name: 'search', cases: [searchCase] };
