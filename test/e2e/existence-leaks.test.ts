import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signerOf } from '../../src/app/node-keys.js';
import { createNodeIdentity, publicIdentity } from '../../src/crypto/index.js';
import { derivedBy } from '../fixtures/derived-documents.js';
import { requestFor } from '../fixtures/route-requests.js';
import { keyOf, listRoutes, type Route } from '../fixtures/routes.js';
import { type AuthHeaders, jsonOf, makeDraft, startTestNode, type TestNode, USERS } from './harness.js';

// Issue 10 "no existence leaks": forbidden and not-found answer the same. For every route with an
// id in its path (read from the router, so a route added later is swept too), every user of every
// role, and every object that exists but that user may not read, the answer for that object equals
// the answer for an id that names nothing: same status, same headers that describe the body, and
// the same body once the id it echoes is blanked. An object is "not readable" by a user when the
// family's read route (GET …/:id) does not answer them 2xx. Then the list, search and correlation
// surfaces: what a reader sees is the same whether or not products they may not read exist
// (property over generated labels and words).

let t: TestNode;
const headers = new Map<string, AuthHeaders>();
const SCOPED = 'auditor.scoped';

/** An id of the same length as `id` that names nothing (the body's length must not tell them apart). */
function absentLike(id: string): string {
  const last = id.at(-1) === 'z' ? 'y' : 'z';
  return `${id.slice(0, -1)}${last}`;
}

/** Status, the headers that describe the body, and the body with `id` blanked. */
function shapeOf(response: LightMyRequestResponse, id: string) {
  return {
    status: response.statusCode,
    type: response.headers['content-type'],
    length: response.headers['content-length'],
    body: response.body.replaceAll(id, '<id>'),
  };
}

interface Family {
  /** The path parameter naming the object. */
  readonly param: string;
  /** Routes whose path starts with this prefix (then /:param) belong to the family. */
  readonly prefix: string;
  /** Objects that exist, with any further parameters their routes need. */
  readonly objects: () => readonly { readonly id: string; readonly extra?: Record<string, string> }[];
  /** Where there is no read route: the one user who may see the object (its owner). */
  readonly owner?: string;
}

const seeded = {
  draft: '',
  noforn: '',
  received: '',
  incident: '',
  alertRule: '',
};

const FAMILIES: readonly Family[] = [
  {
    param: 'id',
    prefix: '/api/v1/products/',
    objects: () => [{ id: seeded.draft }, { id: seeded.noforn }],
  },
  { param: 'productId', prefix: '/api/v1/received/', objects: () => [{ id: seeded.received }] },
  {
    param: 'id',
    prefix: '/api/v1/arrangements/',
    objects: () => [{ id: 'fvey-multilateral', extra: { version: '1' } }],
  },
  { param: 'id', prefix: '/api/v1/incidents/', objects: () => [{ id: seeded.incident }] },
  {
    param: 'id',
    prefix: '/api/v1/alert-rules/',
    objects: () => [{ id: seeded.alertRule }],
    owner: USERS.analyst.username,
  },
];

const USERNAMES = [...Object.values(USERS).map((u) => u.username), SCOPED];

beforeAll(async () => {
  const identity = createNodeIdentity();
  t = await startTestNode({ keys: { identity, public: publicIdentity(identity) } });
  const { services } = t.node;
  await services.directory.createUser(null, {
    username: SCOPED,
    displayName: SCOPED,
    nationality: 'USA',
    clearance: 'SECRET',
    caveats: [],
    communities: [],
    roles: ['oversight-auditor'],
    oversightOf: ['usa-gbr-sigint'],
    password: 'correct horse battery staple scoped',
  });
  for (const username of Object.values(USERS).map((u) => u.username)) {
    headers.set(username, await t.tokenFor(username));
  }
  const scoped = (await t.store.users.getByUsername(SCOPED))!;
  headers.set(SCOPED, {
    authorization: `Bearer ${(await services.auth.issueToken(scoped.id, 'sweep')).token}`,
  });

  const as = (username: string) => headers.get(username)!;
  const post = async (username: string, url: string, payload?: object) => {
    const response = await t.server.inject({
      method: 'POST',
      url,
      headers: as(username),
      ...(payload ? { payload } : {}),
    });
    expect(response.statusCode, `${url}: ${response.body}`).toBeLessThan(300);
    return jsonOf(response);
  };
  // Submitted with a CONFIDENTIAL//REL TO USA, FVEY portion: the GBR analyst reads part of it, so
  // the lists below have something in them to count and page.
  const readable = (await post(USERS.analyst.username, '/api/v1/products', makeDraft())).id as string;
  await post(USERS.analyst.username, `/api/v1/products/${readable}/submit`);
  // A draft: its author's alone.
  seeded.draft = (await post(USERS.analyst.username, '/api/v1/products', makeDraft())).id as string;
  // Submitted, every portion SECRET//NOFORN: the GBR analyst may read none of it.
  const noforn = makeDraft({
    titleMarking: '(S//NF)',
    portions: [{ id: 'p1', marking: '(S//NF)', text: 'Collection was enabled by a sensitive access.' }],
  });
  seeded.noforn = (await post(USERS.analyst.username, '/api/v1/products', noforn)).id as string;
  await post(USERS.analyst.username, `/api/v1/products/${seeded.noforn}/submit`);
  // Received from GBR, SECRET: above the GBR analyst's CONFIDENTIAL clearance.
  const gbr = createNodeIdentity();
  const document = derivedBy(
    signerOf({ identity: gbr, public: publicIdentity(gbr) }),
    'gbr-2026-0001',
    'GBR',
  );
  const envelopeId = '00000000-0000-4000-8000-000000000001';
  await t.store.inbox.record({
    envelopeId,
    sender: 'GBR',
    kind: 'release',
    arrangementId: 'usa-gbr-sigint',
    arrangementVersion: 1,
    productId: document.id,
    productVersion: document.version,
    envelopeDigest: `sha256:${'0'.repeat(64)}`,
    remoteAddress: null,
    outcome: 'stored',
    code: null,
    reason: null,
    receipt: null,
    receivedAt: new Date().toISOString(),
  });
  await t.store.receivedProducts.add({
    envelopeId,
    productId: document.id,
    productVersion: document.version,
    originator: 'GBR',
    sender: 'GBR',
    arrangementId: 'usa-gbr-sigint',
    arrangementVersion: 1,
    document,
    banner: document.banner,
    rank: 3,
    receivedAt: new Date().toISOString(),
  });
  seeded.received = document.id;
  // An alert rule: its owner's alone.
  seeded.alertRule = (
    await post(USERS.analyst.username, '/api/v1/alert-rules', {
      kind: 'entity-by-partners',
      minPartners: 2,
      windowHours: 24,
    })
  ).id as string;
  // An incident under FVEY: the auditor scoped to usa-gbr-sigint may not see it.
  seeded.incident = (
    await post(USERS.auditor.username, '/api/v1/incidents', {
      arrangement: 'fvey-multilateral',
      suspectedParty: 'GBR',
      products: [],
      severity: 'low',
      description: 'sweep',
    })
  ).id as string;
}, 60_000);

afterAll(() => t?.close());

function familyOf(route: Route): Family | undefined {
  return FAMILIES.find((f) => route.url.startsWith(`${f.prefix}:${f.param}`));
}

describe('forbidden and not-found answer the same, on every route with an id', () => {
  it('covers every /api/v1 route with an object id in its path (or names why not)', () => {
    const routes = listRoutes(t.server).filter((r) => r.url.startsWith('/api/v1/') && r.url.includes('/:'));
    const uncovered = routes.filter((r) => familyOf(r) === undefined).map(keyOf);
    // Partners are not secret (every holder of partner:read sees them all); consent requests are
    // swept by test/e2e/consent-federation.test.ts, which makes real ones.
    expect(uncovered.filter((k) => !/\/partners\/:code|\/consent-requests\/:id/.test(k))).toEqual([]);
  });

  it('answers an object a user may not read exactly as an id that names nothing, for every role', async () => {
    const routes = listRoutes(t.server).filter((r) => familyOf(r) !== undefined);
    let compared = 0;
    const readableBy = new Map<string, boolean>();
    for (const route of routes) {
      const family = familyOf(route)!;
      for (const object of family.objects()) {
        const absent = absentLike(object.id);
        for (const username of USERNAMES) {
          const auth = headers.get(username)!;
          const probeKey = `${family.prefix}${object.id} ${username}`;
          if (family.owner !== undefined) readableBy.set(probeKey, family.owner === username);
          if (!readableBy.has(probeKey)) {
            const probe = await t.server.inject({
              method: 'GET',
              url: `${family.prefix}${object.id}`,
              headers: auth,
            });
            readableBy.set(probeKey, probe.statusCode < 300);
          }
          if (readableBy.get(probeKey) === true) continue;
          const params = { ...object.extra, [family.param]: object.id };
          const hidden = await t.server.inject(requestFor(route, auth, params));
          const missing = await t.server.inject(
            requestFor(route, auth, { ...params, [family.param]: absent }),
          );
          expect(shapeOf(hidden, object.id), `${keyOf(route)} as ${username}`).toEqual(
            shapeOf(missing, absent),
          );
          expect(hidden.statusCode, `${keyOf(route)} as ${username}`).toBeGreaterThanOrEqual(400);
          compared += 1;
        }
      }
    }
    // Every family has at least one user who may not read its object.
    expect(compared).toBeGreaterThan(routes.length);
  }, 120_000);
});

describe('a scoped oversight auditor and the arrangements it does not oversee', () => {
  it('lists only those it oversees; another answers as one not held, on every arrangement route', async () => {
    const auth = headers.get(SCOPED)!;
    const list = await t.server.inject({ method: 'GET', url: '/api/v1/arrangements', headers: auth });
    expect(list.statusCode).toBe(200);
    expect((JSON.parse(list.body) as { id: string }[]).map((a) => a.id)).toEqual(['usa-gbr-sigint']);
    for (const suffix of ['', '/versions', '/versions/1']) {
      const hidden = await t.server.inject({
        method: 'GET',
        url: `/api/v1/arrangements/fvey-multilateral${suffix}`,
        headers: auth,
      });
      const missing = await t.server.inject({
        method: 'GET',
        url: `/api/v1/arrangements/fvey-multilateraz${suffix}`,
        headers: auth,
      });
      expect(hidden.statusCode).toBe(404);
      expect(shapeOf(hidden, 'fvey-multilateral')).toEqual(shapeOf(missing, 'fvey-multilateraz'));
      const own = await t.server.inject({
        method: 'GET',
        url: `/api/v1/arrangements/usa-gbr-sigint${suffix}`,
        headers: auth,
      });
      expect(own.statusCode).toBe(200);
    }
  });
});

// ---------------------------------------------------------------- lists, search, correlation

/** GET routes without a path parameter that a reader's view depends on. */
const LIST_ROUTES = [
  '/api/v1/products',
  '/api/v1/products?state=submitted',
  '/api/v1/received',
  '/api/v1/search?q=hawala',
  '/api/v1/search?q=facilitator&limit=1',
  '/api/v1/alerts',
  '/api/v1/incidents',
  '/api/v1/arrangements',
];

describe('lists, counts, pages, facets and search answer the same whether or not unreadable products exist', () => {
  it('for the GBR analyst (CONFIDENTIAL) and the scoped auditor, over generated unreadable products', async () => {
    const readers = [USERS.gbrAnalyst.username, SCOPED];
    const snapshot = async () => {
      const out: Record<string, unknown> = {};
      for (const username of readers) {
        for (const url of LIST_ROUTES) {
          const response = await t.server.inject({ method: 'GET', url, headers: headers.get(username)! });
          out[`${username} ${url}`] = { status: response.statusCode, body: response.body };
        }
      }
      return out;
    };
    const before = await snapshot();
    const words = ['hawala', 'facilitator', 'transfer', 'broker', 'Rotterdam', '198.51.100.7'];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('(S//NF)', '(TS//SI//NF)', '(S//REL TO USA)', '(C//NF)', '(TS//REL TO USA, GBR)'),
        fc.subarray(words, { minLength: 1 }),
        fc.boolean(),
        async (marking, picked, submit) => {
          const draft = makeDraft({
            title: `Report on ${picked.join(' ')}`,
            titleMarking: marking,
            portions: [{ id: 'p1', marking, text: `Sources name ${picked.join(', ')} again.` }],
          });
          const created = await t.server.inject({
            method: 'POST',
            url: '/api/v1/products',
            headers: headers.get(USERS.analyst.username)!,
            payload: draft,
          });
          expect(created.statusCode, created.body).toBe(201);
          if (submit) {
            const id = jsonOf(created).id as string;
            await t.server.inject({
              method: 'POST',
              url: `/api/v1/products/${id}/submit`,
              headers: headers.get(USERS.analyst.username)!,
            });
          }
          expect(await snapshot()).toEqual(before);
        },
      ),
      { numRuns: 12 },
    );
  }, 120_000);
});
