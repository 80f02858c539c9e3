import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { AccordError } from '../errors/index.js';
import {
  assertKeyKind,
  exportRawPublicKey,
  importRawPrivateKey,
  importRawPublicKey,
  type KeyPair,
  RAW_KEY_LENGTH,
} from './raw-keys.js';

// HPKE (RFC 9180) base mode for DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 and an AES-GCM AEAD,
// written out over node:crypto so every step can be checked against the RFC's test vectors.

/** RFC 9180 §7.1 KEM id of DHKEM(X25519, HKDF-SHA256). */
export const KEM_X25519_HKDF_SHA256 = 0x0020;
/** RFC 9180 §7.2 KDF id of HKDF-SHA256. */
export const KDF_HKDF_SHA256 = 0x0001;
/** RFC 9180 §7.3 AEAD ids. Accord seals with AES-256-GCM; AES-128-GCM is here for RFC 9180 A.1. */
export const AEAD_AES_128_GCM = 0x0001;
export const AEAD_AES_256_GCM = 0x0002;
export type AeadId = typeof AEAD_AES_128_GCM | typeof AEAD_AES_256_GCM;

/** Which AEAD to use; Accord's suite, AES-256-GCM, unless a test vector needs another. */
export interface HpkeOptions {
  readonly aeadId?: AeadId;
}

/** X25519 public key as a KeyObject or its 32 raw bytes (as published in a node's identity). */
export type EncryptionPublicKey = KeyObject | Uint8Array;

/** What a single-shot seal produces: the encapsulated key and the AEAD ciphertext (with tag). */
export interface Sealed {
  readonly enc: Uint8Array;
  readonly ciphertext: Uint8Array;
}

interface AeadParams {
  readonly cipher: 'aes-128-gcm' | 'aes-256-gcm';
  readonly nk: number;
}

// RFC 9180 §7.3: Nk 16/32, Nn 12, Nt 16 for both AES-GCM variants.
const AEADS: Readonly<Record<AeadId, AeadParams>> = {
  [AEAD_AES_128_GCM]: { cipher: 'aes-128-gcm', nk: 16 },
  [AEAD_AES_256_GCM]: { cipher: 'aes-256-gcm', nk: 32 },
};
const NN = 12;
const NT = 16;
const NH = 32; // HKDF-SHA256 output size
const N_SECRET = 32; // DHKEM(X25519) Nsecret
const MODE_BASE = 0x00;

const EMPTY = new Uint8Array(0);
const VERSION_LABEL = Buffer.from('HPKE-v1', 'ascii');

function i2osp(value: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  out.writeUIntBE(value, 0, length);
  return out;
}

// RFC 9180 §4.1: suite_id = concat("KEM", I2OSP(kem_id, 2)) inside the KEM.
const KEM_SUITE_ID = Buffer.concat([Buffer.from('KEM', 'ascii'), i2osp(KEM_X25519_HKDF_SHA256, 2)]);

// RFC 9180 §5.1: suite_id = concat("HPKE", I2OSP(kem_id, 2), I2OSP(kdf_id, 2), I2OSP(aead_id, 2)).
function hpkeSuiteId(aeadId: AeadId): Buffer {
  return Buffer.concat([
    Buffer.from('HPKE', 'ascii'),
    i2osp(KEM_X25519_HKDF_SHA256, 2),
    i2osp(KDF_HKDF_SHA256, 2),
    i2osp(aeadId, 2),
  ]);
}

// RFC 5869 §2.2: HKDF-Extract(salt, IKM) = HMAC-Hash(salt, IKM). An empty salt is HashLen zeros,
// which HMAC's key padding makes identical to an empty key.
function extract(salt: Uint8Array, ikm: Uint8Array): Buffer {
  return createHmac('sha256', salt).update(ikm).digest();
}

// RFC 5869 §2.3: T(i) = HMAC-Hash(PRK, T(i-1) | info | i), output the first L octets.
function expand(prk: Uint8Array, info: Uint8Array, length: number): Buffer {
  const blocks: Buffer[] = [];
  let previous: Buffer = Buffer.alloc(0);
  for (let i = 1; blocks.length * NH < length; i++) {
    previous = createHmac('sha256', prk).update(previous).update(info).update(Uint8Array.of(i)).digest();
    blocks.push(previous);
  }
  return Buffer.concat(blocks).subarray(0, length);
}

// RFC 9180 §4: labeled_ikm = concat("HPKE-v1", suite_id, label, ikm).
function labeledExtract(suiteId: Uint8Array, salt: Uint8Array, label: string, ikm: Uint8Array): Buffer {
  return extract(salt, Buffer.concat([VERSION_LABEL, suiteId, Buffer.from(label, 'ascii'), ikm]));
}

// RFC 9180 §4: labeled_info = concat(I2OSP(L, 2), "HPKE-v1", suite_id, label, info).
function labeledExpand(
  suiteId: Uint8Array,
  prk: Uint8Array,
  label: string,
  info: Uint8Array,
  length: number,
): Buffer {
  const labeledInfo = Buffer.concat([
    i2osp(length, 2),
    VERSION_LABEL,
    suiteId,
    Buffer.from(label, 'ascii'),
    info,
  ]);
  return expand(prk, labeledInfo, length);
}

// RFC 9180 §4.1 ExtractAndExpand(dh, kem_context).
function extractAndExpand(dh: Uint8Array, kemContext: Uint8Array): Buffer {
  const eaePrk = labeledExtract(KEM_SUITE_ID, EMPTY, 'eae_prk', dh);
  const sharedSecret = labeledExpand(KEM_SUITE_ID, eaePrk, 'shared_secret', kemContext, N_SECRET);
  eaePrk.fill(0);
  return sharedSecret;
}

function isAllZero(bytes: Uint8Array): boolean {
  let acc = 0;
  for (const b of bytes) acc |= b;
  return acc === 0;
}

/** X25519, or undefined when there is no usable shared secret (RFC 9180 §7.1.4: all-zero output). */
function tryDh(privateKey: KeyObject, publicKey: KeyObject): Buffer | undefined {
  let dh: Buffer;
  try {
    // OpenSSL already refuses an all-zero X25519 result; the check below does not rely on that.
    dh = diffieHellman({ privateKey, publicKey });
  } catch {
    return undefined;
  }
  return isAllZero(dh) ? undefined : dh;
}

// Public keys derived from a recipient's private key, so open() serialises pkR once per key.
const rawPublicOf = new WeakMap<KeyObject, Uint8Array>();

function rawPublicKeyOf(key: KeyObject): Uint8Array {
  let raw = rawPublicOf.get(key);
  if (raw === undefined) {
    raw = exportRawPublicKey(key);
    rawPublicOf.set(key, raw);
  }
  return raw;
}

function recipientKey(pkR: EncryptionPublicKey): { readonly key: KeyObject; readonly raw: Uint8Array } {
  if (pkR instanceof Uint8Array) return { key: importRawPublicKey('x25519', pkR), raw: pkR };
  assertKeyKind(pkR, 'x25519', 'public');
  return { key: pkR, raw: rawPublicKeyOf(pkR) };
}

function aeadOf(options: HpkeOptions | undefined): { readonly id: AeadId; readonly params: AeadParams } {
  const id = options?.aeadId ?? AEAD_AES_256_GCM;
  const params = AEADS[id];
  if (params === undefined) throw new AccordError('KEY_INVALID', `unsupported HPKE aead_id ${String(id)}`);
  return { id, params };
}

/** The RFC 9180 §5.1 key schedule's outputs; exported for the known-answer tests only. */
export interface KeySchedule {
  readonly keyScheduleContext: Buffer;
  readonly secret: Buffer;
  readonly key: Buffer;
  readonly baseNonce: Buffer;
  readonly exporterSecret: Buffer;
}

/** RFC 9180 §5.1 KeySchedule for mode_base (psk and psk_id empty). */
export function keyScheduleBase(sharedSecret: Uint8Array, info: Uint8Array, aeadId: AeadId): KeySchedule {
  const suiteId = hpkeSuiteId(aeadId);
  const { nk } = AEADS[aeadId];
  const pskIdHash = labeledExtract(suiteId, EMPTY, 'psk_id_hash', EMPTY);
  const infoHash = labeledExtract(suiteId, EMPTY, 'info_hash', info);
  const keyScheduleContext = Buffer.concat([Uint8Array.of(MODE_BASE), pskIdHash, infoHash]);
  const secret = labeledExtract(suiteId, sharedSecret, 'secret', EMPTY);
  return {
    keyScheduleContext,
    secret,
    key: labeledExpand(suiteId, secret, 'key', keyScheduleContext, nk),
    baseNonce: labeledExpand(suiteId, secret, 'base_nonce', keyScheduleContext, NN),
    exporterSecret: labeledExpand(suiteId, secret, 'exp', keyScheduleContext, NH),
  };
}

/** A sender's HPKE context (RFC 9180 §5.2): seals messages in order under one encapsulated key. */
export interface SenderContext {
  /** The encapsulated key to send with the ciphertexts. */
  readonly enc: Uint8Array;
  seal(aad: Uint8Array, plaintext: Uint8Array): Uint8Array;
}

/** A recipient's HPKE context (RFC 9180 §5.2): opens messages in the order they were sealed. */
export interface RecipientContext {
  open(aad: Uint8Array, ciphertext: Uint8Array): Uint8Array;
}

// RFC 9180 §5.2: nonce = base_nonce XOR I2OSP(seq, Nn); seq never repeats within a context.
class AeadState {
  readonly #cipher: AeadParams['cipher'];
  readonly #key: Buffer;
  readonly #baseNonce: Buffer;
  #seq = 0;

  constructor(cipher: AeadParams['cipher'], key: Buffer, baseNonce: Buffer) {
    this.#cipher = cipher;
    this.#key = key;
    this.#baseNonce = baseNonce;
  }

  #nonce(): Buffer {
    // Nn is 12 bytes, so the RFC's limit is 2^96 - 1; a JS number stays exact up to 2^53 - 1.
    if (this.#seq >= Number.MAX_SAFE_INTEGER) {
      throw new AccordError('ENVELOPE_LIMIT_REACHED', 'this HPKE context has used every sequence number');
    }
    const nonce = Buffer.alloc(NN);
    nonce.writeUInt32BE(Math.floor(this.#seq / 2 ** 32), NN - 8);
    nonce.writeUInt32BE(this.#seq >>> 0, NN - 4);
    for (let i = 0; i < NN; i++) nonce[i] = (nonce[i] ?? 0) ^ (this.#baseNonce[i] ?? 0);
    return nonce;
  }

  seal(aad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    const cipher = createCipheriv(this.#cipher, this.#key, this.#nonce(), { authTagLength: NT });
    cipher.setAAD(aad);
    const out = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    this.#seq += 1;
    return new Uint8Array(out.buffer, out.byteOffset, out.length);
  }

  open(aad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    // attacker-controlled: ciphertext and aad come off the wire.
    if (ciphertext.length < NT) throw openFailed();
    const body = ciphertext.subarray(0, ciphertext.length - NT);
    const tag = ciphertext.subarray(ciphertext.length - NT);
    const decipher = createDecipheriv(this.#cipher, this.#key, this.#nonce(), { authTagLength: NT });
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    let out: Buffer;
    try {
      out = Buffer.concat([decipher.update(body), decipher.final()]);
    } catch (error) {
      // RFC 9180 §5.2: on OpenError the sequence number is not advanced.
      throw openFailed(error);
    }
    this.#seq += 1;
    return new Uint8Array(out.buffer, out.byteOffset, out.length);
  }
}

function openFailed(cause?: unknown): AccordError {
  // One message for every cause, so a peer learns nothing about which check failed.
  return new AccordError(
    'ENVELOPE_DECRYPT_FAILED',
    'the envelope does not open with this key (wrong recipient, or enc, aad or ciphertext altered)',
    {},
    cause === undefined ? undefined : { cause },
  );
}

function senderContext(
  pkR: EncryptionPublicKey,
  info: Uint8Array,
  ephemeral: KeyPair,
  options: HpkeOptions | undefined,
): SenderContext {
  const aead = aeadOf(options);
  const recipient = recipientKey(pkR);
  // RFC 9180 §4.1 Encap: dh = DH(skE, pkR); enc = SerializePublicKey(pkE); kem_context = enc || pkRm.
  const dh = tryDh(ephemeral.privateKey, recipient.key);
  if (dh === undefined) {
    throw new AccordError('KEY_INVALID', 'the recipient X25519 key gives no shared secret (low-order point)');
  }
  const enc = exportRawPublicKey(ephemeral.publicKey);
  const sharedSecret = extractAndExpand(dh, Buffer.concat([enc, recipient.raw]));
  dh.fill(0);
  const schedule = keyScheduleBase(sharedSecret, info, aead.id);
  sharedSecret.fill(0);
  schedule.secret.fill(0);
  const state = new AeadState(aead.params.cipher, schedule.key, schedule.baseNonce);
  return { enc, seal: (aad, plaintext) => state.seal(aad, plaintext) };
}

/**
 * RFC 9180 §5.1.1 SetupBaseS with a caller-chosen ephemeral key pair. Only for known-answer
 * tests: reusing an ephemeral key for the same recipient and info reuses AES-GCM nonces.
 * Deliberately not exported from the crypto module's index.
 */
export function setupBaseSWithEphemeral(
  pkR: EncryptionPublicKey,
  info: Uint8Array,
  ephemeralPrivateKey: KeyObject,
  options?: HpkeOptions,
): SenderContext {
  assertKeyKind(ephemeralPrivateKey, 'x25519', 'private');
  const ephemeral = { privateKey: ephemeralPrivateKey, publicKey: createPublicKey(ephemeralPrivateKey) };
  return senderContext(pkR, info, ephemeral, options);
}

/** RFC 9180 §5.1.1 SetupBaseS: a fresh ephemeral key, encapsulated to `pkR`, bound to `info`. */
export function setupBaseS(pkR: EncryptionPublicKey, info: Uint8Array, options?: HpkeOptions): SenderContext {
  return senderContext(pkR, info, generateKeyPairSync('x25519'), options);
}

/**
 * RFC 9180 §5.1.1 SetupBaseR: decapsulates `enc` with the recipient's X25519 private key. Throws
 * ENVELOPE_DECRYPT_FAILED when `enc` is not a usable X25519 public key.
 */
export function setupBaseR(
  enc: Uint8Array, // attacker-controlled
  skR: KeyObject,
  info: Uint8Array,
  options?: HpkeOptions,
): RecipientContext {
  assertKeyKind(skR, 'x25519', 'private');
  const aead = aeadOf(options);
  if (enc.length !== RAW_KEY_LENGTH) throw openFailed();
  let pkE: KeyObject;
  try {
    pkE = importRawPublicKey('x25519', enc);
  } catch (error) {
    throw openFailed(error);
  }
  // RFC 9180 §4.1 Decap: dh = DH(skR, pkE); kem_context = enc || SerializePublicKey(pk(skR)).
  const dh = tryDh(skR, pkE);
  if (dh === undefined) throw openFailed();
  const sharedSecret = extractAndExpand(dh, Buffer.concat([enc, rawPublicKeyOf(skR)]));
  dh.fill(0);
  const schedule = keyScheduleBase(sharedSecret, info, aead.id);
  sharedSecret.fill(0);
  schedule.secret.fill(0);
  const state = new AeadState(aead.params.cipher, schedule.key, schedule.baseNonce);
  return { open: (aad, ciphertext) => state.open(aad, ciphertext) };
}

/** RFC 9180 §6.1 single-shot SealBase: one message to `pkR`, bound to `info` and `aad`. */
export function seal(
  pkR: EncryptionPublicKey,
  info: Uint8Array,
  aad: Uint8Array,
  plaintext: Uint8Array,
  options?: HpkeOptions,
): Sealed {
  const context = setupBaseS(pkR, info, options);
  return { enc: context.enc, ciphertext: context.seal(aad, plaintext) };
}

/**
 * RFC 9180 §6.1 single-shot OpenBase. Throws ENVELOPE_DECRYPT_FAILED for a wrong key or any change
 * to enc, info, aad or ciphertext.
 */
export function open(
  skR: KeyObject,
  enc: Uint8Array, // attacker-controlled
  info: Uint8Array,
  aad: Uint8Array, // attacker-controlled
  ciphertext: Uint8Array, // attacker-controlled
  options?: HpkeOptions,
): Uint8Array {
  return setupBaseR(enc, skR, info, options).open(aad, ciphertext);
}

/** A fresh X25519 key pair for a node's encryption identity. */
export function generateEncryptionKeyPair(): KeyPair {
  return generateKeyPairSync('x25519');
}

/**
 * RFC 9180 §7.1.3 DeriveKeyPair for DHKEM(X25519): a deterministic key pair from at least 32
 * bytes of input keying material. For reproducible fixtures; nodes use generateEncryptionKeyPair.
 */
export function deriveEncryptionKeyPair(ikm: Uint8Array): KeyPair {
  if (ikm.length < RAW_KEY_LENGTH) {
    throw new AccordError('KEY_INVALID', `DeriveKeyPair needs at least ${RAW_KEY_LENGTH} bytes of ikm`);
  }
  const dkpPrk = labeledExtract(KEM_SUITE_ID, EMPTY, 'dkp_prk', ikm);
  const sk = labeledExpand(KEM_SUITE_ID, dkpPrk, 'sk', EMPTY, RAW_KEY_LENGTH);
  dkpPrk.fill(0);
  const privateKey = importRawPrivateKey('x25519', sk);
  sk.fill(0);
  return { privateKey, publicKey: createPublicKey(privateKey) };
}
