import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseArrangement } from '../../src/arrangements/index.js';
import { verifyProductSignature, verifyReceipt } from '../../src/federation/index.js';
import type { OutboxEntry } from '../../src/services/outbox-service.js';
import type { DraftInput } from '../../src/services/product-service.js';
import type { InboxEntry, OutboxMessage, ReceivedProduct } from '../../src/store/index.js';
import {
  type Cluster,
  inParallel,
  type NodeProcess,
  type ReleaseAnswer,
  sleep,
  startCluster,
  type Workflow,
  waitUntil,
} from '../../tools/multinode/process-harness.js';
import { makeDraft, readExample } from '../e2e/harness.js';

// DESIGN.md §2.5 (nothing lost, nothing twice) with real processes: USA and GBR each run
// `accord serve` over their own SQLite file, set up through the CLI, under the USA-GBR SIGINT
// arrangement pinned to their real keys and signed by both. Releases go over USA's HTTP API; the
// crashes are SIGKILLs, which leave no shutdown hook or finally block to tidy up. One pair of
// nodes serves every test (start-up is tsx compiling the CLI, 1–2 s a process); each test checks
// its own products and, at the end, that GBR holds no product twice overall.

const ARRANGEMENT = 'usa-gbr-sigint';
const SECOND = 1000;
/** Long enough for a restart (a few seconds) and a backlog on a busy 2-core runner; still bounded. */
const DELIVERY_TIMEOUT_MS = 60 * SECOND;
/** Above every wait a test makes, so a timeout names what was missing instead of Vitest's bare one. */
const TEST_TIMEOUT_MS = 150 * SECOND;

let cluster: Cluster;
let usa: NodeProcess;
let gbr: NodeProcess;
let usaFlow: Workflow;
/** Every release of every test, to check GBR's whole store at the end. */
const everyRelease: ReleaseAnswer[] = [];

beforeAll(async () => {
  cluster = await startCluster({
    partners: ['USA', 'GBR'],
    arrangements: [parseArrangement(readExample(`arrangements/${ARRANGEMENT}.json`))],
    // A poll every 200 ms and retries capped at 1 s: a recipient back online gets its backlog
    // within about a second, not after the default's minutes of backoff.
    env: {
      ACCORD_OUTBOX_INTERVAL_MS: '200',
      ACCORD_OUTBOX_RETRY_BASE_MS: '100',
      ACCORD_OUTBOX_RETRY_MAX_MS: '1000',
    },
  });
  usa = cluster.node('USA');
  gbr = cluster.node('GBR');
  usaFlow = await cluster.workflow('USA');
}, 180 * SECOND);

afterAll(async () => {
  await cluster?.close();
});

beforeEach(async ({ onTestFailed }) => {
  onTestFailed(() => {
    console.error(`multinode: output of the nodes (data in ${cluster.root}):\n${cluster.output(200)}`);
  });
  // A test that failed half-way must not leave the next one a stopped or paused node.
  for (const node of cluster.nodes) {
    if (node.running) node.resume();
    else await node.start();
  }
});

function draftNumbered(n: number, label: string): DraftInput {
  return makeDraft({ title: `Multinode ${label} #${n}: facilitation network moving funds` });
}

/** Writes and approves `count` products at USA (their release comes later); returns their ids. */
async function approvedProducts(count: number, label: string): Promise<string[]> {
  return inParallel(
    Array.from({ length: count }, (_, i) => i),
    4,
    (i) => usaFlow.approved(draftNumbered(i, label)),
  );
}

async function releaseAll(ids: readonly string[], concurrency: number): Promise<ReleaseAnswer[]> {
  const answers = await inParallel(ids, concurrency, (id) => usaFlow.release(id, 'GBR', ARRANGEMENT));
  everyRelease.push(...answers);
  return answers;
}

function receivedCount(): number {
  return gbr.countRows("select count(*) from received_products where sender = 'USA'");
}

function envelopeIdOf(message: OutboxMessage): string {
  const payload = message.payload as { envelope?: { header?: { envelopeId?: unknown } } };
  const id = payload.envelope?.header?.envelopeId;
  if (typeof id !== 'string') throw new Error(`outbox row ${message.id} holds no sealed envelope`);
  return id;
}

interface Holdings {
  readonly rows: readonly OutboxMessage[];
  readonly received: readonly ReceivedProduct[];
  readonly inbox: readonly InboxEntry[];
}

/** USA's outbox rows for `releases`, and everything GBR received from USA. */
async function holdingsOf(releases: readonly ReleaseAnswer[]): Promise<Holdings> {
  const ids = new Set(releases.map((r) => r.releaseId));
  const rows = (await usa.readStore((s) => s.outbox.list({ limit: 500 }))).filter(
    (m) => m.releaseId !== null && ids.has(m.releaseId),
  );
  const [received, inbox] = await gbr.readStore(async (s) => [
    await s.receivedProducts.list({ sender: 'USA', limit: 500 }),
    await s.inbox.list({ sender: 'USA', limit: 500 }),
  ]);
  return { rows, received, inbox };
}

/** What is still missing, for a timeout message. */
function shortfall(releases: readonly ReleaseAnswer[], holdings: Holdings): string {
  const held = new Set(holdings.received.map((r) => r.productId));
  const missing = releases.filter((r) => !held.has(r.productId)).map((r) => r.productId);
  const undelivered = holdings.rows.filter((m) => m.status !== 'delivered');
  const lastError = undelivered.find((m) => m.lastError !== null)?.lastError ?? 'none';
  const holding =
    missing.length === 0
      ? `GBR holds all ${releases.length} products`
      : `GBR holds ${releases.length - missing.length} of ${releases.length} products (missing ` +
        `${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''})`;
  const statuses = [...new Set(undelivered.map((m) => m.status))].join(', ') || 'none';
  return (
    `${holding}; USA has ${holdings.rows.length} outbox rows for them, ${undelivered.length} not ` +
    `delivered (statuses ${statuses}; last error: ${lastError})`
  );
}

/**
 * Waits until every release is delivered, then checks exactly once: one outbox row per release,
 * delivered with GBR's signed receipt for that very envelope; GBR holds each product once, from
 * that envelope, with one stored inbox entry and no refusal.
 */
async function expectDeliveredExactlyOnce(releases: readonly ReleaseAnswer[]): Promise<Holdings> {
  let last: Holdings | undefined;
  const holdings = await waitUntil(
    `GBR to hold all ${releases.length} products and USA to record every delivery`,
    async () => {
      last = await holdingsOf(releases);
      const given = last.rows.filter((m) => m.status === 'failed');
      // A failed row is final: the worker will not try it again, so waiting longer shows nothing.
      if (given.length > 0)
        throw new Error(`USA gave up ${given.length} deliveries: ${shortfall(releases, last)}`);
      const held = new Set(last.received.map((r) => r.productId));
      const done =
        last.rows.length === releases.length &&
        last.rows.every((m) => m.status === 'delivered') &&
        releases.every((r) => held.has(r.productId));
      return done ? last : undefined;
    },
    {
      timeoutMs: DELIVERY_TIMEOUT_MS,
      intervalMs: 100,
      explain: () => (last === undefined ? 'nothing read yet' : shortfall(releases, last)),
    },
  );

  const gbrKeys = gbr.keys;
  if (gbrKeys === undefined) throw new Error('GBR has no keys loaded');
  const receiptKey = (from: string, fingerprint: string) =>
    from === 'GBR' && fingerprint === gbrKeys.public.signing.fingerprint
      ? gbrKeys.identity.signing.publicKey
      : undefined;

  const rowsByRelease = new Map(holdings.rows.map((m) => [m.releaseId, m]));
  for (const release of releases) {
    const row = rowsByRelease.get(release.releaseId);
    expect(row, `USA has no outbox row for release ${release.releaseId}`).toBeDefined();
    if (row === undefined) continue;
    expect(row.status).toBe('delivered');
    expect(row.deliveredAt).not.toBeNull();
    const envelopeId = envelopeIdOf(row);
    const receipt = verifyReceipt(row.receipt, receiptKey);
    expect(receipt).toMatchObject({
      envelopeId,
      from: 'GBR',
      to: 'USA',
      outcome: 'stored',
      product: { id: release.productId, version: 1 },
    });

    const copies = holdings.received.filter((r) => r.productId === release.productId);
    expect(copies, `GBR holds ${release.productId} ${copies.length} times`).toHaveLength(1);
    expect(copies[0]?.envelopeId).toBe(envelopeId);
    const entries = holdings.inbox.filter((e) => e.productId === release.productId);
    expect(entries.map((e) => [e.envelopeId, e.outcome])).toEqual([[envelopeId, 'stored']]);
  }
  expect(holdings.rows).toHaveLength(releases.length);
  // Nothing twice, across every test so far: no product, and no envelope, stored twice at GBR.
  const all = holdings.received.map((r) => r.productId);
  expect(new Set(all).size, 'GBR holds some product twice').toBe(all.length);
  expect(holdings.inbox.filter((e) => e.outcome !== 'stored')).toEqual([]);
  return holdings;
}

/**
 * Queues `ids`' releases while GBR hangs (SIGSTOP), so that USA has a backlog when GBR resumes and
 * USA works through it one delivery at a time; resolves once GBR has stored at least one.
 */
async function backlogFlowing(ids: readonly string[]): Promise<ReleaseAnswer[]> {
  gbr.pause();
  let releases: ReleaseAnswer[];
  try {
    releases = await releaseAll(ids, 8);
  } finally {
    gbr.resume();
  }
  const before = everyRelease.length - releases.length;
  await waitUntil(
    'GBR to store the first product of the backlog',
    () => (receivedCount() > before ? true : undefined),
    { timeoutMs: DELIVERY_TIMEOUT_MS, intervalMs: 2, explain: () => `GBR holds ${receivedCount()}` },
  );
  return releases;
}

/**
 * Returns once a delivery waits on the paused `node`: its request unread in the node's socket, or
 * (when the node paused while reading one, or the kernel does not say) after a second's grace, by
 * which time the sender, delivering one row after another, is surely waiting on it.
 */
async function requestWaitingAt(node: NodeProcess): Promise<void> {
  const deadline = Date.now() + SECOND;
  while (Date.now() < deadline && node.hasUnreadRequest() !== true) await sleep(10);
}

describe('two accord serve processes on loopback', () => {
  it(
    'delivers a USA→GBR release torn exactly as the release decision said',
    async () => {
      const draft = makeDraft();
      const [release] = await releaseAll([await usaFlow.approved(draft)], 1);
      if (release === undefined) throw new Error('no release');
      // The example's p3 is S//NF: the decision withholds it from GBR and the banner drops to the rest.
      expect(release.effect).toBe('allow');
      expect(release.withheld.map((w) => w.portionId)).toEqual(['p3']);
      expect(release.banner).toBe('SECRET//REL TO USA, GBR');

      const { received } = await expectDeliveredExactlyOnce([release]);
      const stored = received.find((r) => r.productId === release.productId);
      if (stored === undefined || stored.recalledAt !== null) throw new Error('not stored, or recalled');
      const withheld = new Set(release.withheld.map((w) => w.portionId));
      const { document } = stored;
      expect(document.portions).toEqual(draft.portions.filter((p) => !withheld.has(p.id ?? '')));
      expect(document.withheldCount).toBe(withheld.size);
      expect(document.banner).toBe(release.banner);
      expect(stored.banner).toBe(release.banner);
      expect(document.title).toBe(draft.title);
      expect(document.titleMarking).toBe(draft.titleMarking);
      expect(stored).toMatchObject({ originator: 'USA', sender: 'USA', arrangementId: ARRANGEMENT });
      // The torn version GBR keeps is signed by USA's node key, the one the arrangement pins.
      const usaKeys = usa.keys;
      if (usaKeys === undefined) throw new Error('USA has no keys loaded');
      verifyProductSignature(document, (fingerprint) =>
        fingerprint === usaKeys.public.signing.fingerprint ? usaKeys.identity.signing.publicKey : undefined,
      );
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'delivers every release exactly once when the sender is SIGKILLed mid-delivery and restarted',
    async () => {
      const ids = await approvedProducts(40, 'sender-kill');
      const releases = await backlogFlowing(ids);
      // GBR hangs, so USA's next delivery waits for its answer; USA dies waiting, the envelope
      // already in GBR's socket. Resumed, GBR stores it and answers no one: the one window where a
      // careless outbox or inbox would deliver twice.
      gbr.pause();
      await requestWaitingAt(gbr);
      await usa.kill();
      gbr.resume();
      const atKill = await waitUntil(
        'GBR to store the envelope USA died waiting for',
        async () => {
          const holdings = await holdingsOf(releases);
          const pending = new Set(holdings.rows.filter((m) => m.status === 'pending').map(envelopeIdOf));
          const unrecorded = holdings.received.filter((r) => pending.has(r.envelopeId));
          return unrecorded.length > 0 ? { holdings, pending } : undefined;
        },
        { timeoutMs: 10 * SECOND, intervalMs: 50 },
      );
      // The crash cut the backlog: USA still has deliveries to make besides the unrecorded one.
      expect(atKill.holdings.rows).toHaveLength(releases.length);
      expect(atKill.pending.size, shortfall(releases, atKill.holdings)).toBeGreaterThan(1);

      await usa.start();
      await expectDeliveredExactlyOnce(releases);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'stops on SIGTERM while its delivery hangs on a paused recipient, and delivers exactly once after restart',
    async () => {
      const ids = await approvedProducts(5, 'sender-stop');
      gbr.pause();
      const releases = await releaseAll(ids, 5);
      // USA's delivery now waits for an answer GBR cannot give.
      await requestWaitingAt(gbr);
      const started = Date.now();
      await usa.stop();
      // Not the 30 s delivery timeout per due row: the delivery in flight is abandoned, unrecorded.
      expect(Date.now() - started).toBeLessThan(5 * SECOND);
      gbr.resume();
      await usa.start();
      await expectDeliveredExactlyOnce(releases);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'stores every release exactly once when the recipient is SIGKILLed mid-ingest and restarted',
    async () => {
      const ids = await approvedProducts(40, 'recipient-kill');
      const releases = await backlogFlowing(ids);
      await gbr.kill();
      const atKill = await holdingsOf(releases);
      expect(
        atKill.received.filter((r) => releases.some((x) => x.productId === r.productId)).length,
        `GBR had every product before the SIGKILL: ${shortfall(releases, atKill)}`,
      ).toBeLessThan(releases.length);
      // USA keeps trying a GBR that refuses connections: backoff, not loss.
      await sleep(300);
      await gbr.start();
      await expectDeliveredExactlyOnce(releases);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'gives a recipient stopped while 100 products are released all 100 exactly once after its restart',
    async () => {
      const ids = await approvedProducts(100, 'recipient-down');
      await gbr.stop();
      const releases = await releaseAll(ids, 4);

      // While GBR is down the deliveries wait, visible in USA's API with the reason.
      const pending = await waitUntil(
        'USA to have tried every delivery to the stopped GBR',
        async () => {
          const entries = (await usaFlow.officer.expect(
            200,
            'GET',
            '/api/v1/outbox?status=pending&limit=200',
          )) as unknown as OutboxEntry[];
          const mine = entries.filter((e) => releases.some((r) => r.releaseId === e.releaseId));
          return mine.length === releases.length && mine.every((e) => e.attempts > 0) ? mine : undefined;
        },
        { timeoutMs: DELIVERY_TIMEOUT_MS, intervalMs: 100 },
      );
      expect(pending.every((e) => e.lastError?.includes('did not answer'))).toBe(true);
      expect(receivedCount()).toBe(everyRelease.length - releases.length);

      await gbr.start();
      await expectDeliveredExactlyOnce(releases);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'leaves GBR holding each product released in this file exactly once',
    async () => {
      await expectDeliveredExactlyOnce(everyRelease);
      expect(receivedCount()).toBe(everyRelease.length);
    },
    TEST_TIMEOUT_MS,
  );
});
