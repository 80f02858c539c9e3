import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { errorOf } from '../../test/fixtures/errors.js';
import {
  type ConsentRequest,
  parseConsentAnswerPayload,
  parseConsentRequestPayload,
} from './consent-messages.js';
import { type EnvelopeHeader, type EnvelopeKind, newEnvelopeHeader } from './envelope.js';

const ARRANGEMENT = { id: 'fvey-ct', version: 2, versionHash: `sha256:${'ab'.repeat(32)}` };
const PRODUCT = { id: 'USA-2026-0417', version: 3 };

function headerOf(kind: EnvelopeKind, from: string, to: string): EnvelopeHeader {
  return newEnvelopeHeader(
    { kind, from, to, arrangement: ARRANGEMENT, product: PRODUCT, senderKey: `sha256:${'cd'.repeat(32)}` },
    { now: Date.parse('2026-11-26T12:00:00.000Z'), randomBytes: (n) => new Uint8Array(randomBytes(n)) },
  );
}

const requestHeader = headerOf('consent-request', 'GBR', 'USA');
const answerHeader = headerOf('consent-grant', 'USA', 'GBR');

const REQUEST: ConsentRequest = {
  requestId: '3b0f8a52-5c1e-4d7a-9b2c-6e4f1a2b3c4d',
  product: { ...PRODUCT, digest: `sha256:${'ef'.repeat(32)}` },
  originator: 'USA',
  holder: 'GBR',
  recipient: 'CAN',
  arrangement: ARRANGEMENT,
  reason: 'CAN leads the joint investigation',
  requestedAt: '2026-11-26T11:59:00.000Z',
};

describe('parseConsentRequestPayload', () => {
  it('returns the request when it agrees with its header', () => {
    expect(parseConsentRequestPayload({ kind: 'consent-request', request: REQUEST }, requestHeader)).toEqual(
      REQUEST,
    );
  });

  it.each<[string, Partial<ConsentRequest> | 'extra', string]>([
    ['a holder other than the sender', { holder: 'AUS' }, '/payload/request/holder'],
    ['an originator other than the addressee', { originator: 'AUS' }, '/payload/request/originator'],
    ['the holder as recipient', { recipient: 'GBR' }, '/payload/request/recipient'],
    ['the originator as recipient', { recipient: 'USA' }, '/payload/request/recipient'],
    ['another product version', { product: { ...REQUEST.product, version: 4 } }, '/payload/request/product'],
    [
      'another arrangement version',
      { arrangement: { ...ARRANGEMENT, version: 3 } },
      '/payload/request/arrangement',
    ],
    ['a date that is no date', { requestedAt: '2026-02-30T00:00:00.000Z' }, '/payload/request/requestedAt'],
    ['an empty reason', { reason: '' }, '/payload/request/reason'],
    ['an unknown field', 'extra', '/payload/request/note'],
  ])('refuses %s (ENVELOPE_MALFORMED)', (_what, change, path) => {
    const request = change === 'extra' ? { ...REQUEST, note: 'x' } : { ...REQUEST, ...(change as object) };
    const error = errorOf(() =>
      parseConsentRequestPayload({ kind: 'consent-request', request }, requestHeader),
    );
    expect(error.code).toBe('ENVELOPE_MALFORMED');
    expect(error.details).toMatchObject({ path, envelopeId: requestHeader.envelopeId });
  });

  it('refuses a request sealed under a header of another kind', () => {
    const error = errorOf(() =>
      parseConsentRequestPayload(
        { kind: 'consent-request', request: REQUEST },
        { ...requestHeader, kind: 'release' },
      ),
    );
    expect(error.details.path).toBe('/payload/kind');
  });
});

describe('parseConsentAnswerPayload', () => {
  const granted = {
    kind: 'consent-grant',
    requestId: REQUEST.requestId,
    outcome: 'granted',
    decidedAt: '2026-11-26T12:00:00.000Z',
    consent: { consent: {}, signature: 'x' },
  };
  const denied = {
    kind: 'consent-grant',
    requestId: REQUEST.requestId,
    outcome: 'denied',
    decidedAt: '2026-11-26T12:00:00.000Z',
    reason: 'portion.releasability: p1 is not releasable to CAN',
  };

  it('returns a grant with its consent and a denial with its reason', () => {
    expect(parseConsentAnswerPayload(granted, answerHeader)).toEqual(granted);
    expect(parseConsentAnswerPayload(denied, answerHeader)).toEqual(denied);
  });

  it.each<[string, unknown, string]>([
    ['a grant without its consent', { ...granted, consent: undefined }, '/payload/consent'],
    ['a grant with a reason', { ...granted, reason: 'because' }, '/payload/reason'],
    ['a denial without its reason', { ...denied, reason: undefined }, '/payload/reason'],
    ['a denial with a consent', { ...denied, consent: {} }, '/payload/consent'],
    ['an unknown outcome', { ...denied, outcome: 'maybe' }, '/payload/outcome'],
    ['a release payload', { kind: 'release', product: {} }, '/payload/requestId'],
  ])('refuses %s (ENVELOPE_MALFORMED)', (_what, payload, path) => {
    const clean = JSON.parse(JSON.stringify(payload)) as unknown;
    const error = errorOf(() => parseConsentAnswerPayload(clean, answerHeader));
    expect(error.code).toBe('ENVELOPE_MALFORMED');
    expect(error.details.path).toBe(path);
  });
});
