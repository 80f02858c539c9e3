import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  dropPgSchema,
  openTestStore,
  POSTGRES_SERVICE,
  pgAvailable,
  requireOrSkip,
} from '../../../test/fixtures/services.js';
import { createServices, type Services } from '../../app/services.js';
import { loadConfig } from '../../config/index.js';
import type { Actor } from '../../services/actor.js';
import type { DraftInput } from '../../services/product-service.js';
import type { Store, StoreDialect } from '../../store/index.js';
import { filterEntries, type TaxiiEntry, type TaxiiFilter, type VersionMatch } from './taxii-query.js';
import { NODE_COLLECTION_ID } from './taxii-service.js';

// A TAXII page read in SQL (taxii-pager.ts) must give exactly what the whole collection, computed
// in memory from what the read policy lets the reader see, gives (TaxiiService.entries →
// filterEntries → pages): the same objects, in the same order, with the same date_added stamps,
// pages of `limit` with `more` right, whatever the reader, filter and added_after. The node holds
// products of its own (torn, whole, drafts, edited), products imported from STIX and submitted
// (some with several versions of the same objects, one edited here, one left a draft), its own
// export imported back (the same objects generated for one product and stored for another),
// objects of no product, and many versions added in the same millisecond.

const T0 = Date.parse('2026-11-26T12:00:00.000Z');
const MARKINGS = [
  '(U)',
  '(U//REL TO USA, FVEY)',
  '(C//REL TO USA, GBR)',
  '(S//REL TO USA, GBR)',
  '(S//NF)',
  '(TS//SI//NF)',
] as const;
type Clearance = 'UNCLASSIFIED' | 'CONFIDENTIAL' | 'SECRET' | 'TOP SECRET';
const TYPES = ['report', 'note', 'location', 'identity', 'marking-definition', 'indicator'] as const;

function draft(k: number, portions: number, title = `Report ${k}`): DraftInput {
  return {
    title,
    titleMarking: '(U//REL TO USA, FVEY)',
    discipline: 'SIGINT',
    categories: ['counterterrorism'],
    portions: Array.from({ length: portions }, (_, n) => ({
      id: `p${n + 1}`,
      marking: MARKINGS[(k + n * 2) % MARKINGS.length] as string,
      text: `Portion ${n} of report ${k}.`,
    })),
    reliability: 'B',
    credibility: 2,
    ...(k % 3 === 0
      ? { geo: { type: 'Point' as const, coordinates: [30 + k, 10] as [number, number] } }
      : {}),
  };
}

const runPostgres = requireOrSkip(POSTGRES_SERVICE, await pgAvailable());
const DIALECTS: readonly { readonly dialect: StoreDialect; readonly enabled: boolean }[] = [
  { dialect: 'sqlite', enabled: true },
  { dialect: 'postgres', enabled: runPostgres },
];

describe.each(DIALECTS)('TAXII pages read in SQL over $dialect', ({ dialect, enabled }) => {
  let dir: string;
  let clock = T0;
  const stores: Store[] = [];
  const schemas: string[] = [];
  let node: { store: Store; services: Services };
  let readers = 0;

  async function open(name: string): Promise<{ store: Store; services: Services }> {
    const config = loadConfig({
      flags: { dataDir: join(dir, name), partner: 'USA', log: { level: 'silent' } },
    });
    const store = await openTestStore(dialect, join(dir, `${name}.sqlite`), schemas);
    stores.push(store);
    return { store, services: createServices(config, store, () => clock) };
  }

  async function user(
    at: { store: Store; services: Services },
    username: string,
    person: { nationality: string; clearance: Clearance; caveats: readonly string[] } = {
      nationality: 'USA',
      clearance: 'TOP SECRET',
      caveats: ['SI', 'TK'],
    },
  ): Promise<Actor> {
    await at.services.directory.createUser(null, {
      username,
      displayName: username,
      ...person,
      caveats: [...person.caveats],
      communities: [],
      roles: ['analyst'],
    });
    const found = await at.store.users.getByUsername(username);
    if (found === undefined) throw new Error(`no user ${username}`);
    return { user: found, via: 'local' };
  }

  beforeAll(async () => {
    if (!enabled) return;
    dir = mkdtempSync(join(tmpdir(), 'accord-taxii-pager-'));
    node = await open('node');
    const source = await open('source');
    const alice = await user(node, 'alice');
    const bob = await user(node, 'bob');
    const author = await user(source, 'author');
    const products = node.services.products;
    // Products of the node's own, three to a millisecond; some submitted, some Bob's drafts
    // (hidden from everyone else), some edited into a second version.
    for (let k = 0; k < 12; k++) {
      clock = T0 + Math.floor(k / 3);
      const by = k % 4 === 3 ? bob : alice;
      const view = await products.createDraft(by, draft(k, 1 + (k % 3)));
      if (k % 5 === 0) {
        clock += 1;
        await products.edit(by, view.id, draft(k + 1, 2, `Report ${k}, revised`));
      }
      if (k % 4 < 2) await products.submit(by, view.id);
    }
    // Imports of the source's products, two to a millisecond; every third imported again after
    // an edit at the source (new versions of the same ids); one edited here after import.
    let editedHere: string | undefined;
    const submitted: string[] = [];
    for (let j = 0; j < 8; j++) {
      clock = T0 + 10 + Math.floor(j / 2);
      const made = await source.services.products.createDraft(
        author,
        draft(j + 20, 1 + (j % 3), `Import ${j}`),
      );
      const bundle = await source.services.stix.exportBundle({ kind: 'operator' }, { productId: made.id });
      const { products: created } = await node.services.stix.import(alice, bundle);
      if (j === 1) editedHere = created[0];
      else if (j !== 7) submitted.push(...created);
      if (j % 3 === 0) {
        clock += 5;
        await source.services.products.edit(author, made.id, draft(j + 21, 2, `Import ${j}, revised`));
        const again = await source.services.stix.exportBundle({ kind: 'operator' }, { productId: made.id });
        await node.services.stix.import(alice, again);
      }
    }
    // The node's own export of one of its products, imported back: a second product whose stored
    // objects are the first one's generated objects, same ids and versions, added later.
    clock = T0 + 25;
    const own = (await node.store.products.list({ limit: 100, offset: 0 })).find(
      (p) => p.state === 'submitted',
    );
    if (own === undefined) throw new Error('no submitted product');
    const mine = await node.services.stix.exportBundle({ kind: 'operator' }, { productId: own.id });
    submitted.push(...(await node.services.stix.import(alice, mine)).products);
    clock = T0 + 30;
    if (editedHere === undefined) throw new Error('no imported product');
    await products.edit(alice, editedHere, draft(40, 2, 'Import 1, edited here'));
    for (const id of [...submitted, editedHere]) await products.submit(alice, id);
    // Objects of no product (only the operator sees them), added in the same millisecond.
    await node.services.stix.import(alice, {
      type: 'bundle',
      id: 'bundle--6f1c1c43-3a1f-4c1e-9c0a-2f8f5e8c0b11',
      objects: [0, 1, 2].map((n) => ({
        type: 'indicator',
        spec_version: '2.1',
        id: `indicator--00000000-0000-4000-8000-00000000000${n}`,
        created: '2026-11-01T00:00:00.000Z',
        modified: '2026-11-01T00:00:00.000Z',
        pattern: `[ipv4-addr:value = '198.51.100.${n}']`,
        pattern_type: 'stix',
        valid_from: '2026-11-01T00:00:00.000Z',
      })),
    });
  }, 120_000);

  afterAll(async () => {
    if (!enabled) return;
    for (const store of stores.splice(0)) await store.close();
    for (const schema of schemas.splice(0)) await dropPgSchema(schema);
    rmSync(dir, { recursive: true, force: true });
  });

  const arbReader = fc.record({
    nationality: fc.constantFrom('USA', 'GBR', 'CAN'),
    clearance: fc.constantFrom<Clearance>('UNCLASSIFIED', 'CONFIDENTIAL', 'SECRET', 'TOP SECRET'),
    caveats: fc.subarray(['SI', 'TK']),
  });

  // Filters over what the operator sees (ids and versions that exist, and some that do not).
  async function arbQuery(): Promise<
    fc.Arbitrary<{ filter: TaxiiFilter; limit: number; afterAt: number | undefined }>
  > {
    const all = await node.services.stix.objectsFor({ kind: 'operator' });
    const ids = [...new Set(all.map((e) => e.id))];
    const versions = [...new Set(all.map((e) => e.version).filter((v) => v !== ''))];
    const arbVersions: fc.Arbitrary<VersionMatch> = fc.oneof(
      fc.constant({ kind: 'last' } as const),
      fc.constant({ kind: 'first' } as const),
      fc.constant({ kind: 'all' } as const),
      fc.subarray(versions, { minLength: 1, maxLength: 3 }).map(
        (v) =>
          ({
            kind: 'these',
            versions: new Set(v.map((x) => new Date(x).toISOString().replace('Z', '000000Z'))),
          }) as const,
      ),
    );
    return fc.record({
      filter: fc.record(
        {
          versions: arbVersions,
          types: fc.subarray([...TYPES], { minLength: 1 }).map((t) => new Set(t)),
          ids: fc.subarray(ids, { minLength: 1, maxLength: 6 }).map((i) => new Set(i)),
          specVersions: fc.constantFrom(new Set(['2.1']), new Set(['2.0'])),
        },
        { requiredKeys: ['versions'] },
      ),
      limit: fc.integer({ min: 1, max: 7 }),
      afterAt: fc.option(fc.nat(60), { nil: undefined }),
    });
  }

  const keyOf = (e: TaxiiEntry) => `${e.id}@${e.version}@${e.dateAdded}`;

  it.skipIf(!enabled)(
    'every page, followed by next or resumed by added_after, equals the whole collection computed in memory',
    async () => {
      const taxii = node.services.taxii;
      await fc.assert(
        fc.asyncProperty(arbReader, await arbQuery(), async (person, { filter, limit, afterAt }) => {
          const actor = await user(node, `reader${readers++}`, person);
          const whole = await taxii.entries(actor, NODE_COLLECTION_ID);
          const expected = filterEntries(whole, filter);
          // Every page by next.
          const served: TaxiiEntry[] = [];
          let next: string | undefined;
          for (let guard = 0; ; guard++) {
            expect(guard).toBeLessThan(200);
            const page = await taxii.page(actor, NODE_COLLECTION_ID, filter, {
              limit,
              ...(next === undefined ? {} : { next }),
            });
            served.push(...page.items);
            if (!page.more) break;
            expect(page.items).toHaveLength(limit);
            next = page.next;
          }
          expect(served.map(keyOf)).toEqual(expected.map(keyOf));
          expect(served.map((e) => JSON.stringify(e.object))).toEqual(
            expected.map((e) => JSON.stringify(e.object)),
          );
          // The first page after a date_added the reader saw (or any stamp past the end).
          if (afterAt !== undefined) {
            const addedAfter =
              whole[afterAt % Math.max(1, whole.length)]?.dateAdded ?? '2026-11-26T13:00:00.000000000Z';
            const rest = filterEntries(whole, { ...filter, addedAfter });
            const first = await taxii.page(actor, NODE_COLLECTION_ID, { ...filter, addedAfter }, { limit });
            expect(first.items.map(keyOf)).toEqual(rest.slice(0, limit).map(keyOf));
            expect(first.more).toBe(rest.length > limit);
          }
        }),
        { numRuns: dialect === 'sqlite' ? 60 : 25 },
      );
    },
    240_000,
  );

  it.skipIf(!enabled)(
    'a collection holds several versions of imported objects, ranks within a millisecond and torn products',
    async () => {
      // The property above is only as strong as the node is varied: check the variety is there.
      const alice = { user: (await node.store.users.getByUsername('alice'))!, via: 'local' as const };
      const whole = await node.services.taxii.entries(alice, NODE_COLLECTION_ID);
      const ids = whole.map((e) => e.id);
      expect(new Set(ids).size).toBeLessThan(ids.length);
      expect(whole.some((e) => !e.dateAdded.endsWith('000000Z'))).toBe(true);
      const junior = await user(node, 'junior', {
        nationality: 'GBR',
        clearance: 'CONFIDENTIAL',
        caveats: [],
      });
      const torn = await node.services.taxii.entries(junior, NODE_COLLECTION_ID);
      expect(torn.length).toBeGreaterThan(0);
      expect(torn.length).toBeLessThan(whole.length);
    },
  );
});
