import { createPublicKey, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { flipBit } from '../../test/fixtures/bytes.js';
import { errorOf } from '../../test/fixtures/errors.js';
import {
  AEAD_AES_128_GCM,
  AEAD_AES_256_GCM,
  type AeadId,
  deriveEncryptionKeyPair,
  generateEncryptionKeyPair,
  keyScheduleBase,
  open,
  seal,
  setupBaseR,
  setupBaseS,
  setupBaseSWithEphemeral,
} from './hpke.js';
import { exportRawPublicKey, importRawPrivateKey } from './raw-keys.js';
import { generateSigningKeyPair } from './signing.js';

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

interface Encryption {
  readonly seq: number;
  readonly aad: string;
  readonly ct: string;
}

interface BaseVector {
  readonly source: string;
  readonly aeadId: AeadId;
  readonly info: string;
  readonly skEm: string;
  readonly pkEm: string;
  readonly skRm: string;
  readonly pkRm: string;
  readonly pt: string;
  readonly encryptions: readonly Encryption[];
}

// "Beauty is truth, truth beauty" and "Ode on a Grecian Urn": every RFC 9180 vector uses them.
const PT = '4265617574792069732074727574682c20747275746820626561757479';
const INFO = '4f6465206f6e2061204772656369616e2055726e';

// RFC 9180 Appendix A.1.1 (DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM, Base Setup
// Information) and A.1.1.1 (Encryptions), exact values from the RFC.
const A_1_1 = {
  source: 'RFC 9180 A.1.1',
  aeadId: AEAD_AES_128_GCM,
  info: INFO,
  ikmE: '7268600d403fce431561aef583ee1613527cff655c1343f29812e66706df3234',
  pkEm: '37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431',
  skEm: '52c4a758a802cd8b936eceea314432798d5baf2d7e9235dc084ab1b9cfa2f736',
  ikmR: '6db9df30aa07dd42ee5e8181afdb977e538f5e1fec8a06223f33f7013e525037',
  pkRm: '3948cfe0ad1ddb695d780e59077195da6c56506b027329794ab02bca80815c4d',
  skRm: '4612c550263fc8ad58375df3f557aac531d26850903e55a9f23f21d8534e8ac8',
  enc: '37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431',
  sharedSecret: 'fe0e18c9f024ce43799ae393c7e8fe8fce9d218875e8227b0187c04e7d2ea1fc',
  keyScheduleContext:
    '00725611c9d98c07c03f60095cd32d400d8347d45ed67097bbad50fc56da742d07cb6cffde367bb0565ba28bb02c90744a20f5ef37f30523526106f637abb05449',
  secret: '12fff91991e93b48de37e7daddb52981084bd8aa64289c3788471d9a9712f397',
  key: '4531685d41d65f03dc48f6b8302c05b0',
  baseNonce: '56d890e5accaaf011cff4b7d',
  exporterSecret: '45ff1c2e220db587171952c0592d5f5ebe103f1561a2614e38f2ffd47e99e3f8',
  pt: PT,
  encryptions: [
    {
      seq: 0,
      aad: '436f756e742d30',
      ct: 'f938558b5d72f1a23810b4be2ab4f84331acc02fc97babc53a52ae8218a355a96d8770ac83d07bea87e13c512a',
    },
    {
      seq: 1,
      aad: '436f756e742d31',
      ct: 'af2d7e9ac9ae7e270f46ba1f975be53c09f8d875bdc8535458c2494e8a6eab251c03d0c22a56b8ca42c2063b84',
    },
    {
      seq: 2,
      aad: '436f756e742d32',
      ct: '498dfcabd92e8acedc281e85af1cb4e3e31c7dc394a1ca20e173cb72516491588d96a19ad4a683518973dcc180',
    },
    {
      seq: 4,
      aad: '436f756e742d34',
      ct: '583bd32bc67a5994bb8ceaca813d369bca7b2a42408cddef5e22f880b631215a09fc0012bc69fccaa251c0246d',
    },
    {
      seq: 255,
      aad: '436f756e742d323535',
      ct: '7175db9717964058640a3a11fb9007941a5d1757fda1a6935c805c21af32505bf106deefec4a49ac38d71c9e0a',
    },
    {
      seq: 256,
      aad: '436f756e742d323536',
      ct: '957f9800542b0b8891badb026d79cc54597cb2d225b54c00c5238c25d05c30e3fbeda97d2e0e1aba483a2df9f2',
    },
  ],
} as const satisfies BaseVector & Record<string, unknown>;

// The Accord suite, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM (0x0020, 0x0001, 0x0002),
// mode_base. Not printed in RFC 9180's appendix; these are the CFRG's official test-vectors.json
// (github.com/cfrg/draft-irtf-cfrg-hpke, commit 5f503c5, the final "HPKE-v1" vectors that the RFC
// cites as [TestVectors]), as carried by BoringSSL in crypto/hpke/hpke_test_vectors.txt: that file
// omits ikm and intermediate values, so the check is end to end (skEm + pkRm -> enc, ct).
const CFRG_X25519_AES256 = {
  source: 'CFRG test-vectors.json (kem 32, kdf 1, aead 2, mode 0)',
  aeadId: AEAD_AES_256_GCM,
  info: INFO,
  skRm: '497b4502664cfea5d5af0b39934dac72242a74f8480451e1aee7d6a53320333d',
  skEm: '179d4b53b6365c45b600c4163b61d95cbc2f4d9e36f1695558dce265ab8bab11',
  pkRm: '430f4b9859665145a6b1ba274024487bd66f03a2dd577d7753c68d7d7d00c00c',
  pkEm: '6c93e09869df3402d7bf231bf540fadd35cd56be14f97178f0954db94b7fc256',
  pt: PT,
  encryptions: [
    {
      seq: 0,
      aad: '436f756e742d30',
      ct: 'e5d84cd531cfb583096e7cfa9641bd3079cf3a91cda813c52deb5f512be9931980a41de125a925cdad859d5b7a',
    },
    {
      seq: 1,
      aad: '436f756e742d31',
      ct: '2c43aff25343fdbff864506f0818b9d87df84ea01b1a2144d23b4d40c26bf655fdf197fe40297a8aebeed5cc2d',
    },
    {
      seq: 2,
      aad: '436f756e742d32',
      ct: 'e0a8f2cf92ff61215edbb8c55dc31fe9e2eb42a5685867bb6854211542099f9e940c4b41c192bc390835b1a5f7',
    },
    {
      seq: 3,
      aad: '436f756e742d33',
      ct: 'a8ea1deafbe4935d0d484a026301a339d4668c43c37f5e289bf758c7aeb3e2812d0321c12b71978855883420c0',
    },
    {
      seq: 255,
      aad: '436f756e742d323535',
      ct: 'f6ad1823eb0b932d04b6e23010eea64f1fe5edd0583dae5ba27ca6363f4ea104bd217331460ef4208040423641',
    },
    {
      seq: 256,
      aad: '436f756e742d323536',
      ct: '53624f4f9f173453b14e633b45390ff54cacaa4428d44baee1bff8133fab1ab3afe60f88e4634b525c54e92eda',
    },
  ],
} as const satisfies BaseVector;

function exportPrivate(privateKey: KeyObject): Uint8Array {
  // RFC 8410 §7: the raw scalar is the last 32 bytes of the PKCS#8 encoding.
  return new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(-32));
}

// Seals dummy messages to move the context to each vector's sequence number.
function checkSealsAndOpens(v: BaseVector): void {
  const skR = importRawPrivateKey('x25519', hex(v.skRm));
  expect(toHex(exportRawPublicKey(skR))).toBe(v.pkRm);
  const skE = importRawPrivateKey('x25519', hex(v.skEm));
  expect(toHex(exportRawPublicKey(skE))).toBe(v.pkEm);

  const sender = setupBaseSWithEphemeral(hex(v.pkRm), hex(v.info), skE, { aeadId: v.aeadId });
  expect(toHex(sender.enc)).toBe(v.pkEm);
  const recipient = setupBaseR(sender.enc, skR, hex(v.info), { aeadId: v.aeadId });
  let seq = 0;
  for (const e of v.encryptions) {
    for (; seq < e.seq; seq++)
      recipient.open(new Uint8Array(0), sender.seal(new Uint8Array(0), new Uint8Array(0)));
    expect(toHex(sender.seal(hex(e.aad), hex(v.pt))), `seal seq ${e.seq}`).toBe(e.ct);
    expect(toHex(recipient.open(hex(e.aad), hex(e.ct))), `open seq ${e.seq}`).toBe(v.pt);
    seq++;
  }
}

describe('HPKE against RFC 9180 A.1.1 (X25519, HKDF-SHA256, AES-128-GCM, mode_base)', () => {
  it('derives skEm and skRm from ikmE and ikmR (§7.1.3 DeriveKeyPair)', () => {
    const e = deriveEncryptionKeyPair(hex(A_1_1.ikmE));
    const r = deriveEncryptionKeyPair(hex(A_1_1.ikmR));
    expect(toHex(exportPrivate(e.privateKey))).toBe(A_1_1.skEm);
    expect(toHex(exportPrivate(r.privateKey))).toBe(A_1_1.skRm);
    expect(toHex(exportRawPublicKey(e.publicKey))).toBe(A_1_1.pkEm);
    expect(toHex(exportRawPublicKey(r.publicKey))).toBe(A_1_1.pkRm);
  });

  it('reproduces shared_secret, key_schedule_context, secret, key, base_nonce and exporter_secret', () => {
    const skE = importRawPrivateKey('x25519', hex(A_1_1.skEm));
    const sender = setupBaseSWithEphemeral(hex(A_1_1.pkRm), hex(A_1_1.info), skE, {
      aeadId: AEAD_AES_128_GCM,
    });
    expect(toHex(sender.enc)).toBe(A_1_1.enc);
    const schedule = keyScheduleBase(hex(A_1_1.sharedSecret), hex(A_1_1.info), AEAD_AES_128_GCM);
    expect(toHex(schedule.keyScheduleContext)).toBe(A_1_1.keyScheduleContext);
    expect(toHex(schedule.secret)).toBe(A_1_1.secret);
    expect(toHex(schedule.key)).toBe(A_1_1.key);
    expect(toHex(schedule.baseNonce)).toBe(A_1_1.baseNonce);
    expect(toHex(schedule.exporterSecret)).toBe(A_1_1.exporterSecret);
  });

  it('seals and opens the A.1.1.1 encryptions at sequence numbers 0, 1, 2, 4, 255 and 256', () => {
    checkSealsAndOpens(A_1_1);
  });
});

describe('HPKE against the CFRG vectors for X25519, HKDF-SHA256, AES-256-GCM (mode_base)', () => {
  it('seals and opens encryptions 0-3, 255 and 256', () => {
    checkSealsAndOpens(CFRG_X25519_AES256);
  });

  it('single-shot open() of encryption 0 recovers the plaintext with the default (AES-256-GCM) suite', () => {
    const v = CFRG_X25519_AES256;
    const skR = importRawPrivateKey('x25519', hex(v.skRm));
    const e0 = v.encryptions[0];
    expect(toHex(open(skR, hex(v.pkEm), hex(v.info), hex(e0.aad), hex(e0.ct)))).toBe(v.pt);
  });
});

describe('seal and open', () => {
  const recipient = generateEncryptionKeyPair();
  const info = Buffer.from('accord envelope v1', 'utf8');

  it('round-trips with a raw or KeyObject recipient key', () => {
    const raw = exportRawPublicKey(recipient.publicKey);
    for (const pkR of [raw, recipient.publicKey]) {
      const sealed = seal(pkR, info, Buffer.from('hdr'), Buffer.from('secret'));
      expect(sealed.enc).toHaveLength(32);
      expect(sealed.ciphertext).toHaveLength('secret'.length + 16);
      expect(
        Buffer.from(
          open(recipient.privateKey, sealed.enc, info, Buffer.from('hdr'), sealed.ciphertext),
        ).toString(),
      ).toBe('secret');
    }
  });

  it('uses a fresh ephemeral key each time', () => {
    const a = seal(recipient.publicKey, info, new Uint8Array(0), new Uint8Array(1));
    const b = seal(recipient.publicKey, info, new Uint8Array(0), new Uint8Array(1));
    expect(toHex(a.enc)).not.toBe(toHex(b.enc));
  });

  it('throws ENVELOPE_DECRYPT_FAILED for the wrong key, wrong info, short or empty inputs', () => {
    const sealed = seal(recipient.publicKey, info, new Uint8Array(0), Buffer.from('x'));
    const other = generateEncryptionKeyPair();
    const attempts: readonly (() => unknown)[] = [
      () => open(other.privateKey, sealed.enc, info, new Uint8Array(0), sealed.ciphertext),
      () =>
        open(
          recipient.privateKey,
          sealed.enc,
          Buffer.from('other info'),
          new Uint8Array(0),
          sealed.ciphertext,
        ),
      () => open(recipient.privateKey, sealed.enc.subarray(1), info, new Uint8Array(0), sealed.ciphertext),
      () => open(recipient.privateKey, new Uint8Array(0), info, new Uint8Array(0), sealed.ciphertext),
      () =>
        open(recipient.privateKey, sealed.enc, info, new Uint8Array(0), sealed.ciphertext.subarray(0, 15)),
      () => open(recipient.privateKey, sealed.enc, info, new Uint8Array(0), new Uint8Array(0)),
      () => open(recipient.privateKey, sealed.enc, info, new Uint8Array(0), sealed.ciphertext.subarray(1)),
      // A suite mismatch is a wrong key too: AES-128 keys are derived under another suite_id.
      () =>
        open(recipient.privateKey, sealed.enc, info, new Uint8Array(0), sealed.ciphertext, {
          aeadId: AEAD_AES_128_GCM,
        }),
    ];
    for (const attempt of attempts) expect(errorOf(attempt).code).toBe('ENVELOPE_DECRYPT_FAILED');
  });

  it('refuses low-order points: as enc on open, and as pkR on seal (RFC 9180 §7.1.4)', () => {
    // RFC 7748 §5 u-coordinates of small order: 0 and 1 give an all-zero X25519 output.
    const zero = new Uint8Array(32);
    const one = new Uint8Array(32);
    one[0] = 1;
    for (const point of [zero, one]) {
      expect(
        errorOf(() => open(recipient.privateKey, point, info, new Uint8Array(0), new Uint8Array(32))).code,
      ).toBe('ENVELOPE_DECRYPT_FAILED');
      expect(errorOf(() => seal(point, info, new Uint8Array(0), new Uint8Array(1))).code).toBe('KEY_INVALID');
    }
  });

  it('refuses keys of the wrong kind or size with KEY_INVALID', () => {
    const ed = generateSigningKeyPair();
    expect(errorOf(() => seal(ed.publicKey, info, new Uint8Array(0), new Uint8Array(1))).code).toBe(
      'KEY_INVALID',
    );
    expect(errorOf(() => seal(new Uint8Array(31), info, new Uint8Array(0), new Uint8Array(1))).code).toBe(
      'KEY_INVALID',
    );
    expect(
      errorOf(() => open(ed.privateKey, new Uint8Array(32), info, new Uint8Array(0), new Uint8Array(16)))
        .code,
    ).toBe('KEY_INVALID');
    expect(errorOf(() => setupBaseS(recipient.privateKey, info)).code).toBe('KEY_INVALID');
    expect(errorOf(() => deriveEncryptionKeyPair(new Uint8Array(16))).code).toBe('KEY_INVALID');
  });

  it('does not advance the recipient sequence after a failed open (RFC 9180 §5.2)', () => {
    const sender = setupBaseS(recipient.publicKey, info);
    const first = sender.seal(Buffer.from('a'), Buffer.from('1'));
    const second = sender.seal(Buffer.from('a'), Buffer.from('2'));
    const receiver = setupBaseR(sender.enc, recipient.privateKey, info);
    expect(errorOf(() => receiver.open(Buffer.from('b'), first)).code).toBe('ENVELOPE_DECRYPT_FAILED');
    expect(Buffer.from(receiver.open(Buffer.from('a'), first)).toString()).toBe('1');
    expect(Buffer.from(receiver.open(Buffer.from('a'), second)).toString()).toBe('2');
    // Replaying an earlier message fails: its nonce belongs to a spent sequence number.
    expect(errorOf(() => receiver.open(Buffer.from('a'), first)).code).toBe('ENVELOPE_DECRYPT_FAILED');
  });

  it('the derived public key of a recipient private key matches createPublicKey', () => {
    expect(toHex(exportRawPublicKey(recipient.privateKey))).toBe(
      toHex(exportRawPublicKey(createPublicKey(recipient.privateKey))),
    );
  });

  it('round-trips random plaintext, aad and info', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2048 }),
        fc.uint8Array({ maxLength: 256 }),
        fc.uint8Array({ maxLength: 256 }),
        (plaintext, aad, randomInfo) => {
          const sealed = seal(recipient.publicKey, randomInfo, aad, plaintext);
          expect(toHex(open(recipient.privateKey, sealed.enc, randomInfo, aad, sealed.ciphertext))).toBe(
            toHex(plaintext),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('throws ENVELOPE_DECRYPT_FAILED after any single-bit flip in enc, ciphertext or aad', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 512 }),
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        fc.constantFrom('enc', 'ciphertext', 'aad'),
        fc.nat(),
        (plaintext, aad, where, bit) => {
          const sealed = seal(recipient.publicKey, info, aad, plaintext);
          const enc = where === 'enc' ? flipBit(sealed.enc, bit) : sealed.enc;
          const ciphertext = where === 'ciphertext' ? flipBit(sealed.ciphertext, bit) : sealed.ciphertext;
          const tamperedAad = where === 'aad' ? flipBit(aad, bit) : aad;
          expect(errorOf(() => open(recipient.privateKey, enc, info, tamperedAad, ciphertext)).code).toBe(
            'ENVELOPE_DECRYPT_FAILED',
          );
        },
      ),
      { numRuns: 500 },
    );
  });
});
