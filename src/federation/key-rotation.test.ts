import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { makeArrangement } from '../../test/fixtures/builders.js';
import type { ArrangementDocument } from '../arrangements/index.js';
import { createNodeIdentity, type PublicIdentity, publicIdentity } from '../crypto/index.js';
import { arrangementPins, type KeyOnRecord } from './arrangement-pins.js';
import { signArrangementAs, withPinnedKeys } from './arrangement-signing.js';
import { keyRetirement, type PinnedVersion, versionInForce } from './key-rotation.js';
import type { Signer } from './signer.js';

const usa = createNodeIdentity();
const gbrOld = createNodeIdentity();
const gbrNew = createNodeIdentity();
const usaPublic = publicIdentity(usa);
const oldPublic = publicIdentity(gbrOld);
const newPublic = publicIdentity(gbrNew);
const signer = (pub: PublicIdentity, identity: typeof usa): Signer => ({
  privateKey: identity.signing.privateKey,
  fingerprint: pub.signing.fingerprint,
});
const USA = signer(usaPublic, usa);
const GBR_OLD = signer(oldPublic, gbrOld);
const GBR_NEW = signer(newPublic, gbrNew);

// What USA's directory holds for GBR during a rotation: the old signing key kept beside the new keys.
const records = (...ids: PublicIdentity[]): KeyOnRecord[] =>
  ids.flatMap((id) => [
    { use: 'signing' as const, ...id.signing },
    { use: 'encryption' as const, ...id.encryption },
  ]);
const DIRECTORY: Readonly<Record<string, readonly KeyOnRecord[]>> = {
  USA: records(usaPublic),
  GBR: records(oldPublic, newPublic),
};
const keysOf = (partner: string): readonly KeyOnRecord[] => DIRECTORY[partner] ?? [];

const HOUR = 3_600_000;
const V1_EFFECTIVE = Date.parse('2025-01-01T00:00:00Z');
const EXPIRES = '2030-12-31T23:59:59Z';

/** A version listing USA's key and `gbr`'s, effective at `effective`, signed by `signers`. */
function version(
  v: number,
  gbr: PublicIdentity,
  effective: number,
  signers: readonly [string, Signer][],
): PinnedVersion {
  const base = makeArrangement({
    version: v,
    effective: new Date(effective).toISOString(),
    review: EXPIRES,
    expires: EXPIRES,
    status: 'draft',
    signatures: [],
  });
  let doc: ArrangementDocument = withPinnedKeys(
    base,
    new Map([
      ['USA', usaPublic],
      ['GBR', gbr],
    ]),
  );
  for (const [partner, s] of signers) doc = signArrangementAs(doc, partner, s, '2025-01-01T00:00:00Z');
  return { document: doc, pins: arrangementPins(doc, keysOf) };
}

const V1 = version(1, oldPublic, V1_EFFECTIVE, [
  ['USA', USA],
  ['GBR', GBR_OLD],
]);
const rotation = (
  at: number,
  signers: readonly [string, Signer][] = [
    ['USA', USA],
    ['GBR', GBR_NEW],
  ],
) => version(2, newPublic, at, signers);

// Rotation instants from mid-2025 to 2029, and instants around them.
const arbRotation = fc.integer({
  min: Date.parse('2025-06-01T00:00:00Z'),
  max: Date.parse('2029-01-01T00:00:00Z'),
});
const arbOffset = fc.oneof(
  fc.integer({ min: -2 * HOUR, max: 2 * HOUR }),
  fc.constantFrom(-1, 0, 1),
  fc.integer({ min: -365 * 24 * HOUR, max: 365 * 24 * HOUR }),
);

describe('keyRetirement', () => {
  it('retires the old key exactly from the rotation time on, and never the new key or an unchanged party', () => {
    fc.assert(
      fc.property(arbRotation, arbOffset, (at, offset) => {
        const versions = [V1, rotation(at)];
        const now = at + offset;
        const retired = keyRetirement(versions, 'GBR', oldPublic.signing.fingerprint, now);
        if (now >= at) {
          expect(retired).toMatchObject({ pinnedBy: 1, retiredBy: 2, since: new Date(at).toISOString() });
          expect(Buffer.from(retired?.key ?? []).toString('base64')).toBe(oldPublic.signing.publicKey);
        } else {
          expect(retired).toBeUndefined();
        }
        expect(keyRetirement(versions, 'GBR', newPublic.signing.fingerprint, now)).toBeUndefined();
        expect(keyRetirement(versions, 'USA', usaPublic.signing.fingerprint, now)).toBeUndefined();
      }),
      { numRuns: 60 },
    );
  });

  it('retires nothing while a party has not signed the new version, or its signature does not verify', () => {
    fc.assert(
      fc.property(arbRotation, fc.nat({ max: 365 * 24 * HOUR }), (at, after) => {
        const unsigned = rotation(at, [['USA', USA]]);
        // GBR's slot carries USA's signature bytes: a slot that names the new key but does not verify.
        const signed = rotation(at).document;
        const usaBytes = signed.signatures.find((s) => s.partner === 'USA')?.signature ?? '';
        const forgedDoc = {
          ...signed,
          signatures: signed.signatures.map((s) => (s.partner === 'GBR' ? { ...s, signature: usaBytes } : s)),
        };
        const forged: PinnedVersion = { document: forgedDoc, pins: arrangementPins(forgedDoc, keysOf) };
        for (const v2 of [unsigned, forged]) {
          expect(v2.pins.unverified.map((u) => u.partner)).toEqual(['GBR']);
          expect(keyRetirement([V1, v2], 'GBR', oldPublic.signing.fingerprint, at + after)).toBeUndefined();
          expect(versionInForce([V1, v2], at + after)?.document.version).toBe(1);
        }
      }),
      { numRuns: 20 },
    );
  });

  it('answers undefined for a key no signed version ever pinned (that one is merely unpinned)', () => {
    const stranger = publicIdentity(createNodeIdentity());
    const versions = [V1, rotation(V1_EFFECTIVE + HOUR)];
    expect(
      keyRetirement(versions, 'GBR', stranger.signing.fingerprint, V1_EFFECTIVE + 2 * HOUR),
    ).toBeUndefined();
    // USA's key under GBR's name was never pinned for GBR.
    expect(
      keyRetirement(versions, 'GBR', usaPublic.signing.fingerprint, V1_EFFECTIVE + 2 * HOUR),
    ).toBeUndefined();
  });

  it('follows the highest signed version in force: a third version listing the old key again reinstates it', () => {
    const at = V1_EFFECTIVE + HOUR;
    const v3 = version(3, oldPublic, at + HOUR, [
      ['USA', USA],
      ['GBR', GBR_OLD],
    ]);
    const versions = [v3, rotation(at), V1];
    expect(keyRetirement(versions, 'GBR', oldPublic.signing.fingerprint, at + HOUR / 2)?.retiredBy).toBe(2);
    expect(keyRetirement(versions, 'GBR', oldPublic.signing.fingerprint, at + HOUR)).toBeUndefined();
    expect(keyRetirement(versions, 'GBR', newPublic.signing.fingerprint, at + HOUR)).toMatchObject({
      pinnedBy: 2,
      retiredBy: 3,
    });
  });

  it('takes no effect from an unreadable effective instant', () => {
    const v2 = rotation(V1_EFFECTIVE + HOUR);
    const broken: PinnedVersion = { ...v2, document: { ...v2.document, effective: 'not a time' } };
    expect(versionInForce([V1, broken], Date.parse('2030-01-01T00:00:00Z'))?.document.version).toBe(1);
  });
});
