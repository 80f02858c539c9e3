import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { errorOf } from '../../test/fixtures/errors.js';
import { canonicalJson, fingerprintOf, isValidSignature, signDigest } from '../crypto/index.js';
import {
  CONSENT_CONTEXT,
  type ConsentFields,
  type ConsentKeyResolver,
  type ConsentScope,
  type ConsentTerms,
  consentProblems,
  consentSigningBytes,
  policyConsentOf,
  requireConsent,
  type SignedConsent,
  signConsent,
  verifyConsent,
} from './consent.js';
import type { Signer } from './signer.js';

const RUNS = { numRuns: 300 } as const;

function makeSigner(): Signer & { readonly publicKey: KeyObject } {
  const pair = generateKeyPairSync('ed25519');
  return {
    privateKey: pair.privateKey,
    publicKey: pair.publicKey,
    fingerprint: fingerprintOf(pair.publicKey),
  };
}

const usa = makeSigner(); // the originator, who signs consents
const gbr = makeSigner(); // the holder, whose key must never speak for USA
const pinnedUsa: ConsentKeyResolver = (originator, fingerprint) =>
  originator === 'USA' && fingerprint === usa.fingerprint ? usa.publicKey : undefined;

const ARRANGEMENT = { id: 'fvey-ct', version: 2, versionHash: `sha256:${'ab'.repeat(32)}` };
const GRANTED_AT = '2026-11-26T12:00:00.000Z';
const EXPIRES_AT = '2026-12-26T12:00:00.000Z';
const FIELDS: ConsentFields = {
  requestId: '3b0f8a52-5c1e-4d7a-9b2c-6e4f1a2b3c4d',
  product: { id: 'USA-2026-0417', version: 1, digest: `sha256:${'cd'.repeat(32)}` },
  originator: 'USA',
  holder: 'GBR',
  recipient: 'CAN',
  arrangement: ARRANGEMENT,
  grantedAt: GRANTED_AT,
  expiresAt: EXPIRES_AT,
};
const AT = Date.parse('2026-11-27T00:00:00.000Z');
const SCOPE: ConsentScope = {
  product: FIELDS.product,
  originator: 'USA',
  holder: 'GBR',
  recipient: 'CAN',
  arrangement: ARRANGEMENT,
  at: AT,
};

function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** Terms signed by `signer` exactly as given, bypassing signConsent's own checks. */
function signedRaw(terms: ConsentTerms, signer: Signer = usa): SignedConsent {
  return {
    consent: terms,
    signature: Buffer.from(signDigest(signer.privateKey, consentSigningBytes(terms))).toString('base64url'),
  };
}

describe('signConsent and verifyConsent', () => {
  it('round-trips a consent, with and without expiry, through JSON text', () => {
    const { expiresAt: _expiresAt, ...open } = FIELDS;
    for (const fields of [FIELDS, open]) {
      const signed = signConsent(fields, usa);
      expect(signed.consent).toEqual({ ...fields, signerKey: usa.fingerprint });
      expect(verifyConsent(clone(signed), pinnedUsa)).toEqual(signed.consent);
    }
  });

  it('signs the canonical JSON of { context: accord/consent/v1, consent }, base64url', () => {
    const signed = signConsent(FIELDS, usa);
    const text = `{"consent":${canonicalJson(signed.consent)},"context":"accord/consent/v1"}`;
    expect(CONSENT_CONTEXT).toBe('accord/consent/v1');
    expect(new TextDecoder().decode(consentSigningBytes(signed.consent))).toBe(text);
    const signature = Buffer.from(signed.signature, 'base64url');
    expect(signature).toHaveLength(64);
    expect(isValidSignature(usa.publicKey, text, signature)).toBe(true);
  });

  it.each<[string, (terms: ConsentTerms) => string]>([
    ['the bare terms (no context)', (terms) => canonicalJson(terms)],
    ["a receipt's context", (terms) => canonicalJson({ context: 'accord/receipt/v1', receipt: terms })],
    ["the envelope's context", (terms) => canonicalJson({ consent: terms, context: 'accord/envelope/v1' })],
    ["the product signature's context", (terms) => `accord/product/v1:${canonicalJson(terms)}`],
  ])('refuses a signature by the pinned key over %s (CONSENT_INVALID)', (_what, message) => {
    const { consent } = signConsent(FIELDS, usa);
    const signature = Buffer.from(signDigest(usa.privateKey, message(consent))).toString('base64url');
    const error = errorOf(() => verifyConsent({ consent, signature }, pinnedUsa));
    expect(error.code).toBe('CONSENT_INVALID');
    expect(error.details.path).toBe('/signature');
  });

  it.each<[string, Partial<ConsentFields>, string]>([
    ['the holder is the originator', { holder: 'USA' }, '/holder'],
    ['the recipient is the holder', { recipient: 'GBR' }, '/recipient'],
    ['the recipient is the originator', { recipient: 'USA' }, '/recipient'],
    ['it expires when it is granted', { expiresAt: GRANTED_AT }, '/expiresAt'],
    ['it expires before it is granted', { expiresAt: '2026-11-25T12:00:00.000Z' }, '/expiresAt'],
    ['grantedAt is no date', { grantedAt: '2026-02-30T12:00:00.000Z' }, '/grantedAt'],
    ['the digest is no digest', { product: { ...FIELDS.product, digest: 'sha256:abc' } }, '/product/digest'],
  ])('refuses to sign a consent where %s (CONSENT_INVALID naming %s)', (_what, change, path) => {
    const error = errorOf(() => signConsent({ ...FIELDS, ...change }, usa));
    expect(error.code).toBe('CONSENT_INVALID');
    expect(error.details.path).toBe(path);
  });

  it('refuses the same faults in a consent signed over them by the pinned key', () => {
    const { consent } = signConsent(FIELDS, usa);
    for (const [change, path] of [
      [{ holder: 'USA' }, '/consent/holder'],
      [{ recipient: 'GBR' }, '/consent/recipient'],
      [{ expiresAt: GRANTED_AT }, '/consent/expiresAt'],
    ] as const) {
      const error = errorOf(() => verifyConsent(signedRaw({ ...consent, ...change }), pinnedUsa));
      expect(error.code).toBe('CONSENT_INVALID');
      expect(error.details.path).toBe(path);
    }
  });

  it('refuses to sign with a key other than the one the fingerprint names (KEY_INVALID)', () => {
    const wrong = { privateKey: gbr.privateKey, fingerprint: usa.fingerprint };
    expect(errorOf(() => signConsent(FIELDS, wrong)).code).toBe('KEY_INVALID');
  });

  it.each<[string, (s: SignedConsent) => unknown, string]>([
    ['a non-object', () => 'yes', '/'],
    ['an unknown field', (s) => ({ ...s, consent: { ...s.consent, scope: 'all' } }), '/consent/scope'],
    ['an unknown top-level field', (s) => ({ ...s, by: 'USA' }), '/by'],
    ['a missing recipient', (s) => ({ ...s, consent: { ...s.consent, recipient: undefined } }), '/consent'],
    [
      'a lower-case partner',
      (s) => ({ ...s, consent: { ...s.consent, recipient: 'can' } }),
      '/consent/recipient',
    ],
    ['a short signature', (s) => ({ ...s, signature: s.signature.slice(1) }), '/signature'],
  ])('refuses %s as CONSENT_INVALID naming %s', (_what, change, path) => {
    const error = errorOf(() => verifyConsent(change(signConsent(FIELDS, usa)), pinnedUsa));
    expect(error.code).toBe('CONSENT_INVALID');
    expect(String(error.details.path)).toContain(path);
  });

  it("refuses a consent signed by the holder's own key in the originator's name (KEY_UNPINNED)", () => {
    const error = errorOf(() => verifyConsent(signConsent(FIELDS, gbr), pinnedUsa));
    expect(error.code).toBe('KEY_UNPINNED');
    expect(error.details).toMatchObject({ requestId: FIELDS.requestId, fingerprint: gbr.fingerprint });
  });

  it("refuses the holder's signature under the originator's fingerprint (CONSENT_INVALID)", () => {
    const { consent } = signConsent(FIELDS, usa);
    const error = errorOf(() => verifyConsent(signedRaw(consent, gbr), pinnedUsa));
    expect(error.code).toBe('CONSENT_INVALID');
    expect(error.details.path).toBe('/signature');
  });

  it("refuses the originator's key speaking for another originator (KEY_UNPINNED)", () => {
    const signed = signConsent({ ...FIELDS, originator: 'AUS' }, usa);
    expect(errorOf(() => verifyConsent(signed, pinnedUsa)).code).toBe('KEY_UNPINNED');
  });

  it('refuses any bit flip in a signed field or the signature (property)', () => {
    const signed = signConsent(FIELDS, usa);
    const paths = [
      'requestId',
      'product.id',
      'product.version',
      'product.digest',
      'originator',
      'holder',
      'recipient',
      'arrangement.id',
      'arrangement.version',
      'arrangement.versionHash',
      'grantedAt',
      'expiresAt',
      'signerKey',
      'signature',
    ] as const;
    fc.assert(
      fc.property(
        fc.constantFrom(...paths),
        fc.nat(),
        fc.integer({ min: 0, max: 15 }),
        (path, index, bit) => {
          const copy = clone(signed) as unknown as Record<string, Record<string, unknown>>;
          const [outer, inner] = path.split('.') as [string, string | undefined];
          const holder =
            path === 'signature'
              ? (copy as unknown as Record<string, unknown>)
              : inner === undefined
                ? copy.consent!
                : (copy.consent![outer] as Record<string, unknown>);
          const key = inner ?? outer;
          const value = holder[key];
          if (typeof value === 'number') holder[key] = value ^ (1 << bit);
          else {
            const text = String(value);
            const i = index % text.length;
            holder[key] =
              text.slice(0, i) + String.fromCharCode(text.charCodeAt(i) ^ (1 << bit)) + text.slice(i + 1);
          }
          const error = errorOf(() => verifyConsent(copy, pinnedUsa));
          // A changed originator or key fingerprint names a key no arrangement pins for it.
          const codes =
            path === 'originator' || path === 'signerKey'
              ? ['CONSENT_INVALID', 'KEY_UNPINNED']
              : ['CONSENT_INVALID'];
          expect(codes).toContain(error.code);
        },
      ),
      RUNS,
    );
  });

  it('refuses a signed consent with any field replaced by another well-formed value (property)', () => {
    const signed = signConsent(FIELDS, usa);
    const partner = fc.constantFrom('USA', 'GBR', 'CAN', 'AUS', 'NZL', 'FRA');
    const replacement = fc.oneof(
      partner.map((p) => ({ recipient: p })),
      partner.map((p) => ({ holder: p })),
      partner.map((p) => ({ originator: p })),
      fc.integer({ min: 2, max: 9 }).map((v) => ({ product: { ...FIELDS.product, version: v } })),
      fc.constantFrom('USA-2026-0418', 'GBR-2026-0417').map((id) => ({ product: { ...FIELDS.product, id } })),
      fc.integer({ min: 3, max: 9 }).map((v) => ({ arrangement: { ...ARRANGEMENT, version: v } })),
      fc.constantFrom('2027-01-01T00:00:00.000Z', '2030-01-01T00:00:00.000Z').map((e) => ({ expiresAt: e })),
    );
    fc.assert(
      fc.property(replacement, (change) => {
        const changed = { ...signed, consent: { ...signed.consent, ...change } };
        fc.pre(canonicalJson(changed.consent) !== canonicalJson(signed.consent));
        expect(['CONSENT_INVALID', 'KEY_UNPINNED']).toContain(
          errorOf(() => verifyConsent(changed, pinnedUsa)).code,
        );
      }),
      RUNS,
    );
  });
});

describe('consentProblems and requireConsent', () => {
  it('accept a verifying consent for exactly this onward release while it is in force', () => {
    const signed = signConsent(FIELDS, usa);
    expect(consentProblems(signed.consent, SCOPE)).toEqual([]);
    expect(requireConsent(signed, SCOPE, pinnedUsa)).toEqual(signed.consent);
    expect(consentProblems(signed.consent, { ...SCOPE, at: Date.parse(GRANTED_AT) })).toEqual([]);
  });

  it('name every difference, and a consent for one recipient never authorises another (property)', () => {
    const signed = signConsent(FIELDS, usa);
    const partner = fc.constantFrom('USA', 'GBR', 'CAN', 'AUS', 'NZL');
    const scope = fc.record({
      originator: partner,
      holder: partner,
      recipient: partner,
      id: fc.constantFrom(FIELDS.product.id, 'USA-2026-0418'),
      version: fc.integer({ min: 1, max: 3 }),
      digest: fc.constantFrom(FIELDS.product.digest, `sha256:${'ef'.repeat(32)}`),
      arrangementVersion: fc.integer({ min: 1, max: 3 }),
      at: fc.integer({ min: Date.parse(GRANTED_AT) - 86_400_000, max: Date.parse(EXPIRES_AT) + 86_400_000 }),
    });
    fc.assert(
      fc.property(scope, (s) => {
        const candidate: ConsentScope = {
          originator: s.originator,
          holder: s.holder,
          recipient: s.recipient,
          product: { id: s.id, version: s.version, digest: s.digest },
          arrangement: { ...ARRANGEMENT, version: s.arrangementVersion },
          at: s.at,
        };
        const covers =
          s.originator === 'USA' &&
          s.holder === 'GBR' &&
          s.recipient === 'CAN' &&
          s.id === FIELDS.product.id &&
          s.version === FIELDS.product.version &&
          s.digest === FIELDS.product.digest &&
          s.arrangementVersion === ARRANGEMENT.version &&
          s.at >= Date.parse(GRANTED_AT) &&
          s.at < Date.parse(EXPIRES_AT);
        expect(consentProblems(signed.consent, candidate).length === 0).toBe(covers);
        if (covers) expect(requireConsent(signed, candidate, pinnedUsa)).toEqual(signed.consent);
        else
          expect(errorOf(() => requireConsent(signed, candidate, pinnedUsa)).code).toBe('CONSENT_MISMATCH');
      }),
      RUNS,
    );
  });

  it('names the recipient, the expiry and the start in its reasons', () => {
    const { consent } = signConsent(FIELDS, usa);
    expect(consentProblems(consent, { ...SCOPE, recipient: 'AUS' })).toEqual([
      'it names recipient CAN, not AUS',
    ]);
    expect(consentProblems(consent, { ...SCOPE, at: Date.parse(EXPIRES_AT) })).toEqual([
      `it expired at ${EXPIRES_AT}`,
    ]);
    expect(consentProblems(consent, { ...SCOPE, at: Date.parse(GRANTED_AT) - 1 })).toEqual([
      `it is granted from ${GRANTED_AT}, not yet in force`,
    ]);
    const error = errorOf(() =>
      requireConsent(signConsent(FIELDS, usa), { ...SCOPE, recipient: 'AUS' }, pinnedUsa),
    );
    expect(error.message).toContain('recipient CAN, not AUS');
    expect(error.details.problems).toEqual(['it names recipient CAN, not AUS']);
  });

  it('fails closed on a clock that is not a number', () => {
    const { consent } = signConsent(FIELDS, usa);
    expect(consentProblems(consent, { ...SCOPE, at: Number.NaN })).not.toEqual([]);
  });

  it('checks the signature before the scope: a forged consent is never a mere mismatch', () => {
    expect(errorOf(() => requireConsent(signConsent(FIELDS, gbr), SCOPE, pinnedUsa)).code).toBe(
      'KEY_UNPINNED',
    );
  });

  it('gives decideRelease the originator, recipient, product and validity', () => {
    expect(policyConsentOf(signConsent(FIELDS, usa).consent)).toEqual({
      originator: 'USA',
      recipient: 'CAN',
      productId: FIELDS.product.id,
      grantedAt: GRANTED_AT,
      expiresAt: EXPIRES_AT,
    });
  });
});
