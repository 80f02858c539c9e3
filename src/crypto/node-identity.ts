import { generateEncryptionKeyPair } from './hpke.js';
import { assertKeyKind, type CurveName, exportRawPublicKey, type KeyPair } from './raw-keys.js';
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
