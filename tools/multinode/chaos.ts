import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArrangement } from '../../src/arrangements/index.js';
import { arrangementFor } from '../../src/demo/seed.js';
import { DEMO_PARTNERS, demoProducts } from '../../src/demo/seed-data.js';
import {
  type CommittedRelease,
  type Holdings,
  judgeDelivery,
  judgeGossip,
  type NodeGossip,
  sample,
  undelivered,
} from './chaos-checks.js';
import {
  type Cluster,
  type NodeProcess,
  sleep,
  startCluster,
  type Workflow,
  waitUntil,
} from './process-harness.js';
import { TcpProxy } from './tcp-proxy.js';

// Issue 10's chaos run: the five demo partners as real `accord serve` processes, releasing to one
// another over their HTTP APIs at a steady rate, while one node at a time is SIGKILLed and
// restarted and a TCP proxy in front of every node resets federation connections mid-flight.
// Afterwards, with every node back and nothing dropped, it checks DESIGN.md §2.5 (every committed
// release delivered exactly once, nothing twice) and §2.6 (every node's audit log verifies, and
// every tree head a node gossiped from a partner is a head of that partner's one history).

const SECOND = 1000;
const ARRANGEMENTS = ['fvey-multilateral', 'usa-gbr-sigint'] as const;
const EXAMPLES = resolve(import.meta.dirname, '..', '..', 'examples', 'arrangements');

/** The checks a run makes, by the name its report gives each. */
export const CHAOS_CHECKS = {
  answered: 'every release an API answered 201 for is committed at its originator',
  exactlyOnce: 'every committed release is delivered exactly once',
  noDuplicate: 'nothing is duplicated or stored without a committed release',
  answers: 'every API call was answered as expected or not at all',
  restarts: 'every killed node restarted, and every node stopped cleanly at the end',
  audit: "every node's audit log verifies (accord audit verify)",
  gossip: 'the tree heads the nodes gossiped are heads of one history per node',
} as const;

export interface ChaosOptions {
  /** How long releases, kills and drops go on. */
  readonly minutes: number;
  /** The chance that a chunk a proxy forwards is followed by a reset of its connection (default 0.03). */
  readonly dropRate?: number;
  /**
   * Mean time between two SIGKILLs (default 6 s). A killed node is restarted after 0.3–2 s; a
   * restart takes seconds (tsx compiling the CLI), so two nodes may be down at once, never more.
   */
  readonly killEveryMs?: number;
  /**
   * Releases a second across all originators (default 4), each originator starting one every
   * `nodes / rate` seconds; one that falls behind (its node slow or down) skips, it does not burst.
   */
  readonly releasesPerSecond?: number;
  /** How long every committed release may take to arrive once the chaos stops (default 90 s). */
  readonly convergeTimeoutMs?: number;
  /** How often a progress line is written (default 5 s). */
  readonly progressEveryMs?: number;
  /** Where progress lines go. */
  readonly log: (line: string) => void;
}

/** What the run did and measured. */
export interface ChaosFigures {
  readonly nodes: readonly string[];
  readonly arrangements: readonly string[];
  readonly durationMs: number;
  /** The release rate asked for, across all originators. */
  readonly targetRate: number;
  /** Releases in the originators' stores (allowed): what counts as committed. */
  readonly committed: number;
  /** Of those, the ones whose API call answered 201. */
  readonly answered: number;
  /** Releases the policy denied (403 POLICY_DENIED): never committed, never sent. */
  readonly denied: number;
  /** API calls that got no answer (their node was killed or restarting). */
  readonly failedCalls: number;
  /** Products stored at recipients. */
  readonly delivered: number;
  readonly kills: number;
  /** Mean time from a restart's spawn to the node listening. */
  readonly meanRestartMs: number;
  readonly drops: number;
  readonly proxiedConnections: number;
  /** From the last SIGKILL to every committed release stored at its recipient. */
  readonly convergeAfterLastKillMs: number;
  /** From the end of the chaos (drops off, every node up) to the same. */
  readonly convergeAfterChaosMs: number;
  /** Each node's verified audit log size. */
  readonly auditSizes: Readonly<Record<string, number>>;
  /** Tree heads the nodes kept of their partners, each checked against the partner's log. */
  readonly gossipedHeads: number;
}

export interface ChaosCheck {
  readonly name: string;
  readonly ok: boolean;
  /** What was found: figures when it holds, the first offenders when it does not. */
  readonly detail: string;
}

export interface ChaosReport {
  readonly figures: ChaosFigures;
  readonly checks: readonly ChaosCheck[];
}

function holdingsOf(cluster: Cluster): Holdings {
  const h = {
    releases: [] as CommittedRelease[],
    outbox: [] as Holdings['outbox'][number][],
    received: [] as Holdings['received'][number][],
    inbox: [] as Holdings['inbox'][number][],
  };
  for (const node of cluster.nodes) {
    const at = node.partner;
    for (const r of node.query(
      "select id, product_id, recipient from releases where effect = 'allow' order by released_at",
    )) {
      h.releases.push({
        origin: at,
        id: String(r.id),
        productId: String(r.product_id),
        recipient: String(r.recipient),
      });
    }
    for (const m of node.query(
      'select release_id, status, last_error from outbox where release_id is not null',
    )) {
      const lastError = m.last_error === null ? null : String(m.last_error);
      h.outbox.push({ origin: at, releaseId: String(m.release_id), status: String(m.status), lastError });
    }
    for (const r of node.query('select sender, product_id, envelope_id from received_products')) {
      h.received.push({
        at,
        sender: String(r.sender),
        productId: String(r.product_id),
        envelopeId: String(r.envelope_id),
      });
    }
    for (const e of node.query('select sender, product_id, outcome from inbox')) {
      h.inbox.push({
        at,
        sender: String(e.sender),
        productId: String(e.product_id),
        outcome: String(e.outcome),
      });
    }
  }
  return h;
}

function clock(ms: number): string {
  const s = Math.floor(ms / SECOND);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

function isUnanswered(error: unknown): boolean {
  // undici: 'fetch failed' when the connection is refused or reset before the answer, 'terminated'
  // when it breaks while the body is read; a timeout is a TimeoutError. The node was killed.
  if (error instanceof TypeError) return error.message === 'fetch failed' || error.message === 'terminated';
  return error instanceof Error && error.name === 'TimeoutError';
}

/** Sleeps `ms`, or less once `stop()` turns true (checked every 100 ms). */
async function sleepUnless(ms: number, stop: () => boolean): Promise<void> {
  const until = Date.now() + ms;
  while (!stop() && Date.now() < until) await sleep(Math.min(100, until - Date.now()));
}

/** Runs the chaos for `options.minutes`, then the checks; the caller prints and decides. */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log;
  const durationMs = Math.round(options.minutes * 60 * SECOND);
  const dropRate = options.dropRate ?? 0.03;
  const killEveryMs = options.killEveryMs ?? 6 * SECOND;
  const rate = options.releasesPerSecond ?? 4;
  const partners = DEMO_PARTNERS.map((p) => p.code);
  const proxies = new Map<string, TcpProxy>();
  const closeProxies = () => Promise.all([...proxies.values()].map((p) => p.close()));

  const setupStarted = Date.now();
  log(`chaos: setting up ${partners.join(', ')} under ${ARRANGEMENTS.join(', ')}`);
  let cluster: Cluster;
  try {
    cluster = await startCluster({
      partners,
      arrangements: ARRANGEMENTS.map((id) =>
        parseArrangement(JSON.parse(readFileSync(join(EXAMPLES, `${id}.json`), 'utf8'))),
      ),
      env: {
        // A recipient back online gets its backlog within about a second; heads signed and
        // gossiped every second or two, so the run covers many of both.
        ACCORD_OUTBOX_INTERVAL_MS: '200',
        ACCORD_OUTBOX_RETRY_BASE_MS: '100',
        ACCORD_OUTBOX_RETRY_MAX_MS: '1000',
        ACCORD_GOSSIP_INTERVAL_MS: '2000',
        ACCORD_LOG_LEVEL: 'warn',
      },
      endpointFor: async (node) => {
        const proxy = await TcpProxy.start(node.port);
        proxies.set(node.partner, proxy);
        return proxy.url;
      },
    });
  } catch (error) {
    await closeProxies();
    throw error;
  }

  log(
    `chaos: ${partners.length} nodes listening after ${((Date.now() - setupStarted) / SECOND).toFixed(1)} s`,
  );
  try {
    const flows = new Map<string, Workflow>();
    for (const code of partners) flows.set(code, await cluster.workflow(code));
    for (const proxy of proxies.values()) proxy.setPolicy({ rate: dropRate });

    const started = Date.now();
    let stopping = false;
    let answered = 0;
    let denied = 0;
    let failedCalls = 0;
    const unexpected: string[] = [];
    let kills = 0;
    let lastKillAt = started;
    const restartTimes: number[] = [];
    const restartFailures: string[] = [];
    /** Nodes killed and not yet listening again. */
    const down = new Set<string>();
    const restarts: Promise<void>[] = [];
    const answeredIds = new Map<string, string>();
    const drops = () => [...proxies.values()].reduce((n, p) => n + p.drops, 0);

    const originate = async (code: string) => {
      const flow = flows.get(code) as Workflow;
      const peers = partners.filter((p) => p !== code);
      const drafts = demoProducts(24, code);
      const everyMs = (partners.length / rate) * SECOND;
      let next = Date.now() + Math.random() * everyMs;
      for (let i = 0; !stopping; i++) {
        await sleepUnless(next - Date.now(), () => stopping);
        next = Math.max(next + everyMs, Date.now());
        if (stopping || down.has(code)) continue;
        const draft = drafts[i % drafts.length]!;
        const to = peers[Math.floor(Math.random() * peers.length)]!;
        try {
          const id = await flow.approved({ ...draft, title: `${draft.title} (chaos ${code}-${i})` });
          const release = await flow.release(id, to, arrangementFor(code, to, draft.discipline));
          answered++;
          answeredIds.set(release.releaseId, code);
        } catch (error) {
          if (isUnanswered(error)) failedCalls++;
          else if (String(error).includes('POLICY_DENIED')) denied++;
          else unexpected.push(`${code}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
    };

    const restart = async (victim: NodeProcess) => {
      await sleep(300 + Math.random() * 1700);
      const spawned = Date.now();
      try {
        await victim.start();
        restartTimes.push(Date.now() - spawned);
      } catch (error) {
        restartFailures.push(`${victim.partner}: ${(error as Error).message.split('\n')[0]}`);
      }
      down.delete(victim.partner);
    };
    const killer = async () => {
      while (!stopping) {
        await sleepUnless(killEveryMs * (0.5 + Math.random()), () => stopping);
        const up = cluster.nodes.filter((n) => !down.has(n.partner));
        if (stopping || down.size >= 2) continue;
        const victim = up[Math.floor(Math.random() * up.length)] as NodeProcess;
        down.add(victim.partner);
        await victim.kill();
        kills++;
        lastKillAt = Date.now();
        restarts.push(restart(victim));
      }
      await Promise.all(restarts);
    };

    const delivered = () =>
      cluster.nodes.reduce((n, node) => n + node.countRows('select count(*) from received_products'), 0);
    const progressLine = () =>
      `chaos ${clock(Date.now() - started)}/${clock(durationMs)}  releases ${answered} committed ` +
      `(${denied} denied, ${failedCalls} calls unanswered)  delivered ${delivered()}  kills ${kills}  ` +
      `drops ${drops()}${down.size === 0 ? '' : `  down: ${[...down].join(', ')}`}`;
    const progress = async () => {
      while (!stopping) {
        await sleepUnless(options.progressEveryMs ?? 5 * SECOND, () => stopping);
        if (!stopping) log(progressLine());
      }
    };

    const loops = [...partners.map(originate), killer(), progress()];
    await sleep(durationMs);
    stopping = true;
    await Promise.all(loops);
    for (const proxy of proxies.values()) proxy.setPolicy({ rate: 0 });
    for (const node of cluster.nodes) if (!node.running) await node.start();
    const chaosEnded = Date.now();
    log(`${progressLine()}  (chaos over: waiting for every release to arrive)`);

    let last: Holdings | undefined;
    let convergedAt = Date.now();
    let converged = true;
    try {
      await waitUntil(
        'every committed release to be stored at its recipient',
        () => {
          last = holdingsOf(cluster);
          const pending = last.outbox.filter((m) => m.status === 'pending').length;
          return pending === 0 && undelivered(last).length === 0 ? true : undefined;
        },
        {
          timeoutMs: options.convergeTimeoutMs ?? 90 * SECOND,
          intervalMs: 250,
          explain: () => (last === undefined ? 'nothing read' : `${undelivered(last).length} not stored`),
        },
      );
      convergedAt = Date.now();
    } catch {
      converged = false;
    }
    log(`chaos: ${converged ? 'converged' : 'did not converge'}; stopping the nodes to check them`);
    // A clean stop signs a last head over everything logged, so verify sees the whole log signed.
    const stopFailures: string[] = [];
    await Promise.all(
      cluster.nodes.map((node) =>
        node.stop().catch((error: unknown) => {
          stopFailures.push(`${node.partner}: ${(error as Error).message}`);
          return node.kill();
        }),
      ),
    );
    const final = holdingsOf(cluster);

    const checks: ChaosCheck[] = [];
    const check = (name: string, offenders: readonly string[], ok: string) =>
      checks.push({
        name,
        ok: offenders.length === 0,
        detail: offenders.length === 0 ? ok : sample(offenders),
      });

    const delivery = judgeDelivery(final, answeredIds);
    check(
      CHAOS_CHECKS.answered,
      delivery.answered,
      `${answeredIds.size} answered, all in their originators' stores`,
    );
    check(
      CHAOS_CHECKS.exactlyOnce,
      delivery.exactlyOnce,
      `${final.releases.length} committed, ${final.releases.length} stored once each`,
    );
    check(
      CHAOS_CHECKS.noDuplicate,
      delivery.noDuplicate,
      `${final.received.length} stored products, ${final.outbox.length} outbox rows, all delivered, no refusal`,
    );

    check(
      CHAOS_CHECKS.answers,
      unexpected,
      `${answered} releases, ${denied} denials, ${failedCalls} calls cut by a kill`,
    );
    check(
      CHAOS_CHECKS.restarts,
      [...restartFailures, ...stopFailures],
      `${kills} kills, ${restartTimes.length} restarts`,
    );

    const auditSizes: Record<string, number> = {};
    const auditFailures: string[] = [];
    for (const node of cluster.nodes) {
      try {
        auditSizes[node.partner] = (await node.verifyAudit()).treeSize;
      } catch (error) {
        auditFailures.push(
          `${node.partner}: ${(error as Error).message.split('\n').filter(Boolean).slice(-1)[0]}`,
        );
      }
    }
    check(
      CHAOS_CHECKS.audit,
      auditFailures,
      Object.entries(auditSizes)
        .map(([p, n]) => `${p} ${n}`)
        .join(', '),
    );

    const gossip = judgeGossip(gossipOf(cluster));
    check(
      CHAOS_CHECKS.gossip,
      gossip.offenders,
      `${gossip.heads} heads kept by peers, each the root of its node's log at that size; no fork incident`,
    );

    return {
      figures: {
        nodes: partners,
        arrangements: ARRANGEMENTS,
        durationMs,
        targetRate: rate,
        committed: final.releases.length,
        answered,
        denied,
        failedCalls,
        delivered: final.received.length,
        kills,
        meanRestartMs:
          restartTimes.length === 0 ? 0 : restartTimes.reduce((a, b) => a + b, 0) / restartTimes.length,
        drops: drops(),
        proxiedConnections: [...proxies.values()].reduce((n, p) => n + p.connections, 0),
        convergeAfterLastKillMs: convergedAt - lastKillAt,
        convergeAfterChaosMs: convergedAt - chaosEnded,
        auditSizes,
        gossipedHeads: gossip.heads,
      },
      checks,
    };
  } catch (error) {
    log(`chaos: output of the nodes (data in ${cluster.root}):\n${cluster.output(60)}`);
    throw error;
  } finally {
    await cluster.close();
    await closeProxies();
  }
}

/** Each node's log (leaf hashes in order), the heads it kept of partners, and its fork incidents. */
function gossipOf(cluster: Cluster): NodeGossip[] {
  return cluster.nodes.map((node) => ({
    partner: node.partner,
    leaves: node
      .query('select leaf_hash from audit_entries order by idx')
      .map((row) => Uint8Array.from(row.leaf_hash as Buffer)),
    kept: node.query('select partner, tree_size, root_hash from audit_peer_heads').map((row) => ({
      partner: String(row.partner),
      treeSize: Number(row.tree_size),
      rootHash: String(row.root_hash),
    })),
    forkIncidents: node.countRows("select count(*) from incidents where kind = 'audit-fork'"),
  }));
}

/** The report as lines for a terminal: the figures, then one line per check. */
export function formatReport(report: ChaosReport): string[] {
  const f = report.figures;
  const s = (ms: number) => `${(ms / SECOND).toFixed(1)} s`;
  return [
    `chaos summary: ${s(f.durationMs)} of chaos over ${f.nodes.join(', ')} under ${f.arrangements.join(', ')}`,
    `  releases   ${f.committed} committed at their originators (${(f.committed / (f.durationMs / SECOND)).toFixed(1)}/s of ${f.targetRate}/s asked; ${f.answered} answered 201), ${f.denied} denied by policy, ${f.failedCalls} API calls cut by a kill`,
    `  delivered  ${f.delivered} products stored at recipients; converged ${s(f.convergeAfterLastKillMs)} after the last kill (${s(f.convergeAfterChaosMs)} after the chaos stopped)`,
    `  kills      ${f.kills} SIGKILLs, each node restarted (mean ${s(f.meanRestartMs)} to listen)`,
    `  drops      ${f.drops} connections reset mid-flight of ${f.proxiedConnections} through the proxies`,
    `  audit      ${Object.entries(f.auditSizes)
      .map(([p, n]) => `${p} ${n}`)
      .join(', ')} entries verified; ${f.gossipedHeads} gossiped heads checked`,
    ...report.checks.map((c) => `  ${c.ok ? 'ok    ' : 'FAILED'} ${c.name}: ${c.detail}`),
  ];
}
