import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type ArrangementDocument, parseArrangement } from '../../src/arrangements/index.js';
import type { DraftInput } from '../../src/services/product-service.js';
import {
  type Cluster,
  inParallel,
  type NodeProcess,
  sleep,
  startCluster,
  type Workflow,
} from '../../tools/multinode/process-harness.js';
import { makeDraft, readExample } from '../e2e/harness.js';
import { dataOf, SseClient } from '../fixtures/sse-client.js';

// Issue 10's load run: sustained releases across N real `accord serve` processes on loopback (one
// OS process and SQLite file per node, set up by the multinode harness), timed from the release
// call at the originator to the product stored at the recipient.
//
// Latency is read from the recipient's live stream (GET /api/v1/stream, kinds=product.received):
// the inbox publishes that event after the stored version commits, and the stream pushes it at
// once, so the driver learns of the store within a loopback hop, with no polling interval added
// to every figure and no polling load on 32 nodes. Both instants are this process's clock.

/** Partners in the order nodes are made: the five of the five-node run first, then NATO's others (32). */
export const LOAD_PARTNERS = [
  'USA',
  'GBR',
  'CAN',
  'FRA',
  'DEU',
  'ITA',
  'NLD',
  'BEL',
  'NOR',
  'DNK',
  'POL',
  'ESP',
  'PRT',
  'TUR',
  'GRC',
  'CZE',
  'HUN',
  'ROU',
  'BGR',
  'SVK',
  'SVN',
  'HRV',
  'ALB',
  'MNE',
  'MKD',
  'EST',
  'LVA',
  'LTU',
  'LUX',
  'ISL',
  'FIN',
  'SWE',
] as const;

/** Bounds of a run: loopback only, and nothing a 2-core machine could not be left to run. */
export const LOAD_LIMITS = {
  nodes: { min: 2, max: LOAD_PARTNERS.length },
  minutes: { min: 0.1, max: 60 },
  rate: { min: 1, max: 500 },
  arrangements: { min: 1, max: 8 },
} as const;

export interface LoadOptions {
  readonly nodes: number;
  readonly minutes: number;
  /** Releases per second in aggregate, across every originator. */
  readonly rate: number;
  readonly arrangements: number;
  /** The p99 release-to-stored latency a run must stay under. */
  readonly p99TargetMs?: number;
  /** Progress lines (stderr in the script). */
  readonly log?: (line: string) => void;
}

export interface LoadCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface NodeMemory {
  readonly partner: string;
  /** Resident set (VmRSS) in bytes: idle before the load, after warm-up, at the end of the load. */
  readonly idle: number;
  readonly warm: number;
  readonly end: number;
}

export interface LoadSummary {
  readonly nodes: number;
  readonly arrangements: number;
  readonly targetRate: number;
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly setUpMs: number;
  /** Release calls answered 201. */
  readonly released: number;
  /** Releases stored at their recipient (seen on its stream). */
  readonly stored: number;
  /** Release calls per second over the load window, and deliveries per second over the same window. */
  readonly releaseRate: number;
  readonly storedRate: number;
  /** Release-to-stored latency over releases issued after warm-up, ms. */
  readonly latency: {
    readonly count: number;
    readonly p50: number;
    readonly p99: number;
    readonly max: number;
  };
  readonly memory: readonly NodeMemory[];
  /** The machine's 1-minute load average as the load started and ended, beside its core count: whatever else ran counts. */
  readonly machine: { readonly cores: number; readonly loadStart: number; readonly loadEnd: number };
  readonly checks: readonly LoadCheck[];
  readonly ok: boolean;
}

const SECOND = 1000;
/** A node's end RSS over its post-warm-up RSS beyond this fails the run; the total has a tighter one. */
export const RSS_NODE_BOUND = 1.5;
export const RSS_TOTAL_BOUND = 1.25;
/** Releases in flight beyond this are not sent (counted as skipped): the run did not keep the rate. */
const MAX_IN_FLIGHT = 400;
/** Products made at once across the cluster. */
const PRODUCT_LANES = 8;
/** Recipients each product is released to (fewer when the originator has fewer). */
const RELEASES_PER_PRODUCT = 12;
/** At most this many products are made ahead per originator; beyond it they are made during the run. */
const MAX_PREPARED = 200;
/** How long the driver waits, after the load, for releases still on their way. */
const DRAIN_TIMEOUT_MS = 60 * SECOND;
const PROGRESS_EVERY_MS = 10 * SECOND;

/**
 * `count` overlapping multilateral arrangements over `partners`: arrangement k takes a ring
 * segment starting at k·N/count, long enough that neighbouring segments overlap, so most nodes
 * are parties to two or more. Terms from the FVEY example, unsigned (the harness pins and signs).
 */
export function loadArrangements(partners: readonly string[], count: number): ArrangementDocument[] {
  const template = parseArrangement(readExample('arrangements/fvey-multilateral.json'));
  const n = partners.length;
  const size = count === 1 ? n : Math.min(n, Math.ceil((2 * n) / count) + 1);
  return Array.from({ length: count }, (_, k) => {
    const start = Math.floor((k * n) / count);
    const members = Array.from({ length: size }, (_, i) => partners[(start + i) % n] as string);
    return {
      ...template,
      id: `load-${k + 1}`,
      title: `Load arrangement ${k + 1} of ${count}`,
      parties: members.map((partner, i) => ({
        partner,
        role: i === 0 ? ('lead' as const) : ('party' as const),
        nodeKeys: [],
      })),
      equivalences: {},
      signatures: [],
    };
  });
}

/** An unclassified product every party may receive: no portion torn out, nothing needs a second approval. */
function loadDraft(originator: string, n: number): DraftInput {
  return makeDraft({
    title: `Load ${originator} #${n}: shipping movements near the strait`,
    titleMarking: '(U)',
    portions: [
      { id: 'p1', marking: '(U)', text: `Routine report ${n} from ${originator}: vessel movements.` },
    ],
  });
}

/** VmRSS of a process in bytes (Linux /proc), or 0 when it cannot be read. */
export function residentBytes(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb === undefined ? 0 : Number(kb) * 1024;
  } catch {
    return 0;
  }
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

/** Each originator's recipients: every partner it shares an arrangement with, and the arrangements shared. */
function recipientsOf(partners: readonly string[], arrangements: readonly ArrangementDocument[]) {
  const byOriginator = new Map<string, { readonly to: string; readonly under: readonly string[] }[]>();
  for (const from of partners) {
    const list: { to: string; under: string[] }[] = [];
    for (const to of partners) {
      if (to === from) continue;
      const under = arrangements
        .filter((a) => a.parties.some((p) => p.partner === from) && a.parties.some((p) => p.partner === to))
        .map((a) => a.id);
      if (under.length > 0) list.push({ to, under });
    }
    byOriginator.set(from, list);
  }
  return byOriginator;
}

interface Planned {
  readonly productId: string;
  readonly to: string;
  readonly arrangement: string;
}

type Recipients = readonly { readonly to: string; readonly under: readonly string[] }[];

/** Products an originator has ready and the releases planned for the one in use. */
class Originator {
  readonly partner: string;
  readonly flow: Workflow;
  readonly ready: string[] = [];
  planned: Planned[] = [];
  made = 0;
  making = 0;
  #turn = 0;
  readonly #recipients: Recipients;

  get recipients(): number {
    return this.#recipients.length;
  }

  constructor(partner: string, flow: Workflow, recipients: Recipients) {
    this.partner = partner;
    this.flow = flow;
    this.#recipients = recipients;
  }

  /** The next release, taking a fresh product when the last one went to all its recipients. */
  next(): Planned | undefined {
    if (this.planned.length === 0) {
      const productId = this.ready.shift();
      if (productId === undefined) return undefined;
      const count = Math.min(RELEASES_PER_PRODUCT, this.#recipients.length);
      // Rotate through the recipients and the arrangements each is shared under.
      for (let i = 0; i < count; i += 1) {
        const r = this.#recipients[(this.#turn + i) % this.#recipients.length];
        if (r === undefined) continue;
        const arrangement = r.under[Math.floor(this.#turn / this.#recipients.length) % r.under.length];
        this.planned.push({ productId, to: r.to, arrangement: arrangement as string });
      }
      this.#turn += count;
    }
    return this.planned.shift();
  }
}

/** The latency record of releases on their way: key recipient|product. */
interface InFlight {
  readonly sentAt: number;
  readonly measured: boolean;
}

function mb(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(0)} MB`;
}

function ms(value: number): string {
  return Number.isNaN(value) ? '-' : `${value.toFixed(0)} ms`;
}

/**
 * Runs the load and its checks; never throws for a failed check (they are in the summary), only
 * for a cluster that could not be set up. The nodes are stopped and removed before it returns.
 */
export async function runLoad(options: LoadOptions): Promise<LoadSummary> {
  const log = options.log ?? (() => undefined);
  const partners = LOAD_PARTNERS.slice(0, options.nodes);
  const durationMs = options.minutes * 60 * SECOND;
  // Warm-up: JIT, SQLite caches and connection pools settle; latency and memory count from here.
  const warmupMs = Math.max(5 * SECOND, Math.min(30 * SECOND, durationMs / 10));
  const p99Target = options.p99TargetMs ?? 200;
  const arrangements = loadArrangements(partners, options.arrangements);
  const [first, ...more] = arrangements;
  if (first === undefined) throw new Error('load: no arrangement');
  // Gossip often enough that every node's head is fetched by its peers several times in the run.
  const gossipMs = Math.max(2 * SECOND, Math.min(10 * SECOND, Math.floor(durationMs / 4)));

  const setUpStart = performance.now();
  log(`load: setting up ${partners.length} nodes (accord init, partner add, user add, arrangement add)…`);
  const cluster = await startCluster({
    partners,
    arrangements: [first, ...more],
    inProcessSetUp: true,
    startConcurrency: 4,
    startTimeoutMs: 120 * SECOND,
    env: {
      ACCORD_LOG_LEVEL: 'warn',
      ACCORD_GOSSIP_INTERVAL_MS: String(gossipMs),
      ACCORD_OUTBOX_INTERVAL_MS: '1000',
      ACCORD_OUTBOX_RETRY_BASE_MS: '100',
      ACCORD_OUTBOX_RETRY_MAX_MS: '2000',
    },
  });
  const setUpMs = performance.now() - setUpStart;
  log(`load: ${partners.length} nodes serving after ${(setUpMs / SECOND).toFixed(0)} s`);
  try {
    return await driveLoad(cluster, options, {
      partners,
      arrangements: cluster.arrangements,
      durationMs,
      warmupMs,
      p99Target,
      setUpMs,
      log,
    });
  } finally {
    await cluster.close();
  }
}

interface DriveContext {
  readonly partners: readonly string[];
  readonly arrangements: readonly ArrangementDocument[];
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly p99Target: number;
  readonly setUpMs: number;
  readonly log: (line: string) => void;
}

async function driveLoad(
  cluster: Cluster,
  options: LoadOptions,
  context: DriveContext,
): Promise<LoadSummary> {
  const { partners, durationMs, warmupMs, p99Target, log } = context;
  const recipients = recipientsOf(partners, context.arrangements);
  const originators = await inParallel(partners, 4, async (partner) => {
    return new Originator(partner, await cluster.workflow(partner), recipients.get(partner) ?? []);
  });

  const inFlight = new Map<string, InFlight>();
  const seen = new Set<string>();
  const latencies: number[] = [];
  let stored = 0;
  let duplicates = 0;
  let unexpected = 0;
  let released = 0;
  let skipped = 0;
  let starved = 0;
  const errors: string[] = [];
  let errorCount = 0;

  // One stream per recipient, as its analyst: product.received events only.
  const streams = await inParallel(cluster.nodes, 4, async (node) => {
    const token = await bearerOf(cluster, node);
    const client = await SseClient.open(`${node.url}/api/v1/stream?kinds=product.received`, {
      authorization: `Bearer ${token}`,
    });
    if (client.status !== 200) throw new Error(`load: stream of ${node.partner} answered ${client.status}`);
    client.onFrame((frame) => {
      if (frame.event !== 'product.received') return;
      const at = performance.now();
      const product = dataOf(frame).product as { id?: unknown } | undefined;
      const key = `${node.partner}|${String(product?.id)}`;
      const sent = inFlight.get(key);
      if (sent === undefined) {
        if (seen.has(key)) duplicates += 1;
        else unexpected += 1;
        return;
      }
      inFlight.delete(key);
      seen.add(key);
      stored += 1;
      if (sent.measured) latencies.push(at - sent.sentAt);
    });
    return client;
  });

  // Products are made off the measured path: what the run will release is made before the clock
  // starts (up to MAX_PREPARED each), and kept topped up during it, a few at a time.
  const perOriginator = Math.ceil((options.rate * (durationMs / SECOND)) / partners.length);
  const need = (o: Originator) =>
    Math.min(
      MAX_PREPARED,
      Math.ceil(perOriginator / Math.max(1, Math.min(RELEASES_PER_PRODUCT, o.recipients))) + 1,
    );
  let readyTarget = need;
  let productLanes = 0;
  const topUp = (): void => {
    for (const o of originators) {
      while (o.ready.length + o.making < readyTarget(o) && productLanes < PRODUCT_LANES) {
        o.making += 1;
        productLanes += 1;
        const n = ++o.made;
        void o.flow
          .approved(loadDraft(o.partner, n))
          .then((id) => o.ready.push(id))
          .catch((error: unknown) => {
            errorCount += 1;
            if (errors.length < 5) errors.push(`${o.partner} product: ${(error as Error).message}`);
          })
          .finally(() => {
            o.making -= 1;
            productLanes -= 1;
          });
      }
    }
  };
  const toPrepare = originators.reduce((n, o) => n + need(o), 0);
  log(`load: preparing ${toPrepare} approved products (create, submit, approve over the API)…`);
  for (let last = 0; originators.some((o) => o.ready.length < need(o)); ) {
    if (errorCount > 0) break;
    topUp();
    await sleep(100);
    const made = originators.reduce((n, o) => n + o.ready.length, 0);
    if (made - last >= 250) {
      last = made;
      log(`  ${made} of ${toPrepare} products ready`);
    }
  }
  // During the run: a small buffer, so that making products stays a background trickle.
  readyTarget = () => 3;

  const idle = cluster.nodes.map((n) => residentBytes(n.pid));
  const loadStart = loadavg()[0] ?? 0;
  let warm: number[] = [];
  const intervalMs = SECOND / options.rate;
  const start = performance.now();
  const end = start + durationMs;
  let sent = 0;
  let warmDone = false;
  let nextProgress = start + PROGRESS_EVERY_MS;
  const pending = new Set<Promise<void>>();
  log(
    `load: ${options.rate} releases/s across ${partners.length} nodes under ${context.arrangements.length} arrangement(s) for ${(durationMs / SECOND).toFixed(0)} s (warm-up ${(warmupMs / SECOND).toFixed(0)} s)`,
  );

  const release = (o: Originator, plan: Planned, measured: boolean): void => {
    const key = `${plan.to}|${plan.productId}`;
    inFlight.set(key, { sentAt: performance.now(), measured });
    const call = o.flow.officer
      .request('POST', `/api/v1/products/${plan.productId}/releases`, {
        to: plan.to,
        arrangement: plan.arrangement,
      })
      .then((answer) => {
        const effect = (answer.body as { effect?: unknown } | undefined)?.effect;
        if (answer.status === 201 && effect !== 'deny') {
          released += 1;
          return;
        }
        inFlight.delete(key);
        errorCount += 1;
        if (errors.length < 5)
          errors.push(
            `${o.partner}→${plan.to} release answered ${answer.status}: ${JSON.stringify(answer.body)}`,
          );
      })
      .catch((error: unknown) => {
        inFlight.delete(key);
        errorCount += 1;
        if (errors.length < 5) errors.push(`${o.partner}→${plan.to} release: ${(error as Error).message}`);
      });
    pending.add(call);
    void call.finally(() => pending.delete(call));
  };

  for (;;) {
    const now = performance.now();
    if (now >= end) break;
    if (!warmDone && now - start >= warmupMs) {
      warmDone = true;
      warm = cluster.nodes.map((n) => residentBytes(n.pid));
    }
    // Open loop: every release due by now goes out, whether or not earlier ones have answered.
    while (start + sent * intervalMs <= now) {
      const o = originators[sent % originators.length] as Originator;
      sent += 1;
      if (pending.size >= MAX_IN_FLIGHT) {
        skipped += 1;
        continue;
      }
      const plan = o.next();
      if (plan === undefined) {
        starved += 1;
        continue;
      }
      release(o, plan, warmDone);
    }
    topUp();
    if (now >= nextProgress) {
      nextProgress += PROGRESS_EVERY_MS;
      const sorted = [...latencies].sort((a, b) => a - b);
      const rss = cluster.nodes.reduce((sum, n) => sum + residentBytes(n.pid), 0);
      log(
        `  t=${((now - start) / SECOND).toFixed(0).padStart(4)} s  released ${released}  stored ${stored}  in flight ${inFlight.size}  p50 ${ms(percentile(sorted, 50))}  p99 ${ms(percentile(sorted, 99))}  errors ${errorCount}  skipped ${skipped + starved}  nodes' RSS ${mb(rss)}`,
      );
      // The driver keeps no frames: what it needs was taken as each arrived.
      for (const client of streams) client.frames.splice(0);
    }
    await sleep(Math.max(1, Math.min(intervalMs, end - now) - 1));
  }
  const loadEnd = performance.now();
  const endRss = cluster.nodes.map((n) => residentBytes(n.pid));
  const loadAverageEnd = loadavg()[0] ?? 0;
  const windowS = (loadEnd - start) / SECOND;
  const releaseRate = released / windowS;
  const storedRate = stored / windowS;

  log(`load: load over; waiting for ${inFlight.size} releases still on their way…`);
  await Promise.all(pending);
  const drainEnd = performance.now() + DRAIN_TIMEOUT_MS;
  while (inFlight.size > 0 && performance.now() < drainEnd) await sleep(100);
  const missing = inFlight.size;
  for (const client of streams) client.close();

  const sorted = latencies.sort((a, b) => a - b);
  const latency = {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
  };
  const memory: NodeMemory[] = cluster.nodes.map((node, i) => ({
    partner: node.partner,
    idle: idle[i] ?? 0,
    warm: warm[i] ?? idle[i] ?? 0,
    end: endRss[i] ?? 0,
  }));

  const checks: LoadCheck[] = [];
  const check = (name: string, ok: boolean, detail: string) => checks.push({ name, ok, detail });
  check(
    'rate sustained',
    releaseRate >= 0.95 * options.rate && skipped + starved === 0,
    `${releaseRate.toFixed(1)} releases/s of ${options.rate} asked; ${skipped} skipped (over ${MAX_IN_FLIGHT} in flight), ${starved} with no product ready`,
  );
  check(
    'releases accepted',
    errorCount === 0,
    errorCount === 0 ? `${released} answered 201` : `${errorCount} failed: ${errors.join(' | ')}`,
  );
  check(
    'stored exactly once',
    missing === 0 && duplicates === 0 && unexpected === 0 && stored === released,
    `${stored} stored of ${released} released; ${missing} not stored within ${DRAIN_TIMEOUT_MS / SECOND} s of the end, ${duplicates} twice, ${unexpected} unexpected`,
  );
  check(
    `p99 ≤ ${p99Target} ms`,
    latency.count > 0 && latency.p99 <= p99Target,
    `p50 ${ms(latency.p50)}, p99 ${ms(latency.p99)}, max ${ms(latency.max)} over ${latency.count} releases after warm-up`,
  );
  const total = (pick: (m: NodeMemory) => number) => memory.reduce((sum, m) => sum + pick(m), 0);
  const totalRatio = total((m) => m.end) / total((m) => m.warm);
  const worst = memory.reduce<NodeMemory | undefined>(
    (w, m) => (w === undefined || m.end / m.warm > w.end / w.warm ? m : w),
    undefined,
  );
  const worstRatio = worst === undefined ? Number.NaN : worst.end / worst.warm;
  check(
    'memory flat',
    memory.every((m) => m.warm > 0 && m.end > 0) &&
      totalRatio <= RSS_TOTAL_BOUND &&
      worstRatio <= RSS_NODE_BOUND,
    `all nodes ${mb(total((m) => m.warm))} after warm-up → ${mb(total((m) => m.end))} at end (×${totalRatio.toFixed(2)}, bound ×${RSS_TOTAL_BOUND}); worst node ${worst?.partner} ×${worstRatio.toFixed(2)} (bound ×${RSS_NODE_BOUND})`,
  );

  // SIGTERM: each node moves what is queued into its log and signs a last head, then exits 0.
  log('load: stopping the nodes and checking their audit logs…');
  const unclean: string[] = [];
  await inParallel(cluster.nodes, 4, async (node) => {
    try {
      await node.stop();
    } catch (error) {
      // It was SIGKILLed: its last queued entries may be unsigned, which verify reports, not fails.
      unclean.push(`${node.partner}: ${(error as Error).message}`);
    }
  });
  check(
    'nodes stopped cleanly',
    unclean.length === 0,
    unclean.length === 0 ? 'every node exited 0 on SIGTERM' : unclean.slice(0, 3).join(' | '),
  );
  checks.push(...(await auditChecks(cluster)));

  return {
    nodes: partners.length,
    arrangements: context.arrangements.length,
    targetRate: options.rate,
    durationMs,
    warmupMs,
    setUpMs: context.setUpMs,
    released,
    stored,
    releaseRate,
    storedRate,
    latency,
    memory,
    machine: { cores: availableParallelism(), loadStart, loadEnd: loadAverageEnd },
    checks,
    ok: checks.every((c) => c.ok),
  };
}

/** A bearer token of the node's analyst, who reads what the node received. */
async function bearerOf(cluster: Cluster, node: NodeProcess): Promise<string> {
  const flow = await cluster.workflow(node.partner);
  return flow.analyst.token;
}

/**
 * After the nodes stopped: every node's log verifies (`accord audit verify <dir>`, against every
 * head it signed and, with --since, the largest head any peer kept of it), and every head a peer
 * gossiped and kept is one the node signed (same size, same root); no node opened a fork incident.
 */
async function auditChecks(cluster: Cluster): Promise<LoadCheck[]> {
  const failures: string[] = [];
  let verified = 0;
  let keptHeads = 0;
  let forks = 0;
  await inParallel(cluster.nodes, 4, async (node) => {
    const kept = (
      await Promise.all(
        cluster.nodes
          .filter((peer) => peer !== node)
          .map((peer) => peer.readStore((store) => store.gossip.latestPeerHead(node.partner))),
      )
    ).filter((head) => head !== undefined);
    keptHeads += kept.length;
    const own = await node.readStore(async (store) => {
      forks += (await store.incidents.list()).filter((i) => i.kind === 'audit-fork').length;
      return store.audit.treeHeads();
    });
    for (const head of kept) {
      if (!own.some((h) => h.treeSize === head.treeSize && h.rootHash === head.rootHash)) {
        failures.push(`${node.partner}: a peer kept a head of size ${head.treeSize} the node never signed`);
      }
    }
    const largest = kept.reduce<(typeof kept)[number] | undefined>(
      (a, b) => (a === undefined || b.treeSize > a.treeSize ? b : a),
      undefined,
    );
    const args = ['audit', 'verify', node.dir, '--as', 'admin', '--json'];
    if (largest !== undefined) {
      const file = join(cluster.root, `${node.partner}.gossiped-head.json`);
      const { partner: _partner, fetchedAt: _fetchedAt, ...head } = largest;
      await writeFile(file, JSON.stringify(head));
      args.push('--since', file);
    }
    try {
      const { stdout } = await node.cli(args, { withDir: false });
      const result = JSON.parse(stdout) as { ok?: unknown };
      if (result.ok === true) verified += 1;
      else failures.push(`${node.partner}: audit verify did not say ok`);
    } catch (error) {
      failures.push(`${node.partner}: ${(error as Error).message.split('\n')[0]}`);
    }
  });
  const nodes = cluster.nodes.length;
  return [
    {
      name: 'audit logs verify',
      ok: verified === nodes,
      detail: `${verified} of ${nodes} nodes: accord audit verify OK`,
    },
    {
      name: 'gossip consistent',
      ok: failures.length === 0 && forks === 0 && keptHeads >= nodes,
      detail:
        failures.length > 0
          ? failures.slice(0, 3).join(' | ')
          : `${keptHeads} heads kept by peers, each signed by its node and extended by its log; ${forks} fork incidents`,
    },
  ];
}

/** The summary as a table, one line per figure and per check. */
export function summaryLines(summary: LoadSummary): string[] {
  const m = summary.memory;
  const sum = (pick: (x: NodeMemory) => number) => m.reduce((s, x) => s + pick(x), 0);
  const lines = [
    `Accord load: ${summary.nodes} nodes (one \`accord serve\` process each, loopback, SQLite), ${summary.arrangements} arrangement(s), ${(summary.durationMs / SECOND).toFixed(0)} s at ${summary.targetRate} releases/s`,
    `  machine         ${summary.machine.cores} cores, load average ${summary.machine.loadStart.toFixed(1)} as the load started, ${summary.machine.loadEnd.toFixed(1)} as it ended (nodes, driver and anything else running)`,
    `  set-up          ${(summary.setUpMs / SECOND).toFixed(0)} s`,
    `  released        ${summary.released} (${summary.releaseRate.toFixed(1)}/s)`,
    `  stored          ${summary.stored} (${summary.storedRate.toFixed(1)}/s)`,
    `  latency         p50 ${ms(summary.latency.p50)}  p99 ${ms(summary.latency.p99)}  max ${ms(summary.latency.max)}  (${summary.latency.count} after ${(summary.warmupMs / SECOND).toFixed(0)} s warm-up)`,
    `  RSS per node    idle ${mb(sum((x) => x.idle) / m.length)}  after warm-up ${mb(sum((x) => x.warm) / m.length)}  end ${mb(sum((x) => x.end) / m.length)}  (mean of ${m.length})`,
    `  RSS all nodes   idle ${mb(sum((x) => x.idle))}  after warm-up ${mb(sum((x) => x.warm))}  end ${mb(sum((x) => x.end))}  ratio ×${(sum((x) => x.end) / sum((x) => x.warm)).toFixed(2)}`,
    '  check                 result  detail',
  ];
  for (const c of summary.checks)
    lines.push(`  ${c.name.padEnd(21)} ${c.ok ? 'ok    ' : 'FAILED'}  ${c.detail}`);
  return lines;
}
