// The product workflow over HTTP: one round trip is the four requests that take a product from
// nothing to released — POST /api/v1/products (an analyst's draft), POST …/submit (the analyst),
// POST …/approve and POST …/releases to GBR under fvey-multilateral (a release officer) — sent
// one after another with fetch (undici, keep-alive) to a node listening on loopback, on SQLite
// and, when it is reachable, on PostgreSQL. The real approval workflow runs: the arrangement asks
// for one approval from CONFIDENTIAL up, and the draft is SECRET.
//
// The ceiling is a bare Fastify 5 server (no plugins) on loopback whose one route answers with a
// release response captured from the node, sent the same four requests (same methods, headers
// and bodies) by the same client: what HTTP, JSON and fetch cost without Accord. Client and
// servers share this process, the same for figure and ceiling, so the ratio compares like with
// like; throughput runs CLIENTS round trips at once, latency is taken one at a time (harness).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Fastify, { type FastifyInstance } from 'fastify';
import { buildNode } from '../../src/app/node.js';
import { loadConfig } from '../../src/config/index.js';
import type { Actor } from '../../src/services/actor.js';
import type { DraftInput } from '../../src/services/product-service.js';
import { type BenchStoreKind, Cleanup, openBenchStore, unavailable } from '../bench-store.js';
import type { AsyncBenchCase, AsyncCaseOperations, Lap, Suite } from '../harness.js';

/** Round trips in flight at once while throughput is measured. */
const CLIENTS = 8;
/**
 * Warm-up before the figure and before the ceiling. Fastify, Kysely, ajv and undici's fetch are
 * still being optimised seconds in on a small machine: with the harness's 300 ms, the first timed
 * runs came out at two thirds of the later ones.
 */
const WARMUP_MS = 3000;
const RECIPIENT = 'GBR';
const ARRANGEMENT = 'fvey-multilateral';
const ROOT = join(import.meta.dirname, '..', '..');

// A fixed start instant that then moves with real time, shared by services and store, so the
// arrangement's validity and review dates judge the same instant on every run.
const EPOCH = Date.parse('2026-11-26T12:00:00.000Z');

/** The draft of examples/products/usa-sigint-ct.json, in code so the figure does not move with the examples. */
const DRAFT: DraftInput = {
  title: 'Facilitation network moving funds through hawala brokers',
  titleMarking: '(U//REL TO USA, FVEY)',
  discipline: 'SIGINT',
  categories: ['counterterrorism'],
  portions: [
    {
      id: 'p1',
      marking: '(S//REL TO USA, GBR)',
      text: 'Intercepted communications indicate a facilitator in the region arranging three transfers this week.',
    },
    {
      id: 'p2',
      marking: '(C//REL TO USA, FVEY)',
      text: 'The transfers are routed through two hawala brokers previously reported by partner services.',
    },
    {
      id: 'p3',
      marking: '(S//NF)',
      text: 'Collection was enabled by a sensitive access that must not be disclosed to foreign partners.',
    },
  ],
  reliability: 'B',
  credibility: 2,
  geo: { type: 'Point', coordinates: [67.0099, 24.8615] },
};
const DRAFT_BODY = JSON.stringify(DRAFT);
const RELEASE_BODY = JSON.stringify({ to: RECIPIENT, arrangement: ARRANGEMENT });

type Headers = Readonly<Record<string, string>>;

/** One exchange: the request, read to the end and parsed, failing loudly on an unexpected status. */
async function exchange(
  url: string,
  headers: Headers,
  body: string | null,
  status: number,
): Promise<unknown> {
  const response = await fetch(url, {
    method: 'POST',
    headers: body === null ? headers : { ...headers, 'content-type': 'application/json' },
    ...(body === null ? {} : { body }),
  });
  const text = await response.text();
  if (response.status !== status) {
    throw new Error(`POST ${new URL(url).pathname} answered ${response.status}, not ${status}: ${text}`);
  }
  return JSON.parse(text);
}

/**
 * The four requests of a round trip against `base`, each timed through `lap`; `productPath` turns
 * the create response into the path the other three post under.
 */
async function roundTrip(
  base: string,
  analyst: Headers,
  officer: Headers,
  lap: Lap,
  productPath: (created: unknown) => string,
  statuses: readonly [number, number, number, number],
): Promise<unknown> {
  let t = performance.now();
  const step = (part: string): void => {
    const now = performance.now();
    lap(part, now - t);
    t = now;
  };
  const created = await exchange(`${base}/api/v1/products`, analyst, DRAFT_BODY, statuses[0]);
  step('create');
  const product = `${base}${productPath(created)}`;
  await exchange(`${product}/submit`, analyst, null, statuses[1]);
  step('submit');
  await exchange(`${product}/approve`, officer, null, statuses[2]);
  step('approve');
  const released = await exchange(`${product}/releases`, officer, RELEASE_BODY, statuses[3]);
  step('release');
  return released;
}

function baseUrl(server: FastifyInstance): string {
  const address = server.server.address() as AddressInfo;
  return `http://127.0.0.1:${address.port}`;
}

function idOf(created: unknown): string {
  const id = (created as { id?: unknown }).id;
  if (typeof id !== 'string')
    throw new Error(`POST /api/v1/products returned no id: ${JSON.stringify(created)}`);
  return `/api/v1/products/${encodeURIComponent(id)}`;
}

/**
 * A node over `kind` with an analyst, a release officer and the fvey-multilateral arrangement,
 * listening on loopback; the bare server beside it; one checked round trip to capture the
 * release response the bare server then serves.
 */
async function setUp(kind: BenchStoreKind): Promise<AsyncCaseOperations | { readonly skipped: string }> {
  const skipped = await unavailable(kind);
  if (skipped !== undefined) return { skipped };
  const cleanup = new Cleanup('http bench');
  try {
    const dataDir = mkdtempSync(join(tmpdir(), 'accord-bench-http-'));
    cleanup.add(() => rmSync(dataDir, { recursive: true, force: true }));
    const started = Date.now();
    const now = () => EPOCH + (Date.now() - started);

    const store = await openBenchStore(kind, dataDir, now, cleanup);
    let storeClosed = false;
    cleanup.add(async () => {
      if (!storeClosed) await store.close();
    });

    const config = loadConfig({
      flags: { dataDir, partner: 'USA', log: { level: 'silent' }, http: { host: '127.0.0.1', port: 0 } },
    });
    const node = await buildNode(config, { store, now });
    // node.close closes the server and then the store.
    cleanup.add(async () => {
      storeClosed = true;
      await node.close();
    });

    const people = {
      analyst: { username: 'analyst.usa', roles: ['analyst'] as const },
      officer: { username: 'officer.usa', roles: ['release-officer'] as const },
      admin: { username: 'admin.usa', roles: ['administrator'] as const },
    };
    const ids: Record<string, string> = {};
    for (const [key, p] of Object.entries(people)) {
      // No password: the bench authenticates with bearer tokens, so no argon2 hashing in set-up.
      const user = await node.services.directory.createUser(null, {
        username: p.username,
        displayName: p.username,
        nationality: 'USA',
        clearance: key === 'admin' ? 'UNCLASSIFIED' : 'TOP SECRET',
        caveats: key === 'admin' ? [] : ['SI', 'TK'],
        communities: [],
        roles: [...p.roles],
      });
      ids[key] = user.id;
    }
    const admin = await store.users.getById(ids.admin!);
    if (admin === undefined) throw new Error('http bench: the administrator was not stored');
    const adminActor: Actor = { user: admin, via: 'local' };
    const arrangement: unknown = JSON.parse(
      readFileSync(join(ROOT, 'examples', 'arrangements', `${ARRANGEMENT}.json`), 'utf8'),
    );
    await node.services.arrangements.create(adminActor, arrangement);
    const bearer = async (userId: string): Promise<Headers> => ({
      authorization: `Bearer ${(await node.services.auth.issueToken(userId, 'http bench')).token}`,
    });
    const analyst = await bearer(ids.analyst!);
    const officer = await bearer(ids.officer!);

    await node.server.listen({ host: '127.0.0.1', port: 0 });
    const nodeUrl = baseUrl(node.server);

    // One round trip, checked, before anything is timed: it must be a real allow with the
    // NOFORN portion withheld, and its response is what the bare route serves.
    const sample = (await roundTrip(
      nodeUrl,
      analyst,
      officer,
      () => undefined,
      idOf,
      [201, 200, 200, 201],
    )) as {
      effect?: unknown;
      withheldCount?: unknown;
    };
    if (sample.effect !== 'allow' || sample.withheldCount !== 1) {
      throw new Error(`http bench: expected an allow withholding one portion, got ${JSON.stringify(sample)}`);
    }

    const bare = Fastify();
    cleanup.add(() => bare.close());
    bare.post('/*', async (_request, reply) => reply.code(201).send(sample));
    await bare.listen({ host: '127.0.0.1', port: 0 });
    const bareUrl = baseUrl(bare);
    const sameProduct = () => '/api/v1/products/USA-2026-0000000000';

    return {
      run: (_i, lap) => roundTrip(nodeUrl, analyst, officer, lap, idOf, [201, 200, 200, 201]),
      ceiling: (_i, lap) => roundTrip(bareUrl, analyst, officer, lap, sameProduct, [201, 201, 201, 201]),
      close: () => cleanup.run(),
    };
  } catch (error) {
    await cleanup.run().catch(() => undefined);
    throw error;
  }
}

function roundTripCase(kind: BenchStoreKind, label: string): AsyncBenchCase {
  return {
    name: `product round trips/s, ${label} (create, submit, approve, release; ${CLIENTS} clients)`,
    ceiling: 'bare Fastify route, 4 requests, same JSON',
    clients: CLIENTS,
    warmupMs: WARMUP_MS,
    setupAsync: () => setUp(kind),
  };
}

/** Product create-to-release round trips over HTTP on loopback, SQLite and PostgreSQL side by side. */
export const httpSuite: Suite = {
  name: 'http',
  cases: [roundTripCase('sqlite', 'SQLite'), roundTripCase('postgres', 'PostgreSQL')],
};
