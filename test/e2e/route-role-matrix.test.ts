import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import type { RouteAccess } from '../../src/api/authenticate.js';
import { grantsOf, PERMISSIONS, ROLES, type Role } from '../../src/auth/roles.js';
import { createNodeIdentity, publicIdentity } from '../../src/crypto/index.js';
import { BODIES, concreteUrl, requestFor, WRITES } from '../fixtures/route-requests.js';
import { keyOf, listRoutes, type Route } from '../fixtures/routes.js';
import { type AuthHeaders, startTestNode, type TestUser, USERS } from './harness.js';

// The route × role matrix: every route the running server registers, called by every role (with a
// bearer token and with a session cookie) and by an anonymous caller, must answer as the
// permission table in src/auth/roles.ts says. Routes are read from the router itself, so a route
// added later is in the matrix without anyone listing it here.

// ---------------------------------------------------------------- the node and its callers

// With keys, so the federation inbox is served (a node without them answers it 503).
const nodeIdentity = createNodeIdentity();
const t = await startTestNode({ keys: { identity: nodeIdentity, public: publicIdentity(nodeIdentity) } });
afterAll(() => t.close());

// TAXII 2.1 answers with its own error bodies (§3.6.1), not problem+json; test/e2e/taxii.test.ts
// checks its authentication and permissions.
const ROUTES = listRoutes(t.server).filter((r) => !r.url.startsWith('/taxii2'));

function userWithRole(role: Role): TestUser {
  const user = Object.values(USERS).find((u) => u.roles.length === 1 && u.roles[0] === role);
  if (user === undefined) throw new Error(`the harness has no user holding only the role ${role}`);
  return user;
}

type Mode = 'bearer' | 'session';
const sessions = new Map<string, AuthHeaders>();
const tokens = new Map<string, AuthHeaders>();

async function headersFor(role: Role, mode: Mode): Promise<AuthHeaders> {
  const { username } = userWithRole(role);
  const cache = mode === 'bearer' ? tokens : sessions;
  let headers = cache.get(username);
  if (headers === undefined) {
    headers = mode === 'bearer' ? await t.tokenFor(username) : await t.login(username);
    cache.set(username, headers);
  }
  return headers;
}

// Routes that answer a permitted caller with a stream that never ends (Server-Sent Events): the
// matrix reads the head, then hangs up, as a client would.
const STREAMING = new Set(['GET /api/v1/stream']);

async function send(route: Route, headers: AuthHeaders): Promise<LightMyRequestResponse> {
  const options = requestFor(route, headers);
  if (!STREAMING.has(keyOf(route))) return t.server.inject(options);
  const controller = new AbortController();
  const response = await t.server.inject({ ...options, payloadAsStream: true, signal: controller.signal });
  let body = '';
  if (response.statusCode === 200) controller.abort();
  else for await (const chunk of response.stream()) body += String(chunk);
  // Only what the matrix reads of a response: its status, headers and body.
  return { statusCode: response.statusCode, headers: response.headers, body } as LightMyRequestResponse;
}

// Swagger UI's own routes are the only ones registered without `config.access`; the hook treats them as public.
const isDocsRoute = (route: Route) => route.url.startsWith('/api/v1/docs');

// Routes that need no permission. Deny by default: a new route that is public or open to anyone
// signed in must be added here on purpose, or the matrix fails.
const PUBLIC_URLS = new Set([
  '/healthz',
  '/readyz',
  '/metrics',
  '/api/v1/openapi.json',
  '/api/v1/auth/login',
  // Peers are no users: an envelope authenticates itself by its signature under a pinned key.
  '/federation/v1/inbox',
  // Public keys, so peers and auditors can check what the node signed (tree heads, receipts).
  '/federation/v1/identity',
  // Gossip (issue 5): a signed head reveals only size, root and time; a proof only what it commits to.
  '/federation/v1/audit/tree-head',
  '/federation/v1/audit/consistency',
  // The web console's static files (issue 8): the page and its scripts hold no data; every call
  // they make goes through the API above. /api, /federation and /taxii2 paths are never served here.
  '/',
  '/assets/*',
]);
const SIGNED_IN_URLS = new Set(['/api/v1/auth/me', '/api/v1/auth/logout', '/api/v1/auth/tokens']);

/** The access a route declared, read from the route's own config after one anonymous request. */
async function accessOf(route: Route): Promise<RouteAccess | undefined> {
  if (!t.routeAccess.has(keyOf(route))) await send(route, {});
  if (t.routeAccess.has(keyOf(route))) return t.routeAccess.get(keyOf(route));
  // Swagger UI answers `/api/v1/docs/` through its `/api/v1/docs` route; nothing else may go unrecorded.
  if (isDocsRoute(route)) return undefined;
  throw new Error(`${keyOf(route)} recorded no access`);
}

function expectProblem(response: LightMyRequestResponse, route: Route, status: number, code: string): void {
  expect(response.statusCode, `${keyOf(route)}: ${response.body}`).toBe(status);
  if (route.method === 'HEAD') return;
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = JSON.parse(response.body) as Record<string, unknown>;
  expect(body.code).toBe(code);
  expect(body.status).toBe(status);
  expect(typeof body.detail).toBe('string');
}

function expectAnswered(response: LightMyRequestResponse, route: Route): void {
  const why = `${keyOf(route)} answered ${response.statusCode}: ${response.body}`;
  expect([401, 403], why).not.toContain(response.statusCode);
  expect(response.statusCode, why).toBeLessThan(500);
  // A sample body that fails validation would hide what the handler does; keep BODIES valid.
  if (route.method !== 'HEAD' && response.headers['content-type']?.toString().includes('problem+json')) {
    expect((JSON.parse(response.body) as { code: string }).code, why).not.toBe('INPUT_INVALID');
  }
}

// ---------------------------------------------------------------- the tests

describe('the route list', () => {
  it('reads every route of the server, including every documented path', async () => {
    const keys = new Set(ROUTES.map(keyOf));
    expect(keys.size).toBe(ROUTES.length);
    for (const known of [
      'GET /healthz',
      'POST /api/v1/products',
      'POST /api/v1/products/:id/releases',
      'GET /api/v1/outbox',
      'GET /api/v1/inbox',
      'GET /api/v1/received',
      'GET /api/v1/received/:productId',
    ]) {
      expect(keys).toContain(known);
    }
    // Cross-check the tree parser against the OpenAPI document: nothing documented is missed.
    const spec = JSON.parse((await t.server.inject({ method: 'GET', url: '/api/v1/openapi.json' })).body) as {
      paths: Record<string, Record<string, unknown>>;
    };
    for (const [path, operations] of Object.entries(spec.paths)) {
      for (const method of Object.keys(operations)) {
        expect(keys).toContain(`${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`);
      }
    }
  });

  it('has a sample body for every write route and no stale samples', () => {
    const writes = ROUTES.filter((r) => WRITES.has(r.method)).map(keyOf);
    expect(Object.keys(BODIES).sort()).toEqual([...writes].sort());
  });

  it.each(ROUTES.map((r) => [keyOf(r), r] as const))('%s declares its access', async (_key, route) => {
    const access = await accessOf(route);
    if (access === undefined) {
      expect(isDocsRoute(route), `${keyOf(route)} declares no access`).toBe(true);
    } else if ('permission' in access) {
      expect(PERMISSIONS).toContain(access.permission);
    } else if ('public' in access) {
      expect(PUBLIC_URLS.has(route.url) || isDocsRoute(route), `${keyOf(route)} is public`).toBe(true);
    } else {
      expect(SIGNED_IN_URLS.has(route.url), `${keyOf(route)} is open to anyone signed in`).toBe(true);
    }
  });
});

const CALLERS = [
  ...ROLES.flatMap((role) => (['bearer', 'session'] as const).map((mode) => ({ role, mode }))),
  { role: null, mode: 'anonymous' as const },
];

describe.each(ROUTES.map((r) => [keyOf(r), r] as const))('%s', (_key, route) => {
  it.each(CALLERS.map((c) => [c.role ?? 'anonymous', c.mode, c] as const))(
    'answers %s (%s) as the permission table says',
    async (_label, _mode, caller) => {
      const access = (await accessOf(route)) ?? { public: true as const };
      const headers = caller.role === null ? {} : await headersFor(caller.role, caller.mode);
      const response = await send(route, headers);
      if (caller.mode === 'session' && keyOf(route) === 'POST /api/v1/auth/logout' && caller.role !== null) {
        sessions.delete(userWithRole(caller.role).username);
      }

      if ('public' in access) {
        expectAnswered(response, route);
      } else if (caller.role === null) {
        expectProblem(response, route, 401, 'AUTH_REQUIRED');
      } else if ('signedIn' in access || grantsOf(caller.role).includes(access.permission)) {
        expectAnswered(response, route);
      } else {
        expectProblem(response, route, 403, 'FORBIDDEN');
      }
    },
  );
});

describe('authentication before validation', () => {
  const guarded = async () => {
    const out: Route[] = [];
    for (const route of ROUTES) {
      const access = await accessOf(route);
      if (access !== undefined && !('public' in access)) out.push(route);
    }
    return out;
  };

  it('answers an anonymous caller 401 whatever the body, before parsing or validating it', async () => {
    for (const route of await guarded()) {
      const base = { method: route.method as NonNullable<InjectOptions['method']>, url: concreteUrl(route) };
      if (WRITES.has(route.method)) {
        // attacker-controlled: a body that fails the schema, and one that is not JSON at all
        const invalid = await t.server.inject({ ...base, payload: { unexpected: 1 } });
        expectProblem(invalid, route, 401, 'AUTH_REQUIRED');
        const malformed = await t.server.inject({
          ...base,
          headers: { 'content-type': 'application/json' },
          payload: '{"title": ',
        });
        expectProblem(malformed, route, 401, 'AUTH_REQUIRED');
      } else {
        const badQuery = await t.server.inject({ ...base, url: `${base.url}?limit=many&unknown=1` });
        expectProblem(badQuery, route, 401, 'AUTH_REQUIRED');
      }
    }
  });

  it('answers a signed-in caller without the permission 403 whatever the body', async () => {
    for (const route of await guarded()) {
      const access = await accessOf(route);
      if (access === undefined || !('permission' in access)) continue;
      const role = ROLES.find((r) => !grantsOf(r).includes(access.permission));
      if (role === undefined) continue;
      const headers = { ...(await headersFor(role, 'bearer')) };
      const base = { method: route.method as NonNullable<InjectOptions['method']>, url: concreteUrl(route) };
      const response = WRITES.has(route.method)
        ? await t.server.inject({ ...base, headers, payload: { unexpected: 1 } })
        : await t.server.inject({ ...base, headers, url: `${base.url}?limit=many&unknown=1` });
      expectProblem(response, route, 403, 'FORBIDDEN');
    }
  });
});
