import { AccordError } from '../errors/index.js';
import { generateEncryptionKeyPair } from './hpke.js';
import {
  assertKeyKind,
  type CurveName,
  exportRawPublicKey,
  importRawPublicKey,
  type KeyPair,
} from './raw-keys.js';
import { fingerprintOf, generateSigningKeyPair } from './signing.js';

/** A node's long-term keys (DESIGN.md §1 Node): Ed25519 to sign, X25519 to receive sealed envelopes. */
export interface NodeIdentity {
  readonly signing: KeyPair;
  readonly encryption: KeyPair;
}

/** One public key as peers and arrangement documents see it. */
export interface PublicKeyInfo {
  /** The raw 32-byte public key, base64. */
  readonly publicKey: string;
  /** `sha256:<hex>` of the raw key, as pinned in `parties[].nodeKeys[].fingerprint`. */
  readonly fingerprint: string;
}

/** The shareable half of a node identity. */
export interface PublicIdentity {
  readonly signing: PublicKeyInfo;
  readonly encryption: PublicKeyInfo;
}

/** Fresh signing and encryption key pairs for a new node. */
export function createNodeIdentity(): NodeIdentity {
  return { signing: generateSigningKeyPair(), encryption: generateEncryptionKeyPair() };
}

function publicKeyInfo(pair: KeyPair, curve: CurveName): PublicKeyInfo {
  assertKeyKind(pair.publicKey, curve, 'public');
  const raw = exportRawPublicKey(pair.publicKey);
  return { publicKey: Buffer.from(raw).toString('base64'), fingerprint: fingerprintOf(raw) };
}

/** The public keys and fingerprints of an identity, safe to publish. */
export function publicIdentity(identity: NodeIdentity): PublicIdentity {
  return {
    signing: publicKeyInfo(identity.signing, 'ed25519'),
    encryption: publicKeyInfo(identity.encryption, 'x25519'),
  };
}

function invalidIdentity(message: string, path: string, cause?: unknown): never {
  throw new AccordError('KEY_INVALID', message, { path }, cause === undefined ? undefined : { cause });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const FINGERPRINT = /^sha256:[0-9a-f]{64}$/;

function parseKeyInfo(value: unknown, field: 'signing' | 'encryption', curve: CurveName): PublicKeyInfo {
  if (!isRecord(value))
    invalidIdentity(`${field}: must be an object with publicKey and fingerprint`, `/${field}`);
  const extra = Object.keys(value).filter((k) => k !== 'publicKey' && k !== 'fingerprint');
  if (extra.length > 0) invalidIdentity(`${field}: unknown fields ${extra.join(', ')}`, `/${field}`);
  const { publicKey, fingerprint } = value;
  if (typeof fingerprint !== 'string' || !FINGERPRINT.test(fingerprint)) {
    invalidIdentity(`${field}.fingerprint: must be sha256:<64 hex digits>`, `/${field}/fingerprint`);
  }
  // Canonical base64 only, so one key has one spelling and the check below sees every byte.
  const raw = typeof publicKey === 'string' ? Buffer.from(publicKey, 'base64') : undefined;
  if (raw === undefined || raw.toString('base64') !== publicKey) {
    invalidIdentity(`${field}.publicKey: must be base64`, `/${field}/publicKey`);
  }
  try {
    importRawPublicKey(curve, raw);
  } catch (error) {
    invalidIdentity(`${field}.publicKey: not an ${curve} public key`, `/${field}/publicKey`, error);
  }
  // The fingerprint is what arrangements pin and people compare out of band: it must name this key.
  if (fingerprintOf(raw) !== fingerprint) {
    invalidIdentity(
      `${field}.publicKey does not match its fingerprint ${fingerprint}`,
      `/${field}/publicKey`,
    );
  }
  return { publicKey: raw.toString('base64'), fingerprint };
}

/**
 * A public identity from outside this node (a partner's `accord keys show --json`, the clear part
 * of a key file): each key must be a 32-byte key on its curve whose fingerprint is the one beside
 * it. Throws KEY_INVALID naming the field that fails.
 */
export function parsePublicIdentity(value: unknown): PublicIdentity {
  // attacker-controlled: whoever wrote the file or sent the document
  if (!isRecord(value)) invalidIdentity('a public identity is an object with signing and encryption', '');
  const extra = Object.keys(value).filter((k) => k !== 'signing' && k !== 'encryption');
  if (extra.length > 0) invalidIdentity(`a public identity has unknown fields: ${extra.join(', ')}`, '');
  return {
    signing: parseKeyInfo(value.signing, 'signing', 'ed25519'),
    encryption: parseKeyInfo(value.encryption, 'encryption', 'x25519'),
  };
}
