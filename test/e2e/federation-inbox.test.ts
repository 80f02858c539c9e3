import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeKeys } from '../../src/app/node-keys.js';
import { type ArrangementDocument, arrangementVersionHash } from '../../src/arrangements/index.js';
import { signDigest } from '../../src/crypto/index.js';
import {
  type Envelope,
  envelopeSigningBytes,
  productDigest,
  type Receipt,
  verifyProductSignature,
  verifyReceipt,
} from '../../src/federation/index.js';
import { compileArrangement, decideRelease } from '../../src/policy/index.js';
import { parseProduct } from '../../src/products/index.js';
import type { SealedRelease } from '../../src/services/product-service.js';
import type { StoreDialect } from '../../src/store/index.js';
import {
  altered,
  arrangementOf,
  bodyOf,
  derivedOf,
  envelopeOf,
  type FederationTestNode,
  gbrKeys,
  gbrReceiptKey,
  MAIN,
  MINUTE,
  NOW,
  recordPeers,
  resealedBySomeoneElse,
  slotOf,
  sourceOf,
  startFederationNode,
  strangerKeys,
  strangerSigner,
  usaKeys,
  usaSigner,
} from '../fixtures/federation.js';
import { POSTGRES_SERVICE, pgAvailable, requireOrSkip } from '../fixtures/services.js';
import { addUsaWorkflowActors, makeDraft } from './harness.js';

// Two nodes in one process, USA and GBR, each with its own keys and store, each knowing the other
// as a partner with its public keys, and holding the same arrangements, signed for real by both.
// Envelopes are made here with the federation functions (and once by a real release at USA), and
// delivered to GBR's POST /federation/v1/inbox.

const runPostgres = requireOrSkip(POSTGRES_SERVICE, await pgAvailable());
const DIALECTS: readonly { readonly dialect: StoreDialect; readonly enabled: boolean }[] = [
  { dialect: 'sqlite', enabled: true },
  { dialect: 'postgres', enabled: runPostgres },
];

/** Suspended at GBR only: status is not part of the signed terms, so the hash is the same. */
const SUSPENDED = arrangementOf('usa-gbr-suspended');
const EXPIRED = arrangementOf('usa-gbr-expired', {
  effective: '2025-01-01T00:00:00Z',
  expires: '2026-01-01T00:00:00Z',
  review: '2025-06-01T00:00:00Z',
});
/** GBR's slot holds bytes that are no signature of GBR's: nothing is pinned. */
const FORGED_SLOT = (() => {
  const doc = arrangementOf('usa-gbr-forged-slot', {}, ['USA']);
  const hash = arrangementVersionHash(doc);
  return {
    ...doc,
    signatures: [
      ...doc.signatures,
      { ...slotOf('USA', usaKeys, hash), partner: 'GBR', fingerprint: gbrKeys.public.signing.fingerprint },
    ],
  };
})();
/** Held by GBR with other terms than USA's copy of the same version. */
const GBR_TERMS = arrangementOf('usa-gbr-terms', { title: "GBR's reading of the terms" });
const USA_TERMS = arrangementOf('usa-gbr-terms', { title: "USA's reading of the terms" });

let clockNow = NOW;
const clock = () => clockNow;
const startNode = (partner: string, dialect: StoreDialect, keys: NodeKeys | undefined) =>
  startFederationNode(partner, dialect, keys, clock);
type TestNode = FederationTestNode;

describe.each(DIALECTS)('the federation inbox on $dialect', ({ dialect, enabled }) => {
  let usa: TestNode;
  let gbr: TestNode;

  beforeAll(async () => {
    if (!enabled) return;
    usa = await startNode('USA', dialect, usaKeys);
    gbr = await startNode('GBR', dialect, gbrKeys);
    for (const { store } of [usa.node, gbr.node]) {
      await recordPeers(store, [MAIN, SUSPENDED, EXPIRED, FORGED_SLOT]);
    }
    await usa.node.store.arrangements.putVersion(USA_TERMS);
    await gbr.node.store.arrangements.putVersion(GBR_TERMS);
    await gbr.node.store.arrangements.setStatus(SUSPENDED.id, SUSPENDED.version, 'suspended');
  });

  afterAll(async () => {
    if (!enabled) return;
    await usa?.close();
    await gbr?.close();
  });

  const deliver = (envelope: unknown) =>
    gbr.node.server.inject({ method: 'POST', url: '/federation/v1/inbox', payload: envelope as object });

  /** Delivers and expects a problem with `status` and `code`; returns its body. */
  async function refused(envelope: unknown, status: number, code: string): Promise<Record<string, unknown>> {
    const response = await deliver(envelope);
    expect(response.statusCode, response.body).toBe(status);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    const body = bodyOf(response);
    expect(body.code).toBe(code);
    expect(typeof body.detail).toBe('string');
    return body;
  }

  it.runIf(enabled)(
    'stores a release the arrangement allows and answers 201 with a receipt GBR signed',
    async () => {
      const source = sourceOf();
      const document = derivedOf(source, ['p1', 'p2']);
      const envelope = envelopeOf(document);
      const before = await gbr.counts();

      const response = await deliver(envelope);
      expect(response.statusCode, response.body).toBe(201);
      const receipt: Receipt = verifyReceipt(bodyOf(response), gbrReceiptKey);
      expect(receipt).toEqual({
        envelopeId: envelope.header.envelopeId,
        from: 'GBR',
        to: 'USA',
        product: { id: document.id, version: document.version, digest: productDigest(document) },
        receivedAt: new Date(NOW).toISOString(),
        outcome: 'stored',
        signerKey: gbrKeys.public.signing.fingerprint,
      });

      expect(await gbr.counts()).toMatchObject({
        inbox: before.inbox + 1,
        received_products: before.received_products + 1,
      });
      const stored = await gbr.node.store.receivedProducts.get(document.id);
      expect(stored).toMatchObject({
        envelopeId: envelope.header.envelopeId,
        productVersion: 1,
        originator: 'USA',
        sender: 'USA',
        arrangementId: MAIN.id,
        arrangementVersion: 1,
        banner: 'SECRET//REL TO USA, GBR',
        rank: 3,
      });
      // As it arrived, signature included: it still verifies against USA's pinned key.
      expect(stored?.document).toEqual(document);
      expect(() =>
        verifyProductSignature(stored?.document ?? {}, (fp) =>
          fp === usaSigner.fingerprint ? usaKeys.identity.signing.publicKey : undefined,
        ),
      ).not.toThrow();
      expect(await gbr.node.store.inbox.get(envelope.header.envelopeId)).toMatchObject({
        outcome: 'stored',
        sender: 'USA',
        productId: document.id,
        code: null,
        reason: null,
        receipt: bodyOf(response),
      });
    },
  );

  it.runIf(enabled)(
    'answers the same envelope again with the same receipt, even once stale, and stores it once',
    async () => {
      const document = derivedOf(sourceOf({ id: 'usa-2026-0500' }), ['p1']);
      const envelope = envelopeOf(document);
      const first = await deliver(envelope);
      expect(first.statusCode, first.body).toBe(201);
      const after = await gbr.counts();

      const again = await deliver(envelope);
      expect(again.statusCode, again.body).toBe(200);
      expect(bodyOf(again)).toEqual(bodyOf(first));
      // The sender's retry after a lost answer may come long after the envelope was made.
      clockNow = NOW + 30 * MINUTE;
      try {
        const late = await deliver(envelope);
        expect(late.statusCode, late.body).toBe(200);
        expect(bodyOf(late)).toEqual(bodyOf(first));
      } finally {
        clockNow = NOW;
      }
      expect(await gbr.counts()).toEqual(after);
      expect(await gbr.node.store.receivedProducts.list({ sender: 'USA', limit: 500 })).toHaveLength(
        after.received_products,
      );
    },
  );

  it.runIf(enabled)('refuses another envelope reusing a stored envelope id: ENVELOPE_REPLAYED', async () => {
    const document = derivedOf(sourceOf({ id: 'usa-2026-0501' }), ['p1']);
    const envelope = envelopeOf(document);
    expect((await deliver(envelope)).statusCode).toBe(201);
    const before = await gbr.counts();
    const other = derivedOf(sourceOf({ id: 'usa-2026-0501', version: 2 }), ['p1']);
    const replay = envelopeOf(other, { header: { envelopeId: envelope.header.envelopeId } });
    const body = await refused(replay, 409, 'ENVELOPE_REPLAYED');
    expect(body.envelopeId).toBe(envelope.header.envelopeId);
    expect(await gbr.counts()).toEqual(before);
    expect((await gbr.node.store.receivedProducts.get(document.id))?.productVersion).toBe(1);
  });

  it.runIf(enabled)(
    "answers the sender's re-sealed retry of a stored envelope (same id, same product, new createdAt) with the stored receipt",
    async () => {
      const document = derivedOf(sourceOf({ id: 'usa-2026-0502' }), ['p1']);
      const envelope = envelopeOf(document);
      const first = await deliver(envelope);
      expect(first.statusCode, first.body).toBe(201);
      const before = await gbr.counts();
      const resealed = envelopeOf(document, {
        createdAt: NOW + MINUTE,
        header: { envelopeId: envelope.header.envelopeId },
      });
      expect(resealed.ciphertext).not.toBe(envelope.ciphertext);
      const again = await deliver(resealed);
      expect(again.statusCode, again.body).toBe(200);
      expect(bodyOf(again)).toEqual(bodyOf(first));
      expect(await gbr.counts()).toEqual(before);
      // The signature must verify: a stranger's copy under the same id is refused.
      const forged = envelopeOf(document, {
        signer: strangerSigner,
        header: { envelopeId: envelope.header.envelopeId },
      });
      await refused(forged, 403, 'KEY_UNPINNED');
      expect(await gbr.counts()).toEqual(before);
    },
  );

  it.runIf(enabled)(
    'refuses a payload sealed by someone else under a captured header and signature, records nothing, and still stores the real envelope',
    async () => {
      const document = derivedOf(sourceOf({ id: 'usa-2026-0503' }), ['p1']);
      const envelope = envelopeOf(document);
      // HPKE base mode names no sender: an on-path attacker can seal to GBR under the captured
      // header. The signature covers the sealed bytes, so the copy fails before its id is recorded.
      const planted = { ...document, portions: [{ ...document.portions[0]!, text: 'Planted.' }] };
      const tampered = resealedBySomeoneElse(envelope, {
        kind: 'release',
        arrangement: envelope.header.arrangement,
        product: planted,
      });
      const before = await gbr.counts();
      const body = await refused(tampered, 400, 'ENVELOPE_SIGNATURE_INVALID');
      expect(body.receipt).toBeUndefined();
      expect(await gbr.counts()).toEqual(before);
      expect(await gbr.node.store.inbox.get(envelope.header.envelopeId)).toBeUndefined();

      const response = await deliver(envelope);
      expect(response.statusCode, response.body).toBe(201);
      expect((await gbr.node.store.receivedProducts.get(document.id))?.document).toEqual(document);
    },
  );

  describe('envelopes that do not authenticate: answered 4xx, nothing recorded', () => {
    const document = () => derivedOf(sourceOf({ id: 'usa-2026-0600' }), ['p1']);

    it.runIf(enabled).each<[string, () => unknown, number, string]>([
      ['a body that is no envelope', () => ({ header: { v: 1 }, note: 'hello' }), 400, 'ENVELOPE_MALFORMED'],
      [
        'a forged signature',
        () => {
          const envelope = envelopeOf(document());
          const forged = signDigest(
            strangerKeys.identity.signing.privateKey,
            envelopeSigningBytes(
              envelope.header,
              Buffer.from(envelope.enc, 'base64url'),
              Buffer.from(envelope.ciphertext, 'base64url'),
            ),
          );
          return { ...envelope, signature: Buffer.from(forged).toString('base64url') };
        },
        400,
        'ENVELOPE_SIGNATURE_INVALID',
      ],
      [
        'a header changed after signing',
        () => {
          const envelope = envelopeOf(document());
          return {
            ...envelope,
            header: { ...envelope.header, product: { id: 'usa-2026-0601', version: 1 } },
          };
        },
        400,
        'ENVELOPE_SIGNATURE_INVALID',
      ],
      [
        'a ciphertext changed after signing',
        () => {
          const envelope = envelopeOf(document());
          return { ...envelope, ciphertext: altered(envelope.ciphertext) };
        },
        400,
        'ENVELOPE_SIGNATURE_INVALID',
      ],
      [
        'a sender key the arrangement does not pin',
        () => envelopeOf(document(), { signer: strangerSigner }),
        403,
        'KEY_UNPINNED',
      ],
      [
        'an envelope addressed to CAN',
        () => envelopeOf(document(), { to: 'CAN' }),
        400,
        'ENVELOPE_MISADDRESSED',
      ],
      [
        'an arrangement GBR does not hold',
        () => envelopeOf(document(), { arrangement: arrangementOf('usa-gbr-unknown') }),
        409,
        'ARRANGEMENT_MISMATCH',
      ],
      [
        'an arrangement version GBR holds with other terms',
        () => envelopeOf(document(), { arrangement: USA_TERMS }),
        409,
        'ARRANGEMENT_MISMATCH',
      ],
      [
        "an arrangement whose GBR signature slot holds no signature of GBR's",
        () => envelopeOf(document(), { arrangement: FORGED_SLOT }),
        403,
        'KEY_UNPINNED',
      ],
    ])('refuses %s', async (_what, make, status, code) => {
      const before = await gbr.counts();
      const body = await refused(make(), status, code);
      expect(body.receipt).toBeUndefined();
      expect(await gbr.counts()).toEqual(before);
    });
  });

  describe('authenticated envelopes refused: the reason answered and recorded, nothing stored', () => {
    async function refusedAndRecorded(
      envelope: Envelope,
      status: number,
      code: string,
    ): Promise<{ body: Record<string, unknown>; reason: string }> {
      const before = await gbr.counts();
      const body = await refused(envelope, status, code);
      expect(body.envelopeId).toBe(envelope.header.envelopeId);
      expect(await gbr.counts()).toEqual({
        ...before,
        inbox: before.inbox + 1,
        audit_queue: before.audit_queue + 1,
      });
      const entry = await gbr.node.store.inbox.get(envelope.header.envelopeId);
      expect(entry).toMatchObject({ outcome: 'refused', code, sender: 'USA', reason: body.detail });
      // The same envelope again: the same refusal, recorded once.
      const again = await refused(envelope, status, code);
      expect(again.detail).toBe(body.detail);
      expect(again.receipt).toEqual(body.receipt);
      expect(await gbr.counts()).toEqual({
        ...before,
        inbox: before.inbox + 1,
        audit_queue: before.audit_queue + 1,
      });
      return { body, reason: String(body.detail) };
    }

    /** The refusal receipt verifies under GBR's key and names the refusal. */
    function refusalReceipt(body: Record<string, unknown>, envelope: Envelope, code: string): Receipt {
      const receipt = verifyReceipt(body.receipt, gbrReceiptKey);
      expect(receipt).toMatchObject({
        envelopeId: envelope.header.envelopeId,
        from: 'GBR',
        to: 'USA',
        product: envelope.header.product,
        outcome: 'refused',
        reason: expect.stringContaining(code),
      });
      return receipt;
    }

    it.runIf(enabled)('refuses an envelope made outside the allowed clock skew: ENVELOPE_STALE', async () => {
      const envelope = envelopeOf(derivedOf(sourceOf({ id: 'usa-2026-0700' }), ['p1']), {
        createdAt: NOW - 10 * MINUTE,
      });
      const { body } = await refusedAndRecorded(envelope, 400, 'ENVELOPE_STALE');
      expect(body.receipt).toBeUndefined();
    });

    it.runIf(enabled)('refuses an envelope USA sealed to another key: ENVELOPE_DECRYPT_FAILED', async () => {
      const envelope = envelopeOf(derivedOf(sourceOf({ id: 'usa-2026-0701' }), ['p1']), {
        recipientEncryptionKey: strangerKeys.identity.encryption.publicKey,
      });
      const { body } = await refusedAndRecorded(envelope, 400, 'ENVELOPE_DECRYPT_FAILED');
      expect(body.receipt).toBeUndefined();
    });

    it.runIf(enabled).each<[string, ArrangementDocument, string, RegExp]>([
      ['suspended', SUSPENDED, 'usa-2026-0702', /is suspended/],
      ['expired', EXPIRED, 'usa-2026-0703', /expired on 2026-01-01/],
    ])(
      'refuses a release under an arrangement %s at GBR: FEDERATION_REFUSED by arrangement.active',
      async (_what, arrangement, id, why) => {
        const envelope = envelopeOf(derivedOf(sourceOf({ id }), ['p1']), { arrangement });
        const { body, reason } = await refusedAndRecorded(envelope, 403, 'FEDERATION_REFUSED');
        expect(body.deniedBy).toEqual(['arrangement.active']);
        expect(reason).toMatch(why);
        refusalReceipt(body, envelope, 'FEDERATION_REFUSED');
      },
    );

    it.runIf(enabled)(
      'refuses a product outside the scope: FEDERATION_REFUSED by scope.discipline',
      async () => {
        const source = sourceOf({ id: 'usa-2026-0710', discipline: 'IMINT' });
        const envelope = envelopeOf(derivedOf(source, ['p1']));
        const { body, reason } = await refusedAndRecorded(envelope, 403, 'FEDERATION_REFUSED');
        expect(body.deniedBy).toEqual(['scope.discipline']);
        expect(reason).toContain('IMINT is outside the scope of usa-gbr-ct');
        refusalReceipt(body, envelope, 'scope.discipline');
      },
    );

    it.runIf(enabled)(
      'refuses a release still holding a portion not releasable to GBR (NOFORN): FEDERATION_REFUSED',
      async () => {
        const envelope = envelopeOf(derivedOf(sourceOf({ id: 'usa-2026-0711' })));
        const { body, reason } = await refusedAndRecorded(envelope, 403, 'FEDERATION_REFUSED');
        expect(body.deniedBy).toEqual(['portion.releasability']);
        expect(reason).toContain('p3');
        expect(body.rules).toContainEqual(
          expect.objectContaining({ rule: 'portion.releasability', outcome: 'withhold' }),
        );
        refusalReceipt(body, envelope, 'portion.releasability');
      },
    );

    it.runIf(enabled)('refuses a product signed by a key no arrangement pins: KEY_UNPINNED', async () => {
      const envelope = envelopeOf(derivedOf(sourceOf({ id: 'usa-2026-0712' }), ['p1'], strangerSigner));
      const { body } = await refusedAndRecorded(envelope, 403, 'KEY_UNPINNED');
      refusalReceipt(body, envelope, 'KEY_UNPINNED');
    });

    it.runIf(enabled)(
      'refuses a product changed after USA signed it: PRODUCT_SIGNATURE_INVALID',
      async () => {
        const document = derivedOf(sourceOf({ id: 'usa-2026-0713' }), ['p1']);
        const changed = { ...document, portions: [{ ...document.portions[0]!, text: 'Something else.' }] };
        const envelope = envelopeOf(changed);
        const { body } = await refusedAndRecorded(envelope, 400, 'PRODUCT_SIGNATURE_INVALID');
        refusalReceipt(body, envelope, 'PRODUCT_SIGNATURE_INVALID');
      },
    );

    it.runIf(enabled)(
      'refuses a payload carrying another product than its header names: ENVELOPE_MALFORMED',
      async () => {
        const document = derivedOf(sourceOf({ id: 'usa-2026-0714' }), ['p1']);
        const envelope = envelopeOf(document, { header: { product: { id: 'usa-2026-0715', version: 1 } } });
        const { body } = await refusedAndRecorded(envelope, 400, 'ENVELOPE_MALFORMED');
        expect(body.field).toBe('/payload/product');
      },
    );

    it.runIf(enabled)(
      'refuses an envelope whose payload is not what its kind carries: ENVELOPE_MALFORMED',
      async () => {
        const document = derivedOf(sourceOf({ id: 'usa-2026-0716' }), ['p1']);
        // Every kind is taken now (consent: test/e2e/consent-federation.test.ts, recall:
        // test/e2e/recall.test.ts); a consent answer carrying a product instead is refused and recorded.
        const envelope = envelopeOf(document, {
          header: { kind: 'consent-grant' },
          payload: { product: document },
        });
        await refusedAndRecorded(envelope, 400, 'ENVELOPE_MALFORMED');
      },
    );
  });

  it.runIf(enabled)(
    'takes what a real release at USA queued in its outbox, and the receipt answers that message',
    async () => {
      const { analyst, officer } = await addUsaWorkflowActors(usa.node);
      const products = usa.node.services.products;
      const draft = await products.createDraft(analyst, makeDraft());
      await products.submit(analyst, draft.id);
      await products.decide(officer, draft.id, 'approved');
      const outcome = await products.release(officer, draft.id, 'GBR', MAIN.id);
      expect(outcome.decision.effect).toBe('allow');
      const [message] = (await usa.node.store.outbox.listPending()).filter(
        (m) => m.releaseId === outcome.releaseId,
      );
      if (message === undefined) throw new Error('the release queued nothing');

      const before = await gbr.counts();
      const response = await deliver((message.payload as SealedRelease).envelope);
      expect(response.statusCode, response.body).toBe(201);
      const receipt = verifyReceipt(bodyOf(response), gbrReceiptKey);
      expect(receipt).toMatchObject({ envelopeId: message.id, from: 'GBR', to: 'USA', outcome: 'stored' });
      expect(await gbr.counts()).toMatchObject({ received_products: before.received_products + 1 });
      const stored = await gbr.node.store.receivedProducts.get(draft.id);
      // The NOFORN portion was torn out at USA; GBR holds the two releasable ones.
      expect(stored?.document.portions.map((p) => p.id)).toEqual(['p1', 'p2']);
      expect(stored?.document.withheldCount).toBe(1);
    },
  );
});

describe('a node without keys', () => {
  it('answers 503 FEDERATION_NOT_CONFIGURED and records nothing', async () => {
    const bare = await startNode('GBR', 'sqlite', undefined);
    try {
      const response = await bare.node.server.inject({
        method: 'POST',
        url: '/federation/v1/inbox',
        payload: envelopeOf(derivedOf(sourceOf(), ['p1'])),
      });
      expect(response.statusCode).toBe(503);
      expect(bodyOf(response).code).toBe('FEDERATION_NOT_CONFIGURED');
      expect(await bare.counts()).toMatchObject({ inbox: 0, received_products: 0 });
    } finally {
      await bare.close();
    }
  });
});

// The policy pieces the fixtures above rely on, checked once so a change to them fails here
// and not as a puzzling inbox refusal.
describe('the fixtures', () => {
  it("tear as USA's release would: p3 (NOFORN) is withheld from GBR", () => {
    const decision = decideRelease(parseProduct(sourceOf()), compileArrangement(MAIN), 'GBR', {
      at: NOW,
      sender: 'USA',
    });
    expect(decision.effect).toBe('allow');
    expect(decision.withheld.map((w) => w.portionId)).toEqual(['p3']);
  });
});
