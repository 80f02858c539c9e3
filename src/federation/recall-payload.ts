import Type, { type Static } from 'typebox';
import { digestOf } from '../crypto/index.js';
import { Identifier, PartnerCode } from '../products/index.js';
import { createValidator } from '../validation/index.js';
import { EnvelopeArrangementSchema, type EnvelopeHeader } from './envelope.js';
import { checkPayloadArrangement, payloadInconsistent, validatedPayload } from './payload-checks.js';
import { Instant, instantMillis, Uuid, Version } from './wire-format.js';

// Issue 4: the originator recalls a product version; every recipient erases its content, keeps
// its metadata and answers with a signed receipt. The recall message carries no signature of its
// own: the envelope signature (Ed25519 over the header and the sealed bytes, under a key the
// arrangement pins) already authenticates its sender, and HPKE's AEAD binds the sealed bytes to
// this plaintext, so the payload is the sender's word. A product carries the originator's own
// signature because it travels on (a third party must verify it without the first envelope); a
// recall does not travel on: it is an order from the originator to each holder, and the holder
// obeys it only when its sender is that originator (payload `originator` = header `from` here,
// and the inbox matches it to the originator of what it holds).

/** The longest recall reason, in characters (a receipt reason's cap). */
export const MAX_RECALL_REASON = 2000;

/** The versions a recall names: one version, or `all` the originator ever released of the product. */
export const RecallVersionSchema = Type.Union([Version, Type.Literal('all')]);
export type RecallVersion = Static<typeof RecallVersionSchema>;

const strict = { additionalProperties: false } as const;

/**
 * What a `recall` envelope seals. `recallId` is the originator's id of the recall (every envelope
 * of one recall carries it); `product.version` is the header's version or `all`; `originator` must
 * be the envelope's sender; `recalledAt` is when the originator recalled it.
 */
export const RecallPayloadSchema = Type.Object(
  {
    kind: Type.Literal('recall'),
    arrangement: EnvelopeArrangementSchema,
    recallId: Uuid,
    product: Type.Object({ id: Identifier, version: RecallVersionSchema }, strict),
    originator: PartnerCode,
    reason: Type.String({ minLength: 1, maxLength: MAX_RECALL_REASON }),
    recalledAt: Instant,
  },
  strict,
);
export type RecallPayload = Static<typeof RecallPayloadSchema>;

const validatePayload = createValidator<RecallPayload>(
  RecallPayloadSchema,
  'ENVELOPE_MALFORMED',
  'envelope payload',
);

/**
 * The recall of an opened `recall` envelope. Throws ENVELOPE_MALFORMED (naming the field) for a
 * payload of another shape, a recalledAt that is no real instant, or one that contradicts the
 * signed header: kind, arrangement, product id, version (the header's, unless `all`), and an
 * originator other than the sender (a node recalls only what it originated).
 */
export function parseRecallPayload(payload: unknown, header: EnvelopeHeader): RecallPayload {
  const parsed: RecallPayload = validatedPayload(validatePayload, payload, header);
  if (header.kind !== 'recall') {
    throw payloadInconsistent(header, '/kind', `is recall but the header says ${header.kind}`);
  }
  const { arrangement, product } = parsed;
  checkPayloadArrangement(header, arrangement);
  if (product.id !== header.product.id) {
    throw payloadInconsistent(
      header,
      '/product/id',
      `is ${product.id} but the header names ${header.product.id}`,
    );
  }
  if (product.version !== 'all' && product.version !== header.product.version) {
    throw payloadInconsistent(
      header,
      '/product/version',
      `is ${product.version} but the header names version ${header.product.version}`,
    );
  }
  if (parsed.originator !== header.from) {
    throw payloadInconsistent(
      header,
      '/originator',
      `is ${parsed.originator} but the envelope is from ${header.from}: a node may recall only what it originated`,
    );
  }
  if (instantMillis(parsed.recalledAt) === undefined) {
    throw payloadInconsistent(header, '/recalledAt', 'is not a real UTC instant');
  }
  return parsed;
}

/**
 * The digest a recall receipt names as its `product.digest`: digestOf the recall payload (RFC 8785
 * canonical JSON), so the originator can tell that the receipt answers exactly the recall it sent.
 */
export function recallDigest(payload: RecallPayload): string {
  return digestOf(payload);
}
