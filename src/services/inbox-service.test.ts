import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeArrangement } from '../../test/fixtures/builders.js';
import { type NodeKeys, partnerKeysOf, signerOf } from '../app/node-keys.js';
import { type ArrangementDocument, arrangementVersionHash } from '../arrangements/index.js';
import { createNodeIdentity, type PublicIdentity, publicIdentity } from '../crypto/index.js';
import { AccordError } from '../errors/index.js';
import {
  type Envelope,
  newEnvelopeHeader,
  productDigest,
  sealEnvelope,
  signArrangementAs,
  signProduct,
  withPinnedKeys,
} from '../federation/index.js';
import { DEFAULT_REGISTRY } from '../markings/index.js';
import { openStore, type Store } from '../store/index.js';
import { InboxService } from './inbox-service.js';

// The inbox remembers the keys an arrangement pins (checking its signatures is an Ed25519 verify
// per party); what it remembers must never outlive what it was computed from: the arrangement's
// signatures and the partner directory's keys, as they are when each envelope arrives.

const NOW = Date.parse('2026-11-26T12:00:00.000Z');

function nodeKeys(): NodeKeys {
  const identity = createNodeIdentity();
  return { identity, public: publicIdentity(identity) };
}

const usa = nodeKeys();
const gbr = nodeKeys();

const TERMS = withPinnedKeys(
  makeArrangement({ id: 'usa-gbr-pins' }),
  new Map<string, PublicIdentity>([
    ['USA', usa.public],
    ['GBR', gbr.public],
  ]),
);

function signedBy(...partners: readonly ('USA' | 'GBR')[]): ArrangementDocument {
  const keys = { USA: usa, GBR: gbr };
  return partners.reduce(
    (doc, partner) => signArrangementAs(doc, partner, signerOf(keys[partner]), '2025-01-01T00:00:00Z'),
    TERMS,
  );
}

let sequence = 0;

/** A fresh USA product released to GBR, signed by USA. */
function signedProduct() {
  sequence += 1;
  const id = `usa-2026-${sequence}`;
  return signProduct(
    {
      id,
      version: 1,
      derivedFrom: { id, version: 1, digest: `sha256:${'0'.repeat(64)}` },
      originator: 'USA',
      title: 'Facilitation network moving funds',
      titleMarking: '(U)',
      discipline: 'SIGINT',
      categories: ['counterterrorism'],
      portions: [{ id: 'p1', marking: '(S//REL TO USA, GBR)', text: 'Three transfers this week.' }],
      banner: 'SECRET//REL TO USA, GBR',
      withheldCount: 0,
      reliability: 'B',
      credibility: 2,
      createdAt: '2026-11-20T09:30:00Z',
    },
    signerOf(usa),
  );
}

/** A release of `product` (a fresh one when omitted) to GBR under TERMS, sealed by USA. */
function envelope(product: object & { id: string } = signedProduct()): Envelope {
  const { id } = product;
  const arrangement = { id: TERMS.id, version: TERMS.version, versionHash: arrangementVersionHash(TERMS) };
  const header = newEnvelopeHeader(
    {
      kind: 'release',
      from: 'USA',
      to: 'GBR',
      arrangement,
      product: { id, version: 1 },
      senderKey: usa.public.signing.fingerprint,
    },
    { now: NOW, randomBytes: (n) => randomBytes(n) },
  );
  return sealEnvelope({
    header,
    payload: { kind: 'release', arrangement, product },
    signer: signerOf(usa),
    recipientEncryptionKey: gbr.identity.encryption.publicKey,
  });
}

async function refusalOf(work: Promise<unknown>): Promise<AccordError> {
  try {
    await work;
  } catch (error) {
    if (error instanceof AccordError) return error;
    throw error;
  }
  throw new Error('expected an AccordError');
}

describe('InboxService: the keys an arrangement pins', () => {
  let dir: string;
  let store: Store;
  let inbox: InboxService;

  async function directory(usaIdentity: PublicIdentity): Promise<void> {
    await store.partners.upsert({
      code: 'USA',
      name: 'United States',
      endpoint: null,
      keys: partnerKeysOf(usaIdentity),
    });
  }

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'accord-inbox-pins-'));
    store = await openStore(
      { kind: 'sqlite', file: join(dir, 'accord.sqlite') },
      { now: () => new Date(NOW) },
    );
    await directory(usa.public);
    await store.partners.upsert({
      code: 'GBR',
      name: 'United Kingdom',
      endpoint: null,
      keys: partnerKeysOf(gbr.public),
    });
    inbox = new InboxService({
      store,
      partner: 'GBR',
      registry: DEFAULT_REGISTRY,
      keys: gbr,
      now: () => NOW,
    });
  });

  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('takes a signature added to the arrangement after an envelope was refused for want of it', async () => {
    await store.arrangements.putVersion(signedBy('USA'));
    const refused = await refusalOf(inbox.receive(envelope(), '127.0.0.1'));
    expect(refused.code).toBe('KEY_UNPINNED');
    expect(refused.message).toMatch(/GBR has not signed/);

    await store.arrangements.putVersion(signedBy('USA', 'GBR'));
    expect((await inbox.receive(envelope(), '127.0.0.1')).outcome).toBe('stored');
  });

  it("stops pinning USA's key once the directory no longer holds it, and pins it again when it does", async () => {
    await store.arrangements.putVersion(signedBy('USA', 'GBR'));
    expect((await inbox.receive(envelope(), '127.0.0.1')).outcome).toBe('stored');

    // The directory now holds another node's keys for USA: USA's signature on the arrangement
    // can no longer be checked, so nothing is pinned.
    await directory(nodeKeys().public);
    const refused = await refusalOf(inbox.receive(envelope(), '127.0.0.1'));
    expect(refused.code).toBe('KEY_UNPINNED');
    expect(refused.message).toMatch(/USA signed with/);

    await directory(usa.public);
    expect((await inbox.receive(envelope(), '127.0.0.1')).outcome).toBe('stored');
  });
});

// The inbox also remembers each arrangement's compiled form (the policy's view of it); a change of
// its mutable state (status, suspended parties) keeps the version hash, and must still be seen.
describe('InboxService: the compiled arrangement it remembers', () => {
  let dir: string;
  let store: Store;
  let inbox: InboxService;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'accord-inbox-compiled-'));
    store = await openStore(
      { kind: 'sqlite', file: join(dir, 'accord.sqlite') },
      { now: () => new Date(NOW) },
    );
    for (const [code, name, keys] of [
      ['USA', 'United States', usa],
      ['GBR', 'United Kingdom', gbr],
    ] as const) {
      await store.partners.upsert({ code, name, endpoint: null, keys: partnerKeysOf(keys.public) });
    }
    await store.arrangements.putVersion(signedBy('USA', 'GBR'));
    inbox = new InboxService({
      store,
      partner: 'GBR',
      registry: DEFAULT_REGISTRY,
      keys: gbr,
      now: () => NOW,
    });
  });

  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses as soon as USA is suspended under the arrangement, and takes envelopes again once it is not', async () => {
    expect((await inbox.receive(envelope(), '127.0.0.1')).outcome).toBe('stored');

    await store.arrangements.putVersion({ ...signedBy('USA', 'GBR'), suspendedParties: ['USA'] });
    const refused = await refusalOf(inbox.receive(envelope(), '127.0.0.1'));
    expect(refused.code).toBe('FEDERATION_REFUSED');
    expect(refused.message).toMatch(/arrangement\.suspension/);

    await store.arrangements.putVersion(signedBy('USA', 'GBR'));
    expect((await inbox.receive(envelope(), '127.0.0.1')).outcome).toBe('stored');
  });

  it('refuses while the arrangement is suspended as a whole, and takes envelopes again once it is active', async () => {
    expect((await inbox.receive(envelope(), '127.0.0.1')).outcome).toBe('stored');

    await store.arrangements.setStatus(TERMS.id, TERMS.version, 'suspended');
    const refused = await refusalOf(inbox.receive(envelope(), '127.0.0.1'));
    expect(refused.code).toBe('FEDERATION_REFUSED');
    expect(refused.message).toMatch(/suspended/);

    await store.arrangements.setStatus(TERMS.id, TERMS.version, 'active');
    expect((await inbox.receive(envelope(), '127.0.0.1')).outcome).toBe('stored');
  });

  it('names the productDigest in a refusal receipt, whether the signature or the policy refused', async () => {
    const digestOn = (refusal: AccordError): unknown =>
      (refusal.details.receipt as { receipt: { product: { digest: string } } }).receipt.product.digest;

    const tampered = { ...signedProduct(), title: 'Changed after USA signed it' };
    const forged = await refusalOf(inbox.receive(envelope(tampered), '127.0.0.1'));
    expect(forged.code).toBe('PRODUCT_SIGNATURE_INVALID');
    expect(digestOn(forged)).toBe(productDigest(tampered));

    await store.arrangements.putVersion({ ...signedBy('USA', 'GBR'), suspendedParties: ['USA'] });
    const product = signedProduct();
    const refused = await refusalOf(inbox.receive(envelope(product), '127.0.0.1'));
    expect(refused.code).toBe('FEDERATION_REFUSED');
    expect(digestOn(refused)).toBe(productDigest(product));
  });

  it('stores each envelope once and answers a byte-identical retry with the same receipt', async () => {
    const sent = envelope();
    const first = await inbox.receive(JSON.parse(JSON.stringify(sent)), '127.0.0.1');
    const again = await inbox.receive(JSON.parse(JSON.stringify(sent)), '127.0.0.1');
    expect(first.outcome).toBe('stored');
    expect(again).toEqual({ outcome: 'duplicate', receipt: first.receipt });
  });
});
