import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { flipBit } from '../../test/fixtures/bytes.js';
import { errorOf } from '../../test/fixtures/errors.js';
import { generateEncryptionKeyPair } from './hpke.js';
import { exportRawPublicKey, importRawPrivateKey, importRawPublicKey } from './raw-keys.js';
import {
  fingerprintOf,
  generateSigningKeyPair,
  isValidSignature,
  signDigest,
  VERIFY_KEY_CACHE_SIZE,
  verifySignature,
} from './signing.js';

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

// RFC 8032 §7.1, "Test Vectors for Ed25519": TEST 1, TEST 2 and TEST 3.
const RFC8032_VECTORS = [
  {
    name: 'TEST 1',
    secretKey: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    publicKey: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    signature:
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155' +
      '5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    name: 'TEST 2',
    secretKey: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    publicKey: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    message: '72',
    signature:
      '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da' +
      '085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
  {
    name: 'TEST 3',
    secretKey: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    publicKey: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    message: 'af82',
    signature:
      '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac' +
      '18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  },
] as const;

describe('Ed25519 against RFC 8032 §7.1', () => {
  for (const v of RFC8032_VECTORS) {
    it(`derives the public key, signs and verifies ${v.name}`, () => {
      const privateKey = importRawPrivateKey('ed25519', hex(v.secretKey));
      expect(toHex(exportRawPublicKey(privateKey))).toBe(v.publicKey);
      // Ed25519 signing is deterministic (RFC 8032 §5.1.6), so the bytes must match exactly.
      expect(toHex(signDigest(privateKey, hex(v.message)))).toBe(v.signature);
      expect(() => verifySignature(hex(v.publicKey), hex(v.message), hex(v.signature))).not.toThrow();
      expect(isValidSignature(hex(v.publicKey), hex(v.message), hex(v.signature))).toBe(true);
    });
  }

  it('rejects TEST 1 signature with S + L (non-canonical S, RFC 8032 §5.1.7 step 1)', () => {
    const v = RFC8032_VECTORS[0];
    const signature = hex(v.signature);
    // L = 2^252 + 27742317777372353535851937790883648493, little-endian in the top 32 bytes.
    const L = 2n ** 252n + 27742317777372353535851937790883648493n;
    const s = BigInt(`0x${Buffer.from(signature.subarray(32)).reverse().toString('hex')}`) + L;
    const sBytes = Buffer.from(s.toString(16).padStart(64, '0'), 'hex').reverse();
    const malleated = Uint8Array.from([...signature.subarray(0, 32), ...sBytes]);
    expect(errorOf(() => verifySignature(hex(v.publicKey), hex(v.message), malleated)).code).toBe(
      'SIGNATURE_INVALID',
    );
  });
});

describe('fingerprintOf', () => {
  it('is sha256:<hex> of the raw 32-byte public key, from a KeyObject or the raw bytes', () => {
    const v = RFC8032_VECTORS[0];
    const expected = `sha256:${createHash('sha256').update(hex(v.publicKey)).digest('hex')}`;
    expect(fingerprintOf(hex(v.publicKey))).toBe(expected);
    expect(fingerprintOf(importRawPublicKey('ed25519', hex(v.publicKey)))).toBe(expected);
    expect(fingerprintOf(importRawPrivateKey('ed25519', hex(v.secretKey)))).toBe(expected);
    expect(fingerprintOf(hex(v.publicKey))).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('refuses a raw key that is not 32 bytes', () => {
    expect(errorOf(() => fingerprintOf(new Uint8Array(31))).code).toBe('KEY_INVALID');
  });
});

describe('verifySignature', () => {
  const pair = generateSigningKeyPair();

  it('throws SIGNATURE_INVALID naming the key fingerprint when the signature does not verify', () => {
    const signature = signDigest(pair.privateKey, 'sha256:00');
    const error = errorOf(() => verifySignature(pair.publicKey, 'sha256:01', signature));
    expect(error.code).toBe('SIGNATURE_INVALID');
    expect(error.details.fingerprint).toBe(fingerprintOf(pair.publicKey));
  });

  it('signs a string as its UTF-8 bytes', () => {
    const signature = signDigest(pair.privateKey, 'sha256:é');
    expect(() => verifySignature(pair.publicKey, Buffer.from('sha256:é', 'utf8'), signature)).not.toThrow();
  });

  it('throws for a malformed signature even from the predicate', () => {
    expect(errorOf(() => isValidSignature(pair.publicKey, 'm', new Uint8Array(63))).code).toBe(
      'SIGNATURE_INVALID',
    );
    expect(errorOf(() => verifySignature(pair.publicKey, 'm', new Uint8Array(65))).code).toBe(
      'SIGNATURE_INVALID',
    );
  });

  it('returns false from the predicate for a well-formed signature that does not verify', () => {
    expect(isValidSignature(pair.publicKey, 'm', new Uint8Array(64))).toBe(false);
  });

  it('refuses keys of the wrong kind', () => {
    const x = generateEncryptionKeyPair();
    expect(errorOf(() => signDigest(x.privateKey, 'm')).code).toBe('KEY_INVALID');
    expect(errorOf(() => signDigest(pair.publicKey, 'm')).code).toBe('KEY_INVALID');
    expect(errorOf(() => verifySignature(x.publicKey, 'm', new Uint8Array(64))).code).toBe('KEY_INVALID');
    expect(errorOf(() => verifySignature(new Uint8Array(33), 'm', new Uint8Array(64))).code).toBe(
      'KEY_INVALID',
    );
  });

  it('round-trips, and any single bit flip in message or signature makes it throw', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 256 }),
        fc.nat(),
        fc.boolean(),
        (message, bit, inSignature) => {
          const signature = signDigest(pair.privateKey, message);
          verifySignature(pair.publicKey, message, signature);
          const [m, s] = inSignature
            ? [message, flipBit(signature, bit)]
            : [flipBit(message, bit), signature];
          expect(errorOf(() => verifySignature(pair.publicKey, m, s)).code).toBe('SIGNATURE_INVALID');
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('raw verify keys, imported once and kept', () => {
  const pairs = Array.from({ length: 4 }, () => generateSigningKeyPair());
  const raws = pairs.map((p) => exportRawPublicKey(p.publicKey));

  it('verifies only under the key whose bytes are given, whatever was verified before', () => {
    // Property over interleaved calls: the kept KeyObject is the one for exactly these 32 bytes.
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(3), fc.nat(3), fc.uint8Array({ maxLength: 32 })), {
          minLength: 1,
          maxLength: 20,
        }),
        (calls) => {
          for (const [signer, verifier, message] of calls) {
            const signature = signDigest((pairs[signer] as (typeof pairs)[number]).privateKey, message);
            expect(isValidSignature(raws[verifier] as Uint8Array, message, signature)).toBe(
              signer === verifier,
            );
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('reads the bytes at each call: a buffer changed after a verify names the new key', () => {
    const [a, b] = pairs as [(typeof pairs)[number], (typeof pairs)[number]];
    const buffer = Uint8Array.from(exportRawPublicKey(a.publicKey));
    const byA = signDigest(a.privateKey, 'm');
    expect(isValidSignature(buffer, 'm', byA)).toBe(true);
    buffer.set(exportRawPublicKey(b.publicKey));
    expect(isValidSignature(buffer, 'm', byA)).toBe(false);
    expect(isValidSignature(buffer, 'm', signDigest(b.privateKey, 'm'))).toBe(true);
  });

  it('stays right past its capacity, and keeps nothing for a key that failed to import', () => {
    const many = Array.from({ length: VERIFY_KEY_CACHE_SIZE + 10 }, () => generateSigningKeyPair());
    for (const pair of many) {
      const raw = exportRawPublicKey(pair.publicKey);
      expect(isValidSignature(raw, 'x', signDigest(pair.privateKey, 'x'))).toBe(true);
    }
    // The first keys were evicted and come back imported afresh, still right.
    const first = many[0] as (typeof many)[number];
    const second = many[1] as (typeof many)[number];
    expect(
      isValidSignature(exportRawPublicKey(first.publicKey), 'x', signDigest(second.privateKey, 'x')),
    ).toBe(false);
    expect(
      isValidSignature(exportRawPublicKey(first.publicKey), 'x', signDigest(first.privateKey, 'x')),
    ).toBe(true);
    // A key of the wrong length fails every time, not just the first: nothing was kept for it.
    for (let i = 0; i < 2; i++) {
      expect(errorOf(() => isValidSignature(new Uint8Array(31), 'x', new Uint8Array(64))).code).toBe(
        'KEY_INVALID',
      );
    }
  });
});
