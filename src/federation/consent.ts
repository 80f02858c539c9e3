import Type, { type Static } from 'typebox';
import { canonicalJson, isValidSignature, SIGNATURE_LENGTH, type SigningPublicKey } from '../crypto/index.js';
import { AccordError, type ErrorDetails, isAccordError } from '../errors/index.js';
import { Identifier, PartnerCode } from '../products/index.js';
import { createValidator } from '../validation/index.js';
import { type EnvelopeArrangement, EnvelopeArrangementSchema } from './envelope.js';
import { pinnedKey, type Signer, signAs } from './signer.js';
import {
  Base64UrlBytes,
  decodeBase64Url,
  encodeBase64Url,
  Fingerprint,
  Instant,
  instantMillis,
  Sha256Digest,
  Uuid,
  Version,
} from './wire-format.js';

// DESIGN.md §2 invariant 2 (third-party rule): a node passes on a product another partner
// originated only with that originator's signed consent for that recipient. The consent is the
// originator node's Ed25519 signature over exactly one onward release: this derived document (by
// its productDigest), from this holder, to this recipient, under this arrangement version, for a
// time. Anything else it does not authorise: consentProblems names every field that differs.

/**
 * The purpose label in every consent signature: with the envelope's, receipt's and product
 * signature's own labels it keeps a consent signature from ever verifying as one of those.
 */
export const CONSENT_CONTEXT = 'accord/consent/v1';

const strict = { additionalProperties: false } as const;

/**
 * The signed body of a consent. `product.digest` is the productDigest of the derived document the
 * holder holds and will pass on as it is; `holder` the partner that asked and will send it;
 * `recipient` the new one; `arrangement` the version the onward release may travel under;
 * `signerKey` the fingerprint of the originator node's Ed25519 key.
 */
export const ConsentTermsSchema = Type.Object(
  {
    requestId: Uuid,
    product: Type.Object({ id: Identifier, version: Version, digest: Sha256Digest }, strict),
    originator: PartnerCode,
    holder: PartnerCode,
    recipient: PartnerCode,
    arrangement: EnvelopeArrangementSchema,
    grantedAt: Instant,
    expiresAt: Type.Optional(Instant),
    signerKey: Fingerprint,
  },
  strict,
);
export type ConsentTerms = Static<typeof ConsentTermsSchema>;
/** What the originator fills in; signConsent adds its key's fingerprint. */
export type ConsentFields = Omit<ConsentTerms, 'signerKey'>;

/** Consent terms with the originator's Ed25519 signature over consentSigningBytes, base64url. */
export const SignedConsentSchema = Type.Object(
  { consent: ConsentTermsSchema, signature: Base64UrlBytes(SIGNATURE_LENGTH) },
  strict,
);
export type SignedConsent = Static<typeof SignedConsentSchema>;

/** Looks up the Ed25519 key pinned for partner `originator` under `fingerprint`; undefined when none is. */
export type ConsentKeyResolver = (originator: string, fingerprint: string) => SigningPublicKey | undefined;

/** The one onward release a consent must cover to authorise it, and the instant of the check. */
export interface ConsentScope {
  readonly product: { readonly id: string; readonly version: number; readonly digest: string };
  readonly originator: string;
  readonly holder: string;
  readonly recipient: string;
  readonly arrangement: EnvelopeArrangement;
  /** Epoch milliseconds. */
  readonly at: number;
}

const validateSignedConsent = createValidator<SignedConsent>(
  SignedConsentSchema,
  'CONSENT_INVALID',
  'consent',
);
const validateTerms = createValidator<ConsentTerms>(ConsentTermsSchema, 'CONSENT_INVALID', 'consent');

function invalid(message: string, path: string, details: ErrorDetails = {}, cause?: unknown): AccordError {
  return new AccordError(
    'CONSENT_INVALID',
    `consent ${path}: ${message}`,
    { ...details, path },
    cause === undefined ? undefined : { cause },
  );
}

/** Rules the schema cannot say: real instants, an expiry after the grant, three distinct parties. */
function checkTerms(terms: ConsentTerms, prefix: string): void {
  const ids = { requestId: terms.requestId };
  const granted = instantMillis(terms.grantedAt);
  if (granted === undefined) throw invalid('is not a real UTC instant', `${prefix}/grantedAt`, ids);
  if (terms.expiresAt !== undefined) {
    const expires = instantMillis(terms.expiresAt);
    if (expires === undefined) throw invalid('is not a real UTC instant', `${prefix}/expiresAt`, ids);
    if (expires <= granted) throw invalid('must come after grantedAt', `${prefix}/expiresAt`, ids);
  }
  // The rule is about passing a product on: the originator needs no consent of its own, and a
  // holder cannot be its own new recipient.
  if (terms.holder === terms.originator) {
    throw invalid('must not be the originator', `${prefix}/holder`, ids);
  }
  if (terms.recipient === terms.originator || terms.recipient === terms.holder) {
    throw invalid('must be neither the originator nor the holder', `${prefix}/recipient`, ids);
  }
}

/**
 * The bytes a consent's signature covers: UTF-8 of the RFC 8785 canonical JSON of
 * `{ context: CONSENT_CONTEXT, consent }`, the consent being the terms without their signature.
 */
export function consentSigningBytes(terms: ConsentTerms): Uint8Array {
  return new TextEncoder().encode(canonicalJson({ context: CONSENT_CONTEXT, consent: terms }));
}

/** Signs a consent as the originator. Throws CONSENT_INVALID for terms a holder or recipient would refuse. */
export function signConsent(fields: ConsentFields, signer: Signer): SignedConsent {
  const terms = validateTerms({ ...fields, signerKey: signer.fingerprint });
  checkTerms(terms, '');
  return { consent: terms, signature: encodeBase64Url(signAs(signer, consentSigningBytes(terms))) };
}

/**
 * Verifies a consent from a peer and returns its terms. Throws CONSENT_INVALID when it is
 * malformed (naming the field) or its signature does not verify, and KEY_UNPINNED when
 * `resolveKey` pins no key for `consent.originator` under `consent.signerKey`. Whether the terms
 * cover a given onward release is consentProblems'.
 */
export function verifyConsent(input: unknown, resolveKey: ConsentKeyResolver): ConsentTerms {
  // attacker-controlled: a consent arrives from a holder or an originator, both peers.
  let signed: SignedConsent;
  try {
    signed = validateSignedConsent(input);
  } catch (error) {
    if (isAccordError(error) && error.code === 'CONSENT_INVALID') throw error;
    throw invalid('cannot be read', '', {}, error);
  }
  const terms = signed.consent;
  checkTerms(terms, '/consent');
  const ids = { requestId: terms.requestId };
  const signature = decodeBase64Url(signed.signature);
  if (signature === undefined) throw invalid('is not canonical base64url', '/signature', ids);
  const key = pinnedKey(
    resolveKey(terms.originator, terms.signerKey),
    terms.signerKey,
    `consent ${terms.requestId} by ${terms.originator}`,
    { ...ids, originator: terms.originator },
  );
  if (!isValidSignature(key, consentSigningBytes(terms), signature)) {
    throw invalid(`the signature does not verify under ${terms.signerKey}`, '/signature', {
      ...ids,
      fingerprint: terms.signerKey,
    });
  }
  return terms;
}

/**
 * Every way `terms` fail to authorise the onward release `scope` describes, as sentences; empty
 * when they cover it: same originator, holder, recipient, product id, version and digest,
 * arrangement id, version and hash, granted at or before `scope.at` and not yet expired.
 */
export function consentProblems(terms: ConsentTerms, scope: ConsentScope): readonly string[] {
  const problems: string[] = [];
  const differ = (what: string, named: string, expected: string): void => {
    if (named !== expected) problems.push(`it names ${what} ${named}, not ${expected}`);
  };
  differ('originator', terms.originator, scope.originator);
  differ('holder', terms.holder, scope.holder);
  differ('recipient', terms.recipient, scope.recipient);
  differ(
    'product',
    `${terms.product.id} v${terms.product.version}`,
    `${scope.product.id} v${scope.product.version}`,
  );
  differ('product digest', terms.product.digest, scope.product.digest);
  differ(
    'arrangement',
    `${terms.arrangement.id} v${terms.arrangement.version} (${terms.arrangement.versionHash})`,
    `${scope.arrangement.id} v${scope.arrangement.version} (${scope.arrangement.versionHash})`,
  );
  // A NaN `at` would make both time comparisons false: fail closed.
  const granted = instantMillis(terms.grantedAt);
  if (!Number.isFinite(scope.at) || granted === undefined || !(granted <= scope.at)) {
    problems.push(`it is granted from ${terms.grantedAt}, not yet in force`);
  }
  if (terms.expiresAt !== undefined) {
    const expires = instantMillis(terms.expiresAt);
    if (expires === undefined || !(scope.at < expires)) problems.push(`it expired at ${terms.expiresAt}`);
  }
  return problems;
}

/**
 * The terms of a consent that verifies under the originator's pinned key and covers `scope`, or
 * throws: CONSENT_INVALID or KEY_UNPINNED as verifyConsent, CONSENT_MISMATCH naming every field
 * that differs from the onward release it was offered for.
 */
export function requireConsent(
  input: unknown,
  scope: ConsentScope,
  resolveKey: ConsentKeyResolver,
): ConsentTerms {
  const terms = verifyConsent(input, resolveKey);
  const problems = consentProblems(terms, scope);
  if (problems.length > 0) {
    throw new AccordError(
      'CONSENT_MISMATCH',
      `consent ${terms.requestId} by ${terms.originator} does not cover ${scope.product.id} v${scope.product.version} from ${scope.holder} to ${scope.recipient}: ${problems.join('; ')}`,
      { requestId: terms.requestId, problems },
    );
  }
  return terms;
}

/** The consent as decideRelease's third-party rule reads it. */
export function policyConsentOf(terms: ConsentTerms): {
  readonly originator: string;
  readonly recipient: string;
  readonly productId: string;
  readonly grantedAt: string;
  readonly expiresAt?: string;
} {
  return {
    originator: terms.originator,
    recipient: terms.recipient,
    productId: terms.product.id,
    grantedAt: terms.grantedAt,
    ...(terms.expiresAt === undefined ? {} : { expiresAt: terms.expiresAt }),
  };
}
