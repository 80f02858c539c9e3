import { describe, expect, it } from 'vitest';
import { makeArrangement } from '../../test/fixtures/builders.js';
import { type ArrangementDocument, arrangementVersionHash } from '../arrangements/index.js';
import { createNodeIdentity, type NodeIdentity, publicIdentity, signDigest } from '../crypto/index.js';
import { arrangementPins, type KeyOnRecord } from './arrangement-pins.js';

const usa = createNodeIdentity();
const gbr = createNodeIdentity();
const stranger = createNodeIdentity();
const usaPublic = publicIdentity(usa);
const gbrPublic = publicIdentity(gbr);
const strangerPublic = publicIdentity(stranger);

function recordsOf(identity: NodeIdentity): KeyOnRecord[] {
  const pub = publicIdentity(identity);
  return [
    { use: 'signing', ...pub.signing },
    { use: 'encryption', ...pub.encryption },
  ];
}

/** What the partner directory holds: both partners' real keys. */
const DIRECTORY: Readonly<Record<string, readonly KeyOnRecord[]>> = {
  USA: recordsOf(usa),
  GBR: recordsOf(gbr),
};
const directory = (partner: string): readonly KeyOnRecord[] => DIRECTORY[partner] ?? [];

/** USA-GBR, each pinning its real signing and encryption keys, with no signatures yet. */
const unsigned: ArrangementDocument = makeArrangement({
  parties: [
    {
      partner: 'USA',
      role: 'party',
      nodeKeys: [
        { use: 'signing', fingerprint: usaPublic.signing.fingerprint },
        { use: 'encryption', fingerprint: usaPublic.encryption.fingerprint },
      ],
    },
    {
      partner: 'GBR',
      role: 'party',
      nodeKeys: [
        { use: 'signing', fingerprint: gbrPublic.signing.fingerprint },
        { use: 'encryption', fingerprint: gbrPublic.encryption.fingerprint },
      ],
    },
  ],
  status: 'draft',
  signatures: [],
});
const versionHash = arrangementVersionHash(unsigned);

function slot(
  partner: string,
  identity: NodeIdentity,
  hash = versionHash,
): ArrangementDocument['signatures'][number] {
  return {
    partner,
    fingerprint: publicIdentity(identity).signing.fingerprint,
    versionHash: hash,
    signedAt: '2025-01-01T00:00:00Z',
    signature: Buffer.from(signDigest(identity.signing.privateKey, hash)).toString('base64'),
  };
}

const signed: ArrangementDocument = {
  ...unsigned,
  status: 'active',
  signatures: [slot('USA', usa), slot('GBR', gbr)],
};

describe('arrangementPins', () => {
  it("pins each party's signing keys on record once every party's signature on the version hash verifies", () => {
    const pins = arrangementPins(signed, directory);
    expect(pins.versionHash).toBe(versionHash);
    expect(pins.unverified).toEqual([]);
    expect(Buffer.from(pins.keyFor('USA', usaPublic.signing.fingerprint) ?? []).toString('base64')).toBe(
      usaPublic.signing.publicKey,
    );
    expect(pins.keyFor('GBR', gbrPublic.signing.fingerprint)).toBeDefined();
  });

  it('pins no key for another party, an encryption key, or a key the document does not list', () => {
    const pins = arrangementPins(signed, (partner) =>
      partner === 'USA'
        ? [...directory('USA'), { use: 'signing', ...strangerPublic.signing }]
        : directory(partner),
    );
    expect(pins.unverified).toEqual([]);
    expect(pins.keyFor('GBR', usaPublic.signing.fingerprint)).toBeUndefined();
    expect(pins.keyFor('USA', usaPublic.encryption.fingerprint)).toBeUndefined();
    expect(pins.keyFor('USA', strangerPublic.signing.fingerprint)).toBeUndefined();
    expect(pins.keyFor('CAN', usaPublic.signing.fingerprint)).toBeUndefined();
  });

  it.each<[string, ArrangementDocument, (partner: string) => readonly KeyOnRecord[], RegExp]>([
    ['GBR has not signed', { ...signed, signatures: [slot('USA', usa)] }, directory, /has not signed/],
    [
      'GBR signed another version hash',
      { ...signed, signatures: [slot('USA', usa), slot('GBR', gbr, `sha256:${'0'.repeat(64)}`)] },
      directory,
      /has not signed/,
    ],
    [
      "GBR's signature is over other bytes",
      {
        ...signed,
        signatures: [
          slot('USA', usa),
          { ...slot('GBR', gbr), signature: slot('USA', gbr, `sha256:${'1'.repeat(64)}`).signature },
        ],
      },
      directory,
      /does not verify/,
    ],
    [
      "GBR's signature is not 64 bytes",
      { ...signed, signatures: [slot('USA', usa), { ...slot('GBR', gbr), signature: 'c2ln' }] },
      directory,
      /not 64 bytes/,
    ],
    [
      "GBR's key is not on record",
      signed,
      (partner: string) => (partner === 'GBR' ? [] : directory(partner)),
      /not a signing key pinned for it with its public key on record/,
    ],
    [
      "the record of GBR's key holds another key",
      signed,
      (partner: string) =>
        partner === 'GBR'
          ? [
              {
                use: 'signing',
                fingerprint: gbrPublic.signing.fingerprint,
                publicKey: strangerPublic.signing.publicKey,
              },
            ]
          : directory(partner),
      /not a signing key pinned for it with its public key on record/,
    ],
  ])('pins nothing when %s, and names GBR and why', (_what, doc, keys, reason) => {
    const pins = arrangementPins(doc, keys);
    expect(pins.unverified).toEqual([{ partner: 'GBR', reason: expect.stringMatching(reason) }]);
    expect(pins.keyFor('USA', usaPublic.signing.fingerprint)).toBeUndefined();
    expect(pins.keyFor('GBR', gbrPublic.signing.fingerprint)).toBeUndefined();
  });

  it('counts a signature only by the key it names: a slot naming USA’s key with a stranger’s signature fails', () => {
    const forged = { ...slot('USA', stranger), fingerprint: usaPublic.signing.fingerprint };
    const pins = arrangementPins({ ...signed, signatures: [forged, slot('GBR', gbr)] }, directory);
    expect(pins.unverified.map((u) => u.partner)).toEqual(['USA']);
  });
});
