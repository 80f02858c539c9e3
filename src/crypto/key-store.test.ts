import { describe, expect, it } from 'vitest';
import { errorOf } from '../../test/fixtures/errors.js';
import { AccordError } from '../errors/index.js';
import { generateEncryptionKeyPair } from './hpke.js';
import {
  DEFAULT_SCRYPT,
  decryptPrivateKey,
  type EncryptedKey,
  encryptPrivateKey,
  KEY_PASSPHRASE_ENV,
  parseEncryptedKey,
} from './key-store.js';
import { exportRawPublicKey } from './raw-keys.js';
import { generateSigningKeyPair, signDigest, verifySignature } from './signing.js';

async function rejectionOf(promise: Promise<unknown>): Promise<AccordError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof AccordError) return error;
    throw error;
  }
  throw new Error('expected an AccordError');
}

const PASSPHRASE = 'correct horse battery staple';
const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('encryptPrivateKey / decryptPrivateKey', () => {
  const signing = generateSigningKeyPair();
  // One scrypt run per file is ~0.1 s, so the files are made once and reused.
  const sealed = encryptPrivateKey(signing.privateKey, PASSPHRASE);

  it('round-trips an Ed25519 key through JSON text', async () => {
    const file = JSON.parse(JSON.stringify(await sealed)) as unknown;
    const key = await decryptPrivateKey(file, PASSPHRASE);
    expect(key.asymmetricKeyType).toBe('ed25519');
    expect(() => verifySignature(signing.publicKey, 'm', signDigest(key, 'm'))).not.toThrow();
  });

  it('round-trips an X25519 key', async () => {
    const pair = generateEncryptionKeyPair();
    const key = await decryptPrivateKey(await encryptPrivateKey(pair.privateKey, PASSPHRASE), PASSPHRASE);
    expect(hexOf(exportRawPublicKey(key))).toBe(hexOf(exportRawPublicKey(pair.publicKey)));
  });

  it('writes version, scrypt parameters, salt, iv, tag and ciphertext, binary fields in base64', async () => {
    const file = await sealed;
    expect(file).toMatchObject({
      format: 'accord-encrypted-key',
      version: 1,
      keyType: 'ed25519',
      kdf: { name: 'scrypt', N: 2 ** 15, r: 8, p: 1 },
      cipher: { name: 'aes-256-gcm' },
    });
    expect(Buffer.from(file.kdf.salt, 'base64')).toHaveLength(16);
    expect(Buffer.from(file.cipher.iv, 'base64')).toHaveLength(12);
    expect(Buffer.from(file.cipher.tag, 'base64')).toHaveLength(16);
    expect(Buffer.from(file.ciphertext, 'base64').length).toBeGreaterThan(32);
    expect(parseEncryptedKey(JSON.parse(JSON.stringify(file)))).toEqual(file);
  });

  it('uses the injected random source for salt and iv', async () => {
    let calls = 0;
    const random = (n: number): Uint8Array => new Uint8Array(n).fill(++calls);
    const file = await encryptPrivateKey(signing.privateKey, PASSPHRASE, { random });
    expect(file.kdf.salt).toBe(Buffer.alloc(16, 1).toString('base64'));
    expect(file.cipher.iv).toBe(Buffer.alloc(12, 2).toString('base64'));
  });

  it('throws KEY_PASSPHRASE_WRONG for a wrong passphrase, without echoing it', async () => {
    const error = await rejectionOf(decryptPrivateKey(await sealed, 'Tr0ub4dor&3'));
    expect(error.code).toBe('KEY_PASSPHRASE_WRONG');
    expect(error.message).not.toContain('Tr0ub4dor');
  });

  it('throws KEY_PASSPHRASE_WRONG when the ciphertext, tag or authenticated header was changed', async () => {
    const file = await sealed;
    const flipFirst = (b64: string): string => {
      const bytes = Buffer.from(b64, 'base64');
      bytes[0] = (bytes[0] ?? 0) ^ 1;
      return bytes.toString('base64');
    };
    const tampered: readonly EncryptedKey[] = [
      { ...file, ciphertext: flipFirst(file.ciphertext) },
      { ...file, cipher: { ...file.cipher, tag: flipFirst(file.cipher.tag) } },
      { ...file, cipher: { ...file.cipher, iv: flipFirst(file.cipher.iv) } },
      // keyType is in the AES-GCM AAD, so relabelling the key is detected before it is parsed.
      { ...file, keyType: 'x25519' },
    ];
    for (const t of tampered)
      expect((await rejectionOf(decryptPrivateKey(t, PASSPHRASE))).code).toBe('KEY_PASSPHRASE_WRONG');
  });

  it('unlocks with the same passphrase in another Unicode normal form (NFC)', async () => {
    const composed = 'pass\u00e9';
    const decomposed = 'passe\u0301';
    const file = await encryptPrivateKey(signing.privateKey, composed);
    expect((await decryptPrivateKey(file, decomposed)).asymmetricKeyType).toBe('ed25519');
  });

  it('throws KEY_PASSPHRASE_MISSING naming ACCORD_KEY_PASSPHRASE when there is none', async () => {
    for (const missing of [undefined, '']) {
      const onEncrypt = await rejectionOf(encryptPrivateKey(signing.privateKey, missing));
      const onDecrypt = await rejectionOf(decryptPrivateKey(await sealed, missing));
      for (const error of [onEncrypt, onDecrypt]) {
        expect(error.code).toBe('KEY_PASSPHRASE_MISSING');
        expect(error.message).toContain(KEY_PASSPHRASE_ENV);
        expect(KEY_PASSPHRASE_ENV).toBe('ACCORD_KEY_PASSPHRASE');
      }
    }
  });

  it('refuses to store a public key or a key of another algorithm', async () => {
    expect((await rejectionOf(encryptPrivateKey(signing.publicKey, PASSPHRASE))).code).toBe('KEY_INVALID');
  });
});

describe('parseEncryptedKey', () => {
  const valid: EncryptedKey = {
    format: 'accord-encrypted-key',
    version: 1,
    keyType: 'ed25519',
    kdf: { name: 'scrypt', ...DEFAULT_SCRYPT, salt: Buffer.alloc(16).toString('base64') },
    cipher: {
      name: 'aes-256-gcm',
      iv: Buffer.alloc(12).toString('base64'),
      tag: Buffer.alloc(16).toString('base64'),
    },
    ciphertext: Buffer.alloc(48).toString('base64'),
  };

  it('accepts a well-formed file', () => {
    expect(parseEncryptedKey(valid)).toEqual(valid);
  });

  it('throws KEY_FILE_INVALID, before any scrypt work, for malformed or weakened files', () => {
    const broken: readonly unknown[] = [
      null,
      [],
      { ...valid, version: 2 },
      { ...valid, format: 'pem' },
      { ...valid, keyType: 'rsa' },
      { ...valid, extra: true },
      { ...valid, kdf: { ...valid.kdf, N: 2 ** 14 } },
      { ...valid, kdf: { ...valid.kdf, N: 3 * 2 ** 14 } },
      { ...valid, kdf: { ...valid.kdf, N: 2 ** 20 } },
      { ...valid, kdf: { ...valid.kdf, r: 4 } },
      { ...valid, kdf: { ...valid.kdf, p: 0 } },
      { ...valid, kdf: { ...valid.kdf, name: 'pbkdf2' } },
      { ...valid, kdf: { ...valid.kdf, salt: 'AAAA' } },
      { ...valid, cipher: { ...valid.cipher, name: 'aes-128-gcm' } },
      { ...valid, cipher: { ...valid.cipher, iv: 'not base64!' } },
      { ...valid, cipher: { ...valid.cipher, tag: Buffer.alloc(12).toString('base64') } },
      { ...valid, ciphertext: 42 },
    ];
    for (const file of broken)
      expect(errorOf(() => parseEncryptedKey(file)).code, JSON.stringify(file)).toBe('KEY_FILE_INVALID');
  });
});
