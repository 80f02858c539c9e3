import fc from 'fast-check';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TableCounts } from '../../src/store/index.js';
import { listRoutes } from '../fixtures/routes.js';
import {
  type AuthHeaders,
  jsonOf,
  makeDraft,
  readExample,
  startTestNode,
  type TestNode,
  USERS,
} from './harness.js';

// Every malformed, contradictory or unauthenticated request is refused with a 4xx RFC 9457
// problem naming what is wrong, and leaves the store as it was. The one exception is login:
// every checked login attempt is recorded in login_attempts (that is what throttling counts) and
// queued for the audit log; attempts refused by the throttle, or by validation before the check, are not.

const BODY_LIMIT = 4096;
const MAX_FAILED_LOGINS = 3;

let t: TestNode;
let analyst: AuthHeaders;
let analystSession: AuthHeaders;
let admin: AuthHeaders;
let officer: AuthHeaders;
let submittedId: string;

beforeAll(async () => {
  t = await startTestNode({ bodyLimitBytes: BODY_LIMIT, maxFailedLogins: MAX_FAILED_LOGINS });
  analyst = await t.tokenFor(USERS.analyst.username);
  analystSession = await t.login(USERS.analyst.username);
  admin = await t.tokenFor(USERS.admin.username);
  officer = await t.tokenFor(USERS.officer.username);
  const created = await t.server.inject({
    method: 'POST',
    url: '/api/v1/products',
    headers: { ...analyst },
    payload: makeDraft(),
  });
  submittedId = jsonOf(created).id as string;
  const submitted = await t.server.inject({
    method: 'POST',
    url: `/api/v1/products/${submittedId}/submit`,
    headers: { ...analyst },
  });
  expect(submitted.statusCode, submitted.body).toBe(200);
});
afterAll(async () => {
  await t?.close();
});

interface Expected {
  readonly status: number;
  readonly code: string;
  /** What `detail` must say: it names the problem. */
  readonly detail: RegExp;
  /** Further members the problem must have (`field`, `token`, `position`, …). */
  readonly members?: Readonly<Record<string, unknown>>;
}

type Delta = Partial<Record<keyof TableCounts, number>>;

/** Sends the request and checks the problem, and that the store's row counts moved only by `delta`. */
async function expectRefused(
  request: InjectOptions,
  expected: Expected,
  delta: Delta = {},
): Promise<LightMyRequestResponse> {
  const before = await t.counts();
  const response = await t.server.inject(request);
  expect(response.statusCode, response.body).toBe(expected.status);
  expect(response.statusCode).toBeGreaterThanOrEqual(400);
  expect(response.statusCode).toBeLessThan(500);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  const problem = jsonOf(response);
  expect(problem).toMatchObject({ status: expected.status, code: expected.code, ...expected.members });
  expect(problem.detail).toMatch(expected.detail);
  expect(typeof problem.type).toBe('string');
  expect(typeof problem.title).toBe('string');
  const after = await t.counts();
  const moved = Object.fromEntries(
    Object.entries(before).map(([table, n]) => [table, n + (delta[table as keyof TableCounts] ?? 0)]),
  );
  expect(after).toEqual(moved);
  return response;
}

const post = (url: string, headers: AuthHeaders, payload?: unknown): InjectOptions => ({
  method: 'POST',
  url,
  headers: { ...headers },
  ...(payload === undefined ? {} : { payload: payload as NonNullable<InjectOptions['payload']> }),
});

/** A draft whose second portion carries `marking`. */
function draftWithMarking(marking: string) {
  const draft = makeDraft();
  return { ...draft, portions: [draft.portions[0]!, { marking, text: 'A second portion.' }] };
}

/** examples/arrangements/fvey-multilateral.json as a new, unsigned draft, with `changes`. */
function arrangementWith(changes: Record<string, unknown>): Record<string, unknown> {
  return {
    ...readExample('arrangements/fvey-multilateral.json'),
    id: 'new-arrangement',
    status: 'draft',
    signatures: [],
    ...changes,
  };
}

describe('request bodies', () => {
  it('refuses malformed JSON', async () => {
    await expectRefused(
      {
        ...post('/api/v1/products', analyst),
        headers: { ...analyst, 'content-type': 'application/json' },
        payload: '{"title": ',
      },
      { status: 400, code: 'INPUT_INVALID', detail: /not valid JSON/ },
    );
  });

  it('refuses a content type the API does not speak', async () => {
    for (const type of ['application/x-www-form-urlencoded', 'application/xml']) {
      await expectRefused(
        {
          ...post('/api/v1/products', analyst),
          headers: { ...analyst, 'content-type': type },
          payload: 'title=x',
        },
        { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', detail: /Unsupported Media Type/ },
      );
    }
  });

  it('refuses a JSON document sent as text/plain as an unsupported media type', async () => {
    // The API speaks JSON only: the text/plain parser Fastify has by default is removed.
    await expectRefused(
      {
        ...post('/api/v1/products', analyst),
        headers: { ...analyst, 'content-type': 'text/plain' },
        payload: JSON.stringify(makeDraft()),
      },
      { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', detail: /Unsupported Media Type/ },
    );
  });

  it('refuses a value of the wrong type in a JSON body instead of coercing it', async () => {
    await expectRefused(post('/api/v1/products', analyst, { ...makeDraft(), credibility: '2' }), {
      status: 400,
      code: 'INPUT_INVALID',
      detail: /credibility/,
    });
    await expectRefused(post('/api/v1/products', analyst, { ...makeDraft(), categories: 'cyber' }), {
      status: 400,
      code: 'INPUT_INVALID',
      detail: /categories/,
    });
  });

  it('refuses an unknown field, naming it', async () => {
    await expectRefused(post('/api/v1/products', analyst, { ...makeDraft(), classifiedBy: 'someone' }), {
      status: 400,
      code: 'INPUT_INVALID',
      detail: /body\/classifiedBy is not an allowed field/,
      members: { field: 'body/classifiedBy' },
    });
  });

  it('refuses a missing field, naming it', async () => {
    const { title: _title, ...untitled } = makeDraft();
    await expectRefused(post('/api/v1/products', analyst, untitled), {
      status: 400,
      code: 'INPUT_INVALID',
      detail: /body\/title is required/,
      members: { field: 'body/title' },
    });
  });

  it('refuses a field of the wrong type, naming it', async () => {
    await expectRefused(post('/api/v1/products', analyst, { ...makeDraft(), credibility: 'high' }), {
      status: 400,
      code: 'INPUT_INVALID',
      detail: /body\/credibility must be integer/,
      members: { field: 'body/credibility' },
    });
    await expectRefused(post('/api/v1/products', analyst, { ...makeDraft(), portions: [{ marking: 7 }] }), {
      status: 400,
      code: 'INPUT_INVALID',
      detail: /body\/portions\/0/,
    });
  });

  it(`refuses a body above http.bodyLimitBytes (${BODY_LIMIT})`, async () => {
    const big = makeDraft({ portions: [{ marking: '(U)', text: 'x'.repeat(BODY_LIMIT) }] });
    await expectRefused(post('/api/v1/products', analyst, big), {
      status: 413,
      code: 'BODY_TOO_LARGE',
      detail: /too large/,
    });
  });
});

describe('markings and documents', () => {
  it('refuses an unknown marking token, naming the portion, the token and its position', async () => {
    await expectRefused(post('/api/v1/products', analyst, draftWithMarking('(S//REL TO USA, XYZ)')), {
      status: 400,
      code: 'PRODUCT_INVALID',
      detail: /\/portions\/1\/marking: unknown country or community code 'XYZ' at position 17/,
      members: { field: '/portions/1/marking', token: 'XYZ', position: 17 },
    });
    await expectRefused(post('/api/v1/products', analyst, draftWithMarking('(SECRETISH)')), {
      status: 400,
      code: 'PRODUCT_INVALID',
      detail: /unknown classification level 'SECRETISH'/,
      members: { field: '/portions/1/marking', token: 'SECRETISH', position: 2 },
    });
  });

  it('refuses a contradictory marking, naming where', async () => {
    await expectRefused(post('/api/v1/products', analyst, draftWithMarking('(S//REL TO USA, GBR//NF)')), {
      status: 400,
      code: 'PRODUCT_INVALID',
      detail: /REL TO and NOFORN exclude each other/,
      members: { field: '/portions/1/marking', token: 'NOFORN', position: 22 },
    });
  });

  it('refuses a title marking the author could not read themselves', async () => {
    await expectRefused(post('/api/v1/products', analyst, makeDraft({ titleMarking: '(TS//HCS)' })), {
      status: 400,
      code: 'PRODUCT_INVALID',
      detail: /may not write material they could not read/,
      members: { field: '/titleMarking' },
    });
  });

  it('refuses an arrangement that breaks its own rules with ARRANGEMENT_INVALID, naming the field', async () => {
    const parties = readExample('arrangements/fvey-multilateral.json').parties as unknown[];
    await expectRefused(
      post(
        '/api/v1/arrangements',
        admin,
        arrangementWith({ parties: [...parties, { partner: 'XYZ', role: 'party', nodeKeys: [] }] }),
      ),
      {
        status: 400,
        code: 'ARRANGEMENT_INVALID',
        detail: /\/parties\/5\/partner: unknown partner 'XYZ'/,
        members: { field: '/parties/5/partner' },
      },
    );
    await expectRefused(
      post('/api/v1/arrangements', admin, arrangementWith({ expires: '2020-01-01T00:00:00Z' })),
      {
        status: 400,
        code: 'ARRANGEMENT_INVALID',
        detail: /\/expires: expiry must be after the effective date/,
        members: { field: '/expires' },
      },
    );
  });

  it('refuses an arrangement that does not match the schema at the edge, naming the field', async () => {
    // The route validates the published schema first, so these are INPUT_INVALID with a body/ path.
    const { legalBasis: _dropped, ...noBasis } = arrangementWith({});
    await expectRefused(post('/api/v1/arrangements', admin, noBasis), {
      status: 400,
      code: 'INPUT_INVALID',
      detail: /body\/legalBasis is required/,
      members: { field: 'body/legalBasis' },
    });
    const scope = readExample('arrangements/fvey-multilateral.json').scope as Record<string, unknown>;
    await expectRefused(
      post('/api/v1/arrangements', admin, arrangementWith({ scope: { ...scope, ceiling: 'ULTRA' } })),
      {
        status: 400,
        code: 'INPUT_INVALID',
        detail: /body\/scope\/ceiling must be equal to one of the allowed values/,
        members: { field: 'body/scope/ceiling' },
      },
    );
  });
});

describe('state transitions', () => {
  it('refuses a product transition its state does not allow with 409', async () => {
    await expectRefused(post(`/api/v1/products/${submittedId}/submit`, analyst), {
      status: 409,
      code: 'PRODUCT_STATE_INVALID',
      detail: /is submitted; only a draft or rejected product can be submitted/,
    });
    await expectRefused(
      { ...post(`/api/v1/products/${submittedId}`, analyst, makeDraft()), method: 'PUT' },
      {
        status: 409,
        code: 'PRODUCT_STATE_INVALID',
        detail: /only a draft or rejected product can be edited/,
      },
    );
  });

  it('refuses a release before approval (officer, submitted product)', async () => {
    // Not 409: the release is decided, and stored, as a policy denial.
    const before = await t.counts();
    const response = await t.server.inject(
      post(`/api/v1/products/${submittedId}/releases`, officer, {
        to: 'GBR',
        arrangement: 'fvey-multilateral',
      }),
    );
    expect(response.statusCode, response.body).toBe(403);
    expect(jsonOf(response).deniedBy).toContain('release-approval');
    expect((await t.counts()).outbox).toBe(before.outbox);
  });

  it('refuses an arrangement status change the lifecycle does not allow with 409', async () => {
    await expectRefused(
      post('/api/v1/arrangements/fvey-multilateral/versions/1/status', admin, { status: 'draft' }),
      {
        status: 409,
        code: 'ARRANGEMENT_TRANSITION_INVALID',
        detail: /cannot go from active to draft/,
        members: { allowed: ['suspended', 'terminated'] },
      },
    );
  });
});

describe('query strings', () => {
  it.each([
    ['three numbers', '1,2,3'],
    ['a longitude out of range', '170,0,190,10'],
    ['min above max', '10,10,0,0'],
    ['not numbers', 'a,b,c,d'],
  ])('refuses a bbox of %s', async (_name, bbox) => {
    await expectRefused(
      { method: 'GET', url: `/api/v1/products?bbox=${encodeURIComponent(bbox)}`, headers: { ...analyst } },
      {
        status: 400,
        code: 'INPUT_INVALID',
        detail: /querystring\/bbox must be minLon,minLat,maxLon,maxLat/,
        members: { field: 'querystring/bbox' },
      },
    );
  });

  it('refuses an unknown query parameter and an out-of-range limit', async () => {
    await expectRefused(
      { method: 'GET', url: '/api/v1/products?colour=red', headers: { ...analyst } },
      { status: 400, code: 'INPUT_INVALID', detail: /querystring\/colour is not an allowed field/ },
    );
    await expectRefused(
      { method: 'GET', url: '/api/v1/products?limit=0', headers: { ...analyst } },
      { status: 400, code: 'INPUT_INVALID', detail: /querystring\/limit must be >= 1/ },
    );
  });

  it('refuses an unknown classification filter', async () => {
    await expectRefused(
      { method: 'GET', url: '/api/v1/products?classification=ULTRA', headers: { ...analyst } },
      { status: 400, code: 'INPUT_INVALID', detail: /unknown classification 'ULTRA'/ },
    );
  });
});

describe('credentials', () => {
  it('refuses an unknown bearer token and a non-bearer Authorization header', async () => {
    await expectRefused(
      { method: 'GET', url: '/api/v1/products', headers: { authorization: 'Bearer acc_not-a-token' } },
      { status: 401, code: 'AUTH_INVALID', detail: /unknown or revoked API token/ },
    );
    await expectRefused(
      { method: 'GET', url: '/api/v1/products', headers: { authorization: 'Basic dXNlcjpwYXNz' } },
      { status: 401, code: 'AUTH_INVALID', detail: /Authorization must be "Bearer <token>"/ },
    );
  });

  it('refuses an unknown session cookie', async () => {
    await expectRefused(
      { method: 'GET', url: '/api/v1/products', headers: { cookie: 'accord_session=forged' } },
      { status: 401, code: 'AUTH_REQUIRED', detail: /session expired or unknown/ },
    );
  });

  it('refuses a cookie-authenticated write with a wrong or missing CSRF token', async () => {
    await expectRefused(
      post('/api/v1/products', { ...analystSession, 'x-csrf-token': 'guessed' }, makeDraft()),
      {
        status: 403,
        code: 'AUTH_CSRF',
        detail: /X-CSRF-Token/,
      },
    );
    await expectRefused(post('/api/v1/products', { cookie: analystSession.cookie! }, makeDraft()), {
      status: 403,
      code: 'AUTH_CSRF',
      detail: /X-CSRF-Token/,
    });
    // The same session with its token writes.
    const ok = await t.server.inject(post('/api/v1/products', analystSession, makeDraft()));
    expect(ok.statusCode, ok.body).toBe(201);
  });

  it('refuses a cookie-authenticated write without its own CSRF token on every write route, changing nothing (property)', async () => {
    const adminSession = await t.login(USERS.admin.username);
    // Public writes take no session (login, the envelope inbox); TAXII answers in its own error format.
    const writes = listRoutes(t.server).filter(
      (r) =>
        ['POST', 'PUT', 'PATCH', 'DELETE'].includes(r.method) &&
        !['/api/v1/auth/login', '/federation/v1/inbox'].includes(r.url) &&
        !r.url.startsWith('/taxii2'),
    );
    expect(writes.length).toBeGreaterThan(20);
    const token = fc.oneof(
      fc.constant(undefined),
      fc.string({ maxLength: 64 }).filter((s) => s !== analystSession['x-csrf-token']),
      // Another session's token is no token for this one.
      fc.constant(adminSession['x-csrf-token']!),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...writes), token, async (route, csrf) => {
        // A header value must be printable to be sent at all; the rest is what a forger could send.
        const sent = csrf === undefined ? undefined : csrf.replace(/[^\x20-\x7e]/g, '') || 'x';
        const headers = {
          cookie: analystSession.cookie!,
          ...(sent === undefined ? {} : { 'x-csrf-token': sent }),
        };
        await expectRefused(
          {
            method: route.method as 'POST',
            url: route.url.replace(/:[A-Za-z]+/g, 'x').replace('*', 'x'),
            headers,
            payload: makeDraft(),
          },
          { status: 403, code: 'AUTH_CSRF', detail: /X-CSRF-Token/ },
        );
      }),
      { numRuns: 60 },
    );
  }, 120_000);

  it('takes a bearer-token write with no CSRF token, even beside a session cookie', async () => {
    const plain = await t.server.inject(post('/api/v1/products', analyst, makeDraft()));
    expect(plain.statusCode, plain.body).toBe(201);
    // The Authorization header decides who writes; a cookie riding along changes nothing.
    const withCookie = await t.server.inject(
      post('/api/v1/products', { ...analyst, cookie: analystSession.cookie! }, makeDraft()),
    );
    expect(withCookie.statusCode, withCookie.body).toBe(201);
  });
});

describe('login', () => {
  const login = (username: string, password: string, remoteAddress = '127.0.0.1'): InjectOptions => ({
    method: 'POST',
    url: '/api/v1/auth/login',
    payload: { username, password },
    remoteAddress,
  });

  it('refuses a login body without a password before checking anything (nothing recorded)', async () => {
    await expectRefused(
      { method: 'POST', url: '/api/v1/auth/login', payload: { username: USERS.analyst.username } },
      { status: 400, code: 'INPUT_INVALID', detail: /body\/password is required/ },
    );
  });

  it('answers a wrong password and an unknown user alike, recording each attempt', async () => {
    const wrong = await expectRefused(
      login(USERS.analyst2.username, 'not the password', '10.0.0.1'),
      { status: 401, code: 'AUTH_INVALID', detail: /wrong username or password/ },
      { login_attempts: 1, audit_queue: 1 },
    );
    const unknown = await expectRefused(
      login('nobody.usa', 'not the password', '10.0.0.1'),
      { status: 401, code: 'AUTH_INVALID', detail: /wrong username or password/ },
      { login_attempts: 1, audit_queue: 1 },
    );
    expect(unknown.body).toBe(wrong.body);
  });

  it(`throttles a username after ${MAX_FAILED_LOGINS} failures, even with the right password`, async () => {
    const { username, password } = USERS.auditor;
    for (let i = 0; i < MAX_FAILED_LOGINS; i++) {
      await expectRefused(
        login(username, `wrong password ${i}`, '10.0.0.2'),
        { status: 401, code: 'AUTH_INVALID', detail: /wrong username or password/ },
        { login_attempts: 1, audit_queue: 1 },
      );
    }
    const throttled = await expectRefused(login(username, password, '10.0.0.2'), {
      status: 429,
      code: 'AUTH_THROTTLED',
      detail: /too many failed logins/,
      members: { retryAfterSeconds: 15 * 60 },
    });
    expect(throttled.headers['retry-after']).toBe(String(15 * 60));
    expect(throttled.cookies).toEqual([]);
    // The throttle is per username: the same address may still sign others in.
    const other = await t.server.inject(login(USERS.officer.username, USERS.officer.password, '10.0.0.2'));
    expect(other.statusCode, other.body).toBe(200);
  });

  it('sets the session cookie HttpOnly, SameSite=Strict, Path=/', async () => {
    const response = await t.server.inject(login(USERS.officer.username, USERS.officer.password));
    expect(response.statusCode, response.body).toBe(200);
    const cookie = response.cookies.find((c) => c.name === 'accord_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    const header = String(response.headers['set-cookie']);
    expect(header).toMatch(/;\s*HttpOnly/);
    expect(header).toMatch(/;\s*SameSite=Strict/);
    expect(header).toMatch(/;\s*Path=\//);
    // The session id is not echoed in the body, only the CSRF token is.
    expect(response.body).not.toContain(cookie!.value);
    expect(typeof jsonOf(response).csrfToken).toBe('string');
  });
});

describe('the ops and documentation routes', () => {
  it('answers /healthz and /readyz', async () => {
    const health = await t.server.inject({ method: 'GET', url: '/healthz' });
    expect(health.statusCode).toBe(200);
    expect(jsonOf(health)).toEqual({ status: 'ok' });
    const ready = await t.server.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(jsonOf(ready)).toEqual({ status: 'ready' });
  });

  it('exposes Prometheus metrics with the request counter', async () => {
    const metrics = await t.server.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.statusCode).toBe(200);
    expect(metrics.headers['content-type']).toMatch(/^text\/plain/);
    expect(metrics.body).toContain('accord_http_requests_total');
    expect(metrics.body).toMatch(
      /accord_http_requests_total\{method="GET",route="\/healthz",status="200"\} \d+/,
    );
  });

  it('publishes an OpenAPI 3 document with the product paths', async () => {
    const response = await t.server.inject({ method: 'GET', url: '/api/v1/openapi.json' });
    expect(response.statusCode).toBe(200);
    const spec = jsonOf(response) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(spec.openapi).toMatch(/^3\./);
    for (const path of [
      '/api/v1/products',
      '/api/v1/products/{id}',
      '/api/v1/products/{id}/submit',
      '/api/v1/products/{id}/approve',
      '/api/v1/products/{id}/releases',
    ]) {
      expect(Object.keys(spec.paths)).toContain(path);
    }
    expect(Object.keys(spec.paths['/api/v1/products']!)).toEqual(expect.arrayContaining(['get', 'post']));
  });

  it('serves the API docs as HTML', async () => {
    const response = await t.server.inject({ method: 'GET', url: '/api/v1/docs' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/html/);
    expect(response.body).toMatch(/<html/i);
  });

  it('answers an unknown route with a problem', async () => {
    await expectRefused(
      { method: 'GET', url: '/api/v1/nothing-here', headers: { ...analyst } },
      { status: 404, code: 'NOT_FOUND', detail: /no route GET \/api\/v1\/nothing-here/ },
    );
  });
});
