import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AccordNode, buildNode } from '../../src/app/node.js';
import { type NodeKeys, partnerKeysOf, signerOf } from '../../src/app/node-keys.js';
import type { ArrangementDocument } from '../../src/arrangements/index.js';
import { loadConfig } from '../../src/config/index.js';
import { createNodeIdentity, digestOf, publicIdentity } from '../../src/crypto/index.js';
import {
  type Envelope,
  isRecalledDocument,
  newEnvelopeHeader,
  productDigest,
  type RecallPayload,
  recallDigest,
  sealEnvelope,
  signArrangementAs,
  verifyReceipt,
  withPinnedKeys,
} from '../../src/federation/index.js';
import type { Actor } from '../../src/services/actor.js';
import { OutboxWorker } from '../../src/services/outbox-worker.js';
import type { SealedRelease } from '../../src/services/product-service.js';
import type { RecallStatus, SealedRecall } from '../../src/services/recall-service.js';
import { openStore, type ReceivedProduct } from '../../src/store/index.js';
import { makeArrangement } from '../fixtures/builders.js';
import { addUsaWorkflowActors, makeDraft } from './harness.js';

// Issue 4, recall, across two real nodes on loopback: USA releases to GBR, then recalls; its
// outbox worker delivers the recall over HTTP to GBR's inbox, which erases the content it holds,
// keeps the metadata and answers with a signed receipt that USA shows per recipient. CAN is a
// third party to the main arrangement (its keys pinned, no node running) that tries to recall
// what it did not originate. One clock drives both nodes and the worker.

const NOW = Date.parse('2026-11-26T12:00:00.000Z');
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

function nodeKeys(): NodeKeys {
  const identity = createNodeIdentity();
  return { identity, public: publicIdentity(identity) };
}

const KEYS = { USA: nodeKeys(), GBR: nodeKeys(), CAN: nodeKeys() } as const;
type Party = keyof typeof KEYS;

/** SIGINT and CYBINT on counterterrorism and cyber, its parties' keys pinned and signed by each. */
function arrangementOf(id: string, parties: readonly Party[]): ArrangementDocument {
  const terms = withPinnedKeys(
    makeArrangement({
      id,
      parties: [...parties],
      scope: {
        disciplines: ['SIGINT', 'CYBINT'],
        categories: ['counterterrorism', 'cyber'],
        ceiling: 'TOP SECRET',
        caveats: ['SI'],
        controls: ['ORCON'],
      },
      releaseApproval: { fromLevel: 'SECRET', approvals: 1 },
    }),
    new Map(parties.map((p) => [p, KEYS[p].public])),
  );
  return parties.reduce(
    (doc, party) => signArrangementAs(doc, party, signerOf(KEYS[party]), '2025-01-01T00:00:00Z'),
    terms,
  );
}

const MAIN = arrangementOf('usa-gbr-can-ct', ['USA', 'GBR', 'CAN']);
/** Suspended in GBR's copy only: USA still releases under it, GBR refuses on arrival. */
const SUSPENDED = arrangementOf('usa-gbr-suspended', ['USA', 'GBR']);

let clockNow = NOW;
const clock = () => clockNow;

interface RunningNode {
  readonly node: AccordNode;
  readonly address: string;
  readonly file: string;
}

async function startNode(partner: Party, dataDir: string): Promise<RunningNode> {
  const config = loadConfig({
    flags: { dataDir, partner, log: { level: 'silent' }, http: { host: '127.0.0.1', port: 0 } },
  });
  const file = join(dataDir, 'accord.sqlite');
  const store = await openStore({ kind: 'sqlite', file }, { now: () => new Date(clock()) });
  const node = await buildNode(config, { store, now: clock, keys: KEYS[partner] });
  const address = await node.server.listen({ host: '127.0.0.1', port: 0 });
  return { node, address, file };
}

const usaDir = mkdtempSync(join(tmpdir(), 'accord-recall-usa-'));
const gbrDir = mkdtempSync(join(tmpdir(), 'accord-recall-gbr-'));
let usa: RunningNode;
let gbr: RunningNode;
let worker: OutboxWorker;
let analyst: Actor;
let officer: Actor;
let officerHeaders: Record<string, string>;
let analystHeaders: Record<string, string>;

async function setGbrEndpoint(endpoint: string | null): Promise<void> {
  await usa.node.store.partners.upsert({
    code: 'GBR',
    name: 'United Kingdom',
    endpoint,
    keys: partnerKeysOf(KEYS.GBR.public),
  });
}

/** Writes and approves a product at USA; returns its id. */
async function approved(overrides: Parameters<typeof makeDraft>[0] = {}): Promise<string> {
  const products = usa.node.services.products;
  const draft = await products.createDraft(analyst, makeDraft(overrides));
  await products.submit(analyst, draft.id);
  await products.decide(officer, draft.id, 'approved');
  return draft.id;
}

/** Releases a product to GBR; returns its id and the release's outbox row id. */
async function release(
  arrangement: ArrangementDocument = MAIN,
  overrides: Parameters<typeof makeDraft>[0] = {},
): Promise<{ id: string; messageId: string }> {
  const id = await approved(overrides);
  const outcome = await usa.node.services.products.release(officer, id, 'GBR', arrangement.id);
  const row = (await usa.node.store.outbox.list({ releaseId: outcome.releaseId }))[0];
  if (row === undefined) throw new Error('the release queued nothing');
  return { id, messageId: row.id };
}

async function recallViaApi(id: string, body: Record<string, unknown>): Promise<LightMyRequestResponse> {
  return usa.node.server.inject({
    method: 'POST',
    url: `/api/v1/products/${id}/recall`,
    headers: officerHeaders,
    payload: body,
  });
}

async function recallsViaApi(id: string): Promise<RecallStatus[]> {
  const response = await usa.node.server.inject({
    method: 'GET',
    url: `/api/v1/products/${id}/recalls`,
    headers: officerHeaders,
  });
  expect(response.statusCode, response.body).toBe(200);
  return JSON.parse(response.body) as RecallStatus[];
}

/** Recalls through the API and returns the recall and its outbox rows at USA. */
async function recall(id: string, reason = 'The source has withdrawn the reporting.', version?: number) {
  const response = await recallViaApi(id, version === undefined ? { reason } : { reason, version });
  expect(response.statusCode, response.body).toBe(201);
  const status = JSON.parse(response.body) as RecallStatus;
  const rows = await usa.node.store.outbox.list({ recallId: status.recallId });
  return { status, rows };
}

async function copiesAtGbr(productId: string): Promise<readonly ReceivedProduct[]> {
  return gbr.node.store.receivedProducts.list({ productId, limit: 500 });
}

async function postToGbr(envelope: unknown): Promise<LightMyRequestResponse> {
  return gbr.node.server.inject({ method: 'POST', url: '/federation/v1/inbox', payload: envelope as object });
}

function gbrReceiptKey(from: string, fingerprint: string) {
  return from === 'GBR' && fingerprint === KEYS.GBR.public.signing.fingerprint
    ? KEYS.GBR.identity.signing.publicKey
    : undefined;
}

/** Every column of GBR's received_products rows as the database holds them, read past the repository. */
function rawReceivedRows(): string {
  const db = new BetterSqlite3(gbr.file, { readonly: true });
  try {
    const rows = db.prepare('select * from received_products').all() as Record<string, unknown>[];
    return rows.map((row) => Object.values(row).join('\u0000')).join('\n');
  } finally {
    db.close();
  }
}

/** A recall envelope sealed by `from` to GBR under MAIN, as a (possibly hostile) peer would make one. */
function recallEnvelopeFrom(
  from: Party,
  productId: string,
  overrides: Partial<RecallPayload> = {},
): Envelope {
  const signer = signerOf(KEYS[from]);
  const arrangement = {
    id: MAIN.id,
    version: MAIN.version,
    versionHash: MAIN.signatures[0]?.versionHash ?? '',
  };
  const header = newEnvelopeHeader(
    {
      kind: 'recall',
      from,
      to: 'GBR',
      arrangement,
      product: { id: productId, version: 1 },
      senderKey: signer.fingerprint,
    },
    { now: clockNow, randomBytes: (n) => new Uint8Array(randomBytes(n)) },
  );
  const payload: RecallPayload = {
    kind: 'recall',
    arrangement,
    recallId: randomUUID(),
    product: { id: productId, version: 1 },
    originator: from,
    reason: `${from} wants it back`,
    recalledAt: new Date(clockNow).toISOString(),
    ...overrides,
  };
  return sealEnvelope({
    header,
    payload,
    signer,
    recipientEncryptionKey: KEYS.GBR.identity.encryption.publicKey,
  });
}

beforeAll(async () => {
  usa = await startNode('USA', usaDir);
  gbr = await startNode('GBR', gbrDir);
  for (const { node } of [usa, gbr]) {
    for (const [code, name] of [
      ['USA', 'United States'],
      ['GBR', 'United Kingdom'],
      ['CAN', 'Canada'],
    ] as const) {
      await node.store.partners.upsert({
        code,
        name,
        endpoint: null,
        keys: partnerKeysOf(KEYS[code].public),
      });
    }
    for (const doc of [MAIN, SUSPENDED]) await node.store.arrangements.putVersion(doc);
  }
  await gbr.node.store.arrangements.setStatus(SUSPENDED.id, SUSPENDED.version, 'suspended');
  await setGbrEndpoint(gbr.address);

  ({ analyst, officer } = await addUsaWorkflowActors(usa.node));
  officerHeaders = {
    authorization: `Bearer ${(await usa.node.services.auth.issueToken(officer.user.id, 'recall test')).token}`,
  };
  analystHeaders = {
    authorization: `Bearer ${(await usa.node.services.auth.issueToken(analyst.user.id, 'recall test')).token}`,
  };
  worker = new OutboxWorker({
    store: usa.node.store,
    keys: KEYS.USA,
    partner: 'USA',
    now: clock,
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

describe('recall of a product between two nodes on loopback', () => {
  it('erases the content at GBR, keeps the metadata, and shows USA the signed acknowledgement', async () => {
    const { id } = await release();
    expect(await worker.runOnce()).toEqual({ delivered: 1, retrying: 0, failed: 0 });
    const [held] = await copiesAtGbr(id);
    if (held === undefined || held.recalledAt !== null) throw new Error('GBR holds no copy to recall');
    expect(rawReceivedRows()).toContain(held.document.portions[0]?.text);

    const { status, rows } = await recall(id);
    // Logged for the audit in the recall's transaction: who recalled what, never the reason.
    const logged = (await usa.node.store.audit.pending(10_000)).map((q) => JSON.parse(q.entryJson));
    expect(logged.filter((e) => e.action === 'product.recalled')).toEqual([
      expect.objectContaining({
        actor: expect.objectContaining({ username: officer.user.username }),
        product: { id },
      }),
    ]);
    expect(JSON.stringify(logged)).not.toContain('withdrawn the reporting');
    expect(status).toMatchObject({
      productId: id,
      version: 'all',
      reason: 'The source has withdrawn the reporting.',
      recalledBy: officer.user.username,
      recalledAt: new Date(clockNow).toISOString(),
      recipients: [
        {
          recipient: 'GBR',
          arrangement: { id: MAIN.id, version: 1 },
          status: 'pending',
          attempts: 0,
          acknowledgedAt: null,
          erased: null,
        },
      ],
    });
    expect((await usa.node.store.products.get(id))?.state).toBe('recalled');
    // The queued row holds the recall message, never the product.
    expect(JSON.stringify(rows[0]?.payload)).not.toContain(held.document.portions[0]?.text);

    clockNow += MINUTE;
    expect(await worker.runOnce()).toEqual({ delivered: 1, retrying: 0, failed: 0 });

    const [erased, ...others] = await copiesAtGbr(id);
    expect(others).toEqual([]);
    if (erased === undefined || erased.recalledAt === null) throw new Error('GBR did not erase its copy');
    const { document: _content, recalledAt: _never, recallEnvelopeId: _none, ...metadata } = held;
    expect(erased).toMatchObject({
      ...metadata,
      recalledAt: new Date(clockNow).toISOString(),
      recallEnvelopeId: rows[0]?.id,
    });
    expect(isRecalledDocument(erased.document)).toBe(true);
    expect(erased.document).toMatchObject({
      id,
      version: 1,
      originator: 'USA',
      titleMarking: held.document.titleMarking,
      banner: held.document.banner,
      portions: held.document.portions.map((p) => ({ id: p.id, marking: p.marking })),
      digest: productDigest(held.document),
      signature: held.document.signature,
    });
    const raw = rawReceivedRows();
    for (const text of [held.document.title, ...held.document.portions.map((p) => p.text)]) {
      expect(raw).not.toContain(text);
    }
    expect(await gbr.node.store.inbox.get(rows[0]?.id ?? '')).toMatchObject({
      kind: 'recall',
      outcome: 'stored',
    });

    const [listed] = await recallsViaApi(id);
    const delivery = listed?.recipients[0];
    expect(delivery).toMatchObject({
      recipient: 'GBR',
      status: 'acknowledged',
      acknowledgedAt: new Date(clockNow).toISOString(),
      erased: 1,
      lastError: null,
    });
    const queued = rows[0]?.payload as SealedRecall;
    expect(verifyReceipt(delivery?.receipt, gbrReceiptKey)).toEqual({
      envelopeId: rows[0]?.id,
      from: 'GBR',
      to: 'USA',
      product: { id, version: 1, digest: recallDigest(queued.recall.payload) },
      receivedAt: new Date(clockNow).toISOString(),
      outcome: 'recalled',
      erased: 1,
      signerKey: KEYS.GBR.public.signing.fingerprint,
    });

    // Recalled: USA releases it no more (no reader sees a recalled product), and recalls it no second time.
    const releasesBefore = (await usa.node.store.counts()).releases;
    const again = await usa.node.server.inject({
      method: 'POST',
      url: `/api/v1/products/${id}/releases`,
      headers: officerHeaders,
      payload: { to: 'GBR', arrangement: MAIN.id },
    });
    expect(again.statusCode).toBe(404);
    expect((await usa.node.store.counts()).releases).toBe(releasesBefore);
    expect((await recallViaApi(id, { reason: 'twice' })).statusCode).toBe(409);
  });

  it('answers a replayed recall envelope with the same receipt and erases nothing twice', async () => {
    const { id } = await release();
    await worker.runOnce();
    const { rows } = await recall(id);
    await worker.runOnce();
    const row = await usa.node.store.outbox.get(rows[0]?.id ?? '');
    expect(row?.status).toBe('delivered');
    const queued = row?.payload as SealedRecall;
    const [first] = await copiesAtGbr(id);
    const before = await gbr.node.store.counts();

    // The very envelope again (a retry after a lost answer): the stored receipt, 200.
    const replay = await postToGbr(queued.envelope);
    expect(replay.statusCode, replay.body).toBe(200);
    expect(JSON.parse(replay.body)).toEqual(row?.receipt);

    // The same recall sealed afresh under the same id, past half the skew window: the same answer.
    clockNow += 3 * MINUTE;
    const header = {
      ...newEnvelopeHeader(queued.recall.header, {
        now: clockNow,
        randomBytes: (n) => new Uint8Array(randomBytes(n)),
      }),
      envelopeId: queued.envelope.header.envelopeId,
    };
    const resealed = sealEnvelope({
      header,
      payload: queued.recall.payload,
      signer: signerOf(KEYS.USA),
      recipientEncryptionKey: KEYS.GBR.identity.encryption.publicKey,
    });
    const retry = await postToGbr(resealed);
    expect(retry.statusCode, retry.body).toBe(200);
    expect(JSON.parse(retry.body)).toEqual(row?.receipt);
    expect(await gbr.node.store.counts()).toEqual(before);
    expect(await copiesAtGbr(id)).toEqual([first]);

    // Another recall envelope from USA for the same product: acknowledged, and nothing is left to erase.
    const other = await postToGbr(recallEnvelopeFrom('USA', id));
    expect(other.statusCode, other.body).toBe(201);
    expect(verifyReceipt(JSON.parse(other.body), gbrReceiptKey)).toMatchObject({
      outcome: 'recalled',
      erased: 0,
    });
    expect(await copiesAtGbr(id)).toEqual([first]);
  });

  it('refuses a recall from a node that did not originate the product, and changes nothing', async () => {
    const { id } = await release();
    await worker.runOnce();
    const [held] = await copiesAtGbr(id);
    expect(held?.recalledAt).toBeNull();
    const before = await gbr.node.store.counts();

    // CAN is a pinned party to MAIN, so its envelope authenticates; it names itself the originator.
    const forged = recallEnvelopeFrom('CAN', id);
    const refused = await postToGbr(forged);
    expect(refused.statusCode, refused.body).toBe(403);
    const problem = JSON.parse(refused.body) as Record<string, unknown>;
    expect(problem).toMatchObject({ code: 'FEDERATION_REFUSED', deniedBy: ['recall.originator'] });
    expect(problem.detail).toMatch(/may recall only what it originated.*originated by USA/);
    expect(verifyReceipt(problem.receipt, gbrReceiptKey)).toMatchObject({
      envelopeId: forged.header.envelopeId,
      to: 'CAN',
      outcome: 'refused',
    });
    // Sent again, the same refusal; naming USA as the originator is malformed, not a recall by USA.
    expect((await postToGbr(forged)).statusCode).toBe(403);
    const impostor = await postToGbr(recallEnvelopeFrom('CAN', id, { originator: 'USA' }));
    expect(impostor.statusCode).toBe(400);
    expect(JSON.parse(impostor.body)).toMatchObject({
      code: 'ENVELOPE_MALFORMED',
      field: '/payload/originator',
    });

    expect(await copiesAtGbr(id)).toEqual([held]);
    // Only the two refusals are recorded, in the inbox; no recall is kept, nothing erased.
    // Each refusal is also logged for the audit (issue 5), as metadata only.
    expect(await gbr.node.store.counts()).toEqual({
      ...before,
      inbox: before.inbox + 2,
      audit_queue: before.audit_queue + 2,
    });
  });

  it('recalls a product never released without queueing any envelope, and refuses what it cannot recall', async () => {
    const id = await approved();
    const outboxBefore = (await usa.node.store.counts()).outbox;
    const { status } = await recall(id, 'Withdrawn before release.');
    expect(status.recipients).toEqual([]);
    expect((await usa.node.store.counts()).outbox).toBe(outboxBefore);
    expect((await usa.node.store.products.get(id))?.state).toBe('recalled');

    const draft = await usa.node.services.products.createDraft(analyst, makeDraft());
    const rejected = await usa.node.services.products.createDraft(analyst, makeDraft());
    await usa.node.services.products.submit(analyst, rejected.id);
    await usa.node.services.products.decide(officer, rejected.id, 'rejected');
    const cases: [string, Record<string, string>, Record<string, unknown>, number, string][] = [
      // Another author's draft is no one else's to see.
      [draft.id, officerHeaders, { reason: 'a draft' }, 404, 'NOT_FOUND'],
      [rejected.id, officerHeaders, { reason: 'rejected' }, 409, 'PRODUCT_STATE_INVALID'],
      [id, officerHeaders, { reason: 'again' }, 409, 'PRODUCT_STATE_INVALID'],
      ['no-such-product', officerHeaders, { reason: 'nothing' }, 404, 'NOT_FOUND'],
      [id, analystHeaders, { reason: 'not mine to recall' }, 403, 'FORBIDDEN'],
      [id, officerHeaders, {}, 400, 'INPUT_INVALID'],
      [id, officerHeaders, { reason: '   ' }, 400, 'INPUT_INVALID'],
      [id, officerHeaders, { reason: 'x', extra: 1 }, 400, 'INPUT_INVALID'],
    ];
    for (const [target, headers, payload, code, problem] of cases) {
      const response = await usa.node.server.inject({
        method: 'POST',
        url: `/api/v1/products/${target}/recall`,
        headers,
        payload,
      });
      expect(response.statusCode, `${target} ${JSON.stringify(payload)}: ${response.body}`).toBe(code);
      expect(JSON.parse(response.body).code).toBe(problem);
    }
    const other = await approved();
    const noVersion = await recallViaApi(other, { reason: 'no such version', version: 2 });
    expect(noVersion.statusCode).toBe(404);
    expect((await usa.node.store.products.get(other))?.state).toBe('approved');
    expect((await usa.node.store.counts()).outbox).toBe(outboxBefore);
  });

  it('withdraws a release still waiting, and GBR, told of the recall first, refuses that release later', async () => {
    await setGbrEndpoint(null);
    const { id, messageId } = await release();
    expect(await worker.runOnce()).toEqual({ delivered: 0, retrying: 1, failed: 0 });
    const { rows } = await recall(id, 'Recalled while undelivered.');
    const withdrawn = await usa.node.store.outbox.get(messageId);
    expect(withdrawn?.status).toBe('failed');
    expect(withdrawn?.lastError).toMatch(
      /^recalled before delivery \(recall [0-9a-f-]{36}\): Recalled while undelivered\.$/,
    );

    await setGbrEndpoint(gbr.address);
    clockNow += MINUTE;
    expect(await worker.runOnce()).toEqual({ delivered: 1, retrying: 0, failed: 0 });
    const [listed] = await recallsViaApi(id);
    expect(listed?.recipients).toMatchObject([{ recipient: 'GBR', status: 'acknowledged', erased: 0 }]);
    expect(await copiesAtGbr(id)).toEqual([]);
    expect(rows).toHaveLength(1);

    // The release in flight when the recall committed arrives after all: refused, nothing stored.
    const late = await postToGbr((withdrawn?.payload as SealedRelease | undefined)?.envelope);
    expect(late.statusCode, late.body).toBe(403);
    expect(JSON.parse(late.body)).toMatchObject({
      code: 'FEDERATION_REFUSED',
      deniedBy: ['product.recalled'],
    });
    expect(await copiesAtGbr(id)).toEqual([]);
  });

  it('acknowledges the recall of a release GBR refused on arrival, under a suspended arrangement', async () => {
    const { id } = await release(SUSPENDED);
    expect(await worker.runOnce()).toEqual({ delivered: 0, retrying: 0, failed: 1 });
    // This time one version, by number: the recall names it, and so does the receipt.
    const { status, rows } = await recall(id, 'Version 1 only.', 1);
    expect(status.version).toBe(1);
    expect((rows[0]?.payload as SealedRecall | undefined)?.recall.payload.product).toEqual({
      id,
      version: 1,
    });
    expect(await worker.runOnce()).toEqual({ delivered: 1, retrying: 0, failed: 0 });
    const [listed] = await recallsViaApi(id);
    expect(listed?.recipients).toMatchObject([
      { recipient: 'GBR', arrangement: { id: SUSPENDED.id, version: 1 }, status: 'acknowledged', erased: 0 },
    ]);
  });

  it('seals a recall left two hours in the outbox again, under the same id, and GBR takes it', async () => {
    const { id } = await release();
    await worker.runOnce();
    await setGbrEndpoint(null);
    const { rows } = await recall(id);
    expect(await worker.runOnce()).toEqual({ delivered: 0, retrying: 1, failed: 0 });
    const queued = rows[0]?.payload as SealedRecall;

    clockNow += 2 * HOUR;
    await setGbrEndpoint(gbr.address);
    expect(await worker.runOnce()).toEqual({ delivered: 1, retrying: 0, failed: 0 });
    const entry = await gbr.node.store.inbox.get(queued.envelope.header.envelopeId);
    expect(entry).toMatchObject({ kind: 'recall', outcome: 'stored' });
    expect(entry?.envelopeDigest).not.toBe(digestOf(queued.envelope));
    expect((await copiesAtGbr(id))[0]?.recalledAt).toBe(new Date(clockNow).toISOString());
  });

  it('shows a recall the recipient refuses as failed, with the reason', async () => {
    const { id } = await release();
    await worker.runOnce();
    const stubbed = new OutboxWorker({
      store: usa.node.store,
      keys: KEYS.USA,
      partner: 'USA',
      now: clock,
      fetch: async () =>
        new Response(
          JSON.stringify({ status: 409, code: 'ARRANGEMENT_MISMATCH', detail: 'GBR holds other terms' }),
          { status: 409, headers: { 'content-type': 'application/problem+json' } },
        ),
    });
    await recall(id);
    expect(await stubbed.runOnce()).toEqual({ delivered: 0, retrying: 0, failed: 1 });
    const [listed] = await recallsViaApi(id);
    expect(listed?.recipients).toMatchObject([
      {
        recipient: 'GBR',
        status: 'failed',
        acknowledgedAt: null,
        lastError: 'GBR refused it (409) ARRANGEMENT_MISMATCH: GBR holds other terms',
      },
    ]);
    // GBR never heard: it still holds the content.
    expect((await copiesAtGbr(id))[0]?.recalledAt).toBeNull();
  });

  it('leaves no text of a recalled product in any row of GBR received_products (property)', async () => {
    const text = fc.string({ minLength: 1, maxLength: 24 }).map((s) => `recall-marker ${randomUUID()} ${s}`);
    await fc.assert(
      fc.asyncProperty(text, text, text, async (title, p1, p2) => {
        const { id } = await release(MAIN, {
          title,
          portions: [
            { marking: 'S//REL TO USA, GBR', text: p1 },
            { marking: 'C//REL TO USA, FVEY', text: p2 },
          ],
        });
        await worker.runOnce();
        // Before the recall GBR holds every word, so the check below can fail.
        for (const t of [title, p1, p2]) expect(rawReceivedRows()).toContain(JSON.stringify(t).slice(1, -1));
        await recall(id);
        clockNow += 1000;
        expect(await worker.runOnce()).toMatchObject({ delivered: 1 });
        const raw = rawReceivedRows();
        for (const t of [title, p1, p2]) {
          expect(raw).not.toContain(JSON.stringify(t).slice(1, -1));
          expect(raw).not.toContain(t);
        }
      }),
      { numRuns: 12 },
    );
  });
});
