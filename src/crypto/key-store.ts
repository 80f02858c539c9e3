import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  type KeyObject,
  randomBytes,
  scrypt,
} from 'node:crypto';
import { AccordError } from '../errors/index.js';
import { canonicalJson } from './canonical-json.js';
import type { CurveName } from './raw-keys.js';

/** The environment variable the CLI and app read the node key passphrase from. */
export const KEY_PASSPHRASE_ENV = 'ACCORD_KEY_PASSPHRASE';

const FORMAT = 'accord-encrypted-key';
const VERSION = 1;
const SALT_LENGTH = 16;
const IV_LENGTH = 12; // NIST SP 800-38D §8.2: 96-bit IVs for GCM
const TAG_LENGTH = 16;
const KEY_LENGTH = 32; // AES-256
const MAX_MEMORY = 64 * 1024 * 1024;

/** scrypt cost parameters (RFC 7914 §2). */
export interface ScryptParams {
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

/**
 * RFC 7914 §2 parameters: N = 2^15, r = 8, p = 1 take 128·N·r = 32 MiB and ~0.1 s here, the
 * strongest power of two that stays within the 64 MiB ceiling below.
 */
export const DEFAULT_SCRYPT: ScryptParams = { N: 2 ** 15, r: 8, p: 1 };

/** A private key encrypted at rest: scrypt → AES-256-GCM, binary fields in base64. */
export interface EncryptedKey {
  readonly format: typeof FORMAT;
  readonly version: typeof VERSION;
  readonly keyType: CurveName;
  readonly kdf: { readonly name: 'scrypt'; readonly salt: string } & ScryptParams;
  readonly cipher: { readonly name: 'aes-256-gcm'; readonly iv: string; readonly tag: string };
  /** The PKCS#8 DER of the private key, encrypted. */
  readonly ciphertext: string;
}

/** Where salts and IVs come from; tests may pass a seeded source, nodes use the CSPRNG. */
export type RandomSource = (length: number) => Uint8Array;

export interface EncryptKeyOptions {
  readonly scrypt?: ScryptParams;
  readonly random?: RandomSource;
}

function invalidFile(message: string): never {
  throw new AccordError('KEY_FILE_INVALID', message);
}

function checkScrypt(params: ScryptParams): void {
  const { N, r, p } = params;
  const powerOfTwo = Number.isSafeInteger(N) && N > 1 && (N & (N - 1)) === 0;
  if (!powerOfTwo || !Number.isSafeInteger(r) || !Number.isSafeInteger(p)) {
    invalidFile('scrypt N must be a power of two and r, p integers');
  }
  // A file may not weaken the KDF below the default nor demand more than the memory ceiling.
  if (N < DEFAULT_SCRYPT.N || r < DEFAULT_SCRYPT.r || p < 1 || p > 16) {
    invalidFile(`scrypt parameters N=${N} r=${r} p=${p} are weaker than N=2^15 r=8 p=1 or out of range`);
  }
  if (128 * N * r > MAX_MEMORY) invalidFile(`scrypt N=${N} r=${r} needs more than 64 MiB`);
}

function requirePassphrase(passphrase: string | undefined): string {
  if (passphrase === undefined || passphrase.length === 0) {
    // Name the variable to set, never a value (STYLE.md, Config).
    throw new AccordError(
      'KEY_PASSPHRASE_MISSING',
      `no passphrase for the node key: set ${KEY_PASSPHRASE_ENV}`,
      { key: KEY_PASSPHRASE_ENV },
    );
  }
  // NFC so the same passphrase typed on different systems derives the same key.
  return passphrase.normalize('NFC');
}

function deriveKey(passphrase: string, salt: Uint8Array, params: ScryptParams): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(
      passphrase,
      salt,
      KEY_LENGTH,
      { N: params.N, r: params.r, p: params.p, maxmem: MAX_MEMORY + 1024 * 1024 },
      (error, key) => (error === null ? resolve(key) : reject(error)),
    );
  });
}

// The header fields go into the GCM AAD, so a changed key type or KDF parameter is detected.
function headerAad(file: Pick<EncryptedKey, 'format' | 'version' | 'keyType' | 'kdf'>): Buffer {
  const { format, version, keyType, kdf } = file;
  return Buffer.from(canonicalJson({ format, version, keyType, kdf }), 'utf8');
}

/**
 * Encrypts an Ed25519 or X25519 private key under a passphrase. Throws KEY_PASSPHRASE_MISSING
 * naming ACCORD_KEY_PASSPHRASE when the passphrase is absent or empty.
 */
export async function encryptPrivateKey(
  privateKey: KeyObject,
  passphrase: string | undefined,
  options: EncryptKeyOptions = {},
): Promise<EncryptedKey> {
  const secret = requirePassphrase(passphrase);
  const keyType = privateKey.asymmetricKeyType;
  if (privateKey.type !== 'private' || (keyType !== 'ed25519' && keyType !== 'x25519')) {
    throw new AccordError('KEY_INVALID', 'only Ed25519 and X25519 private keys are stored');
  }
  const params = options.scrypt ?? DEFAULT_SCRYPT;
  checkScrypt(params);
  const random = options.random ?? randomBytes;
  const salt = random(SALT_LENGTH);
  const iv = random(IV_LENGTH);
  const kdf = { name: 'scrypt' as const, N: params.N, r: params.r, p: params.p, salt: toBase64(salt) };
  const header = { format: FORMAT, version: VERSION, keyType, kdf } as const;

  const key = await deriveKey(secret, salt, params);
  const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
  try {
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_LENGTH });
    cipher.setAAD(headerAad(header));
    const ciphertext = Buffer.concat([cipher.update(pkcs8), cipher.final()]);
    return {
      ...header,
      cipher: { name: 'aes-256-gcm', iv: toBase64(iv), tag: toBase64(cipher.getAuthTag()) },
      ciphertext: toBase64(ciphertext),
    };
  } finally {
    key.fill(0);
    pkcs8.fill(0);
  }
}

function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64');
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function fromBase64(value: unknown, field: string, length?: number): Buffer {
  if (typeof value !== 'string' || !BASE64.test(value)) invalidFile(`${field} is not base64`);
  const bytes = Buffer.from(value, 'base64');
  if (length !== undefined && bytes.length !== length) invalidFile(`${field} must be ${length} bytes`);
  return bytes;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function exactKeys(value: Record<string, unknown>, keys: readonly string[], where: string): void {
  const extra = Object.keys(value).filter((k) => !keys.includes(k));
  if (extra.length > 0) invalidFile(`${where} has unknown fields: ${extra.join(', ')}`);
}

/** Checks the shape of an encrypted key file; throws KEY_FILE_INVALID naming what is wrong. */
export function parseEncryptedKey(value: unknown): EncryptedKey {
  if (!isRecord(value)) invalidFile('an encrypted key file is a JSON object');
  exactKeys(value, ['format', 'version', 'keyType', 'kdf', 'cipher', 'ciphertext'], 'the key file');
  if (value.format !== FORMAT) invalidFile(`format must be '${FORMAT}'`);
  if (value.version !== VERSION) invalidFile(`version ${String(value.version)} is not supported`);
  const keyType = value.keyType;
  if (keyType !== 'ed25519' && keyType !== 'x25519') invalidFile('keyType must be ed25519 or x25519');
  const { kdf, cipher } = value;
  if (!isRecord(kdf) || kdf.name !== 'scrypt') invalidFile("kdf.name must be 'scrypt'");
  exactKeys(kdf, ['name', 'N', 'r', 'p', 'salt'], 'kdf');
  const params = { N: kdf.N, r: kdf.r, p: kdf.p };
  if (typeof params.N !== 'number' || typeof params.r !== 'number' || typeof params.p !== 'number') {
    invalidFile('kdf N, r and p must be numbers');
  }
  checkScrypt({ N: params.N, r: params.r, p: params.p });
  fromBase64(kdf.salt, 'kdf.salt', SALT_LENGTH);
  if (!isRecord(cipher) || cipher.name !== 'aes-256-gcm') invalidFile("cipher.name must be 'aes-256-gcm'");
  exactKeys(cipher, ['name', 'iv', 'tag'], 'cipher');
  fromBase64(cipher.iv, 'cipher.iv', IV_LENGTH);
  fromBase64(cipher.tag, 'cipher.tag', TAG_LENGTH);
  fromBase64(value.ciphertext, 'ciphertext');
  return {
    format: FORMAT,
    version: VERSION,
    keyType,
    kdf: { name: 'scrypt', N: params.N, r: params.r, p: params.p, salt: kdf.salt as string },
    cipher: { name: 'aes-256-gcm', iv: cipher.iv as string, tag: cipher.tag as string },
    ciphertext: value.ciphertext as string,
  };
}

/**
 * Decrypts a key file written by encryptPrivateKey. Throws KEY_PASSPHRASE_MISSING when no
 * passphrase is given, KEY_FILE_INVALID for a malformed file, and KEY_PASSPHRASE_WRONG when the
 * passphrase does not unlock it (GCM cannot tell that apart from an altered file).
 */
export async function decryptPrivateKey(
  file: unknown, // attacker-controlled: whoever can write the key file
  passphrase: string | undefined,
): Promise<KeyObject> {
  const secret = requirePassphrase(passphrase);
  const parsed = parseEncryptedKey(file);
  const key = await deriveKey(secret, fromBase64(parsed.kdf.salt, 'kdf.salt'), parsed.kdf);
  let pkcs8: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, fromBase64(parsed.cipher.iv, 'cipher.iv'), {
      authTagLength: TAG_LENGTH,
    });
    decipher.setAAD(headerAad(parsed));
    decipher.setAuthTag(fromBase64(parsed.cipher.tag, 'cipher.tag'));
    pkcs8 = Buffer.concat([decipher.update(fromBase64(parsed.ciphertext, 'ciphertext')), decipher.final()]);
  } catch (error) {
    throw new AccordError(
      'KEY_PASSPHRASE_WRONG',
      'the key passphrase does not unlock the key file, or the file was altered',
      {},
      { cause: error },
    );
  } finally {
    key.fill(0);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  } catch {
    invalidFile('the decrypted key is not a PKCS#8 private key');
  } finally {
    pkcs8.fill(0);
  }
  if (privateKey.asymmetricKeyType !== parsed.keyType) {
    invalidFile(`the key file holds an ${String(privateKey.asymmetricKeyType)} key, not ${parsed.keyType}`);
  }
  return privateKey;
}
