import Type, { type Static } from 'typebox';
import { Identifier, PartnerCode } from '../products/index.js';
import { createValidator } from '../validation/index.js';
import { EnvelopeArrangementSchema, type EnvelopeHeader } from './envelope.js';
import { payloadInconsistent, validatedPayload } from './payload-checks.js';
import { Instant, instantMillis, Sha256Digest, Uuid, Version } from './wire-format.js';

// Issue 4: consent requests and grants travel by federation. A holder's `consent-request`
// envelope asks the originator for consent to pass one derived version on; the originator's
// `consent-grant` envelope answers it, with the signed consent when granted or the reason when
// denied (a denial travels too, so the holder sees it). Both are sealed and signed like a release;
// these are their payloads, parsed at the edge against the header that carried them.

/** The longest reason a person may give for a request or a denial. */
export const MAX_CONSENT_REASON = 2000;

const strict = { additionalProperties: false } as const;

/** What a holder asks an originator: consent to pass `product` (as the holder holds it) to `recipient`. */
export const ConsentRequestSchema = Type.Object(
  {
    requestId: Uuid,
    /** `digest` is the productDigest of the derived document the holder holds. */
    product: Type.Object({ id: Identifier, version: Version, digest: Sha256Digest }, strict),
    originator: PartnerCode,
    holder: PartnerCode,
    recipient: PartnerCode,
    arrangement: EnvelopeArrangementSchema,
    reason: Type.String({ minLength: 1, maxLength: MAX_CONSENT_REASON }),
    requestedAt: Instant,
  },
  strict,
);
export type ConsentRequest = Static<typeof ConsentRequestSchema>;

/** What a `consent-request` envelope seals. */
export const ConsentRequestPayloadSchema = Type.Object(
  { kind: Type.Literal('consent-request'), request: ConsentRequestSchema },
  strict,
);
export type ConsentRequestPayload = Static<typeof ConsentRequestPayloadSchema>;

export const CONSENT_OUTCOMES = ['granted', 'denied'] as const;
export type ConsentOutcome = (typeof CONSENT_OUTCOMES)[number];

/**
 * What a `consent-grant` envelope seals: the originator's answer to one request. `consent` (the
 * SignedConsent, verified by verifyConsent) comes with a grant, `reason` with a denial.
 */
export const ConsentAnswerPayloadSchema = Type.Object(
  {
    kind: Type.Literal('consent-grant'),
    requestId: Uuid,
    outcome: Type.Enum(CONSENT_OUTCOMES),
    decidedAt: Instant,
    consent: Type.Optional(Type.Object({}, { description: 'the SignedConsent (SignedConsentSchema)' })),
    reason: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_CONSENT_REASON })),
  },
  strict,
);
export type ConsentAnswerPayload = Static<typeof ConsentAnswerPayloadSchema>;

const validateRequest = createValidator<ConsentRequestPayload>(
  ConsentRequestPayloadSchema,
  'ENVELOPE_MALFORMED',
  'consent request payload',
);
const validateAnswer = createValidator<ConsentAnswerPayload>(
  ConsentAnswerPayloadSchema,
  'ENVELOPE_MALFORMED',
  'consent answer payload',
);

function checkKind(header: EnvelopeHeader, kind: string): void {
  if (header.kind !== kind)
    throw payloadInconsistent(header, '/kind', `is ${kind} but the header says ${header.kind}`);
}

/**
 * The request of an opened `consent-request` envelope. Throws ENVELOPE_MALFORMED (naming the
 * field) for a payload of another shape or one that contradicts its header: the holder is the
 * sender, the originator the addressee, the product and arrangement those the header names, and
 * the new recipient neither of the two.
 */
export function parseConsentRequestPayload(payload: unknown, header: EnvelopeHeader): ConsentRequest {
  const { request } = validatedPayload(validateRequest, payload, header);
  checkKind(header, 'consent-request');
  if (request.holder !== header.from) {
    throw payloadInconsistent(
      header,
      '/request/holder',
      `is ${request.holder} but the sender is ${header.from}`,
    );
  }
  if (request.originator !== header.to) {
    throw payloadInconsistent(
      header,
      '/request/originator',
      `is ${request.originator} but the envelope is to ${header.to}`,
    );
  }
  if (request.recipient === request.holder || request.recipient === request.originator) {
    throw payloadInconsistent(header, '/request/recipient', 'must be neither the holder nor the originator');
  }
  if (request.product.id !== header.product.id || request.product.version !== header.product.version) {
    throw payloadInconsistent(
      header,
      '/request/product',
      `is ${request.product.id} v${request.product.version} but the header names ${header.product.id} v${header.product.version}`,
    );
  }
  const a = request.arrangement;
  const h = header.arrangement;
  if (a.id !== h.id || a.version !== h.version || a.versionHash !== h.versionHash) {
    throw payloadInconsistent(
      header,
      '/request/arrangement',
      `names ${a.id} v${a.version} but the header names ${h.id} v${h.version}`,
    );
  }
  if (instantMillis(request.requestedAt) === undefined) {
    throw payloadInconsistent(header, '/request/requestedAt', 'is not a real UTC instant');
  }
  return request;
}

/**
 * The answer of an opened `consent-grant` envelope. Throws ENVELOPE_MALFORMED (naming the field)
 * for a payload of another shape, a grant without its consent, a denial without its reason, or
 * either carrying the other's field. The consent itself is left to verifyConsent.
 */
export function parseConsentAnswerPayload(payload: unknown, header: EnvelopeHeader): ConsentAnswerPayload {
  const answer = validatedPayload(validateAnswer, payload, header);
  checkKind(header, 'consent-grant');
  if (instantMillis(answer.decidedAt) === undefined) {
    throw payloadInconsistent(header, '/decidedAt', 'is not a real UTC instant');
  }
  if (answer.outcome === 'granted') {
    if (answer.consent === undefined)
      throw payloadInconsistent(header, '/consent', 'a grant must carry its consent');
    if (answer.reason !== undefined)
      throw payloadInconsistent(header, '/reason', 'a grant carries no reason');
  } else {
    // DESIGN.md §2.3: every deny names its reason.
    if (answer.reason === undefined)
      throw payloadInconsistent(header, '/reason', 'a denial must give its reason');
    if (answer.consent !== undefined)
      throw payloadInconsistent(header, '/consent', 'a denial carries no consent');
  }
  return answer;
}
