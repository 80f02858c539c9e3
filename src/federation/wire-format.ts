import Type from 'typebox';

// The encodings federation objects use on the wire. Every decoder is canonical: one value has
// exactly one accepted text, so a changed character can never decode to the same bytes and slip
// past a signature (base64 tails whose unused bits are not zero are refused, RFC 4648 §3.5).

const SHA256_PATTERN = '^sha256:[0-9a-f]{64}$';
const UUID_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';

/** Matches a key fingerprint or document digest: `sha256:` and 64 lowercase hex digits. */
export const SHA256_REF = new RegExp(SHA256_PATTERN);
/** Matches a lowercase UUID, as Uuid admits it. */
export const UUID = new RegExp(UUID_PATTERN);

/** `sha256:<hex>` of a raw public key, as arrangements pin it (`parties[].nodeKeys[].fingerprint`). */
export const Fingerprint = Type.String({
  pattern: SHA256_PATTERN,
  description: 'SHA-256 of the raw public key',
});

/** `sha256:<hex>` over RFC 8785 canonical JSON: the digest form of documents (digestOf). */
export const Sha256Digest = Type.String({
  pattern: SHA256_PATTERN,
  description: 'SHA-256 of the RFC 8785 canonical JSON',
});

/** A lowercase RFC 9562 UUID (any version), as an id source writes it. */
export const Uuid = Type.String({ pattern: UUID_PATTERN });

/** A version number: a positive integer that JSON and JavaScript both hold exactly. */
export const Version = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER });

const INSTANT_PATTERN = '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z$';

/** A UTC instant exactly as Date#toISOString writes it (`YYYY-MM-DDTHH:mm:ss.sssZ`). */
export const Instant = Type.String({
  pattern: INSTANT_PATTERN,
  description: 'UTC instant, YYYY-MM-DDTHH:mm:ss.sssZ',
});

/** Epoch milliseconds of an Instant string, or undefined unless it is a real date in canonical form. */
export function instantMillis(text: string): number | undefined {
  const ms = Date.parse(text);
  // The pattern admits 2024-02-30T…; the round trip refuses it.
  if (Number.isNaN(ms) || new Date(ms).toISOString() !== text) return undefined;
  return ms;
}

/** The length of the unpadded base64url text of `bytes` bytes. */
export function base64UrlLength(bytes: number): number {
  return Math.ceil((bytes * 4) / 3);
}

/** Unpadded base64url (RFC 4648 §5) text of exactly `bytes` bytes. */
export function Base64UrlBytes(bytes: number) {
  return Type.String({
    pattern: `^[A-Za-z0-9_-]{${base64UrlLength(bytes)}}$`,
    description: `${bytes} bytes, unpadded base64url`,
  });
}

export function encodeBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64url');
}

/** Bytes of unpadded base64url text, or undefined unless the text is the canonical encoding. */
export function decodeBase64Url(text: string): Uint8Array | undefined {
  // Buffer's decoder skips characters outside the alphabet and ignores non-zero tail bits.
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  if (bytes.toString('base64url') !== text) return undefined;
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

/** Bytes of padded base64 (RFC 4648 §4) text, or undefined unless the text is the canonical encoding. */
export function decodeBase64(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  if (bytes.toString('base64') !== text) return undefined;
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}
