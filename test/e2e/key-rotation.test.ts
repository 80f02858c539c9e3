import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AccordNode, buildNode } from '../../src/app/node.js';
import { type NodeKeys, partnerKeysOf, signerOf, type UnlockedKeys } from '../../src/app/node-keys.js';
import { type ArrangementDocument, arrangementVersionHash } from '../../src/arrangements/index.js';
import { loadConfig } from '../../src/config/index.js';
import { createNodeIdentity, type EncryptionPublicKey, publicIdentity } from '../../src/crypto/index.js';
import {
  type Envelope,
  newEnvelopeHeader,
  type Signer,
  sealEnvelope,
  signArrangementAs,
  withPinnedKeys,
} from '../../src/federation/index.js';
import { openStore, type PartnerKey } from '../../src/store/index.js';
import { makeArrangement } from '../fixtures/builders.js';
import { derivedBy } from '../fixtures/derived-documents.js';

// Issue 10 key compromise drill, across real nodes in one process. GBR rotates its node keys: a
// new arrangement version (v2) lists GBR's new fingerprints, every party signs it, and it takes
// effect at ROTATION. USA's inbox takes GBR's old key before then and only the new key after;
// what the old key signs after it (a new envelope, a replay of one taken before) is refused as
// KEY_RETIRED and audited. GBR itself opens envelopes sealed to either key while it rotates, and
// once it has finished, an envelope sealed to its old encryption key is refused and audited.

const NOW = Date.parse('2026-11-26T12:00:00.000Z');
const MINUTE = 60_000;
const ROTATION = NOW + 60 * MINUTE;

function nodeKeys(): UnlockedKeys {
  const identity = createNodeIdentity();
  return { identity, public: publicIdentity(identity) };
}
const usaKeys = nodeKeys();
const gbrOld = nodeKeys();
const gbrNew = nodeKeys();
const usaSigner = signerOf(usaKeys);
const oldSigner = signerOf(gbrOld);
const newSigner = signerOf(gbrNew);

// ---------------------------------------------------------------- the two versions

function version(v: number, gbr: UnlockedKeys, gbrSigner: Signer, effective: string): ArrangementDocument {
  const terms = withPinnedKeys(
    makeArrangement({
      id: 'usa-gbr-rotation',
      version: v,
      effective,
      review: '2030-01-01T00:00:00Z',
      status: 'active',
      signatures: [],
    }),
    new Map([
      ['USA', usaKeys.public],
      ['GBR', gbr.public],
    ]),
  );
  const signedAt = '2026-11-26T11:00:00Z';
  return signArrangementAs(signArrangementAs(terms, 'USA', usaSigner, signedAt), 'GBR', gbrSigner, signedAt);
}
const V1 = version(1, gbrOld, oldSigner, '2025-01-01T00:00:00Z');
const V2 = version(2, gbrNew, newSigner, new Date(ROTATION).toISOString().replace('.000Z', 'Z'));

const records = (...keys: UnlockedKeys[]): PartnerKey[] => keys.flatMap((k) => partnerKeysOf(k.public));

// ---------------------------------------------------------------- products and envelopes

interface Sent {
  readonly from: 'USA' | 'GBR';
  readonly signer: Signer;
  readonly arrangement: ArrangementDocument;
  readonly createdAt: number;
  readonly sealedTo: EncryptionPublicKey;
  readonly id: string;
}

/** A release envelope: GBR's product to USA, or (from USA) USA's product to GBR, signed and sealed as told. */
function envelopeOf(sent: Sent): Envelope {
  const arrangement = {
    id: sent.arrangement.id,
    version: sent.arrangement.version,
    versionHash: arrangementVersionHash(sent.arrangement),
  };
  const document = derivedBy(sent.signer, sent.id, sent.from);
  const header = newEnvelopeHeader(
    {
      kind: 'release',
      from: sent.from,
      to: sent.from === 'GBR' ? 'USA' : 'GBR',
      arrangement,
      product: { id: document.id, version: document.version },
      senderKey: sent.signer.fingerprint,
    },
    { now: sent.createdAt, randomBytes: (n) => new Uint8Array(randomBytes(n)) },
  );
  return sealEnvelope({
    header,
    payload: { kind: 'release', arrangement, product: document },
    signer: sent.signer,
    recipientEncryptionKey: sent.sealedTo,
  });
}

// ---------------------------------------------------------------- the nodes

let clockNow = NOW;
const clock = () => clockNow;

interface Node {
  readonly node: AccordNode;
  close(): Promise<void>;
}

async function startNode(
  partner: string,
  keys: NodeKeys,
  directory: readonly { code: string; keys: PartnerKey[] }[],
): Promise<Node> {
  const dataDir = mkdtempSync(join(tmpdir(), `accord-rotation-${partner.toLowerCase()}-`));
  const config = loadConfig({ flags: { dataDir, partner, log: { level: 'silent' } } });
  const store = await openStore(
    { kind: 'sqlite', file: join(dataDir, 'accord.sqlite') },
    { now: () => new Date(clock()) },
  );
  const node = await buildNode(config, { store, now: clock, keys });
  for (const entry of directory) {
    await store.partners.upsert({ code: entry.code, name: entry.code, endpoint: null, keys: entry.keys });
  }
  await store.arrangements.putVersion(V1);
  return {
    node,
    async close() {
      try {
        await node.close();
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
}

async function deliver(to: Node, envelope: Envelope) {
  return to.node.server.inject({ method: 'POST', url: '/federation/v1/inbox', payload: envelope });
}

/** The audit entries `node` has recorded about `envelopeId`. */
async function auditOf(to: Node, envelopeId: string): Promise<Record<string, unknown>[]> {
  const queued = await to.node.store.audit.pending(100_000);
  return queued
    .map((q) => JSON.parse(q.entryJson) as Record<string, unknown>)
    .filter((e) => e.envelope === envelopeId);
}

describe('key compromise drill: GBR rotates its node keys', () => {
  let usa: Node;
  const sent = (overrides: Partial<Sent> & Pick<Sent, 'signer' | 'arrangement'>): Sent => ({
    from: 'GBR',
    createdAt: clockNow,
    sealedTo: usaKeys.identity.encryption.publicKey,
    id: `gbr-${randomBytes(4).toString('hex')}`,
    ...overrides,
  });
  let preRotation: Envelope;
  let capturedNeverDelivered: Envelope;

  beforeAll(async () => {
    clockNow = NOW;
    usa = await startNode('USA', usaKeys, [
      { code: 'USA', keys: records(usaKeys) },
      { code: 'GBR', keys: records(gbrOld) },
    ]);
  });
  afterAll(async () => {
    await usa?.close();
  });

  it('before the rotation: USA takes what GBR signs with its old key under v1', async () => {
    preRotation = envelopeOf(sent({ signer: oldSigner, arrangement: V1 }));
    const response = await deliver(usa, preRotation);
    expect(response.statusCode, response.body).toBe(201);
  });

  it('rotation: v2 pins the new keys, signed by both; until its effective time the old key still counts', async () => {
    // GBR ran `keys rotate` and `arrangement pin --next`; both parties signed v2. USA records GBR's
    // new keys and keeps the old signing key (`partner add --keep-signing-keys`).
    await usa.node.store.partners.upsert({
      code: 'GBR',
      name: 'GBR',
      endpoint: null,
      keys: [...records(gbrOld).filter((k) => k.use === 'signing'), ...records(gbrNew)],
    });
    await usa.node.store.arrangements.putVersion(V2);

    clockNow = ROTATION - MINUTE;
    const stillFine = await deliver(usa, envelopeOf(sent({ signer: oldSigner, arrangement: V1 })));
    expect(stillFine.statusCode, stillFine.body).toBe(201);
    // Captured on the wire a minute before the rotation, replayed within the skew window after it.
    capturedNeverDelivered = envelopeOf(sent({ signer: oldSigner, arrangement: V1 }));
  });

  it('after the rotation: the new key is taken under v2', async () => {
    clockNow = ROTATION;
    const response = await deliver(usa, envelopeOf(sent({ signer: newSigner, arrangement: V2 })));
    expect(response.statusCode, response.body).toBe(201);
  });

  it('after the rotation: the old key is refused as KEY_RETIRED under v1 or v2, and each refusal is audited', async () => {
    clockNow = ROTATION + MINUTE;
    for (const arrangement of [V1, V2]) {
      const envelope = envelopeOf(sent({ signer: oldSigner, arrangement }));
      const before = await usa.node.store.counts();
      const response = await deliver(usa, envelope);
      expect(response.statusCode, response.body).toBe(403);
      const problem = JSON.parse(response.body) as Record<string, unknown>;
      expect(problem.code).toBe('KEY_RETIRED');
      expect(problem.detail).toContain(oldSigner.fingerprint);
      expect(problem.detail).toContain(`usa-gbr-rotation v2`);
      const after = await usa.node.store.counts();
      expect(after.received_products).toBe(before.received_products);
      expect(await usa.node.store.inbox.get(envelope.header.envelopeId)).toMatchObject({
        outcome: 'refused',
        code: 'KEY_RETIRED',
      });
      expect(await auditOf(usa, envelope.header.envelopeId)).toEqual([
        expect.objectContaining({ action: 'envelope.refused', code: 'KEY_RETIRED', partner: 'GBR' }),
      ]);
    }
  });

  it('after the rotation: a replay of a pre-rotation envelope is refused and audited, delivered before or not', async () => {
    clockNow = ROTATION + MINUTE;
    for (const envelope of [preRotation, capturedNeverDelivered]) {
      const auditBefore = (await auditOf(usa, envelope.header.envelopeId)).length;
      const response = await deliver(usa, envelope);
      expect(response.statusCode, response.body).toBe(403);
      expect((JSON.parse(response.body) as { code: string }).code).toBe('KEY_RETIRED');
      const logged = await auditOf(usa, envelope.header.envelopeId);
      expect(logged).toHaveLength(auditBefore + 1);
      expect(logged.at(-1)).toMatchObject({ action: 'envelope.refused', code: 'KEY_RETIRED' });
    }
    // The product stored before the rotation stays stored: the rotation refuses, it does not recall.
    expect(await usa.node.store.inbox.get(preRotation.header.envelopeId)).toMatchObject({
      outcome: 'stored',
    });
  });

  it('property: the old key is taken exactly before the rotation time, whatever createdAt it claims', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: -4 * MINUTE, max: 4 * MINUTE }),
        fc.integer({ min: -4 * MINUTE, max: 4 * MINUTE }),
        async (receivedOffset, createdSkew) => {
          clockNow = ROTATION + receivedOffset;
          const envelope = envelopeOf(
            sent({ signer: oldSigner, arrangement: V1, createdAt: clockNow + createdSkew }),
          );
          const response = await deliver(usa, envelope);
          const code =
            response.statusCode === 201 ? 'stored' : (JSON.parse(response.body) as { code: string }).code;
          expect(code).toBe(receivedOffset < 0 ? 'stored' : 'KEY_RETIRED');
          // The new key, under v2, is taken exactly from the rotation time on (before it v2 is not in force).
          const fresh = await deliver(usa, envelopeOf(sent({ signer: newSigner, arrangement: V2 })));
          if (receivedOffset >= 0) expect(fresh.statusCode, fresh.body).toBe(201);
          else expect(fresh.statusCode).not.toBe(201);
        },
      ),
      { numRuns: 25 },
    );
  });
});

describe('key compromise drill: GBR opens with both keys while it rotates, then only with the new one', () => {
  const usaDirectoryEntry = { code: 'USA', keys: records(usaKeys) };
  const fromUsa = (sealedTo: EncryptionPublicKey, arrangement: ArrangementDocument): Envelope =>
    envelopeOf({
      from: 'USA',
      signer: usaSigner,
      arrangement,
      createdAt: clockNow,
      sealedTo,
      id: `usa-${randomBytes(4).toString('hex')}`,
    });

  it('while rotating (keys.next.json present) envelopes sealed to either key open', async () => {
    clockNow = NOW;
    const gbr = await startNode('GBR', { ...gbrOld, next: gbrNew }, [usaDirectoryEntry]);
    try {
      await gbr.node.store.arrangements.putVersion(V2);
      for (const key of [gbrOld, gbrNew]) {
        const response = await deliver(gbr, fromUsa(key.identity.encryption.publicKey, V1));
        expect(response.statusCode, response.body).toBe(201);
      }
    } finally {
      await gbr.close();
    }
  });

  it('after `keys rotate --finish` an envelope sealed to the old encryption key is refused and audited', async () => {
    clockNow = ROTATION + MINUTE;
    const gbr = await startNode('GBR', gbrNew, [usaDirectoryEntry]);
    try {
      await gbr.node.store.arrangements.putVersion(V2);
      const stale = fromUsa(gbrOld.identity.encryption.publicKey, V2);
      const refused = await deliver(gbr, stale);
      expect(refused.statusCode, refused.body).toBe(400);
      expect((JSON.parse(refused.body) as { code: string }).code).toBe('ENVELOPE_DECRYPT_FAILED');
      expect(await auditOf(gbr, stale.header.envelopeId)).toEqual([
        expect.objectContaining({
          action: 'envelope.refused',
          code: 'ENVELOPE_DECRYPT_FAILED',
          partner: 'USA',
        }),
      ]);
      const fresh = await deliver(gbr, fromUsa(gbrNew.identity.encryption.publicKey, V2));
      expect(fresh.statusCode, fresh.body).toBe(201);
    } finally {
      await gbr.close();
    }
  });
});
