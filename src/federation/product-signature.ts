import Type, { type Static } from 'typebox';
import { digestOf, isValidSignature, SIGNATURE_LENGTH } from '../crypto/index.js';
import { AccordError, type ErrorDetails } from '../errors/index.js';
import {
  AuthoredFields,
  Identifier,
  PartnerCode,
  type ProductSignature,
  ProductSignatureSchema,
  portionsSchema,
  Timestamp,
} from '../products/index.js';
import { createValidator } from '../validation/index.js';
import { type KeyResolver, pinnedKey, type Signer, signAs } from './signer.js';
import { decodeBase64, SHA256_REF, Sha256Digest, Version } from './wire-format.js';

// DESIGN.md §2 invariant 4 (Authentic): the originator signs every product version and every
// derived (torn) version; a derived version names the digest of the version it was torn from, so
// the chain from what a recipient holds back to what the originator wrote is signed end to end.

/**
 * An originator's signature: `by` the pinned key fingerprint, `value` base64 Ed25519 over
 * productSigningBytes(productDigest).
 */
export { type ProductSignature, ProductSignatureSchema };

/**
 * The purpose label in every product signature: with the envelope's and the receipt's own labels
 * it keeps a product signature from ever verifying as one of those, or as an arrangement party's
 * signature over a bare version hash.
 */
export const PRODUCT_CONTEXT = 'accord/product/v1';

/** Which source version a derived version was torn from, and that version's productDigest. */
export const DerivedFromSchema = Type.Object(
  { id: Identifier, version: Version, digest: Sha256Digest },
  { additionalProperties: false },
);
export type DerivedFrom = Static<typeof DerivedFromSchema>;

// The pattern of the products' Identifier schema.
const IDENTIFIER = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

// A product holds at most 1000 portions (products/model.ts), so at most that many are withheld.
const MAX_WITHHELD = 1000;

/**
 * A derived version as it travels to a recipient: the kept portions with their rendered marks,
 * the banner of what remains, the source it was torn from and the originator's signature.
 */
export const DerivedDocumentSchema = Type.Object(
  {
    id: Identifier,
    version: Version,
    originator: PartnerCode,
    title: AuthoredFields.title,
    titleMarking: AuthoredFields.titleMarking,
    discipline: AuthoredFields.discipline,
    categories: AuthoredFields.categories,
    portions: portionsSchema(Identifier),
    banner: AuthoredFields.titleMarking,
    withheldCount: Type.Integer({ minimum: 0, maximum: MAX_WITHHELD }),
    reliability: AuthoredFields.reliability,
    credibility: AuthoredFields.credibility,
    createdAt: Timestamp,
    geo: AuthoredFields.geo,
    derivedFrom: DerivedFromSchema,
    signature: ProductSignatureSchema,
  },
  { additionalProperties: false },
);
export type DerivedDocument = Static<typeof DerivedDocumentSchema>;
/** A derived document before the originator signs it. */
export type UnsignedDerivedDocument = Omit<DerivedDocument, 'signature'>;

/** A document with the originator's signature added (any earlier signature replaced). */
export type Signed<T extends object> = Omit<T, 'signature'> & { readonly signature: ProductSignature };

const validateDerivedDocument = createValidator<DerivedDocument>(
  DerivedDocumentSchema,
  'PRODUCT_INVALID',
  'derived document',
);

/**
 * Parses a derived document off the wire (strict: unknown fields refused) and throws
 * PRODUCT_INVALID naming the field. Checks shape only; verifyProductSignature checks the signature.
 */
export function parseDerivedDocument(input: unknown): DerivedDocument {
  // attacker-controlled: a derived document arrives inside a peer's envelope.
  return validateDerivedDocument(input);
}

/**
 * The digest a product signature covers: digestOf the document without its `signature` and
 * `provenance` (which the signer cannot know or which a holder adds later).
 */
export function productDigest(doc: object): string {
  const { signature: _signature, provenance: _provenance, ...content } = doc as Record<string, unknown>;
  return digestOf(content);
}

/** The `derivedFrom` a derived version carries: the source's id, version and productDigest. */
export function derivedFromOf(source: { readonly id: string; readonly version: number }): DerivedFrom {
  return { id: source.id, version: source.version, digest: productDigest(source) };
}

/**
 * The bytes a product signature covers: UTF-8 of PRODUCT_CONTEXT, a colon and the productDigest,
 * e.g. `accord/product/v1:sha256:<hex>`.
 */
export function productSigningBytes(digest: string): Uint8Array {
  return new TextEncoder().encode(`${PRODUCT_CONTEXT}:${digest}`);
}

/** Signs a product or derived version: `signature` over productSigningBytes(productDigest(doc)). */
export function signProduct<T extends object>(doc: T, signer: Signer): Signed<T> {
  const { signature: _old, ...rest } = doc as T & { signature?: unknown };
  const value = signAs(signer, productSigningBytes(productDigest(rest)));
  return {
    ...rest,
    signature: { by: signer.fingerprint, value: Buffer.from(value).toString('base64') },
  } as Signed<T>;
}

function describeDoc(doc: Record<string, unknown>): { label: string; details: ErrorDetails } {
  const { id, version } = doc;
  // attacker-controlled: only ids of the products' Identifier form go into messages and details.
  const idOk = typeof id === 'string' && IDENTIFIER.test(id);
  const versionOk = typeof version === 'number' && Number.isSafeInteger(version);
  if (!idOk) return { label: 'the product', details: {} };
  return versionOk
    ? { label: `product ${id} v${version}`, details: { productId: id, version } }
    : { label: `product ${id}`, details: { productId: id } };
}

function invalid(
  label: string,
  details: ErrorDetails,
  message: string,
  path: string,
  cause?: unknown,
): never {
  throw new AccordError(
    'PRODUCT_SIGNATURE_INVALID',
    `${label}: ${message}`,
    { ...details, path },
    cause === undefined ? undefined : { cause },
  );
}

/**
 * Verifies a product's or derived version's signature and returns the productDigest it covers.
 * Throws PRODUCT_SIGNATURE_INVALID for a missing, malformed or non-verifying signature, and
 * KEY_UNPINNED when `resolveKey` pins no key under the fingerprint it names.
 */
export function verifyProductSignature(doc: object, resolveKey: KeyResolver): string {
  // attacker-controlled: the document and its signature may come from a peer or an upload.
  const record = doc as Record<string, unknown>;
  const { label, details } = describeDoc(record);
  const signature = record.signature;
  if (typeof signature !== 'object' || signature === null || Array.isArray(signature)) {
    return invalid(label, details, 'has no signature object', '/signature');
  }
  const fields = signature as Record<string, unknown>;
  const extra = Object.keys(fields).find((key) => key !== 'by' && key !== 'value');
  if (extra !== undefined) return invalid(label, details, `unknown signature field '${extra}'`, '/signature');
  const { by, value } = fields;
  if (typeof by !== 'string' || !SHA256_REF.test(by)) {
    return invalid(label, details, 'signature.by is not a key fingerprint', '/signature/by');
  }
  const bytes = typeof value === 'string' ? decodeBase64(value) : undefined;
  if (bytes?.length !== SIGNATURE_LENGTH) {
    return invalid(
      label,
      details,
      `signature.value is not ${SIGNATURE_LENGTH} bytes of canonical base64`,
      '/signature/value',
    );
  }
  const key = pinnedKey(resolveKey(by), by, label, details);
  let digest: string;
  try {
    digest = productDigest(record);
  } catch (error) {
    return invalid(label, details, 'cannot be digested, so its signature cannot verify', '', error);
  }
  if (!isValidSignature(key, productSigningBytes(digest), bytes)) {
    return invalid(
      label,
      { ...details, fingerprint: by },
      `the signature by ${by} does not verify`,
      '/signature',
    );
  }
  return digest;
}

/**
 * Checks that a derived version names `source` as what it was torn from: same id and version and
 * `derivedFrom.digest` equal to productDigest(source). Throws PRODUCT_SIGNATURE_INVALID otherwise.
 * The derived signature covers derivedFrom, so a verified derived version that passes this is
 * the originator's word that it came from exactly `source`.
 */
export function verifyDerivedFrom(
  derived: { readonly id: string; readonly version: number; readonly derivedFrom: DerivedFrom },
  source: { readonly id: string; readonly version: number },
): void {
  const label = `derived product ${derived.id} v${derived.version}`;
  const details: ErrorDetails = { productId: derived.id, version: derived.version };
  const { id, version, digest } = derived.derivedFrom;
  if (id !== source.id || version !== source.version) {
    invalid(
      label,
      details,
      `was derived from ${id} v${version}, not ${source.id} v${source.version}`,
      '/derivedFrom',
    );
  }
  if (digest !== productDigest(source)) {
    invalid(
      label,
      details,
      `derivedFrom.digest does not match ${source.id} v${source.version}`,
      '/derivedFrom/digest',
    );
  }
}
