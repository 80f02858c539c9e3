import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { errorOf } from '../../test/fixtures/errors.js';
import { digestOf } from '../crypto/index.js';
import { type EnvelopeHeader, newEnvelopeHeader } from './envelope.js';
import { parseRecallPayload, type RecallPayload, recallDigest } from './recall-payload.js';

const ARRANGEMENT = { id: 'usa-gbr-ct', version: 2, versionHash: `sha256:${'ab'.repeat(32)}` };
const sources = {
  now: Date.parse('2026-11-26T12:00:00.000Z'),
  randomBytes: (n: number) => new Uint8Array(randomBytes(n)),
};

function headerOf(kind: EnvelopeHeader['kind'] = 'recall', version = 3): EnvelopeHeader {
  return newEnvelopeHeader(
    {
      kind,
      from: 'USA',
      to: 'GBR',
      arrangement: ARRANGEMENT,
      product: { id: 'usa-2026-0417', version },
      senderKey: `sha256:${'cd'.repeat(32)}`,
    },
    sources,
  );
}

const header = headerOf();

const recall: RecallPayload = {
  kind: 'recall',
  arrangement: ARRANGEMENT,
  recallId: '0b6e2f9a-5c1d-4e8f-9a7b-3c2d1e0f4a5b',
  product: { id: 'usa-2026-0417', version: 3 },
  originator: 'USA',
  reason: 'The source has been assessed as unreliable.',
  recalledAt: '2026-11-26T11:59:00.000Z',
};

describe('parseRecallPayload', () => {
  it('returns a recall of the header version, or of every version', () => {
    expect(parseRecallPayload(recall, header)).toEqual(recall);
    const all = { ...recall, product: { id: recall.product.id, version: 'all' as const } };
    expect(parseRecallPayload(all, header)).toEqual(all);
  });

  it.each<[string, unknown, string]>([
    ['not an object', 'recall', '/payload/'],
    ['without a reason', { ...recall, reason: undefined }, '/payload/reason'],
    ['with an empty reason', { ...recall, reason: '' }, '/payload/reason'],
    ['with a reason over 2000 characters', { ...recall, reason: 'x'.repeat(2001) }, '/payload/reason'],
    ['with an unknown field', { ...recall, note: 'hi' }, '/payload/note'],
    ['of another kind', { ...recall, kind: 'release' }, '/payload/kind'],
    ['with a recall id that is no UUID', { ...recall, recallId: 'r-1' }, '/payload/recallId'],
    [
      'with a version of 0',
      { ...recall, product: { ...recall.product, version: 0 } },
      '/payload/product/version',
    ],
    [
      'with a version word other than all',
      { ...recall, product: { ...recall.product, version: 'every' } },
      '/payload/product/version',
    ],
    [
      'with a recalledAt in another form',
      { ...recall, recalledAt: '2026-11-26T11:59:00Z' },
      '/payload/recalledAt',
    ],
    [
      'with a recalledAt that is no real day',
      { ...recall, recalledAt: '2026-02-30T11:59:00.000Z' },
      '/payload/recalledAt',
    ],
    [
      'under another arrangement version',
      { ...recall, arrangement: { ...ARRANGEMENT, version: 1 } },
      '/payload/arrangement',
    ],
    [
      'under other terms of the same version',
      { ...recall, arrangement: { ...ARRANGEMENT, versionHash: `sha256:${'00'.repeat(32)}` } },
      '/payload/arrangement',
    ],
    [
      'naming another product',
      { ...recall, product: { ...recall.product, id: 'usa-2026-0001' } },
      '/payload/product/id',
    ],
    [
      'naming another version',
      { ...recall, product: { ...recall.product, version: 2 } },
      '/payload/product/version',
    ],
    ['naming another originator than its sender', { ...recall, originator: 'CAN' }, '/payload/originator'],
  ])('refuses a payload %s with ENVELOPE_MALFORMED naming the field', (_what, payload, path) => {
    const error = errorOf(() => parseRecallPayload(payload, header));
    expect(error.code).toBe('ENVELOPE_MALFORMED');
    expect(error.details).toMatchObject({ path, envelopeId: header.envelopeId });
  });

  it('refuses a recall sealed under a release header', () => {
    const error = errorOf(() => parseRecallPayload(recall, headerOf('release')));
    expect(error.code).toBe('ENVELOPE_MALFORMED');
    expect(error.details.path).toBe('/payload/kind');
  });

  it('takes only what agrees with the signed header (property)', () => {
    fc.assert(
      fc.property(
        fc.record({
          id: fc.constantFrom('usa-2026-0417', 'usa-2026-0418'),
          version: fc.oneof(fc.constant<'all'>('all'), fc.integer({ min: 1, max: 5 })),
          originator: fc.constantFrom('USA', 'GBR', 'CAN'),
          arrangementVersion: fc.integer({ min: 1, max: 3 }),
          headerVersion: fc.integer({ min: 1, max: 5 }),
        }),
        (c) => {
          const signed = headerOf('recall', c.headerVersion);
          const payload = {
            ...recall,
            arrangement: { ...ARRANGEMENT, version: c.arrangementVersion },
            product: { id: c.id, version: c.version },
            originator: c.originator,
          };
          const agrees =
            c.id === signed.product.id &&
            (c.version === 'all' || c.version === signed.product.version) &&
            c.originator === signed.from &&
            c.arrangementVersion === signed.arrangement.version;
          if (agrees) expect(parseRecallPayload(payload, signed)).toEqual(payload);
          else expect(errorOf(() => parseRecallPayload(payload, signed)).code).toBe('ENVELOPE_MALFORMED');
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('recallDigest', () => {
  it('is the digest of the canonical recall, the same after a JSON round trip', () => {
    expect(recallDigest(recall)).toBe(digestOf(recall));
    expect(recallDigest(JSON.parse(JSON.stringify(recall)) as RecallPayload)).toBe(recallDigest(recall));
    expect(recallDigest({ ...recall, reason: 'another reason' })).not.toBe(recallDigest(recall));
  });
});
