export { canonicalJson, digestOf, sha256Hex } from './canonical-json.js';
export {
  AEAD_AES_128_GCM,
  AEAD_AES_256_GCM,
  type AeadId,
  deriveEncryptionKeyPair,
  type EncryptionPublicKey,
  generateEncryptionKeyPair,
  type HpkeOptions,
  KDF_HKDF_SHA256,
  KEM_X25519_HKDF_SHA256,
  open,
  type RecipientContext,
  type Sealed,
  type SenderContext,
  seal,
  setupBaseR,
  setupBaseS,
} from './hpke.js';
export {
  DEFAULT_SCRYPT,
  decryptPrivateKey,
  type EncryptedKey,
  type EncryptKeyOptions,
  encryptPrivateKey,
  KEY_PASSPHRASE_ENV,
  parseEncryptedKey,
  type RandomSource,
  type ScryptParams,
} from './key-store.js';
export {
  createNodeIdentity,
  type NodeIdentity,
  type PublicIdentity,
  type PublicKeyInfo,
  parsePublicIdentity,
  publicIdentity,
} from './node-identity.js';
export {
  type CurveName,
  exportRawPublicKey,
  importRawPrivateKey,
  importRawPublicKey,
  type KeyPair,
  RAW_KEY_LENGTH,
} from './raw-keys.js';
export {
  fingerprintOf,
  generateSigningKeyPair,
  isValidSignature,
  SIGNATURE_LENGTH,
  type SigningPublicKey,
  signDigest,
  verifySignature,
} from './signing.js';
