// TAXII 2.1 (issue 6): latency of one 1,000-object page of a collection with 1,000,000 STIX
// objects stored, over SQLite. The figure is a whole request through the server in-process
// (`inject`: authentication by bearer token, the read policy over every product, ordering, the
// page, JSON): GET …/objects/?limit=1000&added_after=<the middle>. The ceiling, in the same run,
// is the bare SQL page query over the same rows (keyset on date added, id, version; 1,000 rows
// with their JSON text), which is what the page would cost if visibility were free.
//
// Seeding: 1,000 draft products made through ProductService by the reader (so the read policy
// shows them to her whole), then 1,000 STIX objects linked to each (999,000 beside the reports'
// own), inserted by SQL in one transaction, as `import stix` would have stored them: 1,000,000
// rows in stix_objects. Seeding takes a while; only the request is timed.
//
// What it shows (2 shared cores, Node 20): before migration 0018 a page took 20-25 s, because
// every request built every object the reader may see. Now the read policy is judged once per
// product (1,000 here; parsed products are kept between requests) and the page itself is a keyset
// read of the stored objects of the products the reader sees whole (taxii-pager.ts), so the cost
// follows the number of products and the page size, not the number of objects stored.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { FastifyInstance } from 'fastify';
import { buildNode } from '../../src/app/node.js';
import { loadConfig } from '../../src/config/index.js';
import { stixIdOf } from '../../src/interop/stix/index.js';
import { NODE_COLLECTION_ID } from '../../src/interop/taxii/index.js';
import { openStore } from '../../src/store/index.js';
import type { AsyncBenchCase, Suite } from '../harness.js';

const PRODUCTS = 1000;
const PER_PRODUCT = 1000;
const PAGE = 1000;
const T0 = Date.parse('2026-01-01T00:00:00.000Z');

const pageLatency: AsyncBenchCase = {
  name: `TAXII pages/s (${PAGE} objects a page, ${(PRODUCTS * PER_PRODUCT).toLocaleString('en')} stored, SQLite, in-process request)`,
  ceiling: 'the bare SQL keyset page query (1,000 rows with their JSON)',
  target: {
    p99Ms: 1000,
    source: 'issue 6: latency of a 1,000-object TAXII page with 1,000,000 objects stored',
  },
  warmupMs: 1,
  latencySamples: 5,
  latencyMaxMs: 120_000,
  async setupAsync() {
    const dir = mkdtempSync(join(tmpdir(), 'accord-bench-taxii-'));
    const file = join(dir, 'accord.sqlite');
    const now = () => T0;
    const store = await openStore({ kind: 'sqlite', file }, { now: () => new Date(now()) });
    const config = loadConfig({ flags: { dataDir: dir, partner: 'USA', log: { level: 'silent' } } });
    const node = await buildNode(config, { store, now });
    const server: FastifyInstance = node.server;
    await node.services.directory.createUser(null, {
      username: 'reader',
      displayName: 'reader',
      nationality: 'USA',
      clearance: 'TOP SECRET',
      caveats: ['SI'],
      communities: [],
      roles: ['analyst'],
    });
    const user = await store.users.getByUsername('reader');
    if (user === undefined) throw new Error('taxii bench: no reader');
    const actor = { user, via: 'local' as const };
    const productIds: string[] = [];
    for (let k = 0; k < PRODUCTS; k++) {
      const view = await node.services.products.createDraft(actor, {
        title: `Feed digest ${k}`,
        titleMarking: '(U//REL TO USA, FVEY)',
        discipline: 'OSINT',
        categories: ['counterterrorism'],
        portions: [{ id: 'p1', marking: '(U//REL TO USA, FVEY)', text: `Indicators of week ${k}.` }],
        reliability: 'B',
        credibility: 2,
      });
      productIds.push(view.id);
    }
    const { token } = await node.services.auth.issueToken(user.id, 'bench');
    // Rows straight into the table, one transaction: as an import leaves them, 1,000 per product,
    // product k's added k seconds after the first.
    const db = new BetterSqlite3(file);
    const insert = db.prepare(
      'insert into stix_objects (stix_id, version, type, product_id, portion_id, object_json, date_added) values (?, ?, ?, ?, null, ?, ?)',
    );
    const version = new Date(T0).toISOString();
    db.transaction(() => {
      for (const [k, productId] of productIds.entries()) {
        const added = new Date(T0 + (k + 1) * 1000).toISOString();
        for (let i = 0; i < PER_PRODUCT; i++) {
          const id = stixIdOf('indicator', `bench:${k}:${i}`);
          const object = {
            type: 'indicator',
            spec_version: '2.1',
            id,
            created: version,
            modified: version,
            name: `C2 address ${i}`,
            indicator_types: ['malicious-activity'],
            pattern: `[ipv4-addr:value = '10.${k % 250}.${(i >> 8) % 250}.${i % 250}']`,
            pattern_type: 'stix',
            valid_from: version,
          };
          insert.run(id, version, 'indicator', productId, JSON.stringify(object), added);
        }
      }
    })();
    const count = db.prepare('select count(*) as n from stix_objects').get() as { n: number };
    if (count.n < PRODUCTS * PER_PRODUCT) throw new Error(`taxii bench: ${count.n} rows seeded`);
    // The middle of the collection: a page from there has PAGE objects after it.
    const middle = new Date(T0 + (PRODUCTS / 2) * 1000).toISOString();
    const url = `/taxii2/accord/collections/${NODE_COLLECTION_ID}/objects/?limit=${PAGE}&added_after=${middle}`;
    const headers = { authorization: `Bearer ${token}`, accept: 'application/taxii+json;version=2.1' };
    const page = db.prepare(
      'select stix_id, version, date_added, object_json from stix_objects where (date_added, stix_id, version) > (?, ?, ?) order by date_added, stix_id, version limit ?',
    );
    return {
      run: async () => {
        const response = await server.inject({ method: 'GET', url, headers });
        const objects = (JSON.parse(response.body) as { objects?: unknown[] }).objects ?? [];
        if (response.statusCode !== 200 || objects.length !== PAGE) {
          throw new Error(`taxii bench: ${response.statusCode} with ${objects.length} objects`);
        }
        return objects.length;
      },
      ceiling: async () => {
        const rows = page.all(middle, '', '', PAGE) as { object_json: string }[];
        if (rows.length !== PAGE) throw new Error(`taxii bench: the SQL page has ${rows.length} rows`);
        return rows.map((r) => JSON.parse(r.object_json) as unknown).length;
      },
      close: async () => {
        db.close();
        await node.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

export const taxiiSuite: Suite = { name: 'taxii', cases: [pageLatency] };
