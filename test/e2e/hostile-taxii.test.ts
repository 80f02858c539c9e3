import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TAXII_MEDIA_TYPE } from '../../src/api/routes/taxii-routes.js';
import { NODE_COLLECTION_ID } from '../../src/interop/taxii/index.js';
import type { Actor } from '../../src/services/actor.js';
import { encoded, HOSTILE_STRINGS, hostileString } from '../fixtures/hostile.js';
import { concreteUrl, keyOf, listRoutes, type Route } from '../fixtures/routes.js';
import { type AuthHeaders, jsonOf, makeDraft, startTestNode, type TestNode, USERS } from './harness.js';

// Issue 10, hostile input at the TAXII 2.1 boundary (SECURITY.md T13, T17): every TAXII read route
// with hostile path segments, query strings (match[...], added_after, limit, next cursors that are
// garbage, forged, or another reader's), Accept headers and credentials. Never 5xx; every answer is
// TAXII's media type, every refusal a TAXII error body; and whatever page comes back holds only
// objects the caller may read.

let t: TestNode;
const readers: Record<string, { headers: AuthHeaders; visible: Set<string> }> = {};
let cursorOfAnalyst = '';

async function actorOf(username: string): Promise<Actor> {
  const user = await t.store.users.getByUsername(username);
  return { user: user!, via: 'local' };
}

beforeAll(async () => {
  t = await startTestNode();
  const analyst = await actorOf(USERS.analyst.username);
  // Drafts of one analyst (only they read them) and submitted products others may read in part.
  for (let k = 0; k < 4; k++) {
    const draft = await t.node.services.products.createDraft(
      analyst,
      makeDraft({ title: `TAXII hostile ${k}` }),
    );
    if (k % 2 === 0) await t.node.services.products.submit(analyst, draft.id);
  }
  for (const key of ['analyst', 'analyst2', 'gbrAnalyst'] as const) {
    const username = USERS[key].username;
    const entries = await t.node.services.taxii.entries(await actorOf(username), NODE_COLLECTION_ID);
    readers[key] = { headers: await t.tokenFor(username), visible: new Set(entries.map((e) => e.id)) };
  }
  const first = await t.server.inject({
    method: 'GET',
    url: `/taxii2/accord/collections/${NODE_COLLECTION_ID}/objects/?limit=1`,
    headers: { ...readers.analyst!.headers, accept: TAXII_MEDIA_TYPE },
  });
  cursorOfAnalyst = String(jsonOf(first).next);
});
afterAll(() => t?.close());

const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');

/** Values of TAXII parameters: near misses of valid ones, forged cursors and hostile strings. */
const paramValue = fc.oneof(
  fc.constantFrom(
    '0',
    '-1',
    '1',
    '1e3',
    '0x10',
    '999999999999',
    ' 5',
    'NaN',
    'all',
    'last,first',
    'first',
    'last,2026-11-26T12:00:00Z',
    '2026-11-26T12:00:00Z',
    '2026-11-26T12:00:00.123456789Z',
    '2026-02-30T00:00:00Z',
    '2026-11-26',
    '9999-99-99T99:99:99Z',
    'report--00000000-0000-4000-8000-000000000000',
    'report,note,marking-definition',
    ',,,',
    '2.1',
    '2.0,2.1',
    'a'.repeat(300),
    Array.from({ length: 101 }, (_, i) => `x${i}`).join(','),
  ),
  // Cursors: garbage, well-formed but forged, oversized, of the wrong shape.
  fc.constantFrom(
    'not-a-cursor',
    '%%%',
    cursorOf(['', '', '']),
    cursorOf(['~', '~', '~']),
    cursorOf(['a'.repeat(301), '', '']),
    cursorOf([1, 2, 3]),
    cursorOf({ 0: 'a', 1: 'b', 2: 'c', length: 3 }),
    cursorOf(['a', 'b']),
    cursorOf('__proto__'),
  ),
  fc.tuple(fc.string(), fc.string(), fc.string()).map(cursorOf),
  fc.base64String({ maxLength: 40 }),
  hostileString.filter((s) => s.length < 2000),
);
const paramKey = fc.oneof(
  fc.constantFrom(
    'match[id]',
    'match[type]',
    'match[version]',
    'match[spec_version]',
    'added_after',
    'limit',
    'next',
    'match[]',
    'match[__proto__]',
    '__proto__',
    'constructor',
  ),
  fc.string({ minLength: 1, maxLength: 12 }),
);
const segment = fc.oneof(
  fc.constantFrom(NODE_COLLECTION_ID, 'report--00000000-0000-4000-8000-000000000000', '..', '.', '%2e%2e'),
  hostileString.filter((s) => s.length > 0 && s.length < 300),
);
/** Accept headers a client may send: TAXII's, other versions and types, garbage (printable). */
const accept = fc.oneof(
  fc.constantFrom(
    TAXII_MEDIA_TYPE,
    '*/*',
    'application/*',
    'application/taxii+json',
    'application/taxii+json;version=2.0',
    'application/taxii+json;version=2.1;q=0',
    'application/stix+json;version=2.1',
    'text/html',
    ',,,;;;',
    'application/taxii+json;version=',
    '',
  ),
  fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz/+*;=,. '.split('')), maxLength: 60 }),
);

function expectTaxiiAnswer(response: LightMyRequestResponse, context: string): Record<string, unknown> {
  expect(response.statusCode, `${context}: ${response.body.slice(0, 300)}`).toBeLessThan(500);
  expect(response.headers['content-type'], context).toBe(TAXII_MEDIA_TYPE);
  const body = jsonOf(response);
  if (response.statusCode >= 400) {
    expect(body.http_status).toBe(String(response.statusCode));
    expect(typeof body.title).toBe('string');
    expect(typeof body.description).toBe('string');
    expect(typeof body.error_code).toBe('string');
  }
  return body;
}

describe('TAXII under hostile requests', () => {
  it('answers every TAXII read with hostile segments, parameters, Accept headers and callers without 5xx, in TAXII form, showing only readable objects', async () => {
    const routes: readonly Route[] = listRoutes(t.server).filter(
      (r) => r.method === 'GET' && r.url.startsWith('/taxii2'),
    );
    expect(routes.length).toBeGreaterThanOrEqual(8);
    const caller = fc.constantFrom('analyst', 'analyst2', 'gbrAnalyst', 'anonymous', 'stranger');
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        fc.boolean(),
        segment,
        fc.array(fc.tuple(paramKey, paramValue), { maxLength: 4 }),
        fc.option(accept, { nil: undefined }),
        caller,
        async (route, realCollection, param, pairs, acceptHeader, who) => {
          // The real collection, so the object, version and status segments are reached too.
          const url = concreteUrl(
            realCollection
              ? { ...route, url: route.url.replace(':collectionId', NODE_COLLECTION_ID) }
              : route,
            param,
          );
          const search = pairs.map(([k, v]) => `${encoded(k)}=${encoded(v)}`).join('&');
          const headers: Record<string, string> = {
            ...(who === 'anonymous'
              ? {}
              : who === 'stranger'
                ? { authorization: `Basic ${Buffer.from('nobody:x').toString('base64')}` }
                : readers[who]!.headers),
            ...(acceptHeader === undefined ? {} : { accept: acceptHeader }),
          };
          const response = await t.server.inject({
            method: 'GET',
            url: `${url}${search === '' ? '' : `?${search}`}`,
            headers,
          });
          const context = `${keyOf(route)} ${url}?${search} as ${who}`;
          const body = expectTaxiiAnswer(response, context);
          const visible = readers[who]?.visible ?? new Set<string>();
          for (const object of (body.objects ?? []) as { id?: unknown }[]) {
            // Manifest entries and objects alike carry the id.
            expect(visible.has(String(object.id)), `${context}: ${String(object.id)}`).toBe(true);
          }
        },
      ),
      { numRuns: 250 },
    );
  }, 120_000);

  it("pages another reader's cursor only over what the caller may read", async () => {
    expect(cursorOfAnalyst).not.toBe('undefined');
    for (const who of ['analyst2', 'gbrAnalyst'] as const) {
      const response = await t.server.inject({
        method: 'GET',
        url: `/taxii2/accord/collections/${NODE_COLLECTION_ID}/objects/?limit=1000&next=${encodeURIComponent(cursorOfAnalyst)}`,
        headers: { ...readers[who]!.headers, accept: TAXII_MEDIA_TYPE },
      });
      const body = expectTaxiiAnswer(response, who);
      expect(response.statusCode).toBe(200);
      for (const object of (body.objects ?? []) as { id: string }[]) {
        expect(readers[who]!.visible.has(object.id)).toBe(true);
      }
    }
  });

  it('refuses POSTs with hostile Content-Type headers in TAXII form, storing nothing', async () => {
    const contentType = fc.oneof(
      fc.constantFrom(
        'text/plain',
        'application/json',
        'application/taxii+json;version=2.1',
        'application/stix+json;version=2.1',
        'application/taxii+json;version=2.1;charset=utf-16',
        'multipart/form-data; boundary=x',
        'application/x-www-form-urlencoded',
      ),
      fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz/+*;=,. '.split('')), maxLength: 40 }),
    );
    const payload = fc.constantFrom(
      '{"objects":[]}',
      '{"objects":[1]}',
      'objects=1',
      '',
      '{',
      ...HOSTILE_STRINGS,
    );
    await fc.assert(
      fc.asyncProperty(contentType, payload, async (type, body) => {
        const before = await t.counts();
        const response = await t.server.inject({
          method: 'POST',
          url: `/taxii2/accord/collections/${NODE_COLLECTION_ID}/objects/`,
          headers: { ...readers.analyst!.headers, accept: TAXII_MEDIA_TYPE, 'content-type': type },
          payload: body,
        });
        expectTaxiiAnswer(response, `${type}: ${body.slice(0, 40)}`);
        const after = await t.counts();
        expect(after.products).toBe(before.products);
        expect(after.stix_objects).toBe(before.stix_objects);
      }),
      { numRuns: 60 },
    );
  }, 60_000);
});
