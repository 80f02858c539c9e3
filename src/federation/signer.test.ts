import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { errorOf } from '../../test/fixtures/errors.js';
import { exportRawPublicKey, fingerprintOf, verifySignature } from '../crypto/index.js';
import { pinnedKey, signAs } from './signer.js';

const pair = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const fingerprint = fingerprintOf(pair.publicKey);

describe('signAs', () => {
  it('signs with the key its fingerprint names', () => {
    const signature = signAs({ privateKey: pair.privateKey, fingerprint }, 'message');
    expect(() => verifySignature(pair.publicKey, 'message', signature)).not.toThrow();
  });

  it('refuses a key other than the one its fingerprint names (KEY_INVALID)', () => {
    const error = errorOf(() => signAs({ privateKey: other.privateKey, fingerprint }, 'message'));
    expect(error.code).toBe('KEY_INVALID');
  });
});

describe('pinnedKey', () => {
  it('passes on a key, as KeyObject or raw bytes, whose fingerprint is the one named', () => {
    expect(pinnedKey(pair.publicKey, fingerprint, 'x', {})).toBe(pair.publicKey);
    const raw = exportRawPublicKey(pair.publicKey);
    expect(pinnedKey(raw, fingerprint, 'x', {})).toBe(raw);
  });

  it('refuses no key, or a different one, with KEY_UNPINNED and the fingerprint', () => {
    for (const key of [undefined, other.publicKey]) {
      const error = errorOf(() => pinnedKey(key, fingerprint, 'product p1', { productId: 'p1' }));
      expect(error.code).toBe('KEY_UNPINNED');
      expect(error.details).toEqual({ productId: 'p1', fingerprint });
    }
  });
});
