import rateLimit, { normalizeIP } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../config/index.js';
import { AccordError } from '../errors/index.js';

/** The node's rate limits (config `rateLimits`). */
export type RateLimitSettings = Config['rateLimits'];

/** The names a 429 problem gives in its `limit` member. */
export type RateLimitName =
  | 'login-per-address'
  | 'login-per-username'
  | 'writes-per-user'
  | 'federation-per-partner';

const LOGIN_URL = '/api/v1/auth/login';
const INBOX_URL = '/federation/v1/inbox';
const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

type Limiter = (request: FastifyRequest) => Promise<void>;

/**
 * Installs the node's rate limits, the one place that decides which request counts against which
 * limit (as authenticate.ts is for permissions):
 * - sign-ins per address, before the body is read, and per username once it is;
 * - writes per signed-in user, after authentication and before the body is read, so a flood of
 *   large bodies costs the node no parsing;
 * - envelopes per sending partner. The partner is the one the envelope's header names, which is
 *   unproven before the signature is checked, so the key is that name *at the sending address*: a
 *   stranger claiming to be GBR spends its own budget, never GBR's.
 * Counters live in this process (a fixed window per key, @fastify/rate-limit's LRU store), so each
 * replica of a node counts on its own. Install after installAuthentication: the write limit reads
 * the actor.
 */
export async function installRateLimits(app: FastifyInstance, settings: RateLimitSettings): Promise<void> {
  // global: false: no route is limited by the plugin itself; the hooks below call the limiters.
  await app.register(rateLimit, { global: false });
  const limiter = (
    name: RateLimitName,
    max: number,
    windowSeconds: number,
    key: (request: FastifyRequest) => string,
  ): Limiter => {
    const check = app.createRateLimit({ max, timeWindow: windowSeconds * 1000, keyGenerator: key });
    return async (request) => {
      const outcome = await check(request);
      if (outcome.isAllowed || !outcome.isExceeded) return;
      const retryAfterSeconds = Math.max(1, outcome.ttlInSeconds);
      throw new AccordError(
        'RATE_LIMITED',
        `rate limit ${name} reached: at most ${max} requests in ${windowSeconds} s; retry in ${retryAfterSeconds} s`,
        { limit: name, max, windowSeconds, retryAfterSeconds },
      );
    };
  };
  const address = (request: FastifyRequest) => normalizeIP(request.ip);
  const { login, writes, federation } = settings;
  const loginPerAddress = limiter('login-per-address', login.perAddress, login.windowSeconds, address);
  const loginPerUsername = limiter('login-per-username', login.perUsername, login.windowSeconds, (request) =>
    // The route's schema has checked the body: a username of at most 64 characters.
    String((request.body as { username: string }).username).toLowerCase(),
  );
  const writesPerUser = limiter('writes-per-user', writes.perUser, writes.windowSeconds, (request) =>
    String(request.actor?.user.id),
  );
  const federationPerPartner = limiter(
    'federation-per-partner',
    federation.perPartner,
    federation.windowSeconds,
    (request) => `${claimedSender(request.body)}@${address(request)}`,
  );

  app.addHook('onRequest', async (request) => {
    const url = request.routeOptions.url;
    if (url === LOGIN_URL) return loginPerAddress(request);
    // Public writes (login, the inbox) have their own limits; every other write has an actor here.
    if (UNSAFE.has(request.method) && request.actor !== null) return writesPerUser(request);
  });
  app.addHook('preHandler', async (request) => {
    const url = request.routeOptions.url;
    if (url === LOGIN_URL) return loginPerUsername(request);
    if (url === INBOX_URL) return federationPerPartner(request);
  });
}

/** The sender an envelope's header names, unchecked: only ever a counter's key. */
function claimedSender(body: unknown): string {
  // attacker-controlled
  const header = (body as { header?: { from?: unknown } } | null)?.header;
  const from = typeof header === 'object' && header !== null ? header.from : undefined;
  return typeof from === 'string' && /^[A-Z0-9_-]{1,16}$/.test(from) ? from : '?';
}
