// The live stream (issue 7): create-to-SSE-delivery with SUBSCRIBERS analysts connected to
// GET /api/v1/stream. One operation is an analyst's product written and submitted through the
// product service (two committed transactions), then delivered as `product.submitted` to every
// subscriber: each subscriber's copy is loaded and checked by decideRead for that subscriber and
// torn for them, then written to their socket. The operation ends when the last subscriber has it;
// its latency parts are `commit` (create + submit), `first` (first subscriber has it) and `last`.
// Throughput with CLIENTS operations at once is sustained events/s, each to all subscribers.
//
// Two set-ups: one replica on SQLite with the in-process bus; and two replicas of one node on
// PostgreSQL + NATS JetStream, the product written through replica A and streamed from replica B
// (skipped when either service is unreachable). Both replicas, the clients and the ceiling share
// this process.
//
// The ceiling is a bare Fastify 5 SSE route holding the same number of connections, which writes
// one frame captured from the node (same size, same JSON) to each of them: what SSE fan-out to
// SUBSCRIBERS sockets and the same client-side reading cost with no store, bus or policy.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Fastify from 'fastify';
import { type AccordNode, buildNode } from '../../src/app/node.js';
import { loadConfig } from '../../src/config/index.js';
import type { Actor } from '../../src/services/actor.js';
import type { DraftInput } from '../../src/services/product-service.js';
import { type BenchStoreKind, Cleanup, openBenchStore, PG_URL, unavailable } from '../bench-store.js';
import type { AsyncBenchCase, AsyncCaseOperations, Lap, Suite } from '../harness.js';

const SUBSCRIBERS = 100;
const CLIENTS = 4;
const WARMUP_MS = 2000;
const NATS_URL = process.env.ACCORD_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
const EPOCH = Date.parse('2026-11-26T12:00:00.000Z');

const draftOf = (tag: string): DraftInput => ({
  title: tag,
  titleMarking: '(U//REL TO USA, FVEY)',
  discipline: 'SIGINT',
  categories: ['counterterrorism'],
  portions: [
    { marking: '(S//REL TO USA, GBR)', text: 'Intercepted communications indicate a facilitator.' },
    { marking: '(C//REL TO USA, FVEY)', text: 'The transfers are routed through two hawala brokers.' },
    { marking: '(S//NF)', text: 'Collection was enabled by a sensitive access.' },
  ],
  reliability: 'B',
  credibility: 2,
  geo: { type: 'Point', coordinates: [67.0099, 24.8615] },
});

const TAG = /"title":"(bench-[0-9a-f]+-[0-9]+)"/;

/** Counts, per tagged event, how many of the subscribers have it; resolves when all have. */
class Fanin {
  readonly #waiting = new Map<string, { remaining: number; first: number; done: (at: number) => void }>();
  readonly #total: number;

  constructor(total: number) {
    this.#total = total;
  }

  expect(tag: string): { readonly first: () => number; readonly all: Promise<number> } {
    let entry!: { remaining: number; first: number; done: (at: number) => void };
    const all = new Promise<number>((resolve) => {
      entry = { remaining: this.#total, first: 0, done: resolve };
    });
    this.#waiting.set(tag, entry);
    return { first: () => entry.first, all };
  }

  seen(tag: string): void {
    const entry = this.#waiting.get(tag);
    if (entry === undefined) return;
    if (entry.remaining === this.#total) entry.first = performance.now();
    entry.remaining -= 1;
    if (entry.remaining === 0) {
      this.#waiting.delete(tag);
      entry.done(performance.now());
    }
  }
}

/** Opens one SSE connection that reports each event's tag to `fanin`; resolves once the head arrives. */
function connect(
  url: string,
  headers: Record<string, string>,
  fanin: Fanin,
  cleanup: Cleanup,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { headers: { accept: 'text/event-stream', ...headers } },
      (res: IncomingMessage) => {
        if (res.statusCode !== 200) {
          reject(new Error(`stream bench: ${url} answered ${res.statusCode}`));
          return;
        }
        res.setEncoding('utf8');
        let buffer = '';
        res.on('data', (chunk: string) => {
          buffer += chunk;
          for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
            const tag = TAG.exec(buffer.slice(0, end))?.[1];
            if (tag !== undefined) fanin.seen(tag);
            buffer = buffer.slice(end + 2);
          }
        });
        resolve();
      },
    );
    req.on('error', reject);
    cleanup.add(() => {
      req.destroy();
    });
    req.end();
  });
}

interface Replica {
  readonly node: AccordNode;
  readonly url: string;
}

async function startReplica(
  kind: BenchStoreKind,
  dataDir: string,
  now: () => number,
  cleanup: Cleanup,
  stream: Record<string, unknown> | undefined,
  schema?: string,
): Promise<Replica> {
  const config = loadConfig({
    flags: {
      dataDir,
      partner: 'USA',
      log: { level: 'silent' },
      ...(stream === undefined ? {} : { stream }),
    },
  });
  const { openStore } = await import('../../src/store/index.js');
  const store =
    schema === undefined
      ? await openBenchStore(kind, dataDir, now, cleanup)
      : await openStore({ kind: 'postgres', url: PG_URL, schema }, { now: () => new Date(now()) });
  const node = await buildNode(config, { store, now });
  cleanup.add(() => node.close());
  const url = await node.server.listen({ host: '127.0.0.1', port: 0 });
  return { node, url };
}

async function natsReachable(): Promise<boolean> {
  const { hostname, port } = new URL(NATS_URL);
  const net = await import('node:net');
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port || 4222) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2000, () => done(false));
    socket.once('data', (chunk) => done(chunk.toString('utf8').startsWith('INFO')));
    socket.once('error', () => done(false));
  });
}

async function setUp(replicated: boolean): Promise<AsyncCaseOperations | { readonly skipped: string }> {
  if (replicated) {
    const skipped = await unavailable('postgres');
    if (skipped !== undefined) return { skipped };
    if (!(await natsReachable()))
      return { skipped: `NATS not reachable at ${NATS_URL}; set ACCORD_TEST_NATS_URL` };
  }
  const cleanup = new Cleanup('stream bench');
  try {
    const dataDir = mkdtempSync(join(tmpdir(), 'accord-bench-stream-'));
    cleanup.add(() => rmSync(dataDir, { recursive: true, force: true }));
    const started = Date.now();
    const now = () => EPOCH + (Date.now() - started);
    const run = randomBytes(4).toString('hex');

    let writer: Replica;
    let reader: Replica;
    if (replicated) {
      const schema = `accord_bench_${randomBytes(6).toString('hex')}`;
      const streamName = `ACCORD_BENCH_${run.toUpperCase()}`;
      const settings = { natsUrl: NATS_URL, natsStream: streamName };
      // The first replica's store creates the schema (and drops it at the end, via openBenchStore's cleanup).
      const pg = (await import('pg')).default;
      cleanup.add(async () => {
        const client = new pg.Client({ connectionString: PG_URL });
        await client.connect();
        await client.query(`drop schema if exists "${schema}" cascade`);
        await client.end();
        const { connect: natsConnect } = await import('@nats-io/transport-node');
        const { jetstreamManager } = await import('@nats-io/jetstream');
        const nc = await natsConnect({ servers: NATS_URL });
        await (await jetstreamManager(nc)).streams.delete(streamName).catch(() => undefined);
        await nc.close();
      });
      writer = await startReplica('postgres', dataDir, now, cleanup, settings, schema);
      reader = await startReplica('postgres', dataDir, now, cleanup, settings, schema);
    } else {
      writer = await startReplica('sqlite', dataDir, now, cleanup, undefined);
      reader = writer;
    }

    const services = writer.node.services;
    const author = await services.directory.createUser(null, {
      username: 'analyst.usa',
      displayName: 'analyst',
      nationality: 'USA',
      clearance: 'TOP SECRET',
      caveats: ['SI'],
      communities: [],
      roles: ['analyst'],
    });
    const stored = await writer.node.store.users.getById(author.id);
    if (stored === undefined) throw new Error('stream bench: no author');
    const actor: Actor = { user: stored, via: 'local' };

    const fanin = new Fanin(SUBSCRIBERS);
    for (let i = 0; i < SUBSCRIBERS; i++) {
      // A mix of readers: most see the product torn (CONFIDENTIAL GBR), some whole (TOP SECRET USA).
      const usa = i % 4 === 0;
      const user = await services.directory.createUser(null, {
        username: `reader-${i}`,
        displayName: `reader ${i}`,
        nationality: usa ? 'USA' : 'GBR',
        clearance: usa ? 'TOP SECRET' : 'CONFIDENTIAL',
        caveats: [],
        communities: [],
        roles: ['analyst'],
      });
      const { token } = await services.auth.issueToken(user.id, 'stream bench');
      await connect(
        `${reader.url}/api/v1/stream?kinds=product.submitted`,
        { authorization: `Bearer ${token}` },
        fanin,
        cleanup,
      );
    }

    let counter = 0;
    const publish = async (lap: Lap): Promise<string> => {
      const tag = `bench-${run}-${counter++}`;
      const waiting = fanin.expect(tag);
      const t0 = performance.now();
      const draft = await writer.node.services.products.createDraft(actor, draftOf(tag));
      await writer.node.services.products.submit(actor, draft.id);
      const committed = performance.now();
      const last = await waiting.all;
      lap('commit', committed - t0);
      lap('first', waiting.first() - t0);
      lap('last', last - t0);
      return draft.id;
    };
    // One checked delivery before anything is timed, and the frame the ceiling sends.
    const probe = await connectCapture(
      reader.url,
      await services.auth.issueToken(stored.id, 'probe'),
      cleanup,
    );
    await publish(() => undefined);
    const sample = await probe.frame;

    const bare = Fastify();
    cleanup.add(() => bare.close());
    const sockets = new Set<ServerResponse>();
    bare.get('/stream', (request, reply) => {
      reply.hijack();
      reply.raw.writeHead(200, { 'content-type': 'text/event-stream' });
      reply.raw.write(': bare\n\n');
      sockets.add(reply.raw);
      request.raw.on('close', () => sockets.delete(reply.raw));
    });
    await bare.listen({ host: '127.0.0.1', port: 0 });
    const bareUrl = `http://127.0.0.1:${(bare.server.address() as AddressInfo).port}/stream`;
    const bareFanin = new Fanin(SUBSCRIBERS);
    for (let i = 0; i < SUBSCRIBERS; i++) await connect(bareUrl, {}, bareFanin, cleanup);
    let bareCounter = 0;

    return {
      run: (_i, lap) => publish(lap),
      ceiling: async (_i, lap) => {
        const tag = `bench-${run}-${bareCounter++}`;
        const waiting = bareFanin.expect(tag);
        const t0 = performance.now();
        const frame = sample.replace(TAG, `"title":"${tag}"`);
        for (const socket of sockets) socket.write(frame);
        const last = await waiting.all;
        lap('last', last - t0);
        return tag;
      },
      close: () => cleanup.run(),
    };
  } catch (error) {
    await cleanup.run().catch(() => undefined);
    throw error;
  }
}

/** One SSE connection as the author (who reads all of it); resolves with the first event frame it gets. */
function connectCapture(
  url: string,
  issued: { token: string },
  cleanup: Cleanup,
): Promise<{ readonly frame: Promise<string> }> {
  return new Promise((resolveOpen, reject) => {
    const req = request(
      `${url}/api/v1/stream?kinds=product.submitted`,
      { headers: { accept: 'text/event-stream', authorization: `Bearer ${issued.token}` } },
      (res) => {
        res.setEncoding('utf8');
        // Wrapped: resolving with a promise itself would wait for the frame, not just the head.
        resolveOpen({
          frame: new Promise<string>((resolveFrame) => {
            let buffer = '';
            res.on('data', (chunk: string) => {
              buffer += chunk;
              const match = /(id: [^\n]*\nevent: [^\n]*\ndata: [^\n]*\n\n)/.exec(buffer);
              if (match?.[1] !== undefined) {
                resolveFrame(match[1]);
                req.destroy();
              }
            });
          }),
        });
      },
    );
    req.on('error', reject);
    cleanup.add(() => {
      req.destroy();
    });
    req.end();
  });
}

function deliveryCase(replicated: boolean): AsyncBenchCase {
  return {
    name: replicated
      ? `stream events/s to ${SUBSCRIBERS} subscribers, 2 replicas on PostgreSQL + NATS (create on A, SSE from B; ${CLIENTS} writers)`
      : `stream events/s to ${SUBSCRIBERS} subscribers, 1 replica on SQLite, in-process bus (${CLIENTS} writers)`,
    ceiling: `bare Fastify SSE fan-out of the same frame to ${SUBSCRIBERS} sockets`,
    clients: CLIENTS,
    warmupMs: WARMUP_MS,
    latencySamples: 200,
    setupAsync: () => setUp(replicated),
  };
}

/** Create-to-SSE delivery latency and sustained events/s, one replica and two replicas over NATS. */
export const streamSuite: Suite = {
  name: 'stream',
  cases: [deliveryCase(false), deliveryCase(true)],
};
