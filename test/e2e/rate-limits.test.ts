import fc from 'fast-check';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodeIdentity, publicIdentity } from '../../src/crypto/index.js';
import { type AuthHeaders, jsonOf, makeDraft, startTestNode, type TestNode, USERS } from './harness.js';

// Issue 10: sign-ins per address and per username, writes per user, envelopes per sending partner.
// Over a limit the node answers 429 with a problem naming the limit and a Retry-After header, and
// does nothing else: the refused request is not parsed further, checked or stored.

const LOGIN_WINDOW_SECONDS = 3;
const PER_USERNAME = 3;
const PER_ADDRESS = 5;
const PER_USER_WRITES = 5;
const PER_PARTNER = 2;

let t: TestNode;

beforeAll(async () => {
  const identity = createNodeIdentity();
  t = await startTestNode({
    // Wrong passwords in the property below must meet the rate limit, not the failure throttle.
    maxFailedLogins: 1000,
    // With keys, so the inbox is served and a refused envelope is refused by the inbox itself.
    keys: { identity, public: publicIdentity(identity) },
    rateLimits: {
      login: { perAddress: PER_ADDRESS, perUsername: PER_USERNAME, windowSeconds: LOGIN_WINDOW_SECONDS },
      writes: { perUser: PER_USER_WRITES, windowSeconds: 60 },
      federation: { perPartner: PER_PARTNER, windowSeconds: 60 },
    },
  });
});
afterAll(async () => {
  await t?.close();
});

function login(username: string, password: string, remoteAddress: string): InjectOptions {
  return { method: 'POST', url: '/api/v1/auth/login', payload: { username, password }, remoteAddress };
}

/** Checks a 429 problem naming `limit`, with Retry-After in the header and the body. */
function expectLimited(response: LightMyRequestResponse, limit: string, max: number): void {
  expect(response.statusCode, response.body).toBe(429);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  const problem = jsonOf(response);
  expect(problem).toMatchObject({ status: 429, code: 'RATE_LIMITED', limit, max });
  expect(problem.detail).toContain(limit);
  const retryAfter = Number(response.headers['retry-after']);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(problem.retryAfterSeconds).toBe(retryAfter);
  expect(response.cookies).toEqual([]);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('sign-in rate limits', () => {
  it(`refuses the ${PER_USERNAME + 1}th sign-in of a username in the window, lets others in, and lets it in again after`, async () => {
    const { username, password } = USERS.analyst2;
    // Each from its own address: only the per-username limit is in play.
    for (let i = 0; i < PER_USERNAME; i++) {
      const ok = await t.server.inject(login(username, password, `10.1.0.${i + 1}`));
      expect(ok.statusCode, ok.body).toBe(200);
    }
    const before = await t.counts();
    const refused = await t.server.inject(login(username, password, '10.1.0.9'));
    expectLimited(refused, 'login-per-username', PER_USERNAME);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(LOGIN_WINDOW_SECONDS);
    // Refused before the password check: no attempt recorded, no audit entry queued, no session.
    expect(await t.counts()).toEqual(before);
    // The limit is per username, whatever its case, and never another user's.
    expectLimited(
      await t.server.inject(login(username.toUpperCase(), password, '10.1.0.10')),
      'login-per-username',
      PER_USERNAME,
    );
    const other = await t.server.inject(login(USERS.officer.username, USERS.officer.password, '10.1.0.9'));
    expect(other.statusCode, other.body).toBe(200);
    // After the window the same user signs in again.
    await sleep(LOGIN_WINDOW_SECONDS * 1000 + 200);
    const again = await t.server.inject(login(username, password, '10.1.0.11'));
    expect(again.statusCode, again.body).toBe(200);
  }, 30_000);

  it('counts every attempt from an address, whatever the username, and before the body is read', async () => {
    const address = '10.2.0.1';
    const users = [USERS.officer, USERS.auditor, USERS.analystOfficer, USERS.gbrAnalyst, USERS.admin];
    for (const user of users.slice(0, PER_ADDRESS)) {
      const ok = await t.server.inject(login(user.username, user.password, address));
      expect(ok.statusCode, ok.body).toBe(200);
    }
    expectLimited(
      await t.server.inject(login(USERS.analyst.username, USERS.analyst.password, address)),
      'login-per-address',
      PER_ADDRESS,
    );
    // A body that would fail validation is refused by the limit first: it is not even parsed.
    expectLimited(
      await t.server.inject({ ...login('x', 'y', address), payload: '{"not json' }),
      'login-per-address',
      PER_ADDRESS,
    );
    // Another address is not affected.
    const elsewhere = await t.server.inject(
      login(USERS.analyst.username, USERS.analyst.password, '10.2.0.2'),
    );
    expect(elsewhere.statusCode, elsewhere.body).toBe(200);
  });

  it('answers any sequence of attempts as a per-address and per-username counter predicts (property)', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 1 })), {
          minLength: 1,
          maxLength: 10,
        }),
        async (attempts) => {
          run += 1;
          // Fresh addresses and unknown usernames each run, so earlier runs' counters do not carry over.
          const addresses = [`10.3.${run}.1`, `10.3.${run}.2`];
          const names = [0, 1, 2].map((i) => `ghost-${run}-${i}`);
          const byAddress = [0, 0];
          const byName = [0, 0, 0];
          for (const [who, where] of attempts) {
            const response = await t.server.inject(login(names[who]!, 'wrong', addresses[where]!));
            byAddress[where]! += 1;
            if (byAddress[where]! > PER_ADDRESS) {
              expectLimited(response, 'login-per-address', PER_ADDRESS);
              continue;
            }
            byName[who]! += 1;
            if (byName[who]! > PER_USERNAME) {
              expectLimited(response, 'login-per-username', PER_USERNAME);
              continue;
            }
            expect(response.statusCode, response.body).toBe(401);
            expect(jsonOf(response).code).toBe('AUTH_INVALID');
          }
        },
      ),
      { numRuns: 15 },
    );
  }, 60_000);
});

describe('write rate limits', () => {
  let analyst: AuthHeaders;
  let analystSession: AuthHeaders;
  let colleague: AuthHeaders;

  beforeAll(async () => {
    // Each tokenFor is one write of its user (POST /api/v1/auth/tokens); sign-ins are not writes.
    analyst = await t.tokenFor(USERS.analyst.username);
    analystSession = await t.login(USERS.analyst.username);
    colleague = await t.tokenFor(USERS.analystOfficer.username);
  });

  const createProduct = (headers: AuthHeaders, payload: unknown = makeDraft()): InjectOptions => ({
    method: 'POST',
    url: '/api/v1/products',
    headers: { ...headers },
    payload: payload as NonNullable<InjectOptions['payload']>,
  });

  it(`refuses a user's writes past ${PER_USER_WRITES} in the window, by token or session alike; others and reads go on`, async () => {
    // The token's issue was the first write.
    for (let i = 1; i < PER_USER_WRITES; i++) {
      const ok = await t.server.inject(createProduct(i % 2 === 0 ? analyst : analystSession));
      expect(ok.statusCode, ok.body).toBe(201);
    }
    const before = await t.counts();
    expectLimited(await t.server.inject(createProduct(analyst)), 'writes-per-user', PER_USER_WRITES);
    expectLimited(await t.server.inject(createProduct(analystSession)), 'writes-per-user', PER_USER_WRITES);
    // Refused before the body is read: an invalid body gets the same 429, not a 400.
    expectLimited(
      await t.server.inject(createProduct(analyst, { title: 7 })),
      'writes-per-user',
      PER_USER_WRITES,
    );
    expect(await t.counts()).toEqual(before);
    // Reads are not writes; another user's writes are their own.
    const read = await t.server.inject({ method: 'GET', url: '/api/v1/products', headers: { ...analyst } });
    expect(read.statusCode, read.body).toBe(200);
    const other = await t.server.inject(createProduct(colleague));
    expect(other.statusCode, other.body).toBe(201);
  });

  it('still checks authentication first: an anonymous write is 401, not counted against anyone', async () => {
    const anonymous = await t.server.inject(createProduct({}));
    expect(anonymous.statusCode).toBe(401);
  });
});

describe('federation inbox rate limit', () => {
  const deliver = (from: unknown, remoteAddress: string): InjectOptions => ({
    method: 'POST',
    url: '/federation/v1/inbox',
    remoteAddress,
    payload: { header: { from }, signature: 'x', enc: 'y', ciphertext: 'z' },
  });

  it('limits the envelopes of one sending partner at its address; a stranger claiming its name spends its own', async () => {
    for (let i = 0; i < PER_PARTNER; i++) {
      const refusedByInbox = await t.server.inject(deliver('GBR', '10.4.0.1'));
      expect(refusedByInbox.statusCode, refusedByInbox.body).toBe(400);
      expect(jsonOf(refusedByInbox).code).toMatch(/^ENVELOPE_/);
    }
    const before = await t.counts();
    expectLimited(await t.server.inject(deliver('GBR', '10.4.0.1')), 'federation-per-partner', PER_PARTNER);
    expect(await t.counts()).toEqual(before);
    // Another partner at the same address, and "GBR" from elsewhere, are counted apart.
    expect((await t.server.inject(deliver('FRA', '10.4.0.1'))).statusCode).toBe(400);
    expect((await t.server.inject(deliver('GBR', '10.4.0.2'))).statusCode).toBe(400);
    // A header naming no valid partner shares one counter per address.
    expect((await t.server.inject(deliver({ not: 'a code' }, '10.4.0.3'))).statusCode).toBe(400);
    expect((await t.server.inject(deliver('<script>', '10.4.0.3'))).statusCode).toBe(400);
    expectLimited(
      await t.server.inject(deliver(undefined, '10.4.0.3')),
      'federation-per-partner',
      PER_PARTNER,
    );
  });
});
