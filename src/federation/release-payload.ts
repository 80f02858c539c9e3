import Type, { type Static } from 'typebox';
import { createValidator } from '../validation/index.js';
import { EnvelopeArrangementSchema, type EnvelopeHeader } from './envelope.js';
import { checkPayloadArrangement, payloadInconsistent, validatedPayload } from './payload-checks.js';
import { type DerivedDocument, parseDerivedDocument } from './product-signature.js';

/**
 * What a `release` envelope seals: the derived version the recipient is given. `kind` and
 * `arrangement` may repeat the header's (a sender may seal what its outbox holds); when present
 * they must say what the signed header says. A holder passing on a product another partner
 * originated adds that originator's signed consent (the third-party rule), checked by the
 * recipient with requireConsent.
 */
export const ReleasePayloadSchema = Type.Object(
  {
    kind: Type.Optional(Type.Literal('release')),
    arrangement: Type.Optional(EnvelopeArrangementSchema),
    product: Type.Object({}, { description: 'the derived document (DerivedDocumentSchema)' }),
    consent: Type.Optional(
      Type.Object({}, { description: "the originator's SignedConsent (SignedConsentSchema)" }),
    ),
  },
  { additionalProperties: false },
);
export type ReleasePayload = Static<typeof ReleasePayloadSchema>;

const validatePayload = createValidator<ReleasePayload>(
  ReleasePayloadSchema,
  'ENVELOPE_MALFORMED',
  'envelope payload',
);

/**
 * The derived document of an opened `release` envelope. Throws ENVELOPE_MALFORMED (naming the
 * field) for a payload of another shape or one that contradicts the header (kind, arrangement,
 * product id and version), and PRODUCT_INVALID for a document that does not parse. Checks shape
 * and agreement only: verifyProductSignature checks the document's signature.
 */
export function parseReleasePayload(payload: unknown, header: EnvelopeHeader): DerivedDocument {
  const parsed: ReleasePayload = validatedPayload(validatePayload, payload, header);
  if (parsed.kind !== undefined && parsed.kind !== header.kind) {
    throw payloadInconsistent(header, '/kind', `is ${parsed.kind} but the header says ${header.kind}`);
  }
  if (parsed.arrangement !== undefined) checkPayloadArrangement(header, parsed.arrangement);
  const document = parseDerivedDocument(parsed.product);
  if (document.id !== header.product.id || document.version !== header.product.version) {
    throw payloadInconsistent(
      header,
      '/product',
      `is ${document.id} v${document.version} but the header names ${header.product.id} v${header.product.version}`,
    );
  }
  return document;
}

/**
 * The consent a `release` payload carries, unverified, or undefined when it carries none. Call it
 * on a payload parseReleasePayload accepted; requireConsent decides what the consent is worth.
 */
export function releaseConsentOf(payload: unknown): unknown {
  // attacker-controlled: handed on as it is, to be verified against the originator's pinned key.
  if (typeof payload !== 'object' || payload === null || !Object.hasOwn(payload, 'consent')) return undefined;
  return (payload as { readonly consent?: unknown }).consent;
}
