import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { errorOf } from '../../test/fixtures/errors.js';
import { type EnvelopeHeader, newEnvelopeHeader } from './envelope.js';
import type { DerivedDocument } from './product-signature.js';
import { parseReleasePayload, releaseConsentOf } from './release-payload.js';

const ARRANGEMENT = { id: 'usa-gbr-ct', version: 2, versionHash: `sha256:${'ab'.repeat(32)}` };

const header: EnvelopeHeader = newEnvelopeHeader(
  {
    kind: 'release',
    from: 'USA',
    to: 'GBR',
    arrangement: ARRANGEMENT,
    product: { id: 'usa-2026-0417', version: 3 },
    senderKey: `sha256:${'cd'.repeat(32)}`,
  },
  { now: Date.parse('2026-11-26T12:00:00.000Z'), randomBytes: (n) => new Uint8Array(randomBytes(n)) },
);

/** A derived document of the right shape (its signature is not checked here). */
const document: DerivedDocument = {
  id: 'usa-2026-0417',
  version: 3,
  originator: 'USA',
  title: 'Facilitation network',
  titleMarking: '(U)',
  discipline: 'SIGINT',
  categories: ['counterterrorism'],
  portions: [{ id: 'p1', marking: '(S//REL TO USA, GBR)', text: 'Releasable.' }],
  banner: 'SECRET//REL TO USA, GBR',
  withheldCount: 1,
  reliability: 'B',
  credibility: 2,
  createdAt: '2026-11-20T09:30:00Z',
  derivedFrom: { id: 'usa-2026-0417', version: 3, digest: `sha256:${'ef'.repeat(32)}` },
  signature: { by: `sha256:${'cd'.repeat(32)}`, value: `${'A'.repeat(86)}==` },
};

describe('parseReleasePayload', () => {
  it('returns the derived document, alone or beside the kind and arrangement the header names', () => {
    expect(parseReleasePayload({ product: document }, header)).toEqual(document);
    expect(
      parseReleasePayload({ kind: 'release', arrangement: ARRANGEMENT, product: document }, header),
    ).toEqual(document);
  });

  it.each<[string, unknown, string]>([
    ['not an object', 'release', '/payload/'],
    ['without a product', { kind: 'release' }, '/payload/product'],
    ['with an unknown field', { product: document, note: 'hi' }, '/payload/note'],
    ['of another kind', { kind: 'recall', product: document }, '/payload/kind'],
    [
      'under another arrangement version',
      { arrangement: { ...ARRANGEMENT, version: 1 }, product: document },
      '/payload/arrangement',
    ],
    [
      'under other terms of the same version',
      { arrangement: { ...ARRANGEMENT, versionHash: `sha256:${'00'.repeat(32)}` }, product: document },
      '/payload/arrangement',
    ],
    ['carrying another product', { product: { ...document, id: 'usa-2026-0001' } }, '/payload/product'],
    ['carrying another version', { product: { ...document, version: 2 } }, '/payload/product'],
  ])('refuses a payload %s with ENVELOPE_MALFORMED naming the field', (_what, payload, path) => {
    const error = errorOf(() => parseReleasePayload(payload, header));
    expect(error.code).toBe('ENVELOPE_MALFORMED');
    expect(error.details).toMatchObject({ path, envelopeId: header.envelopeId });
  });

  it('refuses a document that does not parse with PRODUCT_INVALID naming its field', () => {
    const error = errorOf(() =>
      parseReleasePayload({ product: { ...document, author: 'analyst.usa' } }, header),
    );
    expect(error.code).toBe('PRODUCT_INVALID');
    expect(error.details.path).toBe('/author');
  });
});

describe('releaseConsentOf', () => {
  it('hands on the consent an onward release carries, unverified, and undefined without one', () => {
    const consent = { consent: { requestId: 'x' }, signature: 'y' };
    const payload = { kind: 'release', arrangement: ARRANGEMENT, product: document, consent };
    expect(parseReleasePayload(payload, header)).toEqual(document);
    expect(releaseConsentOf(payload)).toBe(consent);
    expect(releaseConsentOf({ product: document })).toBeUndefined();
    expect(releaseConsentOf('release')).toBeUndefined();
  });

  it('refuses a consent that is not an object (ENVELOPE_MALFORMED naming it)', () => {
    const error = errorOf(() => parseReleasePayload({ product: document, consent: 'yes' }, header));
    expect(error.code).toBe('ENVELOPE_MALFORMED');
    expect(error.details.path).toBe('/payload/consent');
  });
});
