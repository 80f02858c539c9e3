import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AccordError } from '../errors/index.js';
import { open, seal } from './hpke.js';
import { createNodeIdentity, parsePublicIdentity, publicIdentity } from './node-identity.js';
import { signDigest, verifySignature } from './signing.js';

describe('createNodeIdentity', () => {
  it('makes an Ed25519 signing pair and an X25519 encryption pair', () => {
    const identity = createNodeIdentity();
    expect(identity.signing.privateKey.asymmetricKeyType).toBe('ed25519');
    expect(identity.signing.publicKey.asymmetricKeyType).toBe('ed25519');
    expect(identity.encryption.privateKey.asymmetricKeyType).toBe('x25519');
    expect(identity.encryption.publicKey.asymmetricKeyType).toBe('x25519');
  });

  it('makes a different identity each time', () => {
    expect(publicIdentity(createNodeIdentity())).not.toEqual(publicIdentity(createNodeIdentity()));
  });
});

describe('publicIdentity', () => {
  const identity = createNodeIdentity();
  const pub = publicIdentity(identity);

  it('publishes base64 raw 32-byte keys with sha256:<hex> fingerprints of those bytes', () => {
    for (const info of [pub.signing, pub.encryption]) {
      const raw = Buffer.from(info.publicKey, 'base64');
      expect(raw).toHaveLength(32);
      expect(info.fingerprint).toBe(`sha256:${createHash('sha256').update(raw).digest('hex')}`);
      // The arrangement schema's Fingerprint pattern (src/arrangements/model.ts).
      expect(info.fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
    }
    expect(pub.signing.fingerprint).not.toBe(pub.encryption.fingerprint);
  });

  it('holds no private material', () => {
    expect(Object.keys(pub.signing).sort()).toEqual(['fingerprint', 'publicKey']);
    expect(JSON.stringify(pub)).not.toContain('private');
  });

  it('gives peers what they need: verify with the signing key, seal to the encryption key', () => {
    const signature = signDigest(identity.signing.privateKey, 'sha256:abc');
    expect(() =>
      verifySignature(Buffer.from(pub.signing.publicKey, 'base64'), 'sha256:abc', signature),
    ).not.toThrow();
    const info = Buffer.from('accord test');
    const sealed = seal(
      Buffer.from(pub.encryption.publicKey, 'base64'),
      info,
      new Uint8Array(0),
      Buffer.from('hi'),
    );
    const opened = open(
      identity.encryption.privateKey,
      sealed.enc,
      info,
      new Uint8Array(0),
      sealed.ciphertext,
    );
    expect(Buffer.from(opened).toString()).toBe('hi');
  });

  it('refuses an identity whose pairs are swapped', () => {
    const swapped = { signing: identity.encryption, encryption: identity.signing };
    let code: string | undefined;
    try {
      publicIdentity(swapped);
    } catch (error) {
      code = error instanceof AccordError ? error.code : undefined;
    }
    expect(code).toBe('KEY_INVALID');
  });
});

describe('parsePublicIdentity', () => {
  const pub = publicIdentity(createNodeIdentity());
  const other = publicIdentity(createNodeIdentity());

  function errorOf(value: unknown): AccordError {
    try {
      parsePublicIdentity(value);
    } catch (error) {
      if (error instanceof AccordError) return error;
      throw error;
    }
    throw new Error('expected an AccordError');
  }

  it('takes back what publicIdentity publishes', () => {
    expect(parsePublicIdentity(JSON.parse(JSON.stringify(pub)))).toEqual(pub);
  });

  it('refuses a public key that is not the one its fingerprint names', () => {
    const error = errorOf({ ...pub, signing: { ...pub.signing, publicKey: other.signing.publicKey } });
    expect(error.code).toBe('KEY_INVALID');
    expect(error.message).toBe(`signing.publicKey does not match its fingerprint ${pub.signing.fingerprint}`);
    expect(error.details.path).toBe('/signing/publicKey');
  });

  it.each([
    ['a non-object', 'keys', /a public identity is an object/],
    ['an unknown field', { ...pub, partner: 'USA' }, /unknown fields: partner/],
    ['a missing key', { signing: pub.signing }, /^encryption: must be an object/],
    [
      'a key field too many',
      { ...pub, encryption: { ...pub.encryption, privateKey: 'x' } },
      /unknown fields privateKey/,
    ],
    [
      'a malformed fingerprint',
      { ...pub, signing: { ...pub.signing, fingerprint: 'sha256:AB' } },
      /fingerprint: must be/,
    ],
    // Same bytes, another spelling: only canonical base64 is accepted.
    [
      'unpadded base64',
      { ...pub, signing: { ...pub.signing, publicKey: pub.signing.publicKey.replace(/=+$/, '') } },
      /must be base64/,
    ],
    [
      'a 31-byte key',
      { ...pub, signing: { ...pub.signing, publicKey: Buffer.alloc(31).toString('base64') } },
      /not an ed25519 public key/,
    ],
  ])('refuses %s with KEY_INVALID', (_what, value, message) => {
    const error = errorOf(value);
    expect(error.code).toBe('KEY_INVALID');
    expect(error.message).toMatch(message);
  });
});
