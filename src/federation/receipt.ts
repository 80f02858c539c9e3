import Type, { type Static } from 'typebox';
import { canonicalJson, isValidSignature, SIGNATURE_LENGTH, type SigningPublicKey } from '../crypto/index.js';
import { AccordError, type ErrorDetails, isAccordError } from '../errors/index.js';
import { Identifier, PartnerCode } from '../products/index.js';
import { createValidator } from '../validation/index.js';
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

// DESIGN.md §3 federation: the inbox answers each envelope with a receipt signed by the recipient
// node, so the sender's outbox holds the recipient's own word that a release arrived (or why not).

/**
 * The purpose label in every receipt signature: with the envelope's and the product signature's
 * own labels it keeps a receipt signature from ever verifying as one of those.
 */
export const RECEIPT_CONTEXT = 'accord/receipt/v1';

/**
 * What the recipient did with an envelope: `stored` a release, `recalled` (erased the content of
 * what it held of a recalled product, or held none), or `refused` it.
 */
export const RECEIPT_OUTCOMES = ['stored', 'refused', 'recalled'] as const;
export type ReceiptOutcome = (typeof RECEIPT_OUTCOMES)[number];

const strict = { additionalProperties: false } as const;

/**
 * The signed body of a receipt. `from` is the recipient that signs, `to` the sender of the
 * envelope, `signerKey` the fingerprint of the recipient's Ed25519 key, `product.digest` the
 * productDigest of the document as received (for a recall: recallDigest of the recall message).
 * `erased` says, on a `recalled` receipt, how many received versions the recall erased (0 when
 * the recipient held none).
 */
export const ReceiptSchema = Type.Object(
  {
    envelopeId: Uuid,
    from: PartnerCode,
    to: PartnerCode,
    product: Type.Object({ id: Identifier, version: Version, digest: Sha256Digest }, strict),
    receivedAt: Instant,
    outcome: Type.Enum(RECEIPT_OUTCOMES),
    reason: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
    erased: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
    signerKey: Fingerprint,
  },
  strict,
);
export type Receipt = Static<typeof ReceiptSchema>;
/** What the recipient fills in; signReceipt adds its key's fingerprint. */
export type ReceiptFields = Omit<Receipt, 'signerKey'>;

/** A receipt with the recipient's Ed25519 signature over receiptSigningBytes, base64url. */
export const SignedReceiptSchema = Type.Object(
  { receipt: ReceiptSchema, signature: Base64UrlBytes(SIGNATURE_LENGTH) },
  strict,
);
export type SignedReceipt = Static<typeof SignedReceiptSchema>;

/** Looks up the Ed25519 key pinned for partner `from` under `fingerprint`; undefined when none is. */
export type ReceiptKeyResolver = (from: string, fingerprint: string) => SigningPublicKey | undefined;

const validateSignedReceipt = createValidator<SignedReceipt>(
  SignedReceiptSchema,
  'RECEIPT_INVALID',
  'receipt',
);
const validateReceipt = createValidator<Receipt>(ReceiptSchema, 'RECEIPT_INVALID', 'receipt');

function invalid(message: string, path: string, details: ErrorDetails = {}, cause?: unknown): AccordError {
  return new AccordError(
    'RECEIPT_INVALID',
    `receipt ${path}: ${message}`,
    { ...details, path },
    cause === undefined ? undefined : { cause },
  );
}

/** Rules the schema cannot say: a real instant, and a reason for every refusal (DESIGN.md §2.3). */
function checkReceipt(receipt: Receipt, prefix: string): void {
  const ids = { envelopeId: receipt.envelopeId };
  if (instantMillis(receipt.receivedAt) === undefined) {
    throw invalid('is not a real UTC instant', `${prefix}/receivedAt`, ids);
  }
  if (receipt.outcome === 'refused' && receipt.reason === undefined) {
    throw invalid('a refusal must give its reason', `${prefix}/reason`, ids);
  }
  // Only a recall erases anything; a count on another outcome would be read as one.
  if (receipt.outcome !== 'recalled' && receipt.erased !== undefined) {
    throw invalid('only a recalled receipt counts erased versions', `${prefix}/erased`, ids);
  }
}

/**
 * The bytes a receipt's signature covers: UTF-8 of the RFC 8785 canonical JSON of
 * `{ context: RECEIPT_CONTEXT, receipt }`, the receipt being the body without its signature.
 */
export function receiptSigningBytes(receipt: Receipt): Uint8Array {
  return new TextEncoder().encode(canonicalJson({ context: RECEIPT_CONTEXT, receipt }));
}

/**
 * Signs a receipt as the recipient. Throws RECEIPT_INVALID for fields a sender would refuse.
 * Sign only for envelopes whose signature verified: the fields echo the header.
 */
export function signReceipt(fields: ReceiptFields, signer: Signer): SignedReceipt {
  const receipt = validateReceipt({ ...fields, signerKey: signer.fingerprint });
  checkReceipt(receipt, '');
  return { receipt, signature: encodeBase64Url(signAs(signer, receiptSigningBytes(receipt))) };
}

/**
 * Verifies a receipt from a peer and returns its body. Throws RECEIPT_INVALID when it is
 * malformed (naming the field) or its signature does not verify, and KEY_UNPINNED when
 * `resolveKey` pins no key for `receipt.from` under `receipt.signerKey`. Matching it to the
 * envelope it answers (envelopeId, from, to) is the caller's.
 */
export function verifyReceipt(input: unknown, resolveKey: ReceiptKeyResolver): Receipt {
  // attacker-controlled: the receipt is a peer's answer.
  let signed: SignedReceipt;
  try {
    signed = validateSignedReceipt(input);
  } catch (error) {
    if (isAccordError(error) && error.code === 'RECEIPT_INVALID') throw error;
    throw invalid('cannot be read', '', {}, error);
  }
  const { receipt } = signed;
  checkReceipt(receipt, '/receipt');
  const ids = { envelopeId: receipt.envelopeId };
  const signature = decodeBase64Url(signed.signature);
  if (signature === undefined) throw invalid('is not canonical base64url', '/signature', ids);
  const key = pinnedKey(
    resolveKey(receipt.from, receipt.signerKey),
    receipt.signerKey,
    `receipt for envelope ${receipt.envelopeId} from ${receipt.from}`,
    { ...ids, from: receipt.from },
  );
  if (!isValidSignature(key, receiptSigningBytes(receipt), signature)) {
    throw invalid(`the signature does not verify under ${receipt.signerKey}`, '/signature', {
      ...ids,
      fingerprint: receipt.signerKey,
    });
  }
  return receipt;
}
