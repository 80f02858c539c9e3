import { describe, expect, it } from 'vitest';
import { makeArrangement } from '../../test/fixtures/builders.js';
import { type NodeKeys, partnerKeysOf, signerOf } from '../app/node-keys.js';
import type { ArrangementDocument } from '../arrangements/index.js';
import { createNodeIdentity, type PublicIdentity, publicIdentity } from '../crypto/index.js';
import { type KeyOnRecord, signArrangementAs, withPinnedKeys } from '../federation/index.js';
import { PinsMemo } from './pins-memo.js';

function nodeKeys(): NodeKeys {
  const identity = createNodeIdentity();
  return { identity, public: publicIdentity(identity) };
}

const usa = nodeKeys();
const gbr = nodeKeys();
const TERMS = withPinnedKeys(
  makeArrangement({ id: 'usa-gbr-memo' }),
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

function directory(entries: Record<string, PublicIdentity>): (code: string) => readonly KeyOnRecord[] {
  return (code) => {
    const identity = entries[code];
    return identity === undefined ? [] : partnerKeysOf(identity);
  };
}

describe('PinsMemo', () => {
  const usaFingerprint = usa.public.signing.fingerprint;

  it('answers the same document under the same keys from memory', () => {
    const memo = new PinsMemo();
    const keys = directory({ USA: usa.public, GBR: gbr.public });
    const first = memo.pinsOf(signedBy('USA', 'GBR'), keys);
    expect(first.unverified).toEqual([]);
    expect(first.keyFor('USA', usaFingerprint)).toBeDefined();
    // A copy read again from the store: equal content, the same answer.
    expect(memo.pinsOf(structuredClone(signedBy('USA', 'GBR')), keys)).toBe(first);
  });

  it('is never stale: a signature added, or a key changed in the directory, is computed afresh', () => {
    const memo = new PinsMemo();
    const keys = directory({ USA: usa.public, GBR: gbr.public });
    expect(memo.pinsOf(signedBy('USA'), keys).unverified.map((u) => u.partner)).toEqual(['GBR']);
    expect(memo.pinsOf(signedBy('USA', 'GBR'), keys).unverified).toEqual([]);

    const replaced = directory({ USA: nodeKeys().public, GBR: gbr.public });
    const now = memo.pinsOf(signedBy('USA', 'GBR'), replaced);
    expect(now.unverified.map((u) => u.partner)).toEqual(['USA']);
    expect(now.keyFor('USA', usaFingerprint)).toBeUndefined();
    // And back: the original answer again.
    expect(memo.pinsOf(signedBy('USA', 'GBR'), keys).keyFor('USA', usaFingerprint)).toBeDefined();
  });
});
