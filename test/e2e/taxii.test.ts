import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TAXII_MEDIA_TYPE } from '../../src/api/routes/taxii-routes.js';
import { stixIdOf } from '../../src/interop/stix/index.js';
import { collectionIdOf, NODE_COLLECTION_ID } from '../../src/interop/taxii/index.js';
import type { Actor } from '../../src/services/actor.js';
import { type AuthHeaders, jsonOf, makeDraft, startTestNode, type TestNode, USERS } from './harness.js';

// The TAXII 2.1 server of a USA node: spec paths and media types, authentication, paging that a
// resuming client can trust, match filters, and that every answer (objects, manifest, versions,
// pages, 404s) is computed only over what the read policy lets the caller read.

const ROOT = '/taxii2/accord';
const NODE = `${ROOT}/collections/${NODE_COLLECTION_ID}`;
const ACCEPT = { accept: TAXII_MEDIA_TYPE };
const NOFORN_TEXT = 'sensitive access that must not be disclosed';
// Markings of generated portions: what USA, GBR and cleared or uncleared readers see differs.
const MARKINGS = [
  '(U)',
  '(U//REL TO USA, FVEY)',
  '(C//REL TO USA, GBR)',
  '(C//REL TO USA, FVEY)',
  '(S//REL TO USA, GBR)',
  '(S//NF)',
  '(TS//SI//NF)',
] as const;

let t: TestNode;
let analyst: AuthHeaders;
let gbr: AuthHeaders;
let analystActor: Actor;
const productIds: string[] = [];

function basic(username: string, password: string): AuthHeaders {
  return { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` };
}

async function get(url: string, headers: AuthHeaders, extra: Record<string, string> = ACCEPT) {
  return t.server.inject({ method: 'GET', url, headers: { ...headers, ...extra } });
}

function expectTaxiiError(response: LightMyRequestResponse, status: number): Record<string, unknown> {
  expect(response.statusCode, response.body).toBe(status);
  expect(response.headers['content-type']).toBe(TAXII_MEDIA_TYPE);
  const body = jsonOf(response);
  expect(body.http_status).toBe(String(status));
  expect(typeof body.title).toBe('string');
  expect(typeof body.description).toBe('string');
  return body;
}

interface Served {
  readonly objects: Record<string, unknown>[];
  readonly lastHeaders: string[];
  readonly pages: number;
}

/** Every object of a collection, following `next` pages of `limit`. */
async function pullByNext(url: string, headers: AuthHeaders, limit: number, query = ''): Promise<Served> {
  const objects: Record<string, unknown>[] = [];
  const lastHeaders: string[] = [];
  let next: string | undefined;
  for (let pages = 1; pages < 500; pages++) {
    const response = await get(
      `${url}/objects/?limit=${limit}${query}${next === undefined ? '' : `&next=${encodeURIComponent(next)}`}`,
      headers,
    );
    expect(response.statusCode, response.body).toBe(200);
    const body = jsonOf(response) as { more: boolean; next?: string; objects?: Record<string, unknown>[] };
    expect((body.objects ?? []).length).toBeLessThanOrEqual(limit);
    objects.push(...(body.objects ?? []));
    const last = response.headers['x-taxii-date-added-last'];
    if (typeof last === 'string') lastHeaders.push(last);
    if (!body.more) return { objects, lastHeaders, pages };
    next = body.next;
  }
  throw new Error('paging did not end');
}

/** Every object, repeating the query with added_after = the last X-TAXII-Date-Added-Last. */
async function pullByAddedAfter(url: string, headers: AuthHeaders, limit: number): Promise<Served> {
  const objects: Record<string, unknown>[] = [];
  const lastHeaders: string[] = [];
  let after: string | undefined;
  for (let pages = 1; pages < 500; pages++) {
    const response = await get(
      `${url}/objects/?limit=${limit}&match[version]=all${after === undefined ? '' : `&added_after=${encodeURIComponent(after)}`}`,
      headers,
    );
    expect(response.statusCode, response.body).toBe(200);
    const body = jsonOf(response) as { objects?: Record<string, unknown>[] };
    const last = response.headers['x-taxii-date-added-last'];
    if (body.objects === undefined) return { objects, lastHeaders, pages };
    objects.push(...body.objects);
    expect(typeof last).toBe('string');
    lastHeaders.push(last as string);
    after = last as string;
  }
  throw new Error('paging did not end');
}

const keyOf = (o: Record<string, unknown>) => `${String(o.id)}@${String(o.modified ?? o.created ?? '')}`;

beforeAll(async () => {
  t = await startTestNode();
  analyst = await t.tokenFor(USERS.analyst.username);
  gbr = await t.tokenFor(USERS.gbrAnalyst.username);
  const user = await t.store.users.getByUsername(USERS.analyst.username);
  analystActor = { user: user!, via: 'local' };
  const products = t.node.services.products;
  // The example (p3 S//NF), submitted, and generated products over MARKINGS, some left as drafts.
  const example = await products.createDraft(analystActor, makeDraft());
  await products.submit(analystActor, example.id);
  productIds.push(example.id);
  for (let k = 0; k < 8; k++) {
    const draft = await products.createDraft(
      analystActor,
      makeDraft({
        title: `Generated report ${k}`,
        titleMarking: '(U//REL TO USA, FVEY)',
        portions: [0, 1, 2].map((n) => ({
          id: `p${n + 1}`,
          marking: MARKINGS[(k + n * 3) % MARKINGS.length] as string,
          text: `Portion ${n} of generated report ${k}.`,
        })),
      }),
    );
    if (k % 4 !== 3) await products.submit(analystActor, draft.id);
    productIds.push(draft.id);
  }
  // The FVEY collection holds the example: a release under that arrangement, as the outbox keeps it.
  await t.store.releases.add({
    id: 'release-fvey-example',
    productId: example.id,
    version: 1,
    recipient: 'GBR',
    arrangementId: 'fvey-multilateral',
    arrangementVersion: 1,
    effect: 'allow',
    decision: {},
    by: USERS.officer.username,
  });
}, 60_000);

afterAll(() => t?.close());

describe('TAXII discovery, API root and collections', () => {
  it('serves discovery, the API root and collections as application/taxii+json;version=2.1', async () => {
    const discovery = await get('/taxii2/', analyst);
    expect(discovery.statusCode).toBe(200);
    expect(discovery.headers['content-type']).toBe(TAXII_MEDIA_TYPE);
    expect(jsonOf(discovery).api_roots).toEqual(['/taxii2/accord/']);
    const root = jsonOf(await get(`${ROOT}/`, analyst));
    expect(root.versions).toEqual([TAXII_MEDIA_TYPE]);
    expect(typeof root.max_content_length).toBe('number');
    const collections = jsonOf(await get(`${ROOT}/collections/`, analyst)).collections as Record<
      string,
      unknown
    >[];
    const ids = collections.map((c) => c.id);
    expect(ids).toContain(NODE_COLLECTION_ID);
    expect(ids).toContain(collectionIdOf('fvey-multilateral'));
    for (const c of collections) {
      expect(c.media_types).toEqual(['application/stix+json;version=2.1']);
      expect(c.can_read).toBe(true);
      expect(c.can_write).toBe(true);
    }
    const one = jsonOf(await get(`${NODE}/`, analyst));
    expect(one.id).toBe(NODE_COLLECTION_ID);
    // A release officer reads but may not create products: the collections are read-only to them.
    const officer = await t.tokenFor(USERS.officer.username);
    const theirs = jsonOf(await get(`${ROOT}/collections/`, officer)).collections as { can_write: boolean }[];
    expect(theirs.every((c) => !c.can_write)).toBe(true);
  });

  it('answers an unknown collection and path with a TAXII 404', async () => {
    expectTaxiiError(
      await get(`${ROOT}/collections/6a1b3c5d-0000-4000-8000-000000000000/objects/`, analyst),
      404,
    );
    expectTaxiiError(await get(`${ROOT}/nothing/`, analyst), 404);
  });

  it('refuses an Accept that does not allow TAXII 2.1 with 406', async () => {
    expectTaxiiError(await get(`${ROOT}/`, analyst, { accept: 'text/html' }), 406);
    expectTaxiiError(await get(`${ROOT}/`, analyst, { accept: 'application/taxii+json;version=2.0' }), 406);
    for (const accept of ['application/taxii+json', '*/*', 'text/html, application/taxii+json;version=2.1']) {
      expect((await get(`${ROOT}/`, analyst, { accept })).statusCode).toBe(200);
    }
  });
});

describe('TAXII authentication', () => {
  it('takes HTTP Basic and bearer, and answers none or wrong 401 with WWW-Authenticate and a TAXII error', async () => {
    const user = USERS.analyst;
    expect((await get(`${NODE}/objects/`, basic(user.username, user.password))).statusCode).toBe(200);
    expect((await get(`${NODE}/objects/`, analyst)).statusCode).toBe(200);
    for (const headers of [
      {},
      basic(user.username, 'wrong password'),
      basic('nobody', 'x'),
      { authorization: 'Bearer acc_not-a-token' },
      { authorization: 'Basic !!!' },
    ]) {
      const response = await get(`${NODE}/objects/`, headers);
      const body = expectTaxiiError(response, 401);
      expect(response.headers['www-authenticate']).toMatch(/^Basic realm=.*Bearer/);
      expect(JSON.stringify(body)).not.toContain('Portion');
    }
  });

  it('answers a caller without product:read 403 for every collection alike, before any lookup', async () => {
    const admin = await t.tokenFor(USERS.admin.username);
    const known = expectTaxiiError(await get(`${NODE}/objects/`, admin), 403);
    const unknown = expectTaxiiError(
      await get(`${ROOT}/collections/6a1b3c5d-0000-4000-8000-000000000000/objects/`, admin),
      403,
    );
    expect(known).toEqual(unknown);
  });
});

describe('TAXII objects, paging and filters', () => {
  it('pages by limit and next, with more, the date headers and every object once', async () => {
    const whole = await pullByNext(NODE, analyst, 1000);
    expect(whole.pages).toBe(1);
    expect(whole.objects.length).toBeGreaterThan(20);
    const paged = await pullByNext(NODE, analyst, 7);
    expect(paged.pages).toBe(Math.ceil(whole.objects.length / 7));
    expect(paged.objects.map(keyOf)).toEqual(whole.objects.map(keyOf));
    // X-TAXII-Date-Added-Last strictly increases from page to page.
    for (let i = 1; i < paged.lastHeaders.length; i++) {
      expect(paged.lastHeaders[i]! > paged.lastHeaders[i - 1]!).toBe(true);
    }
  });

  it('resumes by added_after = X-TAXII-Date-Added-Last neither missing nor repeating, whatever the limit', async () => {
    const reference = (await pullByNext(NODE, analyst, 1000, '&match[version]=all')).objects.map(keyOf);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 12 }), async (limit) => {
        const got = (await pullByAddedAfter(NODE, analyst, limit)).objects.map(keyOf);
        expect(got).toEqual(reference);
      }),
      { numRuns: 6 },
    );
  });

  it('filters by match[type], match[id], match[version] and match[spec_version]', async () => {
    const reports = (await pullByNext(NODE, analyst, 1000, '&match[type]=report')).objects;
    expect(reports.length).toBe(productIds.length);
    expect(reports.every((o) => o.type === 'report')).toBe(true);
    const id = reports[0]!.id as string;
    const byId = (await pullByNext(NODE, analyst, 1000, `&match[id]=${id}`)).objects;
    expect(byId.map((o) => o.id)).toEqual([id]);
    const both = (await pullByNext(NODE, analyst, 1000, '&match[type]=report,note')).objects;
    expect(both.every((o) => o.type === 'report' || o.type === 'note')).toBe(true);
    expect((await pullByNext(NODE, analyst, 1000, '&match[spec_version]=2.0')).objects).toEqual([]);
    expect((await pullByNext(NODE, analyst, 1000, '&match[version]=first')).objects.length).toBeGreaterThan(
      0,
    );
    expectTaxiiError(await get(`${NODE}/objects/?added_after=yesterday`, analyst), 400);
    expectTaxiiError(await get(`${NODE}/objects/?limit=0`, analyst), 400);
    expectTaxiiError(await get(`${NODE}/objects/?next=garbage`, analyst), 400);
    expectTaxiiError(await get(`${NODE}/objects/?colour=red`, analyst), 400);
  });

  it('serves an object by id, its versions and the manifest, with the same dates', async () => {
    const objects = (await pullByNext(NODE, analyst, 1000)).objects;
    const report = objects.find((o) => o.type === 'report')!;
    const one = await get(`${NODE}/objects/${report.id as string}/`, analyst);
    expect(one.statusCode).toBe(200);
    expect((jsonOf(one).objects as unknown[]).length).toBe(1);
    const versions = await get(`${NODE}/objects/${report.id as string}/versions/`, analyst);
    expect(jsonOf(versions).versions).toEqual([report.modified]);
    expect(versions.headers['x-taxii-date-added-first']).toBe(one.headers['x-taxii-date-added-first']);
    const manifest = await get(`${NODE}/manifest/?limit=1000`, analyst);
    const entries = jsonOf(manifest).objects as { id: string; version: string; media_type: string }[];
    expect(entries.map((e) => e.id)).toEqual(objects.map((o) => o.id));
    expect(entries.every((e) => e.media_type === 'application/stix+json;version=2.1')).toBe(true);
  });

  it('narrows an arrangement collection to products released under it', async () => {
    const fvey = `${ROOT}/collections/${collectionIdOf('fvey-multilateral')}`;
    const reports = (await pullByNext(fvey, analyst, 100, '&match[type]=report')).objects;
    expect(reports.map((r) => r.id)).toEqual([stixIdOf('report', `product:${productIds[0]}`)]);
    const none = `${ROOT}/collections/${collectionIdOf('ct-task-force')}`;
    expect((await pullByNext(none, analyst, 100)).objects).toEqual([]);
  });
});

describe('TAXII never shows what the read policy withholds', () => {
  it('gives a GBR reader cleared to CONFIDENTIAL only what the policy lets them read', async () => {
    const served = await pullByNext(NODE, gbr, 1000, '&match[version]=all');
    const text = JSON.stringify(served.objects);
    expect(text).not.toContain(NOFORN_TEXT);
    expect(text).not.toContain('Generated report 3'); // a draft: only its author reads it
  });

  it('answers an object a user may not read exactly as one that does not exist', async () => {
    const all = (await pullByNext(NODE, analyst, 1000)).objects.map((o) => o.id as string);
    const theirs = new Set((await pullByNext(NODE, gbr, 1000)).objects.map((o) => o.id as string));
    const hidden = all.find((id) => !theirs.has(id))!;
    expect(hidden).toBeDefined();
    const absent = `note--${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}`;
    for (const suffix of ['', 'versions/']) {
      const forbidden = expectTaxiiError(await get(`${NODE}/objects/${hidden}/${suffix}`, gbr), 404);
      const missing = expectTaxiiError(await get(`${NODE}/objects/${absent}/${suffix}`, gbr), 404);
      expect(JSON.stringify(forbidden).replace(hidden, 'X')).toBe(
        JSON.stringify(missing).replace(absent, 'X'),
      );
    }
    // match[id] and the manifest are silent about it too.
    expect((await pullByNext(NODE, gbr, 1000, `&match[id]=${hidden}`)).objects).toEqual([]);
    const manifest = jsonOf(await get(`${NODE}/manifest/?match[id]=${hidden}`, gbr));
    expect(manifest).toEqual({ more: false });
  });

  it('for generated readers: objects, manifest, versions and page sizes equal a reference filter over decideRead', async () => {
    const services = t.node.services;
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          nationality: fc.constantFrom('USA', 'GBR', 'CAN', 'FRA'),
          clearance: fc.constantFrom('UNCLASSIFIED', 'CONFIDENTIAL', 'SECRET', 'TOP SECRET'),
          caveats: fc.subarray(['SI', 'TK']),
          limit: fc.integer({ min: 1, max: 9 }),
        }),
        async ({ nationality, clearance, caveats, limit }) => {
          const username = `reader${n++}.gen`;
          await services.directory.createUser(null, {
            username,
            displayName: username,
            nationality,
            clearance,
            caveats,
            communities: [],
            roles: ['analyst'],
          });
          const user = (await t.store.users.getByUsername(username))!;
          const { token } = await services.auth.issueToken(user.id, 'taxii property');
          const headers = { authorization: `Bearer ${token}` };
          // Reference: the portions decideRead lets this reader read, through the products API.
          const readable = new Set<string>();
          for (const id of productIds) {
            try {
              const view = await services.products.read({ user, via: 'local' }, id);
              for (const p of view.portions) readable.add(p.text);
            } catch {
              // NOT_FOUND: nothing of it is readable
            }
          }
          const served = await pullByNext(NODE, headers, limit, '&match[version]=all');
          const notes = served.objects.filter((o) => o.type === 'note').map((o) => o.content as string);
          expect(new Set(notes)).toEqual(readable);
          expect(served.pages).toBe(Math.max(1, Math.ceil(served.objects.length / limit)));
          const manifest = jsonOf(await get(`${NODE}/manifest/?limit=1000&match[version]=all`, headers))
            .objects as { id: string }[] | undefined;
          expect((manifest ?? []).map((e) => e.id)).toEqual(served.objects.map((o) => o.id));
          for (const o of served.objects.filter((x) => x.type === 'report')) {
            const versions = jsonOf(await get(`${NODE}/objects/${o.id as string}/versions/`, headers));
            expect(versions.versions).toEqual([o.modified]);
          }
        },
      ),
      { numRuns: 8 },
    );
  }, 120_000);
});

describe('TAXII add objects and status', () => {
  const bundleObjects = (k: number) => {
    const report = stixIdOf('report', `taxii-post:${k}`);
    const note = stixIdOf('note', `taxii-post:${k}`);
    const t0 = '2026-11-26T10:00:00.000Z';
    return [
      {
        type: 'report',
        spec_version: '2.1',
        id: report,
        created: t0,
        modified: t0,
        name: `Posted report ${k}`,
        published: t0,
        object_refs: [note],
      },
      {
        type: 'note',
        spec_version: '2.1',
        id: note,
        created: t0,
        modified: t0,
        content: 'Posted.',
        object_refs: [report],
      },
    ];
  };

  async function post(headers: AuthHeaders, payload: unknown) {
    return t.server.inject({
      method: 'POST',
      url: `${NODE}/objects/`,
      headers: { ...headers, ...ACCEPT, 'content-type': TAXII_MEDIA_TYPE },
      payload: JSON.stringify(payload),
    });
  }

  it('imports an envelope through the STIX import and answers a status resource its poster can read', async () => {
    const response = await post(analyst, { objects: bundleObjects(1) });
    expect(response.statusCode, response.body).toBe(202);
    expect(response.headers['content-type']).toBe(TAXII_MEDIA_TYPE);
    const status = jsonOf(response);
    expect(status).toMatchObject({
      status: 'complete',
      total_count: 2,
      success_count: 2,
      failure_count: 0,
      pending_count: 0,
    });
    const again = await get(`${ROOT}/status/${status.id as string}/`, analyst);
    expect(jsonOf(again)).toEqual(status);
    // Someone else's status is not there for them.
    const other = await t.tokenFor(USERS.analyst2.username);
    expectTaxiiError(await get(`${ROOT}/status/${status.id as string}/`, other), 404);
    // The report became the poster's draft: in their collection, not in another reader's.
    const mine = (await pullByNext(NODE, analyst, 1000, '&match[type]=report')).objects;
    expect(mine.some((r) => r.name === 'Posted report 1')).toBe(true);
    const theirs = (await pullByNext(NODE, other, 1000, '&match[type]=report')).objects;
    expect(theirs.some((r) => r.name === 'Posted report 1')).toBe(false);
  });

  it('stores nothing of an envelope with a bad object and reports every object failed', async () => {
    const before = await t.counts();
    const objects = bundleObjects(2);
    const bad = [...objects, { type: 'indicator', spec_version: '2.1', id: 'indicator--nope' }];
    const response = await post(analyst, { objects: bad });
    expect(response.statusCode).toBe(202);
    const status = jsonOf(response);
    expect(status).toMatchObject({ success_count: 0, failure_count: 3 });
    const after = await t.counts();
    expect(after.products).toBe(before.products);
    expect(after.stix_objects).toBe(before.stix_objects);
  });

  it('refuses a body that is not an envelope, and a reader who may not create products', async () => {
    expectTaxiiError(await post(analyst, [1, 2]), 400);
    expectTaxiiError(await post(analyst, { objects: 'no' }), 400);
    const officer = await t.tokenFor(USERS.officer.username);
    expectTaxiiError(await post(officer, { objects: bundleObjects(3) }), 403);
    expectTaxiiError(await post({}, { objects: bundleObjects(3) }), 401);
  });
});
