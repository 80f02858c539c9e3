import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AccordNode, buildNode } from '../../src/app/node.js';
import { type NodeKeys, partnerKeysOf, signerOf } from '../../src/app/node-keys.js';
import { type ArrangementDocument, arrangementVersionHash } from '../../src/arrangements/index.js';
import { loadConfig } from '../../src/config/index.js';
import { createNodeIdentity, publicIdentity, signDigest } from '../../src/crypto/index.js';
import { isAccordError } from '../../src/errors/index.js';
import {
  type ConsentFields,
  consentSigningBytes,
  type DerivedDocument,
  type EnvelopeArrangement,
  newEnvelopeHeader,
  productDigest,
  type SignedConsent,
  type Signer,
  sealEnvelope,
  signArrangementAs,
  signConsent,
  verifyProductSignature,
  verifyReceipt,
  withPinnedKeys,
} from '../../src/federation/index.js';
import type { Actor } from '../../src/services/actor.js';
import type { ConsentRequestView } from '../../src/services/consent-service.js';
import { OutboxWorker } from '../../src/services/outbox-worker.js';
import { openStore } from '../../src/store/index.js';
import { makeArrangement } from '../fixtures/builders.js';
import { addUsaWorkflowActors, makeDraft } from './harness.js';

// Issue 4, the third-party rule by federation, across three nodes on loopback: USA originates,
// GBR holds what USA released to it, CAN is the new recipient GBR would pass it on to. Consent
// requests and answers travel through each node's outbox to the other's inbox, like releases.
// One clock drives the three nodes and their workers; each worker runs a round when told.

const NOW = Date.parse('2026-11-26T12:00:00.000Z');
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

function nodeKeys(): NodeKeys {
  const identity = createNodeIdentity();
  return { identity, public: publicIdentity(identity) };
}

const KEYS = { USA: nodeKeys(), GBR: nodeKeys(), CAN: nodeKeys(), AUS: nodeKeys() } as const;
type Partner = keyof typeof KEYS;
const usaSigner = signerOf(KEYS.USA);
const gbrSigner = signerOf(KEYS.GBR);

/** An arrangement among `parties`, each node's keys pinned and its signature real. */
function signedArrangement(
  id: string,
  parties: readonly Partner[],
  thirdPartyRule = true,
): ArrangementDocument {
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
      thirdPartyRule,
      releaseApproval: { fromLevel: 'SECRET', approvals: 1 },
    }),
    new Map(parties.map((p) => [p, KEYS[p].public])),
  );
  return parties.reduce(
    (doc, p) => signArrangementAs(doc, p, signerOf(KEYS[p]), '2025-01-01T00:00:00Z'),
    terms,
  );
}

/** USA, GBR, CAN and AUS (which runs no node here), third-party rule on. */
const FVEY = signedArrangement('fvey-ct', ['USA', 'GBR', 'CAN', 'AUS']);
/** The same four parties, the third-party rule waived by all of them. */
const WAIVED = signedArrangement('fvey-ct-waived', ['USA', 'GBR', 'CAN', 'AUS'], false);
/** GBR and CAN only: the originator is no party, so nothing it signed verifies under it. */
const GBR_CAN = signedArrangement('gbr-can', ['GBR', 'CAN']);

function onWire(doc: ArrangementDocument): EnvelopeArrangement {
  return { id: doc.id, version: doc.version, versionHash: arrangementVersionHash(doc) };
}

let clockNow = NOW;
const clock = () => clockNow;

interface RunningNode {
  readonly node: AccordNode;
  readonly address: string;
  readonly worker: OutboxWorker;
  readonly dir: string;
}

const nodes = {} as Record<'USA' | 'GBR' | 'CAN', RunningNode>;

async function startNode(partner: 'USA' | 'GBR' | 'CAN'): Promise<RunningNode> {
  const dir = mkdtempSync(join(tmpdir(), `accord-consent-${partner.toLowerCase()}-`));
  const config = loadConfig({
    flags: { dataDir: dir, partner, log: { level: 'silent' }, http: { host: '127.0.0.1', port: 0 } },
  });
  const store = await openStore(
    { kind: 'sqlite', file: join(dir, 'accord.sqlite') },
    { now: () => new Date(clock()) },
  );
  const keys = KEYS[partner];
  const node = await buildNode(config, { store, now: clock, keys });
  const address = await node.server.listen({ host: '127.0.0.1', port: 0 });
  const worker = new OutboxWorker({ store, keys, partner, now: clock, random: () => 0.5 });
  return { node, address, worker, dir };
}

/** A release officer of `partner`'s node (TOP SECRET, SI) with a bearer token for its API. */
async function officerOf(
  node: AccordNode,
  partner: string,
): Promise<{ actor: Actor; headers: Record<string, string> }> {
  const username = `officer.${partner.toLowerCase()}`;
  await node.services.directory.createUser(null, {
    username,
    displayName: username,
    nationality: partner,
    clearance: 'TOP SECRET',
    caveats: ['SI'],
    communities: [],
    roles: ['release-officer'],
  });
  const user = await node.store.users.getByUsername(username);
  if (user === undefined) throw new Error(`no user ${username}`);
  const { token } = await node.services.auth.issueToken(user.id, 'consent test');
  return { actor: { user, via: 'local' }, headers: { authorization: `Bearer ${token}` } };
}

let usaAnalyst: Actor;
let usaOfficer: Actor;
let usaHeaders: Record<string, string>;
let gbrHeaders: Record<string, string>;

beforeAll(async () => {
  clockNow = NOW;
  nodes.USA = await startNode('USA');
  nodes.GBR = await startNode('GBR');
  nodes.CAN = await startNode('CAN');
  const names = { USA: 'United States', GBR: 'United Kingdom', CAN: 'Canada', AUS: 'Australia' } as const;
  for (const { node } of Object.values(nodes)) {
    for (const code of Object.keys(KEYS) as Partner[]) {
      const running = code === 'AUS' ? undefined : nodes[code];
      await node.store.partners.upsert({
        code,
        name: names[code],
        endpoint: running?.address ?? null,
        keys: partnerKeysOf(KEYS[code].public),
      });
    }
    for (const doc of [FVEY, WAIVED, GBR_CAN]) await node.store.arrangements.putVersion(doc);
  }
  ({ analyst: usaAnalyst, officer: usaOfficer } = await addUsaWorkflowActors(nodes.USA.node));
  const { token } = await nodes.USA.node.services.auth.issueToken(usaOfficer.user.id, 'consent test');
  usaHeaders = { authorization: `Bearer ${token}` };
  ({ headers: gbrHeaders } = await officerOf(nodes.GBR.node, 'GBR'));
});

afterAll(async () => {
  for (const running of Object.values(nodes)) {
    await running?.worker.stop();
    await running?.node.close();
    if (running !== undefined) rmSync(running.dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------- helpers

/** Writes, approves and releases a USA product to GBR under `arrangement`; delivers it; returns its id. */
async function releasedToGbr(
  portions: readonly [marking: string, text: string][],
  arrangement: ArrangementDocument = FVEY,
): Promise<string> {
  const products = nodes.USA.node.services.products;
  const draft = await products.createDraft(
    usaAnalyst,
    makeDraft({
      titleMarking: '(U)',
      portions: portions.map(([marking, text], i) => ({ id: `p${i + 1}`, marking, text })),
    }),
  );
  await products.submit(usaAnalyst, draft.id);
  await products.decide(usaOfficer, draft.id, 'approved');
  await products.release(usaOfficer, draft.id, 'GBR', arrangement.id);
  expect(await nodes.USA.worker.runOnce()).toMatchObject({ delivered: 1, failed: 0 });
  expect(await nodes.GBR.node.store.receivedProducts.get(draft.id)).toBeDefined();
  return draft.id;
}

const FVEY_PORTIONS: readonly [string, string][] = [
  ['(S//REL TO USA, GBR, CAN)', 'A facilitator arranges three transfers this week.'],
  ['(C//REL TO USA, FVEY)', 'The transfers go through two hawala brokers.'],
];

async function api(
  running: RunningNode,
  headers: Record<string, string>,
  method: 'GET' | 'POST',
  url: string,
  payload?: object,
): Promise<LightMyRequestResponse> {
  return running.node.server.inject({ method, url, headers, ...(payload === undefined ? {} : { payload }) });
}

function json<T = Record<string, unknown>>(response: LightMyRequestResponse): T {
  return JSON.parse(response.body) as T;
}

/** GBR asks USA for consent to pass `productId` to `recipient`; the request reaches USA. */
async function askUsa(productId: string, recipient = 'CAN', arrangement = FVEY): Promise<ConsentRequestView> {
  const response = await api(
    nodes.GBR,
    gbrHeaders,
    'POST',
    `/api/v1/received/${productId}/consent-requests`,
    {
      recipient,
      arrangementId: arrangement.id,
      reason: `${recipient} leads the joint investigation`,
    },
  );
  expect(response.statusCode, response.body).toBe(201);
  const request = json<ConsentRequestView>(response);
  expect(request).toMatchObject({
    direction: 'outgoing',
    status: 'pending',
    originator: 'USA',
    holder: 'GBR',
  });
  expect(await nodes.GBR.worker.runOnce()).toMatchObject({ delivered: 1, failed: 0 });
  return request;
}

async function passOn(
  productId: string,
  recipient = 'CAN',
  arrangement = FVEY,
): Promise<LightMyRequestResponse> {
  return api(nodes.GBR, gbrHeaders, 'POST', `/api/v1/received/${productId}/releases`, {
    recipient,
    arrangementId: arrangement.id,
  });
}

async function copiesAtCan(productId: string): Promise<number> {
  return (await nodes.CAN.node.store.receivedProducts.list({ limit: 500 })).filter(
    (p) => p.productId === productId,
  ).length;
}

// ---------------------------------------------------------------- the flow

describe('the third-party rule across three nodes', () => {
  it('refuses an onward release without consent at GBR, naming the third-party rule, and sends nothing', async () => {
    const id = await releasedToGbr(FVEY_PORTIONS);
    const before = await nodes.GBR.node.store.counts();
    const response = await passOn(id);
    expect(response.statusCode, response.body).toBe(403);
    const problem = json(response);
    expect(problem).toMatchObject({ code: 'POLICY_DENIED', deniedBy: ['third-party-rule'] });
    expect(String(problem.detail)).toContain(
      'USA originated the product and has not consented to its release to CAN',
    );
    // The decision is recorded; nothing is queued.
    const after = await nodes.GBR.node.store.counts();
    expect(after).toMatchObject({ onward_releases: before.onward_releases + 1, outbox: before.outbox });
    const [onward] = await nodes.GBR.node.store.onwardReleases.list({ productId: id });
    expect(onward).toMatchObject({ effect: 'deny', recipient: 'CAN', originator: 'USA', by: 'officer.gbr' });
    expect(await copiesAtCan(id)).toBe(0);
  });

  it('asks, grants and passes on: CAN stores the document USA signed, sent by GBR, with its provenance', async () => {
    const id = await releasedToGbr(FVEY_PORTIONS);
    const held = await nodes.GBR.node.store.receivedProducts.get(id);
    const asked = await askUsa(id);

    // USA's officer sees the request, verbatim, and grants it.
    const listed = await api(
      nodes.USA,
      usaHeaders,
      'GET',
      '/api/v1/consent-requests?direction=incoming&status=pending',
    );
    expect(listed.statusCode, listed.body).toBe(200);
    const incoming = json<ConsentRequestView[]>(listed).find((r) => r.id === asked.id);
    expect(incoming).toMatchObject({
      direction: 'incoming',
      status: 'pending',
      product: { id, version: 1, digest: productDigest(held?.document ?? {}) },
      holder: 'GBR',
      recipient: 'CAN',
      arrangement: onWire(FVEY),
      reason: 'CAN leads the joint investigation',
      requestedBy: null,
    });
    const granted = await api(nodes.USA, usaHeaders, 'POST', `/api/v1/consent-requests/${asked.id}/grant`, {
      expiresAt: new Date(NOW + 30 * 24 * HOUR).toISOString(),
    });
    expect(granted.statusCode, granted.body).toBe(200);
    expect(json(granted)).toMatchObject({ status: 'granted', decidedBy: 'officer.usa' });
    // Granted once: a second grant or a denial is refused.
    const again = await api(nodes.USA, usaHeaders, 'POST', `/api/v1/consent-requests/${asked.id}/deny`, {
      reason: 'changed our mind',
    });
    expect(again.statusCode).toBe(409);
    expect(json(again).code).toBe('CONSENT_REQUEST_DECIDED');

    // The grant reaches GBR, which keeps the signed consent.
    expect(await nodes.USA.worker.runOnce()).toMatchObject({ delivered: 1, failed: 0 });
    const outgoing = await api(nodes.GBR, gbrHeaders, 'GET', '/api/v1/consent-requests?direction=outgoing');
    const answered = json<ConsentRequestView[]>(outgoing).find((r) => r.id === asked.id);
    expect(answered).toMatchObject({ status: 'granted' });
    expect(answered?.consent?.consent).toMatchObject({
      requestId: asked.id,
      originator: 'USA',
      holder: 'GBR',
      recipient: 'CAN',
      signerKey: usaSigner.fingerprint,
    });
    const [kept] = await nodes.GBR.node.store.consents.list({ productId: id, holder: 'GBR' });
    expect(kept?.consent).toEqual(answered?.consent);

    // GBR passes it on; CAN stores it once, exactly as GBR held it.
    const passed = await passOn(id);
    expect(passed.statusCode, passed.body).toBe(201);
    expect(json(passed)).toMatchObject({ originator: 'USA', recipient: 'CAN', consentRequestId: asked.id });
    expect(await nodes.GBR.worker.runOnce()).toMatchObject({ delivered: 1, failed: 0 });
    const stored = await nodes.CAN.node.store.receivedProducts.get(id);
    expect(stored).toMatchObject({
      sender: 'GBR',
      originator: 'USA',
      arrangementId: FVEY.id,
      productVersion: 1,
    });
    expect(stored?.document).toEqual(held?.document);
    expect(
      verifyProductSignature(stored?.document ?? {}, (fp) =>
        fp === usaSigner.fingerprint ? KEYS.USA.identity.signing.publicKey : undefined,
      ),
    ).toBe(productDigest(held?.document ?? {}));
    expect(await copiesAtCan(id)).toBe(1);
    // GBR holds CAN's signed receipt for it.
    const [row] = (await nodes.GBR.node.store.outbox.list({ status: 'delivered', limit: 200 })).filter(
      (m) => m.onwardReleaseId === json(passed).onwardReleaseId,
    );
    const receipt = verifyReceipt(row?.receipt, (from, fp) =>
      from === 'CAN' && fp === KEYS.CAN.public.signing.fingerprint
        ? KEYS.CAN.identity.signing.publicKey
        : undefined,
    );
    expect(receipt).toMatchObject({ from: 'CAN', to: 'GBR', outcome: 'stored', product: { id, version: 1 } });

    // Each step is logged for the audit where it was taken, as metadata only (no reason text).
    const logged = async (partner: 'USA' | 'GBR') =>
      (await nodes[partner].node.store.audit.pending(10_000))
        .map((q) => JSON.parse(q.entryJson) as { action: string; product?: { id: string }; partner?: string })
        .filter((e) => e.product?.id === id)
        .map((e) => `${e.action} ${e.partner ?? ''}`);
    expect(await logged('GBR')).toEqual(
      expect.arrayContaining(['consent.requested CAN', 'release.onward CAN']),
    );
    expect(await logged('USA')).toEqual(expect.arrayContaining(['consent.granted CAN']));
  });

  it('shows a request only to officers who may read its product: to another it does not exist', async () => {
    const id = await releasedToGbr(FVEY_PORTIONS);
    const asked = await askUsa(id);
    // A USA release officer cleared only to UNCLASSIFIED may read none of the product.
    await nodes.USA.node.services.directory.createUser(null, {
      username: 'officer.junior',
      displayName: 'officer.junior',
      nationality: 'USA',
      clearance: 'UNCLASSIFIED',
      caveats: [],
      communities: [],
      roles: ['release-officer'],
    });
    const junior = (await nodes.USA.node.store.users.getByUsername('officer.junior'))!;
    const { token } = await nodes.USA.node.services.auth.issueToken(junior.id, 'consent test');
    const headers = { authorization: `Bearer ${token}` };
    const listed = await api(nodes.USA, headers, 'GET', '/api/v1/consent-requests?direction=incoming');
    expect(listed.statusCode).toBe(200);
    expect(json<ConsentRequestView[]>(listed).map((r) => r.id)).not.toContain(asked.id);
    const missing = 'c0ffee00-0000-4000-8000-000000000000'.slice(0, asked.id.length);
    for (const action of ['grant', 'deny'] as const) {
      const body = action === 'deny' ? { reason: 'no' } : {};
      const hidden = await api(
        nodes.USA,
        headers,
        'POST',
        `/api/v1/consent-requests/${asked.id}/${action}`,
        body,
      );
      const absent = await api(
        nodes.USA,
        headers,
        'POST',
        `/api/v1/consent-requests/${missing}/${action}`,
        body,
      );
      expect(hidden.statusCode).toBe(404);
      expect(hidden.body.replace(asked.id, 'X')).toBe(absent.body.replace(missing, 'X'));
    }
    // Still pending for the officer who may read it.
    expect((await nodes.USA.node.store.consentRequests.get(asked.id))?.status).toBe('pending');
    const theirs = await api(nodes.USA, usaHeaders, 'GET', '/api/v1/consent-requests?direction=incoming');
    expect(json<ConsentRequestView[]>(theirs).map((r) => r.id)).toContain(asked.id);
  });

  it('carries a denial back to GBR with its reason, and GBR still may not pass the product on', async () => {
    const id = await releasedToGbr(FVEY_PORTIONS);
    const asked = await askUsa(id);
    const denied = await api(nodes.USA, usaHeaders, 'POST', `/api/v1/consent-requests/${asked.id}/deny`, {
      reason: 'CAN is not cleared into this operation',
    });
    expect(denied.statusCode, denied.body).toBe(200);
    expect(json(denied)).toMatchObject({
      status: 'denied',
      decisionReason: 'CAN is not cleared into this operation',
    });
    expect(await nodes.USA.worker.runOnce()).toMatchObject({ delivered: 1, failed: 0 });
    const request = await nodes.GBR.node.store.consentRequests.get(asked.id);
    expect(request).toMatchObject({
      status: 'denied',
      decisionReason: 'CAN is not cleared into this operation',
    });
    const response = await passOn(id);
    expect(response.statusCode).toBe(403);
    expect(json(response).deniedBy).toContain('third-party-rule');
  });

  it("refuses a grant USA's own policy denies: CAN outside the releasability, the rule named", async () => {
    const id = await releasedToGbr([['(S//REL TO USA, GBR)', 'Only for the two of us.']]);
    const asked = await askUsa(id);
    const response = await api(nodes.USA, usaHeaders, 'POST', `/api/v1/consent-requests/${asked.id}/grant`);
    expect(response.statusCode, response.body).toBe(403);
    const problem = json(response);
    expect(problem.code).toBe('POLICY_DENIED');
    expect(problem.deniedBy).toEqual(['tear-line.nonempty']);
    expect(String(problem.detail)).toContain('portion.releasability');
    // Nothing was signed or sent; the request waits for an officer to deny it.
    expect((await nodes.USA.node.store.consentRequests.get(asked.id))?.status).toBe('pending');
    expect(await nodes.USA.worker.runOnce()).toEqual({ delivered: 0, retrying: 0, failed: 0 });
  });

  it('lets a consent pass on only a version wholly releasable to the recipient (the holder cannot tear it)', async () => {
    const id = await releasedToGbr([
      ['(S//REL TO USA, GBR, CAN)', 'For the three of us.'],
      ['(S//REL TO USA, GBR)', 'Only for the two of us.'],
    ]);
    const asked = await askUsa(id);
    // USA's policy allows CAN the first portion, so it consents.
    const granted = await api(
      nodes.USA,
      usaHeaders,
      'POST',
      `/api/v1/consent-requests/${asked.id}/grant`,
      {},
    );
    expect(granted.statusCode, granted.body).toBe(200);
    expect(await nodes.USA.worker.runOnce()).toMatchObject({ delivered: 1 });
    // GBR holds both portions, signed together by USA: it cannot send the document as it is.
    const response = await passOn(id);
    expect(response.statusCode, response.body).toBe(403);
    expect(json(response).deniedBy).toEqual(['portion.releasability']);
    expect(String(json(response).detail)).toContain('goes as it is, or not at all');
    expect(await copiesAtCan(id)).toBe(0);
  });

  it('refuses to ask under an arrangement without the originator, and an onward release under it', async () => {
    const id = await releasedToGbr(FVEY_PORTIONS);
    const asked = await api(nodes.GBR, gbrHeaders, 'POST', `/api/v1/received/${id}/consent-requests`, {
      recipient: 'CAN',
      arrangementId: GBR_CAN.id,
      reason: 'x',
    });
    expect(asked.statusCode).toBe(400);
    expect(json(asked)).toMatchObject({ code: 'INPUT_INVALID', field: '/arrangementId' });
    const passed = await passOn(id, 'CAN', GBR_CAN);
    expect(passed.statusCode).toBe(403);
    expect(json(passed).deniedBy).toEqual(
      expect.arrayContaining(['third-party-rule', 'arrangement.parties']),
    );
  });

  it('passes a product on without consent where every party waived the third-party rule', async () => {
    const id = await releasedToGbr(FVEY_PORTIONS, WAIVED);
    const response = await passOn(id, 'CAN', WAIVED);
    expect(response.statusCode, response.body).toBe(201);
    expect(json(response)).toMatchObject({ consentRequestId: null });
    expect(await nodes.GBR.worker.runOnce()).toMatchObject({ delivered: 1 });
    expect(await copiesAtCan(id)).toBe(1);
  });
});

// ---------------------------------------------------------------- forgeries at CAN's inbox

/** `fields` with `signer`'s signature over them, exactly as given (no check of the terms). */
function signedAsGiven(fields: ConsentFields, signer: Signer): SignedConsent {
  const terms = { ...fields, signerKey: signer.fingerprint };
  return {
    consent: terms,
    signature: Buffer.from(signDigest(signer.privateKey, consentSigningBytes(terms))).toString('base64url'),
  };
}

/** A release envelope from GBR to CAN passing `document` on, carrying `consent` when given. */
function onwardEnvelope(document: DerivedDocument, consent: unknown, signer: Signer = gbrSigner) {
  const arrangement = onWire(FVEY);
  const header = newEnvelopeHeader(
    {
      kind: 'release',
      from: 'GBR',
      to: 'CAN',
      arrangement,
      product: { id: document.id, version: document.version },
      senderKey: signer.fingerprint,
    },
    { now: clockNow, randomBytes: (n) => new Uint8Array(randomBytes(n)) },
  );
  return sealEnvelope({
    header,
    payload: {
      kind: 'release',
      arrangement,
      product: document,
      ...(consent === undefined ? {} : { consent }),
    },
    signer,
    recipientEncryptionKey: KEYS.CAN.identity.encryption.publicKey,
  });
}

describe('consent envelopes at the inboxes', () => {
  /** A consent envelope of `kind` from `from` to `to` under FVEY, sealed to `to`'s key. */
  function consentEnvelope(
    kind: 'consent-request' | 'consent-grant',
    from: 'USA' | 'GBR',
    to: 'USA' | 'GBR',
    product: { id: string; version: number },
    payload: object,
    signer: Signer = from === 'USA' ? usaSigner : gbrSigner,
  ) {
    const header = newEnvelopeHeader(
      { kind, from, to, arrangement: onWire(FVEY), product, senderKey: signer.fingerprint },
      { now: clockNow, randomBytes: (n) => new Uint8Array(randomBytes(n)) },
    );
    return sealEnvelope({
      header,
      payload,
      signer,
      recipientEncryptionKey: KEYS[to].identity.encryption.publicKey,
    });
  }

  async function post(to: RunningNode, envelope: unknown): Promise<LightMyRequestResponse> {
    return to.node.server.inject({
      method: 'POST',
      url: '/federation/v1/inbox',
      payload: envelope as object,
    });
  }

  it('answers a consent request delivered twice with the same receipt, and records it once', async () => {
    const id = await releasedToGbr(FVEY_PORTIONS);
    const asked = await askUsa(id);
    const [row] = (await nodes.GBR.node.store.outbox.list({ limit: 200 })).filter(
      (m) => m.consentRequestId === asked.id,
    );
    if (row === undefined) throw new Error('GBR queued no request');
    const first = row.receipt;
    const again = await post(nodes.USA, (row.payload as { envelope: unknown }).envelope);
    expect(again.statusCode, again.body).toBe(200);
    expect(json(again)).toEqual(first);
    const receipt = verifyReceipt(first, (from, fp) =>
      from === 'USA' && fp === usaSigner.fingerprint ? KEYS.USA.identity.signing.publicKey : undefined,
    );
    expect(receipt).toMatchObject({ from: 'USA', to: 'GBR', outcome: 'stored', product: asked.product });
    const incoming = await nodes.USA.node.store.consentRequests.list({ direction: 'incoming', limit: 500 });
    expect(incoming.filter((r) => r.id === asked.id)).toHaveLength(1);
  });

  it('refuses a consent request for a product USA did not originate, with a refusal receipt', async () => {
    const product = { id: 'GBR-2026-0001', version: 1 };
    const envelope = consentEnvelope('consent-request', 'GBR', 'USA', product, {
      kind: 'consent-request',
      request: {
        requestId: '5d2b0c74-7e3a-4f9c-9d4e-8a6b3c4d5e6f',
        product: { ...product, digest: `sha256:${'2'.repeat(64)}` },
        originator: 'USA',
        holder: 'GBR',
        recipient: 'CAN',
        arrangement: onWire(FVEY),
        reason: 'probing',
        requestedAt: new Date(clockNow).toISOString(),
      },
    });
    const response = await post(nodes.USA, envelope);
    expect(response.statusCode, response.body).toBe(404);
    const problem = json(response);
    expect(problem.code).toBe('NOT_FOUND');
    expect(problem.receipt).toMatchObject({ receipt: { outcome: 'refused', from: 'USA', to: 'GBR' } });
    expect(
      await nodes.USA.node.store.consentRequests.get('5d2b0c74-7e3a-4f9c-9d4e-8a6b3c4d5e6f'),
    ).toBeUndefined();
  });

  it("refuses at GBR an answer to no request of GBR's, and a grant whose consent USA did not sign", async () => {
    const id = await releasedToGbr(FVEY_PORTIONS);
    const product = { id, version: 1 };
    const stray = consentEnvelope('consent-grant', 'USA', 'GBR', product, {
      kind: 'consent-grant',
      requestId: '6e3c1d85-8f4b-4a0d-8e5f-9b7c4d5e6f70',
      outcome: 'denied',
      decidedAt: new Date(clockNow).toISOString(),
      reason: 'no',
    });
    const strayResponse = await post(nodes.GBR, stray);
    expect(strayResponse.statusCode).toBe(404);

    // A real request; USA's envelope carries a consent signed with CAN's key in USA's name.
    const asked = await askUsa(id);
    const held = await nodes.GBR.node.store.receivedProducts.get(id);
    const forged = signConsent(
      {
        requestId: asked.id,
        product: { id, version: 1, digest: productDigest(held?.document ?? {}) },
        originator: 'USA',
        holder: 'GBR',
        recipient: 'CAN',
        arrangement: onWire(FVEY),
        grantedAt: new Date(clockNow).toISOString(),
      },
      signerOf(KEYS.CAN),
    );
    const envelope = consentEnvelope('consent-grant', 'USA', 'GBR', product, {
      kind: 'consent-grant',
      requestId: asked.id,
      outcome: 'granted',
      decidedAt: new Date(clockNow).toISOString(),
      consent: forged,
    });
    const response = await post(nodes.GBR, envelope);
    expect(response.statusCode, response.body).toBe(403);
    expect(json(response).code).toBe('KEY_UNPINNED');
    expect((await nodes.GBR.node.store.consentRequests.get(asked.id))?.status).toBe('pending');
    expect(await nodes.GBR.node.store.consents.list({ productId: id })).toEqual([]);
  });
});

describe("CAN's inbox and consents it did not get from USA", () => {
  let document: DerivedDocument;
  let fields: ConsentFields;

  beforeAll(async () => {
    const id = await releasedToGbr(FVEY_PORTIONS);
    const held = await nodes.GBR.node.store.receivedProducts.get(id);
    if (held === undefined || held.recalledAt !== null) throw new Error('GBR holds nothing');
    document = held.document;
    fields = {
      requestId: '3b0f8a52-5c1e-4d7a-9b2c-6e4f1a2b3c4d',
      product: { id: document.id, version: document.version, digest: productDigest(document) },
      originator: 'USA',
      holder: 'GBR',
      recipient: 'CAN',
      arrangement: onWire(FVEY),
      grantedAt: new Date(clockNow - HOUR).toISOString(),
    };
  });

  async function refusedAtCan(consent: unknown, detail: RegExp): Promise<void> {
    const before = await nodes.CAN.node.store.counts();
    const envelope = onwardEnvelope(document, consent);
    const response = await nodes.CAN.node.server.inject({
      method: 'POST',
      url: '/federation/v1/inbox',
      payload: envelope,
    });
    expect(response.statusCode, response.body).toBe(403);
    const problem = json(response);
    expect(problem).toMatchObject({ code: 'FEDERATION_REFUSED', deniedBy: ['third-party-rule'] });
    expect(String(problem.detail)).toMatch(detail);
    const after = await nodes.CAN.node.store.counts();
    expect(after.received_products).toBe(before.received_products);
    // The refusal is recorded against the envelope, with a refusal receipt CAN signed.
    expect(await nodes.CAN.node.store.inbox.get(envelope.header.envelopeId)).toMatchObject({
      outcome: 'refused',
      code: 'FEDERATION_REFUSED',
    });
  }

  it('stores the document with the consent USA signed for it (the control case)', async () => {
    const before = await copiesAtCan(document.id);
    const response = await nodes.CAN.node.server.inject({
      method: 'POST',
      url: '/federation/v1/inbox',
      payload: onwardEnvelope(document, signConsent(fields, usaSigner)),
    });
    expect(response.statusCode, response.body).toBe(201);
    expect(await copiesAtCan(document.id)).toBe(before + 1);
  });

  it('refuses it with no consent at all', async () => {
    await refusedAtCan(undefined, /USA originated the product and has not consented to its release to CAN/);
  });

  it("refuses a consent GBR signed with its own key in USA's name", async () => {
    await refusedAtCan(signConsent(fields, gbrSigner), /KEY_UNPINNED/);
  });

  it("refuses a consent with GBR's signature under USA's key fingerprint", async () => {
    const real = signConsent(fields, usaSigner);
    const forged = signConsent(fields, gbrSigner);
    await refusedAtCan({ consent: real.consent, signature: forged.signature }, /CONSENT_INVALID/);
  });

  it('refuses a consent USA signed for another recipient, holder, version or arrangement', async () => {
    await refusedAtCan(signConsent({ ...fields, recipient: 'AUS' }, usaSigner), /recipient AUS, not CAN/);
    await refusedAtCan(signConsent({ ...fields, holder: 'AUS' }, usaSigner), /holder AUS, not GBR/);
    await refusedAtCan(
      signConsent({ ...fields, product: { ...fields.product, version: 2 } }, usaSigner),
      /not .* v1/,
    );
    await refusedAtCan(
      signConsent(
        { ...fields, product: { ...fields.product, digest: `sha256:${'0'.repeat(64)}` } },
        usaSigner,
      ),
      /product digest/,
    );
    await refusedAtCan(
      signConsent({ ...fields, arrangement: onWire(WAIVED) }, usaSigner),
      /names arrangement/,
    );
  });

  it('refuses a consent that has expired, or is not yet in force', async () => {
    const expired = signConsent(
      {
        ...fields,
        grantedAt: new Date(clockNow - 2 * HOUR).toISOString(),
        expiresAt: new Date(clockNow - HOUR).toISOString(),
      },
      usaSigner,
    );
    await refusedAtCan(expired, /expired at/);
    await refusedAtCan(
      signConsent({ ...fields, grantedAt: new Date(clockNow + HOUR).toISOString() }, usaSigner),
      /not yet in force/,
    );
  });

  it('refuses a consent that is no consent', async () => {
    await refusedAtCan({ consent: { requestId: 'x' }, signature: 'y' }, /CONSENT_INVALID/);
  });

  it('lets no combination of consents carry the product to CAN without a verifying consent naming it (property)', async () => {
    // Each generated consent is the one USA would sign for exactly this onward release, changed in
    // any combination of the ways below (none: it must be stored), or no consent at all.
    const MUTATIONS = [
      'signed by GBR',
      'signed by AUS',
      'originator AUS',
      'holder AUS',
      'recipient AUS',
      'recipient NZL',
      'version 2',
      'another digest',
      'another arrangement',
      'not yet in force',
      'expired',
      'recipient rewritten after signing',
      'signature over other terms',
    ] as const;
    type Mutation = (typeof MUTATIONS)[number];
    const generated = fc.oneof(
      { weight: 1, arbitrary: fc.constant(undefined) },
      { weight: 2, arbitrary: fc.constant<readonly Mutation[]>([]) },
      { weight: 5, arbitrary: fc.subarray([...MUTATIONS], { minLength: 1, maxLength: 4 }) },
    );
    let storedRuns = 0;
    await fc.assert(
      fc.asyncProperty(generated, async (mutations) => {
        let consent: SignedConsent | undefined;
        if (mutations !== undefined) {
          const has = (m: Mutation) => mutations.includes(m);
          const recipient = has('recipient NZL') ? 'NZL' : has('recipient AUS') ? 'AUS' : 'CAN';
          const grantedAt = has('not yet in force')
            ? clockNow + HOUR
            : has('expired')
              ? clockNow - 2 * HOUR
              : clockNow - HOUR;
          const signer = has('signed by GBR')
            ? gbrSigner
            : has('signed by AUS')
              ? signerOf(KEYS.AUS)
              : usaSigner;
          // Signed as given, past signConsent's own checks: terms it would refuse to sign are tried too.
          consent = signedAsGiven(
            {
              ...fields,
              originator: has('originator AUS') ? 'AUS' : 'USA',
              holder: has('holder AUS') ? 'AUS' : 'GBR',
              recipient: has('recipient rewritten after signing') ? 'AUS' : recipient,
              product: {
                id: document.id,
                version: has('version 2') ? 2 : 1,
                digest: has('another digest') ? `sha256:${'1'.repeat(64)}` : productDigest(document),
              },
              arrangement: onWire(has('another arrangement') ? WAIVED : FVEY),
              grantedAt: new Date(grantedAt).toISOString(),
              ...(has('expired') ? { expiresAt: new Date(clockNow - MINUTE).toISOString() } : {}),
            },
            signer,
          );
          if (has('recipient rewritten after signing')) {
            consent = { ...consent, consent: { ...consent.consent, recipient } };
          }
          if (has('signature over other terms')) {
            // USA's real signature, over the same terms for AUS.
            consent = {
              ...consent,
              signature: signedAsGiven({ ...consent.consent, recipient: 'AUS' }, usaSigner).signature,
            };
          }
        }
        const verifying = mutations !== undefined && mutations.length === 0;
        const before = await copiesAtCan(document.id);
        let stored = false;
        try {
          await nodes.CAN.node.services.inbox?.receive(onwardEnvelope(document, consent), '127.0.0.1');
          stored = true;
        } catch (error) {
          if (!isAccordError(error)) throw error;
          expect(error.code).toBe('FEDERATION_REFUSED');
          expect(error.details.deniedBy).toContain('third-party-rule');
        }
        expect(stored).toBe(verifying);
        expect(await copiesAtCan(document.id)).toBe(before + (verifying ? 1 : 0));
        if (stored) storedRuns += 1;
      }),
      { numRuns: 80 },
    );
    // The property saw both sides: stored with the true consent, refused with every other.
    expect(storedRuns).toBeGreaterThan(0);
  });
});
