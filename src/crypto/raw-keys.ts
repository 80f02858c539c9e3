import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { AccordError } from '../errors/index.js';

/** The two curves a node's identity uses: Ed25519 to sign, X25519 to receive sealed envelopes. */
export type CurveName = 'ed25519' | 'x25519';

/** A Node.js key pair; private keys stay KeyObjects so their bytes are not copied around. */
export interface KeyPair {
  readonly publicKey: KeyObject;
  readonly privateKey: KeyObject;
}

/** Raw public keys and private scalars/seeds on both curves are 32 bytes (RFC 8032 §5.1.5, RFC 7748 §5). */
export const RAW_KEY_LENGTH = 32;

// Public keys go through JWK (RFC 8037 §2: OKP, `x` = base64url of the raw key): OpenSSL 3's DER
// decoders make SPKI import/export about 10x slower, and this sits on every seal and open.
const JWK_CURVE: Readonly<Record<CurveName, 'Ed25519' | 'X25519'>> = { ed25519: 'Ed25519', x25519: 'X25519' };

// RFC 8410 §7 (OneAsymmetricKey) with the id-Ed25519 (1.3.101.112) and id-X25519 (1.3.101.110)
// OIDs: a fixed DER prefix followed by the 32 raw bytes. A private JWK would need `x` as well.
const PKCS8_PREFIX: Readonly<Record<CurveName, Buffer>> = {
  ed25519: Buffer.from('302e020100300506032b657004220420', 'hex'),
  x25519: Buffer.from('302e020100300506032b656e04220420', 'hex'),
};

function invalidKey(message: string, cause?: unknown): never {
  throw new AccordError('KEY_INVALID', message, {}, cause === undefined ? undefined : { cause });
}

/** Throws KEY_INVALID unless `key` is a `type` key on `curve`. */
export function assertKeyKind(key: KeyObject, curve: CurveName, type: 'public' | 'private'): void {
  if (key.type !== type || key.asymmetricKeyType !== curve) {
    invalidKey(`expected an ${curve} ${type} key, got ${key.asymmetricKeyType ?? key.type} ${key.type}`);
  }
}

function checkLength(raw: Uint8Array, what: string): void {
  if (raw.length !== RAW_KEY_LENGTH) {
    invalidKey(`${what} must be ${RAW_KEY_LENGTH} bytes, got ${raw.length}`);
  }
}

/** The 32 raw bytes of an Ed25519 or X25519 public key (or of the public half of a private key). */
export function exportRawPublicKey(key: KeyObject): Uint8Array {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  const curve = publicKey.asymmetricKeyType;
  if (publicKey.type !== 'public' || (curve !== 'ed25519' && curve !== 'x25519')) {
    invalidKey(`expected an ed25519 or x25519 key, got ${curve ?? publicKey.type}`);
  }
  const { x } = publicKey.export({ format: 'jwk' });
  const raw = typeof x === 'string' ? Buffer.from(x, 'base64url') : undefined;
  if (raw?.length !== RAW_KEY_LENGTH) return invalidKey(`could not export the ${curve} public key`);
  return new Uint8Array(raw.buffer, raw.byteOffset, raw.length);
}

/** A public key from its 32 raw bytes; attacker-controlled input is fine, the length is checked. */
export function importRawPublicKey(curve: CurveName, raw: Uint8Array): KeyObject {
  checkLength(raw, `an ${curve} public key`);
  try {
    const x = Buffer.from(raw.buffer, raw.byteOffset, raw.length).toString('base64url');
    return createPublicKey({ key: { kty: 'OKP', crv: JWK_CURVE[curve], x }, format: 'jwk' });
  } catch (error) {
    return invalidKey(`not an ${curve} public key`, error);
  }
}

/** A private key from its 32 raw bytes: the RFC 8032 seed for Ed25519, the RFC 7748 scalar for X25519. */
export function importRawPrivateKey(curve: CurveName, raw: Uint8Array): KeyObject {
  checkLength(raw, `an ${curve} private key`);
  const der = Buffer.concat([PKCS8_PREFIX[curve], raw]);
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } catch (error) {
    return invalidKey(`not an ${curve} private key`, error);
  } finally {
    der.fill(0);
  }
}
