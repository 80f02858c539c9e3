import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AccordNode, buildNode } from '../../src/app/node.js';
import { type NodeKeys, partnerKeysOf } from '../../src/app/node-keys.js';
import { type ArrangementDocument, arrangementVersionHash } from '../../src/arrangements/index.js';
import { loadConfig } from '../../src/config/index.js';
import { createNodeIdentity, digestOf, publicIdentity, signDigest } from '../../src/crypto/index.js';
import { verifyReceipt } from '../../src/federation/index.js';
import type { Actor } from '../../src/services/actor.js';
import type { OutboxEntry } from '../../src/services/outbox-service.js';
import { OutboxWorker } from '../../src/services/outbox-worker.js';
import type { SealedRelease } from '../../src/services/product-service.js';
import { openStore } from '../../src/store/index.js';
import { makeArrangement } from '../fixtures/builders.js';
import { addUsaWorkflowActors, makeDraft } from './harness.js';

// DESIGN.md §2.5 across two real nodes on loopback: USA releases, its outbox worker delivers over
// HTTP to GBR's POST /federation/v1/inbox, and GBR holds each release exactly once whatever
// happens on the way: GBR down for a while, a lost answer, a stale envelope, a refusal. One clock
// drives both nodes and the worker, so backoff and staleness are reached without sleeping.

const NOW = Date.parse('2026-11-26T12:00:00.000Z');
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

function nodeKeys(): NodeKeys {
  const identity = createNodeIdentity();
  return { identity, public: publicIdentity(identity) };
}

const usaKeys = nodeKeys();
const gbrKeys = nodeKeys();

function partyOf(partner: string, keys: NodeKeys): ArrangementDocument['parties'][number] {
  return {
    partner,
    role: 'party',
    nodeKeys: [
      { use: 'signing', fingerprint: keys.public.signing.fingerprint },
      { use: 'encryption', fingerprint: keys.public.encryption.fingerprint },
    ],
  };
}

/** USA-GBR, SIGINT and CYBINT on counterterrorism and cyber, signed for real by both nodes. */
function arrangementOf(id: string): ArrangementDocument {
  const unsigned = makeArrangement({
    id,
    parties: [partyOf('USA', usaKeys), partyOf('GBR', gbrKeys)],
    scope: {
      disciplines: ['SIGINT', 'CYBINT'],
      categories: ['counterterrorism', 'cyber'],
      ceiling: 'TOP SECRET',
      caveats: ['SI'],
      controls: ['ORCON'],
    },
    releaseApproval: { fromLevel: 'SECRET', approvals: 1 },
    signatures: [],
  });
  const hash = arrangementVersionHash(unsigned);
  return {
    ...unsigned,
    signatures: (
      [
        ['USA', usaKeys],
        ['GBR', gbrKeys],
      ] as const
    ).map(([partner, keys]) => ({
      partner,
      fingerprint: keys.public.signing.fingerprint,
      versionHash: hash,
      signedAt: '2025-01-01T00:00:00Z',
      signature: Buffer.from(signDigest(keys.identity.signing.privateKey, hash)).toString('base64'),
    })),
  };
}

const MAIN = arrangementOf('usa-gbr-ct');
/** Suspended in GBR's copy only: USA still releases under it, GBR refuses on arrival. */
const SUSPENDED = arrangementOf('usa-gbr-suspended');

let clockNow = NOW;
const clock = () => clockNow;

interface RunningNode {
  readonly node: AccordNode;
  readonly address: string;
}

/** Builds a node over `dataDir` (its SQLite file kept across restarts) and listens on 127.0.0.1:0. */
async function startNode(partner: string, dataDir: string, keys: NodeKeys): Promise<RunningNode> {
  const config = loadConfig({
    flags: { dataDir, partner, log: { level: 'silent' }, http: { host: '127.0.0.1', port: 0 } },
  });
  const store = await openStore(
    { kind: 'sqlite', file: join(dataDir, 'accord.sqlite') },
    { now: () => new Date(clock()) },
  );
  const node = await buildNode(config, { store, now: clock, keys });
  const address = await node.server.listen({ host: '127.0.0.1', port: 0 });
  return { node, address };
}

const usaDir = mkdtempSync(join(tmpdir(), 'accord-outbox-usa-'));
const gbrDir = mkdtempSync(join(tmpdir(), 'accord-outbox-gbr-'));
let usa: RunningNode;
let gbr: RunningNode | undefined;

/** Whether the next response is to be lost after the request reached GBR (read, then dropped). */
let loseNextResponse = false;
const losingFetch: typeof globalThis.fetch = async (input, init) => {
  const response = await globalThis.fetch(input, init);
  if (!loseNextResponse) return response;
  loseNextResponse = false;
  await response.arrayBuffer();
  throw new TypeError('fetch failed: the connection dropped before the answer arrived');
};

let worker: OutboxWorker;
let analyst: Actor;
let officer: Actor;
let officerHeaders: Record<string, string>;

async function setDirectory(gbrEndpoint: string | null): Promise<void> {
  await usa.node.store.partners.upsert({
    code: 'GBR',
    name: 'United Kingdom',
    endpoint: gbrEndpoint,
    keys: partnerKeysOf(gbrKeys.public),
  });
}

/** Writes, approves and releases a product at USA to GBR; returns its id and its outbox row id. */
async function release(arrangement: ArrangementDocument = MAIN): Promise<{ id: string; messageId: string }> {
  const products = usa.node.services.products;
  const draft = await products.createDraft(analyst, makeDraft());
  await products.submit(analyst, draft.id);
  await products.decide(officer, draft.id, 'approved');
  const outcome = await products.release(officer, draft.id, 'GBR', arrangement.id);
  const [row] = (await usa.node.store.outbox.list({ limit: 200 })).filter(
    (m) => m.releaseId === outcome.releaseId,
  );
  if (row === undefined) throw new Error('the release queued nothing');
  return { id: draft.id, messageId: row.id };
}

/** How many times GBR holds the product: exactly once is the invariant. */
async function copiesAtGbr(productId: string): Promise<number> {
  if (gbr === undefined) throw new Error('GBR is down');
  const all = await gbr.node.store.receivedProducts.list({ sender: 'USA', limit: 500 });
  return all.filter((p) => p.productId === productId).length;
}

function gbrReceiptKey(from: string, fingerprint: string) {
  return from === 'GBR' && fingerprint === gbrKeys.public.signing.fingerprint
    ? gbrKeys.identity.signing.publicKey
    : undefined;
}

function problem(status: number, code: string, detail: string): Response {
  return new Response(JSON.stringify({ type: 'about:blank', title: 'x', status, code, detail }), {
    status,
    headers: { 'content-type': 'application/problem+json' },
  });
}

async function outboxViaApi(): Promise<readonly OutboxEntry[]> {
  const response = await usa.node.server.inject({
    method: 'GET',
    url: '/api/v1/outbox',
    headers: officerHeaders,
  });
  expect(response.statusCode, response.body).toBe(200);
  return JSON.parse(response.body) as OutboxEntry[];
}

beforeAll(async () => {
  usa = await startNode('USA', usaDir, usaKeys);
  gbr = await startNode('GBR', gbrDir, gbrKeys);
  for (const { node } of [usa, gbr]) {
    for (const [code, name, keys] of [
      ['USA', 'United States', usaKeys],
      ['GBR', 'United Kingdom', gbrKeys],
    ] as const) {
      await node.store.partners.upsert({ code, name, endpoint: null, keys: partnerKeysOf(keys.public) });
    }
    for (const doc of [MAIN, SUSPENDED]) await node.store.arrangements.putVersion(doc);
  }
  await gbr.node.store.arrangements.setStatus(SUSPENDED.id, SUSPENDED.version, 'suspended');
  await setDirectory(gbr.address);

  ({ analyst, officer } = await addUsaWorkflowActors(usa.node));
  const { token } = await usa.node.services.auth.issueToken(officer.user.id, 'outbox test');
  officerHeaders = { authorization: `Bearer ${token}` };

  worker = new OutboxWorker({
    store: usa.node.store,
    keys: usaKeys,
    partner: 'USA',
    now: clock,
    fetch: losingFetch,
    random: () => 0.5,
  });
});

afterAll(async () => {
  await worker?.stop();
  await usa?.node.close();
  await gbr?.node.close();
  rmSync(usaDir, { recursive: true, force: true });
  rmSync(gbrDir, { recursive: true, force: true });
});

describe('the outbox worker between two nodes on loopback', () => {
  it('delivers a release, stores the receipt GBR signed, and GBR holds the product once', async () => {
    const { id, messageId } = await release();
    expect(await worker.runOnce()).toEqual({ delivered: 1, retrying: 0, failed: 0 });

    const row = await usa.node.store.outbox.get(messageId);
    expect(row).toMatchObject({ status: 'delivered', attempts: 0, lastError: null });
    const receipt = verifyReceipt(row?.receipt, gbrReceiptKey);
    expect(receipt).toMatchObject({
      envelopeId: messageId,
      from: 'GBR',
      to: 'USA',
      product: { id, version: 1 },
      outcome: 'stored',
    });
    expect(await copiesAtGbr(id)).toBe(1);
    // Nothing is due any more: a second round sends nothing.
    expect(await worker.runOnce()).toEqual({ delivered: 0, retrying: 0, failed: 0 });
  });

  it('keeps 20 releases pending with backoff while GBR is down, and delivers each once when it returns', async () => {
    await gbr?.node.close();
    gbr = undefined;

    const released = [];
    for (let i = 0; i < 20; i += 1) released.push(await release());

    expect(await worker.runOnce()).toEqual({ delivered: 0, retrying: 20, failed: 0 });
    const entries = await outboxViaApi();
    for (const { messageId } of released) {
      const entry = entries.find((e) => e.id === messageId);
      expect(entry).toMatchObject({ recipient: 'GBR', status: 'pending', attempts: 1, deliveredAt: null });
      expect(entry?.lastError).toMatch(
        /GBR at http:\/\/127\.0\.0\.1:\d+\/federation\/v1\/inbox did not answer/,
      );
      // baseMs 1 s with equal jitter at 0.5: due 0.75 s from now.
      expect(Date.parse(entry?.nextAttemptAt ?? '')).toBe(clockNow + 750);
      expect(entry).not.toHaveProperty('payload');
    }
    // Not due yet: the round sends nothing.
    expect(await worker.runOnce()).toEqual({ delivered: 0, retrying: 0, failed: 0 });

    // A second failure waits twice as long.
    clockNow += SECOND;
    expect(await worker.runOnce()).toEqual({ delivered: 0, retrying: 20, failed: 0 });
    const again = await usa.node.store.outbox.get(released[0]?.messageId ?? '');
    expect(again).toMatchObject({ status: 'pending', attempts: 2 });
    expect(Date.parse(again?.nextAttemptAt ?? '')).toBe(clockNow + 1500);

    // GBR comes back on the same data directory at a new port; USA learns the new endpoint. It has
    // been away 10 minutes, longer than the skew window: the worker seals each envelope again.
    clockNow += 10 * MINUTE;
    gbr = await startNode('GBR', gbrDir, gbrKeys);
    await setDirectory(gbr.address);
    expect(await worker.runOnce()).toEqual({ delivered: 20, retrying: 0, failed: 0 });
    for (const { id, messageId } of released) {
      expect(await copiesAtGbr(id)).toBe(1);
      const row = await usa.node.store.outbox.get(messageId);
      expect(row?.status).toBe('delivered');
      expect(verifyReceipt(row?.receipt, gbrReceiptKey)).toMatchObject({ envelopeId: messageId });
    }
  });

  it('retries after a lost answer, re-sealed, and GBR still holds the product once', async () => {
    const { id, messageId } = await release();
    loseNextResponse = true;
    expect(await worker.runOnce()).toEqual({ delivered: 0, retrying: 1, failed: 0 });
    // The request reached GBR: it stored the product, but USA never heard.
    expect(await copiesAtGbr(id)).toBe(1);
    const lost = await usa.node.store.outbox.get(messageId);
    expect(lost).toMatchObject({ status: 'pending', attempts: 1 });
    expect(lost?.lastError).toMatch(/connection dropped/);
    const inboxBefore = (await gbr?.node.store.counts())?.inbox;

    // Three minutes on, over half the skew window: the retry is the same id sealed afresh, so
    // GBR's inbox recognises it by id and answers with the receipt it stored the first time.
    clockNow += 3 * MINUTE;
    expect(await worker.runOnce()).toEqual({ delivered: 1, retrying: 0, failed: 0 });
    expect(await copiesAtGbr(id)).toBe(1);
    expect((await gbr?.node.store.counts())?.inbox).toBe(inboxBefore);
    const row = await usa.node.store.outbox.get(messageId);
    expect(row?.status).toBe('delivered');
    const stored = await gbr?.node.store.inbox.get(messageId);
    expect(row?.receipt).toEqual(stored?.receipt);
  });

  it('seals an envelope left two hours in the outbox again, under the same id, and GBR takes it', async () => {
    const { id, messageId } = await release();
    const queued = (await usa.node.store.outbox.get(messageId))?.payload as SealedRelease;
    clockNow += 2 * HOUR;
    expect(await worker.runOnce()).toEqual({ delivered: 1, retrying: 0, failed: 0 });
    expect(await copiesAtGbr(id)).toBe(1);
    const row = await usa.node.store.outbox.get(messageId);
    expect(verifyReceipt(row?.receipt, gbrReceiptKey)).toMatchObject({
      envelopeId: messageId,
      outcome: 'stored',
      receivedAt: new Date(clockNow).toISOString(),
    });
    // GBR recorded the envelope it took: the queued id, but not the queued (stale) bytes.
    const entry = await gbr?.node.store.inbox.get(messageId);
    expect(entry?.outcome).toBe('stored');
    expect(queued.envelope.header.envelopeId).toBe(messageId);
    expect(entry?.envelopeDigest).not.toBe(digestOf(queued.envelope));
  });

  it('gives up on a release GBR refuses, with the reason and receipt visible through GET /api/v1/outbox', async () => {
    const { id, messageId } = await release(SUSPENDED);
    expect(await worker.runOnce()).toEqual({ delivered: 0, retrying: 0, failed: 1 });
    expect(await copiesAtGbr(id)).toBe(0);

    const entry = (await outboxViaApi()).find((e) => e.id === messageId);
    expect(entry).toMatchObject({
      recipient: 'GBR',
      product: { id, version: 1 },
      status: 'failed',
      attempts: 1,
      deliveredAt: null,
      hasReceipt: true,
    });
    expect(entry?.lastError).toMatch(/FEDERATION_REFUSED/);
    expect(entry?.lastError).toMatch(/is suspended/);
    const row = await usa.node.store.outbox.get(messageId);
    expect(verifyReceipt(row?.receipt, gbrReceiptKey)).toMatchObject({
      envelopeId: messageId,
      outcome: 'refused',
    });
    // Given up: later rounds leave it alone.
    clockNow += HOUR;
    expect(await worker.runOnce()).toEqual({ delivered: 0, retrying: 0, failed: 0 });
  });

  it('records why it cannot deliver to a partner with no endpoint, and keeps the release pending', async () => {
    await setDirectory(null);
    const { messageId } = await release();
    expect(await worker.runOnce()).toEqual({ delivered: 0, retrying: 1, failed: 0 });
    const row = await usa.node.store.outbox.get(messageId);
    expect(row).toMatchObject({ status: 'pending', attempts: 1 });
    expect(row?.lastError).toMatch(/no endpoint on record for GBR/);
    await setDirectory(gbr?.address ?? null);
    clockNow += MINUTE;
    expect(await worker.runOnce()).toEqual({ delivered: 1, retrying: 0, failed: 0 });
  });

  it('retries a timeout, a 503 and a 429, and gives up on a 400, recording each reason', async () => {
    const answers: (() => Response | 'hang')[] = [
      () => 'hang',
      () => problem(503, 'SERVICE_UNAVAILABLE', 'down for maintenance'),
      () => problem(429, 'AUTH_THROTTLED', 'slow down'),
      () => problem(400, 'ENVELOPE_MALFORMED', 'envelope /header: is wrong'),
    ];
    const stubbed = new OutboxWorker({
      store: usa.node.store,
      keys: usaKeys,
      partner: 'USA',
      now: clock,
      timeoutMs: 50,
      random: () => 0,
      fetch: (_input, init) => {
        const answer = answers.shift()?.() ?? 'hang';
        if (answer !== 'hang') return Promise.resolve(answer);
        // Never answers; only the worker's timeout ends the request.
        return new Promise((_resolve, reject) => {
          init?.signal?.addEventListener('abort', () => reject(init.signal?.reason));
        });
      },
    });
    const { messageId } = await release();
    const reasons: (string | null)[] = [];
    for (const expected of [
      { delivered: 0, retrying: 1, failed: 0 },
      { delivered: 0, retrying: 1, failed: 0 },
      { delivered: 0, retrying: 1, failed: 0 },
      { delivered: 0, retrying: 0, failed: 1 },
    ]) {
      expect(await stubbed.runOnce()).toEqual(expected);
      const row = await usa.node.store.outbox.get(messageId);
      reasons.push(row?.lastError ?? null);
      if (row?.status === 'pending') {
        // Backoff doubles per attempt (jitter 0: half the delay): 0.5 s, 1 s, 2 s.
        expect(Date.parse(row.nextAttemptAt)).toBe(clockNow + 500 * 2 ** (row.attempts - 1));
      }
      clockNow += MINUTE;
    }
    expect(reasons[0]).toMatch(/did not answer: .*(timeout|aborted)/i);
    expect(reasons[1]).toBe('GBR answered 503: SERVICE_UNAVAILABLE: down for maintenance');
    expect(reasons[2]).toBe('GBR answered 429: AUTH_THROTTLED: slow down');
    expect(reasons[3]).toBe('GBR refused it (400) ENVELOPE_MALFORMED: envelope /header: is wrong');
    expect(await usa.node.store.outbox.get(messageId)).toMatchObject({ status: 'failed', attempts: 4 });
  });

  it('gives up at once on rows it can never send: an unsealed release, a row holding no envelope', async () => {
    const [any] = await usa.node.store.outbox.list({ limit: 1 });
    if (any?.releaseId == null) throw new Error('no release outbox row to hang these on');
    const unsealed = await usa.node.store.outbox.enqueue({
      id: randomUUID(),
      releaseId: any.releaseId,
      recipient: 'GBR',
      payload: { sealed: false, kind: 'release' },
    });
    const garbled = await usa.node.store.outbox.enqueue({
      id: randomUUID(),
      releaseId: any.releaseId,
      recipient: 'GBR',
      payload: { header: { v: 1 } },
    });
    expect(await worker.runOnce()).toEqual({ delivered: 0, retrying: 0, failed: 2 });
    expect((await usa.node.store.outbox.get(unsealed.id))?.lastError).toMatch(/queued unsealed/);
    expect((await usa.node.store.outbox.get(garbled.id))?.lastError).toMatch(/holds no envelope to send/);
  });

  it('stops at once while a delivery waits on a partner that never answers, and the row is sent again later', async () => {
    const { id, messageId } = await release();
    let reached: () => void = () => undefined;
    const waiting = new Promise<void>((resolve) => {
      reached = resolve;
    });
    // GBR hung: the request is accepted and never answered, until the worker gives up on it.
    const hanging: typeof globalThis.fetch = (_input, init) =>
      new Promise((_resolve, reject) => {
        reached();
        init?.signal?.addEventListener('abort', () => reject(init.signal?.reason));
      });
    const stalled = new OutboxWorker({
      store: usa.node.store,
      keys: usaKeys,
      partner: 'USA',
      now: clock,
      fetch: hanging,
      timeoutMs: HOUR,
    });
    stalled.start(HOUR);
    await waiting;
    const started = Date.now();
    await stalled.stop();
    // Not an hour (the delivery timeout) per due row: the node can shut down now.
    expect(Date.now() - started).toBeLessThan(2 * SECOND);
    // The cut-short attempt is no failure of GBR's: nothing recorded, the row due as before.
    expect(await usa.node.store.outbox.get(messageId)).toMatchObject({
      status: 'pending',
      attempts: 0,
      lastError: null,
    });
    expect((await worker.runOnce()).delivered).toBeGreaterThanOrEqual(1);
    expect((await usa.node.store.outbox.get(messageId))?.status).toBe('delivered');
    expect(await copiesAtGbr(id)).toBe(1);
  });

  it('waits out one delivery timeout a round for a partner that hangs, not one per due row', async () => {
    const released = [];
    for (let i = 0; i < 5; i += 1) released.push(await release());
    let calls = 0;
    const hanging: typeof globalThis.fetch = (_input, init) =>
      new Promise((_resolve, reject) => {
        calls += 1;
        init?.signal?.addEventListener('abort', () => reject(init.signal?.reason));
      });
    const stalled = new OutboxWorker({
      store: usa.node.store,
      keys: usaKeys,
      partner: 'USA',
      now: clock,
      fetch: hanging,
      timeoutMs: 200,
      random: () => 0.5,
    });
    const round = await stalled.runOnce();
    // One request timed out; GBR's other due rows were not sent into the same silence.
    expect(calls).toBe(1);
    expect(round.retrying).toBeGreaterThanOrEqual(released.length);
    for (const { messageId } of released) {
      const row = await usa.node.store.outbox.get(messageId);
      expect(row).toMatchObject({ status: 'pending', attempts: 1 });
      expect(row?.lastError).toMatch(
        /^GBR at http:\/\/127\.0\.0\.1:\d+\/federation\/v1\/inbox did not answer/,
      );
    }
    // Due again after the backoff, each is delivered once.
    clockNow += 2 * SECOND;
    expect((await worker.runOnce()).delivered).toBeGreaterThanOrEqual(released.length);
    for (const { id } of released) expect(await copiesAtGbr(id)).toBe(1);
  });

  it('runs rounds on a timer until stopped, never two at once', async () => {
    const { messageId } = await release();
    worker.start(10);
    for (let i = 0; i < 200; i += 1) {
      if ((await usa.node.store.outbox.get(messageId))?.status === 'delivered') break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await worker.stop();
    expect((await usa.node.store.outbox.get(messageId))?.status).toBe('delivered');
    const [a, b] = [worker.runOnce(), worker.runOnce()];
    expect(a).toBe(b);
    await a;
  });
});
