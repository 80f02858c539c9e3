import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { RouteAccess } from '../../src/api/authenticate.js';
import { type AccordNode, buildNode } from '../../src/app/node.js';
import type { NodeKeys } from '../../src/app/node-keys.js';
import type { Role } from '../../src/auth/roles.js';
import { type Config, loadConfig } from '../../src/config/index.js';
import type { Actor } from '../../src/services/actor.js';
import type { DraftInput } from '../../src/services/product-service.js';
import { openStore, type Store, type StoreDialect, type TableCounts } from '../../src/store/index.js';
import { dropPgSchema, freshPgSchemaName, PG_TEST_URL } from '../fixtures/services.js';

// ---------------------------------------------------------------- people

/** One signed-up person of the test node. */
export interface TestUser {
  readonly username: string;
  readonly password: string;
  readonly roles: readonly Role[];
  readonly nationality: string;
  readonly clearance: 'UNCLASSIFIED' | 'RESTRICTED' | 'CONFIDENTIAL' | 'SECRET' | 'TOP SECRET';
  readonly caveats: readonly string[];
  readonly communities: readonly string[];
}

function person(
  username: string,
  roles: readonly Role[],
  rest: Partial<Omit<TestUser, 'username' | 'password' | 'roles'>> = {},
): TestUser {
  return {
    username,
    password: `correct horse battery staple ${username}`,
    roles,
    nationality: 'USA',
    clearance: 'TOP SECRET',
    caveats: ['SI', 'TK'],
    communities: [],
    ...rest,
  };
}

/**
 * The people every test node has: one per role (all USA, cleared TOP SECRET with SI and TK except
 * the administrator and auditor), a second analyst, an analyst who is also a release officer, and
 * a GBR analyst cleared only to CONFIDENTIAL.
 */
export const USERS = {
  analyst: person('analyst.usa', ['analyst']),
  analyst2: person('analyst2.usa', ['analyst']),
  officer: person('officer.usa', ['release-officer']),
  admin: person('admin.usa', ['administrator'], { clearance: 'UNCLASSIFIED', caveats: [], communities: [] }),
  auditor: person('auditor.usa', ['oversight-auditor'], {
    clearance: 'SECRET',
    caveats: [],
    communities: [],
  }),
  /** Holds both roles, so only the author rule stops them approving their own product. */
  analystOfficer: person('analyst-officer.usa', ['analyst', 'release-officer']),
  gbrAnalyst: person('analyst.gbr', ['analyst'], {
    nationality: 'GBR',
    clearance: 'CONFIDENTIAL',
    caveats: [],
    communities: [],
  }),
} as const satisfies Record<string, TestUser>;
export type UserKey = keyof typeof USERS;

// ---------------------------------------------------------------- examples

const ROOT = join(import.meta.dirname, '..', '..');

/** A JSON file under examples/, parsed (the tests treat it as attacker-controlled input). */
export function readExample(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(ROOT, 'examples', path), 'utf8')) as Record<string, unknown>;
}

export const EXAMPLE_ARRANGEMENTS = ['ct-task-force', 'fvey-multilateral', 'usa-gbr-sigint'] as const;

/**
 * A draft an analyst may write, from examples/products/usa-sigint-ct.json: p1 S//REL TO USA, GBR,
 * p2 C//REL TO USA, FVEY, p3 S//NF. Fields given in `overrides` replace the example's.
 */
export function makeDraft(overrides: Partial<DraftInput> = {}): DraftInput {
  const doc = readExample('products/usa-sigint-ct.json') as unknown as DraftInput;
  return {
    title: doc.title,
    titleMarking: doc.titleMarking,
    discipline: doc.discipline,
    categories: doc.categories,
    portions: doc.portions,
    reliability: doc.reliability,
    credibility: doc.credibility,
    ...(doc.geo === undefined ? {} : { geo: doc.geo }),
    ...overrides,
  };
}

// ---------------------------------------------------------------- the node

/** Headers that authenticate a request. */
export type AuthHeaders = Readonly<Record<string, string>>;

export interface TestNodeOptions {
  readonly dialect?: StoreDialect;
  /** http.bodyLimitBytes (at least 1024). */
  readonly bodyLimitBytes?: number;
  /** auth.maxFailedLogins. */
  readonly maxFailedLogins?: number;
  /** The node's keys; without them it signs nothing and its federation inbox answers 503. */
  readonly keys?: NodeKeys;
  /** The live stream's settings (issue 7): heartbeat interval, log size. */
  readonly stream?: { readonly heartbeatSeconds?: number; readonly logSize?: number };
  /** Rate limits (issue 10), merged over the defaults section by section. */
  readonly rateLimits?: { readonly [K in keyof Config['rateLimits']]?: Partial<Config['rateLimits'][K]> };
}

export interface TestNode {
  readonly node: AccordNode;
  readonly server: FastifyInstance;
  readonly store: Store;
  /**
   * The access each route declared, as `METHOD /url/:pattern`, recorded when a request to it
   * finishes (Fastify exposes no route list with its config, so the matrix probes each route).
   */
  readonly routeAccess: ReadonlyMap<string, RouteAccess | undefined>;
  /** Signs in with the user's password; returns the session cookie and the CSRF token header. */
  login(username: string): Promise<AuthHeaders>;
  /** Signs in, issues a bearer token (POST /api/v1/auth/tokens) and returns the Authorization header. */
  tokenFor(username: string): Promise<AuthHeaders>;
  counts(): Promise<TableCounts>;
  close(): Promise<void>;
}

// A fixed start instant that then moves with real time, shared by the services and the store so
// sessions, login windows and arrangement validity agree and the tests do not age.
const EPOCH = Date.parse('2026-11-26T12:00:00.000Z');

function testClock(): () => number {
  const started = Date.now();
  return () => EPOCH + (Date.now() - started);
}

/** The response's JSON body; fails loudly when it is not JSON. */
export function jsonOf(response: LightMyRequestResponse): Record<string, unknown> {
  return JSON.parse(response.body) as Record<string, unknown>;
}

function expectStatus(response: LightMyRequestResponse, status: number, what: string): void {
  if (response.statusCode !== status) {
    throw new Error(`harness: ${what} answered ${response.statusCode}, not ${status}: ${response.body}`);
  }
}

/**
 * Builds a node in-process over a temporary SQLite file or a fresh PostgreSQL schema, with the
 * users of USERS and the three example arrangements (created through the API by the administrator).
 */
export async function startTestNode(options: TestNodeOptions = {}): Promise<TestNode> {
  const dialect = options.dialect ?? 'sqlite';
  const now = testClock();
  const storeClock = { now: () => new Date(now()) };
  const dataDir = mkdtempSync(join(tmpdir(), 'accord-e2e-'));
  const schema = dialect === 'postgres' ? freshPgSchemaName() : undefined;
  const cleanup = async () => {
    rmSync(dataDir, { recursive: true, force: true });
    if (schema !== undefined) await dropPgSchema(schema);
  };

  let node: AccordNode;
  try {
    const config = loadConfig({
      flags: {
        dataDir,
        partner: 'USA',
        log: { level: 'silent' },
        ...(options.bodyLimitBytes === undefined ? {} : { http: { bodyLimitBytes: options.bodyLimitBytes } }),
        ...(options.maxFailedLogins === undefined
          ? {}
          : { auth: { maxFailedLogins: options.maxFailedLogins } }),
        ...(options.stream === undefined ? {} : { stream: options.stream }),
        // These tests sign in from one address, and the route matrix as one user, far more often
        // than people do: sign-in limits are high unless a test sets its own (rate-limits.test.ts).
        rateLimits: options.rateLimits ?? { login: { perAddress: 10_000, perUsername: 10_000 } },
      },
    });
    const store = await openStore(
      schema === undefined
        ? { kind: 'sqlite', file: join(dataDir, 'accord.sqlite') }
        : { kind: 'postgres', url: PG_TEST_URL, schema },
      storeClock,
    );
    node = await buildNode(config, {
      store,
      now,
      ...(options.keys === undefined ? {} : { keys: options.keys }),
    });
  } catch (error) {
    await cleanup();
    throw error;
  }

  const routeAccess = new Map<string, RouteAccess | undefined>();
  node.server.addHook('onResponse', async (request) => {
    const url = request.routeOptions.url;
    if (url !== undefined) routeAccess.set(`${request.method} ${url}`, request.routeOptions.config.access);
  });

  const server = node.server;
  const passwordOf = (username: string): string => {
    const user = Object.values(USERS).find((u) => u.username === username);
    if (user === undefined) throw new Error(`harness: no test user ${username}`);
    return user.password;
  };

  const login = async (username: string): Promise<AuthHeaders> => {
    const response = await server.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username, password: passwordOf(username) },
    });
    expectStatus(response, 200, `login of ${username}`);
    const cookie = response.cookies.find((c) => c.name === 'accord_session');
    if (cookie === undefined) throw new Error(`harness: login of ${username} set no session cookie`);
    const csrf = jsonOf(response).csrfToken;
    if (typeof csrf !== 'string') throw new Error(`harness: login of ${username} returned no CSRF token`);
    return { cookie: `accord_session=${cookie.value}`, 'x-csrf-token': csrf };
  };

  const tokenFor = async (username: string): Promise<AuthHeaders> => {
    const response = await server.inject({
      method: 'POST',
      url: '/api/v1/auth/tokens',
      headers: await login(username),
      payload: { label: `e2e ${username}` },
    });
    expectStatus(response, 201, `token for ${username}`);
    const token = jsonOf(response).token;
    if (typeof token !== 'string') throw new Error(`harness: no token for ${username}`);
    return { authorization: `Bearer ${token}` };
  };

  try {
    for (const user of Object.values(USERS)) {
      await node.services.directory.createUser(null, {
        username: user.username,
        displayName: user.username,
        nationality: user.nationality,
        clearance: user.clearance,
        caveats: [...user.caveats],
        communities: [...user.communities],
        roles: [...user.roles],
        password: user.password,
      });
    }
    // Arrangements need an actor, so the administrator creates them through the API.
    const admin = await tokenFor(USERS.admin.username);
    for (const id of EXAMPLE_ARRANGEMENTS) {
      const response = await server.inject({
        method: 'POST',
        url: '/api/v1/arrangements',
        headers: admin,
        payload: readExample(`arrangements/${id}.json`),
      });
      expectStatus(response, 201, `arrangement ${id}`);
    }
  } catch (error) {
    await node.close();
    await cleanup();
    throw error;
  }

  return {
    node,
    server,
    store: node.store,
    routeAccess,
    login,
    tokenFor,
    counts: () => node.store.counts(),
    async close() {
      try {
        await node.close();
      } finally {
        await cleanup();
      }
    },
  };
}

/**
 * Adds a USA analyst and a USA release officer to a node (TOP SECRET, SI) and returns them as
 * local actors, for tests that drive the release workflow through the services.
 */
export async function addUsaWorkflowActors(node: AccordNode): Promise<{ analyst: Actor; officer: Actor }> {
  const actors: Actor[] = [];
  for (const [username, role] of [
    ['analyst.usa', 'analyst'],
    ['officer.usa', 'release-officer'],
  ] as const) {
    await node.services.directory.createUser(null, {
      username,
      displayName: username,
      nationality: 'USA',
      clearance: 'TOP SECRET',
      caveats: ['SI'],
      communities: [],
      roles: [role],
    });
    const user = await node.store.users.getByUsername(username);
    if (user === undefined) throw new Error(`user ${username} was not stored`);
    actors.push({ user, via: 'local' });
  }
  const [analyst, officer] = actors;
  return { analyst: analyst!, officer: officer! };
}

/**
 * Stores a product from a partner (GBR unless named) under fvey-multilateral as the inbox does,
 * then announces it after the commit, as the inbox does: one portion, with its marking and text.
 */
export async function receiveFromPartner(
  t: TestNode,
  input: {
    readonly id: string;
    readonly marking: string;
    readonly text: string;
    readonly partner?: string;
    readonly title?: string;
  },
): Promise<void> {
  const { id, marking, text } = input;
  const partner = input.partner ?? 'GBR';
  const sig = { by: `sha256:${'a'.repeat(64)}`, value: `${'A'.repeat(86)}==` };
  const envelopeId = randomUUID();
  const receivedAt = new Date(t.node.services.now()).toISOString();
  await t.store.inbox.record({
    envelopeId,
    sender: partner,
    kind: 'release',
    arrangementId: 'fvey-multilateral',
    arrangementVersion: 1,
    productId: id,
    productVersion: 1,
    envelopeDigest: `sha256:${'c'.repeat(64)}`,
    remoteAddress: '127.0.0.1',
    outcome: 'stored',
    code: null,
    reason: null,
    receipt: {
      receipt: {
        envelopeId,
        from: 'USA',
        to: partner,
        product: { id, version: 1, digest: `sha256:${'d'.repeat(64)}` },
        receivedAt,
        outcome: 'stored',
        signerKey: `sha256:${'e'.repeat(64)}`,
      },
      signature: 'c2ln',
    },
    receivedAt,
  });
  await t.store.receivedProducts.add({
    envelopeId,
    productId: id,
    productVersion: 1,
    originator: partner,
    sender: partner,
    arrangementId: 'fvey-multilateral',
    arrangementVersion: 1,
    document: {
      id,
      version: 1,
      originator: partner,
      title: input.title ?? 'Implant infrastructure',
      titleMarking: '(U)',
      discipline: 'CYBINT',
      categories: ['cyber'],
      portions: [{ id: 'p1', marking, text }],
      banner: marking.slice(1, -1),
      withheldCount: 0,
      reliability: 'B',
      credibility: 2,
      createdAt: '2026-11-26T11:00:00Z',
      derivedFrom: { id, version: 1, digest: `sha256:${'b'.repeat(64)}` },
      signature: sig,
    },
    banner: marking.slice(1, -1),
    rank: 3,
    receivedAt,
  });
  await t.node.services.events.publish({
    kind: 'product.received',
    product: { id, version: 1, source: 'received' },
  });
}
