import { createHash, generateKeyPairSync, type KeyObject, sign, verify } from 'node:crypto';
import { AccordError } from '../errors/index.js';
import {
  assertKeyKind,
  exportRawPublicKey,
  importRawPublicKey,
  type KeyPair,
  RAW_KEY_LENGTH,
} from './raw-keys.js';

/** RFC 8032 §5.1.6: an Ed25519 signature is R || S, 64 bytes. */
export const SIGNATURE_LENGTH = 64;

/** An Ed25519 public key as a KeyObject or as its 32 raw bytes (as carried in documents). */
export type SigningPublicKey = KeyObject | Uint8Array;

/** A fresh Ed25519 key pair for a node's signing identity. */
export function generateSigningKeyPair(): KeyPair {
  return generateKeyPairSync('ed25519');
}

/**
 * `sha256:<hex>` of the raw 32-byte public key: the fingerprint arrangement documents pin
 * (`parties[].nodeKeys[].fingerprint`). Works for Ed25519 and X25519 keys alike.
 */
export function fingerprintOf(publicKey: KeyObject | Uint8Array): string {
  let raw: Uint8Array;
  if (publicKey instanceof Uint8Array) {
    if (publicKey.length !== RAW_KEY_LENGTH) {
      throw new AccordError('KEY_INVALID', `a raw public key must be ${RAW_KEY_LENGTH} bytes`);
    }
    raw = publicKey;
  } else {
    raw = exportRawPublicKey(publicKey);
  }
  return `sha256:${createHash('sha256').update(raw).digest('hex')}`;
}

function toBytes(message: Uint8Array | string): Uint8Array {
  return typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
}

/** Raw Ed25519 public keys whose imported KeyObject is kept; a node verifies under a few dozen. */
export const VERIFY_KEY_CACHE_SIZE = 256;

// Documents carry keys as raw bytes, and importing one (through JWK, see raw-keys.ts) costs about
// a third of the verify itself; the same few pinned keys verify every envelope, product and
// receipt. Keyed by the exact 32 bytes (hex), so another key is another entry: a KeyObject is
// immutable and holds only the public key those bytes encode. Least recently used goes first.
const verifyKeys = new Map<string, KeyObject>();

function importVerifyKey(raw: Uint8Array): KeyObject {
  // A wrong length is importRawPublicKey's error to raise; it is never cached.
  if (raw.length !== RAW_KEY_LENGTH) return importRawPublicKey('ed25519', raw);
  const id = Buffer.from(raw.buffer, raw.byteOffset, raw.length).toString('hex');
  let key = verifyKeys.get(id);
  if (key !== undefined) {
    verifyKeys.delete(id);
  } else {
    key = importRawPublicKey('ed25519', raw);
    if (verifyKeys.size >= VERIFY_KEY_CACHE_SIZE) {
      const oldest = verifyKeys.keys().next().value;
      if (oldest !== undefined) verifyKeys.delete(oldest);
    }
  }
  verifyKeys.set(id, key);
  return key;
}

function toVerifyKey(publicKey: SigningPublicKey): KeyObject {
  if (publicKey instanceof Uint8Array) return importVerifyKey(publicKey);
  assertKeyKind(publicKey, 'ed25519', 'public');
  return publicKey;
}

/**
 * Ed25519 (PureEdDSA, RFC 8032 §5.1.6) signature over the bytes. A string is signed as its UTF-8
 * bytes, so `signDigest(key, digestOf(doc))` signs the `sha256:<hex>` text exactly as documents
 * carry it.
 */
export function signDigest(privateKey: KeyObject, message: Uint8Array | string): Uint8Array {
  assertKeyKind(privateKey, 'ed25519', 'private');
  // Ed25519 hashes internally, so node:crypto takes no digest algorithm (null).
  return new Uint8Array(sign(null, toBytes(message), privateKey));
}

/**
 * Whether a well-formed (64-byte) Ed25519 signature verifies. Only for callers that expect some
 * signatures to fail (for example, trying each pinned key); a malformed signature still throws
 * SIGNATURE_INVALID. Integrity checks use verifySignature.
 */
export function isValidSignature(
  publicKey: SigningPublicKey,
  message: Uint8Array | string,
  signature: Uint8Array, // attacker-controlled
): boolean {
  const key = toVerifyKey(publicKey);
  if (signature.length !== SIGNATURE_LENGTH) {
    throw new AccordError(
      'SIGNATURE_INVALID',
      `an Ed25519 signature is ${SIGNATURE_LENGTH} bytes, got ${signature.length}`,
      { fingerprint: fingerprintOf(key) },
    );
  }
  // OpenSSL rejects non-canonical S (S >= L, RFC 8032 §5.1.7 step 1) and undecodable points.
  return verify(null, toBytes(message), key, signature);
}

/**
 * Verifies an Ed25519 signature and throws SIGNATURE_INVALID (with the key's fingerprint) when it
 * is malformed or does not verify. Integrity failures are never a `false` (STYLE.md, Errors).
 */
export function verifySignature(
  publicKey: SigningPublicKey,
  message: Uint8Array | string,
  signature: Uint8Array, // attacker-controlled
): void {
  const key = toVerifyKey(publicKey);
  if (!isValidSignature(key, message, signature)) {
    throw new AccordError('SIGNATURE_INVALID', 'the signature does not verify against the signing key', {
      fingerprint: fingerprintOf(key),
    });
  }
}
