import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  dropPgSchema,
  freshPgSchemaName,
  PG_TEST_URL,
  POSTGRES_SERVICE,
  pgAvailable,
  requireOrSkip,
} from '../../test/fixtures/services.js';
import { createServices, type Services } from '../app/services.js';
import { loadConfig } from '../config/index.js';
import { isAccordError } from '../errors/index.js';
import { loadTaxonomies, mapMispEvent, parseMispEvents } from '../interop/misp/index.js';
import { DEFAULT_REGISTRY } from '../markings/index.js';
import { openStore, type Store, type StoreDialect } from '../store/index.js';
import type { Actor } from './actor.js';
import type { DraftInput } from './product-service.js';

// importDrafts (the MISP import's way in): one transaction for the whole batch, the normal
// creation path for each draft, and re-imports that update or skip. Over both store dialects.

const NOW = Date.parse('2026-11-26T12:00:00.000Z');
const FIXTURE = join(import.meta.dirname, '../../test/fixtures/misp/rest-response.json');
const runPostgres = requireOrSkip(POSTGRES_SERVICE, await pgAvailable());
const DIALECTS: readonly { readonly dialect: StoreDialect; readonly enabled: boolean }[] = [
  { dialect: 'sqlite', enabled: true },
  { dialect: 'postgres', enabled: runPostgres },
];

async function mappedFixture(): Promise<{ id: string; draft: DraftInput }[]> {
  const taxonomies = await loadTaxonomies();
  return parseMispEvents(JSON.parse(readFileSync(FIXTURE, 'utf8'))).map((event) => {
    const mapped = mapMispEvent(event, { taxonomies, registry: DEFAULT_REGISTRY, partner: 'GBR' });
    return { id: mapped.productId, draft: mapped.draft };
  });
}

describe.each(DIALECTS)('ProductService.importDrafts over $dialect', ({ dialect, enabled }) => {
  let dataDir: string;
  let schema: string | undefined;
  let store: Store | undefined;
  let services: Services;
  let analyst: Actor;

  beforeEach(async ({ skip }) => {
    if (!enabled) skip();
    dataDir = mkdtempSync(join(tmpdir(), 'accord-import-'));
    schema = dialect === 'postgres' ? freshPgSchemaName() : undefined;
    store = await openStore(
      dialect === 'sqlite'
        ? { kind: 'sqlite', file: join(dataDir, 'accord.sqlite') }
        : { kind: 'postgres', url: PG_TEST_URL, ...(schema === undefined ? {} : { schema }) },
    );
    await store.migrate();
    services = createServices(
      loadConfig({ flags: { dataDir, partner: 'GBR', log: { level: 'silent' } } }),
      store,
      () => NOW,
    );
    await services.directory.createUser(null, {
      username: 'ann',
      displayName: 'ann',
      nationality: 'GBR',
      clearance: 'SECRET',
      caveats: [],
      communities: [],
      roles: ['analyst'],
    });
    const user = await store.users.getByUsername('ann');
    analyst = { user: user!, via: 'local' };
  });

  afterEach(async () => {
    if (!enabled) return;
    await store?.close();
    store = undefined;
    rmSync(dataDir, { recursive: true, force: true });
    if (schema !== undefined) await dropPgSchema(schema);
  });

  it('creates each draft once, then reports unchanged, updated or skipped', async () => {
    const items = await mappedFixture();
    const done: number[] = [];
    const first = await services.products.importDrafts(analyst, items, (n) => done.push(n));
    expect(first.map((r) => r.outcome)).toEqual(['created', 'created', 'created']);
    expect(done).toEqual([1, 2, 3]);
    const again = await services.products.importDrafts(analyst, items);
    expect(again.map((r) => r.outcome)).toEqual(['unchanged', 'unchanged', 'unchanged']);

    await services.products.submit(analyst, items[1]!.id);
    const changed = items.map((item) => ({
      ...item,
      draft: { ...item.draft, title: `${item.draft.title}!` },
    }));
    const third = await services.products.importDrafts(analyst, changed);
    expect(third.map((r) => [r.outcome, r.version])).toEqual([
      ['updated', 2],
      ['skipped', 1],
      ['updated', 2],
    ]);
    expect((await store!.products.list()).length).toBe(3);
  });

  it('stores nothing of the batch when one draft is invalid', async () => {
    const items = await mappedFixture();
    const broken = [
      ...items,
      { id: 'GBR-MISP-broken', draft: { ...items[0]!.draft, titleMarking: '(U//BOGUS)' } },
    ];
    let failure: unknown;
    try {
      await services.products.importDrafts(analyst, broken);
    } catch (error) {
      failure = error;
    }
    expect(isAccordError(failure) && failure.code).toBe('PRODUCT_INVALID');
    expect(await store!.products.list()).toEqual([]);
    // Schema violations are refused too, before anything is written.
    const noCategories = [{ id: 'GBR-MISP-x', draft: { ...items[0]!.draft, categories: [] } }];
    await expect(services.products.importDrafts(analyst, noCategories)).rejects.toMatchObject({
      code: 'PRODUCT_INVALID',
    });
    expect(await store!.products.list()).toEqual([]);
  });
});
