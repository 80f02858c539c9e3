import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { errorOf } from '../../test/fixtures/errors.js';
import { canonicalJson, fingerprintOf, isValidSignature, signDigest } from '../crypto/index.js';
import type { ErrorCode } from '../errors/index.js';
import {
  RECEIPT_CONTEXT,
  type Receipt,
  type ReceiptFields,
  type ReceiptKeyResolver,
  receiptSigningBytes,
  type SignedReceipt,
  signReceipt,
  verifyReceipt,
} from './receipt.js';
import type { Signer } from './signer.js';

const RUNS = { numRuns: 300 } as const;

function makeSigner(): Signer & { readonly publicKey: KeyObject } {
  const pair = generateKeyPairSync('ed25519');
  return {
    privateKey: pair.privateKey,
    publicKey: pair.publicKey,
    fingerprint: fingerprintOf(pair.publicKey),
  };
}

const gbr = makeSigner(); // the recipient, who signs receipts
const stranger = makeSigner();
const pinnedGbr: ReceiptKeyResolver = (from, fingerprint) =>
  from === 'GBR' && fingerprint === gbr.fingerprint ? gbr.publicKey : undefined;

const STORED: ReceiptFields = {
  envelopeId: '6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b',
  from: 'GBR',
  to: 'USA',
  product: { id: 'prod-1', version: 2, digest: `sha256:${'cd'.repeat(32)}` },
  receivedAt: '2026-06-01T12:00:01.250Z',
  outcome: 'stored',
};
const REFUSED: ReceiptFields = {
  ...STORED,
  outcome: 'refused',
  reason: 'portion.releasability: p2 is not releasable to GBR under usa-gbr-ct v3',
};

const RECALLED: ReceiptFields = {
  ...STORED,
  product: { ...STORED.product, digest: `sha256:${'ef'.repeat(32)}` },
  outcome: 'recalled',
  erased: 1,
};

function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

describe('signReceipt and verifyReceipt', () => {
  it('round-trips a stored, a refused and a recalled receipt through JSON text', () => {
    for (const fields of [STORED, REFUSED, RECALLED, { ...RECALLED, erased: 0 }]) {
      const signed = signReceipt(fields, gbr);
      expect(signed.receipt).toEqual({ ...fields, signerKey: gbr.fingerprint });
      expect(verifyReceipt(clone(signed), pinnedGbr)).toEqual(signed.receipt);
    }
  });

  it('signs the canonical JSON of { context: accord/receipt/v1, receipt }, base64url', () => {
    const signed = signReceipt(STORED, gbr);
    const text = `{"context":"accord/receipt/v1","receipt":${canonicalJson(signed.receipt)}}`;
    expect(RECEIPT_CONTEXT).toBe('accord/receipt/v1');
    expect(new TextDecoder().decode(receiptSigningBytes(signed.receipt))).toBe(text);
    const signature = Buffer.from(signed.signature, 'base64url');
    expect(signature).toHaveLength(64);
    expect(isValidSignature(gbr.publicKey, text, signature)).toBe(true);
  });

  it.each<[string, (receipt: Receipt) => string]>([
    ['the bare receipt body (no context)', (receipt) => canonicalJson(receipt)],
    ["the envelope's context", (receipt) => canonicalJson({ context: 'accord/envelope/v1', receipt })],
    ["the product signature's context", (receipt) => `accord/product/v1:${canonicalJson(receipt)}`],
  ])('refuses a signature by the pinned key over %s (RECEIPT_INVALID)', (_what, message) => {
    const { receipt } = signReceipt(STORED, gbr);
    const signature = Buffer.from(signDigest(gbr.privateKey, message(receipt))).toString('base64url');
    const error = errorOf(() => verifyReceipt({ receipt, signature }, pinnedGbr));
    expect(error.code).toBe('RECEIPT_INVALID');
    expect(error.details.path).toBe('/signature');
  });

  it('refuses a refusal without a reason, at signing and at verifying', () => {
    const { reason: _reason, ...noReason } = REFUSED;
    expect(errorOf(() => signReceipt(noReason, gbr)).details.path).toBe('/reason');
    const signed = signReceipt(STORED, gbr);
    const receipt: Receipt = { ...signed.receipt, outcome: 'refused' };
    const resigned = {
      receipt,
      signature: Buffer.from(signDigest(gbr.privateKey, receiptSigningBytes(receipt))).toString('base64url'),
    };
    const error = errorOf(() => verifyReceipt(resigned, pinnedGbr));
    expect(error.code).toBe('RECEIPT_INVALID');
    expect(error.details.path).toBe('/receipt/reason');
  });

  it('refuses to sign with a key other than the one the fingerprint names (KEY_INVALID)', () => {
    const wrong = { privateKey: stranger.privateKey, fingerprint: gbr.fingerprint };
    expect(errorOf(() => signReceipt(STORED, wrong)).code).toBe('KEY_INVALID');
  });

  it.each<[string, (s: SignedReceipt) => unknown, string]>([
    ['a non-object', () => 'ok', '/'],
    ['an unknown field', (s) => ({ ...s, receipt: { ...s.receipt, note: 'x' } }), '/receipt/note'],
    ['an unknown top-level field', (s) => ({ ...s, by: 'GBR' }), '/by'],
    ['an unknown outcome', (s) => ({ ...s, receipt: { ...s.receipt, outcome: 'lost' } }), '/receipt/outcome'],
    [
      'a date that is no date',
      (s) => ({ ...s, receipt: { ...s.receipt, receivedAt: '2026-13-01T00:00:00.000Z' } }),
      '/receipt/receivedAt',
    ],
    [
      'a product without digest',
      (s) => ({ ...s, receipt: { ...s.receipt, product: { id: 'p', version: 1 } } }),
      '/receipt/product/digest',
    ],
    ['a short signature', (s) => ({ ...s, signature: s.signature.slice(1) }), '/signature'],
  ])('refuses %s as RECEIPT_INVALID naming %s', (_what, change, path) => {
    const error = errorOf(() => verifyReceipt(change(signReceipt(STORED, gbr)), pinnedGbr));
    expect(error.code).toBe('RECEIPT_INVALID');
    expect(error.details.path).toBe(path);
  });

  it('refuses a non-canonical spelling of the signature', () => {
    const signed = signReceipt(STORED, gbr);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(signed.signature.at(-1) ?? 'A');
    const sloppy = `${signed.signature.slice(0, -1)}${alphabet[last ^ 1]}`;
    const error = errorOf(() => verifyReceipt({ ...signed, signature: sloppy }, pinnedGbr));
    expect(error.details).toMatchObject({ path: '/signature', envelopeId: STORED.envelopeId });
  });

  it('refuses a receipt signed by a key not pinned for its sender (KEY_UNPINNED)', () => {
    const error = errorOf(() => verifyReceipt(signReceipt(STORED, stranger), pinnedGbr));
    expect(error.code).toBe('KEY_UNPINNED');
    expect(error.details).toMatchObject({ envelopeId: STORED.envelopeId, fingerprint: stranger.fingerprint });
  });

  it("refuses GBR's key speaking for another partner (KEY_UNPINNED)", () => {
    expect(errorOf(() => verifyReceipt(signReceipt({ ...STORED, from: 'CAN' }, gbr), pinnedGbr)).code).toBe(
      'KEY_UNPINNED',
    );
  });

  it('refuses a stranger signature under the pinned fingerprint (RECEIPT_INVALID)', () => {
    const signed = signReceipt(STORED, gbr);
    const forged = Buffer.from(signDigest(stranger.privateKey, receiptSigningBytes(signed.receipt))).toString(
      'base64url',
    );
    const error = errorOf(() => verifyReceipt({ ...signed, signature: forged }, pinnedGbr));
    expect(error.code).toBe('RECEIPT_INVALID');
    expect(error.details.path).toBe('/signature');
  });

  it.each<[string, ReceiptFields]>([
    ['a stored receipt', { ...STORED, erased: 0 }],
    ['a refusal', { ...REFUSED, erased: 2 }],
    ['a negative count', { ...RECALLED, erased: -1 }],
    ['a fractional count', { ...RECALLED, erased: 0.5 }],
  ])('refuses to sign or verify an erased count on %s', (_what, fields) => {
    expect(errorOf(() => signReceipt(fields, gbr)).code).toBe('RECEIPT_INVALID');
    const forged = signReceipt(RECALLED, gbr);
    const body = { ...forged.receipt, ...fields, signerKey: gbr.fingerprint };
    const signature = Buffer.from(signDigest(gbr.privateKey, receiptSigningBytes(body as Receipt))).toString(
      'base64url',
    );
    const error = errorOf(() => verifyReceipt({ receipt: body, signature }, pinnedGbr));
    expect(error.code).toBe('RECEIPT_INVALID');
    expect(error.details.path).toBe('/receipt/erased');
  });

  const FIELDS = [
    'envelopeId',
    'from',
    'to',
    'product.id',
    'product.digest',
    'receivedAt',
    'outcome',
    'reason',
    'signerKey',
  ] as const;
  type Field = (typeof FIELDS)[number];

  function allowed(field: Field): readonly ErrorCode[] {
    return field === 'from' || field === 'signerKey'
      ? ['RECEIPT_INVALID', 'KEY_UNPINNED']
      : ['RECEIPT_INVALID'];
  }

  it('refuses any bit flip in a receipt field or its signature (property)', () => {
    const signed = signReceipt(REFUSED, gbr);
    fc.assert(
      fc.property(
        fc.constantFrom<Field | 'signature' | 'product.version'>(...FIELDS, 'signature', 'product.version'),
        fc.nat(),
        fc.integer({ min: 0, max: 15 }),
        (field, index, bit) => {
          const copy = clone(signed) as unknown as { receipt: Record<string, unknown>; signature: string };
          const [outer, inner] = field.split('.') as [string, string | undefined];
          const holder =
            field === 'signature'
              ? (copy as unknown as Record<string, unknown>)
              : inner === undefined
                ? copy.receipt
                : (copy.receipt[outer] as Record<string, unknown>);
          const key = inner ?? outer;
          const value = holder[key];
          if (typeof value === 'number') {
            holder[key] = value ^ (1 << bit);
          } else {
            const text = String(value);
            const i = index % text.length;
            holder[key] =
              text.slice(0, i) + String.fromCharCode(text.charCodeAt(i) ^ (1 << bit)) + text.slice(i + 1);
          }
          const error = errorOf(() => verifyReceipt(copy, pinnedGbr));
          const codes =
            field === 'signature' || field === 'product.version' ? ['RECEIPT_INVALID'] : allowed(field);
          expect(codes).toContain(error.code);
        },
      ),
      RUNS,
    );
  });
});
