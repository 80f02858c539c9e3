import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  dropPgSchema,
  openTestStore,
  POSTGRES_SERVICE,
  pgAvailable,
  requireOrSkip,
} from '../../../test/fixtures/services.js';
import { sharedData } from '../../../test/fixtures/shared-data.js';
import { createServices, type Services } from '../../app/services.js';
import { loadConfig } from '../../config/index.js';
import { AccordError } from '../../errors/index.js';
import { parseMarking } from '../../markings/index.js';
import type { Actor } from '../../services/actor.js';
import type { DraftInput } from '../../services/product-service.js';
import type { Store, StoreDialect } from '../../store/index.js';
import type { StixObject } from './index.js';
import { loadOasisValidator } from './oasis-schemas.js';

// Import and export over a node on SQLite and on PostgreSQL (when it answers): every OASIS example round-trips with its ids, versions,
// markings and custom properties; a bad bundle stores nothing; what a partner or user gets is
// what the policy gives them.

const NOW = Date.parse('2026-11-26T12:00:00.000Z');
const ROOT = resolve(import.meta.dirname, '../../..');
const DATA = sharedData();
const EXAMPLES = join(DATA, 'stix2.1-examples');
const oasis = loadOasisValidator(join(DATA, 'stix2.1-schemas'));
const haveData = oasis !== undefined;
if (!haveData) console.warn(`[skip] ${DATA} not found; STIX example round-trip tests skipped`);

function exampleFiles(dir: string = EXAMPLES): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory())
      return name === 'invalid' || name === 'LICENSES' ? [] : exampleFiles(path);
    return name.endsWith('.json') ? [path] : [];
  });
}

function objectsOf(input: unknown): StixObject[] {
  if (Array.isArray(input)) return input as StixObject[];
  const record = input as { objects?: unknown };
  return Array.isArray(record.objects) ? (record.objects as StixObject[]) : [input as StixObject];
}

function example(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(ROOT, 'examples', path), 'utf8')) as Record<string, unknown>;
}

const SOURCE = example('products/usa-sigint-ct.json') as unknown as DraftInput;
const DRAFT: DraftInput = {
  title: SOURCE.title,
  titleMarking: SOURCE.titleMarking,
  discipline: SOURCE.discipline,
  categories: SOURCE.categories,
  portions: SOURCE.portions.map(({ id, marking, text }) => ({
    ...(id === undefined ? {} : { id }),
    marking,
    text,
  })),
  reliability: SOURCE.reliability,
  credibility: SOURCE.credibility,
  ...(SOURCE.geo === undefined ? {} : { geo: SOURCE.geo }),
};
const NOFORN_TEXT = 'sensitive access that must not be disclosed';

interface Node {
  readonly store: Store;
  readonly services: Services;
  readonly analyst: Actor;
  readonly officer: Actor;
  readonly junior: Actor;
}

const runPostgres = requireOrSkip(POSTGRES_SERVICE, await pgAvailable());
const DIALECTS: readonly { readonly dialect: StoreDialect; readonly enabled: boolean }[] = [
  { dialect: 'sqlite', enabled: true },
  { dialect: 'postgres', enabled: runPostgres },
];

describe.each(DIALECTS)('StixService over $dialect', ({ dialect, enabled }) => {
  let dir: string;
  const opened: Store[] = [];
  const schemas: string[] = [];

  beforeEach(({ skip }) => {
    if (!enabled) skip();
    dir = mkdtempSync(join(tmpdir(), 'accord-stix-'));
  });

  afterEach(async () => {
    if (!enabled) return;
    for (const store of opened.splice(0)) await store.close();
    for (const schema of schemas.splice(0)) await dropPgSchema(schema);
    rmSync(dir, { recursive: true, force: true });
    // The round-trip test opens a store per OASIS example: closing them and dropping their
    // PostgreSQL schemas outlasts the default hook timeout on a busy machine.
  }, 120_000);

  async function startNode(partner = 'USA', name = 'a', now = NOW): Promise<Node> {
    const config = loadConfig({ flags: { dataDir: join(dir, name), partner, log: { level: 'silent' } } });
    const store = await openTestStore(dialect, join(dir, `${name}.sqlite`), schemas);
    opened.push(store);
    const services = createServices(config, store, () => now);
    const people = [
      ['analyst', ['analyst'], 'TOP SECRET'],
      ['officer', ['release-officer'], 'TOP SECRET'],
      ['junior', ['analyst'], 'CONFIDENTIAL'],
    ] as const;
    for (const [username, roles, clearance] of people) {
      await services.directory.createUser(null, {
        username,
        displayName: username,
        nationality: partner,
        clearance,
        caveats: ['SI', 'TK'],
        communities: ['FVEY'],
        roles: [...roles],
      });
    }
    for (const [code, label] of [
      ['USA', 'United States'],
      ['GBR', 'United Kingdom'],
      ['CAN', 'Canada'],
    ] as const) {
      await services.directory.upsertPartner(null, { code, name: label, endpoint: null, keys: [] });
    }
    const actor = async (username: string): Promise<Actor> => {
      const user = await store.users.getByUsername(username);
      if (user === undefined) throw new Error(`no user ${username}`);
      return { user, via: 'local' };
    };
    await services.arrangements.create(
      await actor('analyst').then(() => adminOf(services, store)),
      example('arrangements/fvey-multilateral.json'),
    );
    return {
      store,
      services,
      analyst: await actor('analyst'),
      officer: await actor('officer'),
      junior: await actor('junior'),
    };
  }

  async function adminOf(services: Services, store: Store): Promise<Actor> {
    if ((await store.users.getByUsername('admin')) === undefined) {
      await services.directory.createUser(null, {
        username: 'admin',
        displayName: 'admin',
        nationality: 'USA',
        clearance: 'TOP SECRET',
        caveats: [],
        communities: [],
        roles: ['administrator'],
      });
    }
    const user = await store.users.getByUsername('admin');
    if (user === undefined) throw new Error('no admin');
    return { user, via: 'local' };
  }

  it.skipIf(!haveData)(
    'round-trips every OASIS example: ids, versions, markings and custom properties',
    async () => {
      let reports = 0;
      // A node per file: upstream examples reuse ids across files with other content.
      for (const [i, file] of exampleFiles().entries()) {
        const node = await startNode('USA', `example-${i}`);
        const input = JSON.parse(readFileSync(file, 'utf8')) as unknown;
        const summary = await node.services.stix.import(node.analyst, input);
        reports += summary.products.length;
        const exported = await node.services.stix.objectsFor({ kind: 'operator' });
        const seen = new Set<string>();
        for (const object of objectsOf(input)) {
          // A version given twice (sco-examples-bundle.json repeats a deterministic SCO id) is kept once, the first.
          const key = `${object.id}@${(object.modified ?? object.created ?? '') as string}`;
          if (seen.has(key)) continue;
          seen.add(key);
          const version = (object.modified ?? object.created ?? '') as string;
          const back = exported.find(
            (e) =>
              e.object.id === object.id && (version === '' || Date.parse(e.version) === Date.parse(version)),
          );
          expect(back?.object, `${relative(EXAMPLES, file)} ${object.id}`).toEqual(object);
        }
        // Closed at once: 35 open PostgreSQL pools would crowd the server.
        opened.splice(opened.indexOf(node.store), 1);
        await node.store.close();
      }
      // threat-reports/apt1.json, poisonivy.json and the granular language-content example hold reports.
      expect(reports).toBeGreaterThanOrEqual(3);
    },
    // A migrated store per file: on PostgreSQL under a full parallel run that takes a while.
    240_000,
  );

  it('round-trips its own export through another node, keeping ids, versions and markings', async () => {
    const usa = await startNode('USA', 'usa');
    const { id } = await usa.services.products.createDraft(usa.analyst, DRAFT);
    const bundle = await usa.services.stix.exportBundle({ kind: 'operator' }, { productId: id });
    for (const object of bundle.objects) expect(oasis?.errorsOf(object) ?? [], object.id).toEqual([]);

    // A day later: what GBR generates must still carry USA's STIX versions, not its import time.
    const gbr = await startNode('GBR', 'gbr', NOW + 86_400_000);
    const summary = await gbr.services.stix.import(gbr.analyst, JSON.parse(JSON.stringify(bundle)));
    expect(summary.products).toHaveLength(1);
    const [productId] = summary.products;
    const product = await gbr.services.products.read(gbr.analyst, productId as string);
    // The labels came back from the statement markings and granular markings (GBR's node, the
    // importer, renders its own code first in REL TO: the same label).
    const label = (marking: string) => parseMarking(marking).label;
    expect(product.portions.map((p) => label(p.marking))).toEqual(
      DRAFT.portions.map((p) => label(p.marking)),
    );
    expect(label(product.titleMarking)).toEqual(label(DRAFT.titleMarking));
    expect(product.geo).toEqual(DRAFT.geo);

    const again = await gbr.services.stix.exportBundle({ kind: 'operator' });
    const keyOf = (o: StixObject) => `${o.id}@${(o.modified ?? o.created) as string}`;
    for (const object of bundle.objects) {
      const back = again.objects.find((o) => keyOf(o) === keyOf(object));
      expect(back, object.id).toBeDefined();
      expect(back?.object_marking_refs).toEqual(object.object_marking_refs);
      expect(back?.granular_markings).toEqual(object.granular_markings);
    }

    // A junior reader gets a torn version generated afresh, still under the kept ids and versions.
    await gbr.services.products.submit(gbr.analyst, productId as string);
    const torn = await gbr.services.stix.objectsFor({ kind: 'user', actor: gbr.junior });
    const report = torn.find((e) => e.object.type === 'report')?.object;
    const original = bundle.objects.find((o) => o.type === 'report');
    expect(report?.id).toBe(original?.id);
    expect(report?.modified).toBe(original?.modified);
    expect(JSON.stringify(torn)).not.toContain(NOFORN_TEXT);
    for (const entry of torn) expect(oasis?.errorsOf(entry.object) ?? [], entry.object.id).toEqual([]);
  });

  it('rejects a bad bundle with the JSON path of its first error and stores nothing', async () => {
    const node = await startNode();
    const { id } = await node.services.products.createDraft(node.analyst, DRAFT);
    const good = await node.services.stix.exportBundle({ kind: 'operator' }, { productId: id });
    const before = await node.store.counts();
    const broken = {
      type: 'bundle',
      id: 'bundle--6f1f4a8c-1f0e-4c7e-9c55-3d3a2b1c0d9e',
      objects: [
        ...good.objects.map((o) =>
          o.type === 'report' ? { ...o, id: 'report--7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d' } : o,
        ),
        { ...good.objects[1], created: '2026-13-01T00:00:00Z' },
      ],
    };
    const error = await node.services.stix.import(node.analyst, broken).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AccordError);
    expect((error as AccordError).code).toBe('STIX_INVALID');
    expect((error as AccordError).details.path).toBe(`/objects/${good.objects.length}/created`);
    expect(await node.store.counts()).toEqual(before);

    // A report that cannot become a product (its name is too long) fails the whole import too.
    const long = {
      ...good.objects[0],
      id: 'report--8a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
      name: 'x'.repeat(501),
    };
    const second = await node.services.stix.import(node.analyst, [long]).catch((e: unknown) => e);
    expect((second as AccordError).details.path).toBe('/0');
    expect(await node.store.counts()).toEqual(before);
  });

  it('creates imported products through the normal path: draft state, audit entry, label', async () => {
    const node = await startNode();
    const { id } = await node.services.products.createDraft(node.analyst, DRAFT);
    const bundle = await node.services.stix.exportBundle({ kind: 'operator' }, { productId: id });
    const other = await startNode('USA', 'b');
    const before = await other.store.counts();
    const summary = await other.services.stix.import(other.analyst, bundle);
    const after = await other.store.counts();
    expect(after.products).toBe(before.products + 1);
    expect(after.audit_queue + after.audit_entries).toBeGreaterThan(
      before.audit_queue + before.audit_entries,
    );
    const record = await other.store.products.get(summary.products[0] as string);
    expect(record?.state).toBe('draft');
    expect((await other.store.products.getVersion(record?.id ?? '', 1))?.banner).toMatch(/^SECRET/);
    // An analyst who could not read it may not import it (the author may not write above their access).
    const third = await startNode('USA', 'c');
    const refused = await third.services.stix.import(third.junior, bundle).catch((e: unknown) => e);
    expect((refused as AccordError).code).toBe('STIX_INVALID');
    expect((await third.store.counts()).stix_objects).toBe(0);
  });

  it.skipIf(!haveData)(
    'labels a foreign report UNCLASSIFIED//NOFORN by default: no partner gets it',
    async () => {
      const node = await startNode();
      const input = JSON.parse(
        readFileSync(join(EXAMPLES, 'threat-reports/poisonivy.json'), 'utf8'),
      ) as unknown;
      const { products } = await node.services.stix.import(node.analyst, input);
      expect(products).toHaveLength(1);
      const id = products[0] as string;
      expect((await node.store.products.getVersion(id, 1))?.banner).toMatch(/^UNCLASSIFIED\/\/NOFORN/);
      await node.services.products.submit(node.analyst, id);
      await node.services.products.decide(node.officer, id, 'approved');
      expect(await node.services.stix.objectsFor({ kind: 'partner', partner: 'GBR' })).toEqual([]);
      // The importer may choose another label for what carries no Accord marking.
      const other = await startNode('USA', 'marked');
      const marked = await other.services.stix.import(other.analyst, input, {
        marking: 'UNCLASSIFIED//REL TO USA, GBR',
      });
      expect((await other.store.products.getVersion(marked.products[0] as string, 1))?.banner).toMatch(
        /REL TO USA, GBR/,
      );
    },
  );

  it('gives a partner only what the release policy gives it: the NOFORN portion never', async () => {
    const node = await startNode();
    const { id } = await node.services.products.createDraft(node.analyst, DRAFT);
    expect(await node.services.stix.objectsFor({ kind: 'partner', partner: 'GBR' })).toEqual([]);
    await node.services.products.submit(node.analyst, id);
    await node.services.products.decide(node.officer, id, 'approved');
    const entries = await node.services.stix.objectsFor({ kind: 'partner', partner: 'GBR' });
    const notes = entries.filter((e) => e.object.type === 'note').map((e) => e.object.x_accord_portion);
    expect(notes).toEqual(['p1', 'p2']);
    expect(JSON.stringify(entries)).not.toContain(NOFORN_TEXT);
    for (const entry of entries) {
      expect(entry.dateAdded).toBe(new Date(NOW).toISOString());
      expect(oasis?.errorsOf(entry.object) ?? []).toEqual([]);
    }
    // Same ids and versions for the operator and the partner: one object, seen torn or whole.
    const whole = await node.services.stix.objectsFor({ kind: 'operator' });
    const reportOf = (list: typeof entries) => list.find((e) => e.object.type === 'report');
    expect(reportOf(entries)?.object.id).toBe(reportOf(whole)?.object.id);
    expect(reportOf(entries)?.version).toBe(reportOf(whole)?.version);
    expect(await node.services.stix.objectsFor({ kind: 'partner', partner: 'JPN' })).toEqual([]);
  });

  it('logs every product version an export hands out, and to whom', async () => {
    const node = await startNode();
    const { id } = await node.services.products.createDraft(node.analyst, DRAFT);
    await node.services.products.submit(node.analyst, id);
    await node.services.products.decide(node.officer, id, 'approved');
    await node.services.stix.exportBundle({ kind: 'partner', partner: 'GBR' }, { productId: id });
    await node.services.stix.exportBundle({ kind: 'user', actor: node.analyst }, { productId: id });
    const logged = (await node.store.audit.pending(10_000))
      .map((q) => JSON.parse(q.entryJson))
      .filter((e) => e.action === 'product.exported');
    expect(logged).toEqual([
      expect.objectContaining({ actor: { kind: 'node' }, product: { id, version: 1 }, partner: 'GBR' }),
      expect.objectContaining({
        actor: expect.objectContaining({ kind: 'user' }),
        product: { id, version: 1 },
      }),
    ]);
  });
});
