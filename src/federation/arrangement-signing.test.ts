import { describe, expect, it } from 'vitest';
import { makeArrangement } from '../../test/fixtures/builders.js';
import { errorOf } from '../../test/fixtures/errors.js';
import { createNodeIdentity, type NodeIdentity, publicIdentity } from '../crypto/index.js';
import { arrangementPins, type KeyOnRecord } from './arrangement-pins.js';
import { signArrangementAs, withPinnedKeys } from './arrangement-signing.js';
import type { Signer } from './signer.js';

const nodes = { USA: createNodeIdentity(), GBR: createNodeIdentity() };
const publics = new Map(Object.entries(nodes).map(([code, id]) => [code, publicIdentity(id)]));

function signerOf(identity: NodeIdentity): Signer {
  return {
    privateKey: identity.signing.privateKey,
    fingerprint: publicIdentity(identity).signing.fingerprint,
  };
}

function records(code: string): KeyOnRecord[] {
  const pub = publics.get(code);
  return pub === undefined
    ? []
    : [
        { use: 'signing', ...pub.signing },
        { use: 'encryption', ...pub.encryption },
      ];
}

const AT = '2026-01-01T00:00:00Z';
const terms = withPinnedKeys(makeArrangement(), publics);

describe('signArrangementAs', () => {
  it('pins every party only once each has signed with the key the terms list for it', () => {
    const once = signArrangementAs(terms, 'USA', signerOf(nodes.USA), AT);
    expect(arrangementPins(once, records).unverified.map((u) => u.partner)).toEqual(['GBR']);
    const both = signArrangementAs(once, 'GBR', signerOf(nodes.GBR), AT);
    const pins = arrangementPins(both, records);
    expect(pins.unverified).toEqual([]);
    const usaKey = publics.get('USA')?.signing.fingerprint ?? '';
    expect(pins.keyFor('USA', usaKey)).toBeDefined();
  });

  it('replaces its own earlier slot when the same key signs again', () => {
    const twice = signArrangementAs(
      signArrangementAs(terms, 'USA', signerOf(nodes.USA), AT),
      'USA',
      signerOf(nodes.USA),
      AT,
    );
    expect(twice.signatures.filter((s) => s.partner === 'USA')).toHaveLength(1);
  });

  it('drops the signatures when keys are pinned again, since they covered other terms', () => {
    const signed = signArrangementAs(terms, 'USA', signerOf(nodes.USA), AT);
    expect(
      withPinnedKeys(signed, new Map([['GBR', publicIdentity(createNodeIdentity())]])).signatures,
    ).toEqual([]);
  });

  it('refuses a key the terms do not list for the party, and a partner who is no party', () => {
    const stranger = createNodeIdentity();
    expect(errorOf(() => signArrangementAs(terms, 'USA', signerOf(stranger), AT)).code).toBe('INPUT_INVALID');
    expect(errorOf(() => signArrangementAs(terms, 'FRA', signerOf(nodes.USA), AT)).message).toMatch(
      /FRA is not a party/,
    );
  });
});
