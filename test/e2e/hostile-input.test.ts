import fc from 'fast-check';
import type { InjectOptions } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { grantsOf, ROLES } from '../../src/auth/roles.js';
import { createNodeIdentity, publicIdentity } from '../../src/crypto/index.js';
import type { TableCounts } from '../../src/store/index.js';
import {
  changedTables,
  deeplyNested,
  encoded,
  hostileString,
  hostileValueOf,
  jsonText,
} from '../fixtures/hostile.js';
import { concreteUrl, keyOf, listRoutes, type Route } from '../fixtures/routes.js';
import { type AuthHeaders, makeDraft, startTestNode, USERS } from './harness.js';

// Issue 10, hostile input at the HTTP boundary (SECURITY.md T13): every write route, called by a
// user who holds its permission, with generated hostile bodies and path parameters — malformed and
// wrongly typed JSON, deep nesting, huge strings, SQL, HTML and script payloads, path traversal,
// Unicode confusables in country codes. The node never answers 5xx, every refusal is a
// problem+json body, and a refused request changes nothing in the store (besides the failed
// logins and audit events a refusal is meant to record).

const nodeIdentity = createNodeIdentity();
const t = await startTestNode({ keys: { identity: nodeIdentity, public: publicIdentity(nodeIdentity) } });
afterAll(() => t.close());

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
// TAXII answers with its own error bodies; it is exercised in test/e2e/taxii.test.ts.
const ALL = listRoutes(t.server).filter((r) => !r.url.startsWith('/taxii2'));
const ROUTES = ALL.filter((r) => WRITES.has(r.method));
// Reads, but not the live stream, which answers a permitted caller with a stream that never ends.
const READS = ALL.filter((r) => r.method === 'GET' && r.url !== '/api/v1/stream');

// Tables a refusal is meant to write to: the failed-login record and the audit log of refusals.
const RECORDING = new Set(['login_attempts', 'audit_queue', 'audit_entries', 'audit_nodes', 'sessions']);

function changed(before: TableCounts, after: TableCounts): string[] {
  return Object.keys(changedTables(before, after, RECORDING));
}

const SAMPLE = makeDraft();

/** Values of any type, strings hostile, nested a few levels, keyed like the draft and other bodies. */
const hostileValue = hostileValueOf([
  ...Object.keys(SAMPLE),
  'to',
  'arrangement',
  'reason',
  'partner',
  'password',
  'username',
  'status',
]);

/** The sample draft with one field replaced by a hostile value. */
const mutatedDraft = fc
  .tuple(fc.constantFrom(...Object.keys(SAMPLE)), hostileValue)
  .map(([field, value]) => ({ ...SAMPLE, [field]: value }));

const hostileBody = fc.oneof(
  hostileValue,
  deeplyNested,
  mutatedDraft,
  hostileString.map((s) => ({ raw: s })),
);

const hostileParam = fc.oneof(
  fc.constantFrom('no-such-id', '1', 'GBR'),
  hostileString.filter((s) => s.length > 0 && s.length < 500),
);

/** Headers of a user whose role grants the route's permission; anonymous for public routes. */
const headersCache = new Map<string, AuthHeaders>();
async function headersFor(route: Route): Promise<AuthHeaders> {
  // One request records the route's declared access (the harness hooks every response).
  if (!t.routeAccess.has(keyOf(route)))
    await t.server.inject({ method: route.method as 'POST', url: concreteUrl(route, 'x') });
  const access = t.routeAccess.get(keyOf(route));
  if (access === undefined || 'public' in access) return {};
  const role =
    'permission' in access ? ROLES.find((r) => grantsOf(r).includes(access.permission)) : 'analyst';
  const user = Object.values(USERS).find((u) => u.roles.length === 1 && u.roles[0] === role);
  if (user === undefined) return {};
  let headers = headersCache.get(user.username);
  if (headers === undefined) {
    headers = await t.tokenFor(user.username);
    headersCache.set(user.username, headers);
  }
  return headers;
}

describe('hostile input on every write route', () => {
  it('is never answered 5xx, refusals are problem+json, and a refusal changes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ROUTES), hostileBody, hostileParam, async (route, body, param) => {
        const headers = await headersFor(route);
        const before = await t.counts();
        const payload = jsonText(body);
        const options: InjectOptions = {
          method: route.method as NonNullable<InjectOptions['method']>,
          url: concreteUrl(route, param),
          headers: { ...headers, 'content-type': 'application/json' },
          payload,
        };
        const response = await t.server.inject(options);
        expect(response.statusCode, `${keyOf(route)}: ${response.body.slice(0, 300)}`).toBeLessThan(500);
        if (response.statusCode >= 400) {
          expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
          const problem = JSON.parse(response.body) as { code?: unknown; detail?: unknown };
          expect(typeof problem.code).toBe('string');
          expect(changed(before, await t.counts()), keyOf(route)).toEqual([]);
        }
      }),
      { numRuns: 150 },
    );
  }, 300_000);

  it('answers hostile query strings on every read route without 5xx, refusing with problem+json', async () => {
    const key = fc.oneof(
      fc.constantFrom(
        'limit',
        'offset',
        'start',
        'end',
        'index',
        'first',
        'second',
        'treeSize',
        'state',
        'classification',
        'discipline',
        'arrangement',
        'from',
        'to',
        'format',
        'kinds',
        'bbox',
        'keywords',
        'lastEventId',
        '__proto__',
      ),
      fc.string({ minLength: 1, maxLength: 10 }),
    );
    const query = fc.array(fc.tuple(key, hostileParam), { maxLength: 4 });
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...READS), query, hostileParam, async (route, pairs, param) => {
        const headers = await headersFor(route);
        const search = pairs.map(([k, v]) => `${encoded(k)}=${encoded(v)}`).join('&');
        const response = await t.server.inject({
          method: 'GET',
          url: `${concreteUrl(route, param)}${search === '' ? '' : `?${search}`}`,
          headers,
        });
        expect(response.statusCode, `${keyOf(route)}: ${response.body.slice(0, 300)}`).toBeLessThan(500);
        if (response.statusCode >= 400 && !route.url.startsWith('/api/v1/docs')) {
          expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
        }
      }),
      { numRuns: 150 },
    );
  }, 300_000);
});
