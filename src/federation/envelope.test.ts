import { createHash, generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  createNodeIdentity,
  fingerprintOf,
  isValidSignature,
  open,
  type SigningPublicKey,
  seal,
  signDigest,
} from '../crypto/index.js';
import { AccordError, type ErrorCode } from '../errors/index.js';
import {
  DEFAULT_MAX_SKEW_MS,
  ENVELOPE_CONTEXT,
  ENVELOPE_INFO,
  type Envelope,
  type EnvelopeArrangement,
  type EnvelopeHeader,
  envelopeHeaderBytes,
  envelopeSigningBytes,
  newEnvelopeHeader,
  type OpenEnvelopeContext,
  type OpenedEnvelope,
  openEnvelope,
  parseEnvelope,
  type SenderKeyResolver,
  sealEnvelope,
} from './envelope.js';
import type { Signer } from './signer.js';

const RUNS = { numRuns: 300 } as const;

function errorOf(fn: () => unknown): AccordError {
  let result: unknown;
  try {
    result = fn();
  } catch (error) {
    if (error instanceof AccordError) return error;
    throw error;
  }
  throw new Error(`expected an AccordError, got ${JSON.stringify(result)}`);
}

const usa = createNodeIdentity(); // sender
const gbr = createNodeIdentity(); // recipient
const usaSigner: Signer = {
  privateKey: usa.signing.privateKey,
  fingerprint: fingerprintOf(usa.signing.publicKey),
};
const ARRANGEMENT: EnvelopeArrangement = {
  id: 'usa-gbr-ct',
  version: 3,
  versionHash: `sha256:${'ab'.repeat(32)}`,
};
const NOW = Date.parse('2026-06-01T12:00:00.000Z');
const PAYLOAD = { product: { id: 'prod-1', version: 2, portions: [{ id: 'p1', text: 'Releasable.' }] } };

/** What the USA-GBR arrangement pins: USA's signing key, for USA, under exactly this version. */
const pinned: SenderKeyResolver = (from, fingerprint, arrangement) =>
  from === 'USA' &&
  fingerprint === usaSigner.fingerprint &&
  arrangement.id === ARRANGEMENT.id &&
  arrangement.version === ARRANGEMENT.version &&
  arrangement.versionHash === ARRANGEMENT.versionHash
    ? usa.signing.publicKey
    : undefined;

function makeHeader(overrides: Partial<EnvelopeHeader> = {}, now = NOW): EnvelopeHeader {
  const header = newEnvelopeHeader(
    {
      kind: 'release',
      from: 'USA',
      to: 'GBR',
      arrangement: ARRANGEMENT,
      product: { id: 'prod-1', version: 2 },
      senderKey: usaSigner.fingerprint,
    },
    { now, randomBytes: (n) => new Uint8Array(randomBytes(n)) },
  );
  return { ...header, ...overrides };
}

function makeEnvelope(payload: unknown = PAYLOAD, header: EnvelopeHeader = makeHeader()): Envelope {
  return sealEnvelope({
    header,
    payload,
    signer: usaSigner,
    recipientEncryptionKey: gbr.encryption.publicKey,
  });
}

/** A context for GBR's node; `decrypts` counts reads of the private key, i.e. decryption attempts. */
function makeContext(overrides: Partial<Omit<OpenEnvelopeContext, 'recipientPrivateKey'>> = {}): {
  readonly ctx: OpenEnvelopeContext;
  readonly decrypts: () => number;
} {
  let reads = 0;
  const ctx: OpenEnvelopeContext = {
    self: 'GBR',
    get recipientPrivateKey(): KeyObject {
      reads += 1;
      return gbr.encryption.privateKey;
    },
    resolveSenderKey: pinned,
    now: NOW,
    hasSeen: () => false,
    ...overrides,
  };
  return { ctx, decrypts: () => reads };
}

function openWith(input: unknown, overrides: Partial<Omit<OpenEnvelopeContext, 'recipientPrivateKey'>> = {}) {
  return openEnvelope(input, makeContext(overrides).ctx);
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * The same bytes spelled with an unused bit set in the last character (32 and 64 bytes leave 2
 * and 4 such bits): Node's decoder accepts it, a canonical decoder must not.
 */
function sloppyTail(text: string): string {
  const last = BASE64URL.indexOf(text.at(-1) ?? 'A');
  const sloppy = `${text.slice(0, -1)}${BASE64URL[last ^ 1]}`;
  expect(Buffer.from(sloppy, 'base64url')).toEqual(Buffer.from(text, 'base64url'));
  return sloppy;
}

function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

const INFO = new TextEncoder().encode(ENVELOPE_INFO);

function bytesOf(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64url'));
}

/** Seals arbitrary bytes under a header to GBR, as anyone holding GBR's public key can. */
function sealUnder(header: EnvelopeHeader, plaintext: Uint8Array): { enc: string; ciphertext: string } {
  const sealed = seal(gbr.encryption.publicKey, INFO, envelopeHeaderBytes(header), plaintext);
  return {
    enc: Buffer.from(sealed.enc).toString('base64url'),
    ciphertext: Buffer.from(sealed.ciphertext).toString('base64url'),
  };
}

/**
 * Seals arbitrary bytes under a header and signs it with `sign` over `message` (by default USA's key
 * over envelopeSigningBytes), as a peer that skips sealEnvelope could.
 */
function handSealed(
  plaintext: Uint8Array,
  header: EnvelopeHeader = makeHeader(),
  message: (
    header: EnvelopeHeader,
    enc: Uint8Array,
    ciphertext: Uint8Array,
  ) => Uint8Array = envelopeSigningBytes,
): Envelope {
  const { enc, ciphertext } = sealUnder(header, plaintext);
  const signed = message(header, bytesOf(enc), bytesOf(ciphertext));
  return {
    header,
    signature: Buffer.from(signDigest(usa.signing.privateKey, signed)).toString('base64url'),
    enc,
    ciphertext,
  };
}

/** The signed bytes written out by hand from the wire format, to check envelopeSigningBytes against. */
function expectedSigningText(envelope: Envelope, context = 'accord/envelope/v1'): string {
  const sealed = createHash('sha256')
    .update(bytesOf(envelope.enc))
    .update(bytesOf(envelope.ciphertext))
    .digest('hex');
  return `{"context":"${context}","header":${canonicalJson(envelope.header)},"sealed":"sha256:${sealed}"}`;
}

describe('sealEnvelope and openEnvelope', () => {
  it('round-trips header and payload through JSON text', () => {
    const envelope = makeEnvelope();
    const { ctx, decrypts } = makeContext();
    const opened = openEnvelope(JSON.parse(JSON.stringify(envelope)), ctx);
    expect(opened).toEqual({ header: envelope.header, payload: PAYLOAD });
    expect(decrypts()).toBe(1);
  });

  it('writes a v1 header with a UUIDv4 id, a millisecond UTC createdAt and a 16-byte nonce', () => {
    const header = makeHeader();
    expect(header.v).toBe(1);
    expect(header.envelopeId).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(header.createdAt).toBe('2026-06-01T12:00:00.000Z');
    expect(Buffer.from(header.nonce, 'base64url')).toHaveLength(16);
  });

  it('signs the canonical JSON of context, header and the SHA-256 of enc || ciphertext', () => {
    const envelope = makeEnvelope();
    const enc = bytesOf(envelope.enc);
    const ciphertext = bytesOf(envelope.ciphertext);
    const text = expectedSigningText(envelope);
    expect(ENVELOPE_CONTEXT).toBe('accord/envelope/v1');
    expect(new TextDecoder().decode(envelopeSigningBytes(envelope.header, enc, ciphertext))).toBe(text);
    const signature = bytesOf(envelope.signature);
    expect(signature).toHaveLength(64);
    expect(enc).toHaveLength(32);
    expect(isValidSignature(usa.signing.publicKey, text, signature)).toBe(true);
    // Not over the header alone, as v1 envelopes before the fix were signed.
    expect(isValidSignature(usa.signing.publicKey, envelopeHeaderBytes(envelope.header), signature)).toBe(
      false,
    );
  });

  it('binds the canonical header bytes as the HPKE aad', () => {
    const envelope = makeEnvelope();
    const aad = new TextEncoder().encode(canonicalJson(envelope.header));
    expect(envelopeHeaderBytes(envelope.header)).toEqual(aad);
    const plaintext = open(
      gbr.encryption.privateKey,
      bytesOf(envelope.enc),
      INFO,
      aad,
      bytesOf(envelope.ciphertext),
    );
    expect(new TextDecoder().decode(plaintext)).toBe(canonicalJson(PAYLOAD));
  });

  it('refuses to compute signed bytes over an enc that is not 32 bytes (no ambiguous split)', () => {
    const envelope = makeEnvelope();
    const enc = bytesOf(envelope.enc);
    const ciphertext = bytesOf(envelope.ciphertext);
    // enc || ciphertext is the same byte string when a byte moves across the boundary.
    const error = errorOf(() =>
      envelopeSigningBytes(
        envelope.header,
        enc.subarray(0, 31),
        Buffer.concat([enc.subarray(31), ciphertext]),
      ),
    );
    expect(error.code).toBe('ENVELOPE_MALFORMED');
    expect(error.details).toMatchObject({ path: '/enc', envelopeId: envelope.header.envelopeId });
  });

  it('round-trips any JSON payload (property)', () => {
    const header = makeHeader();
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 3 }), (payload) => {
        const opened = openWith(makeEnvelope(payload, header), { hasSeen: () => false });
        expect(canonicalJson(opened.payload)).toBe(canonicalJson(payload));
      }),
      { numRuns: 100 },
    );
  });

  it('refuses to seal under a header naming another sender key (KEY_INVALID)', () => {
    const other = generateKeyPairSync('ed25519');
    const header = makeHeader({ senderKey: fingerprintOf(other.publicKey) });
    expect(errorOf(() => makeEnvelope(PAYLOAD, header)).code).toBe('KEY_INVALID');
  });

  it('refuses to seal a header a peer would refuse (ENVELOPE_MALFORMED naming the field)', () => {
    const error = errorOf(() => makeEnvelope(PAYLOAD, makeHeader({ to: 'gbr' })));
    expect(error.code).toBe('ENVELOPE_MALFORMED');
    expect(error.details.path).toBe('/to');
  });

  it('refuses to seal a payload that is not JSON data', () => {
    expect(errorOf(() => makeEnvelope({ n: Number.NaN })).code).toBe('CANONICAL_JSON_UNSUPPORTED');
  });
});

describe('openEnvelope refuses', () => {
  it.each<[string, unknown, string]>([
    ['a non-object', 'envelope', '/'],
    ['null', null, '/'],
    ['an envelope without a header', { signature: '', enc: '', ciphertext: '' }, '/header'],
  ])('%s as ENVELOPE_MALFORMED at %s', (_what, input, path) => {
    const error = errorOf(() => openWith(input));
    expect(error.code).toBe('ENVELOPE_MALFORMED');
    expect(error.details.path).toBe(path);
  });

  it('an unknown field, naming it and the envelope id', () => {
    const envelope = clone(makeEnvelope()) as Envelope & { header: Record<string, unknown> };
    envelope.header.priority = 'flash';
    const error = errorOf(() => openWith(envelope));
    expect(error.code).toBe('ENVELOPE_MALFORMED');
    expect(error.details).toMatchObject({ path: '/header/priority', envelopeId: envelope.header.envelopeId });
  });

  it('an unknown top-level field', () => {
    const error = errorOf(() => openWith({ ...makeEnvelope(), payload: PAYLOAD }));
    expect(error.details.path).toBe('/payload');
  });

  it.each<[string, (h: EnvelopeHeader) => unknown, string]>([
    ['version 2', (h) => ({ ...h, v: 2 }), '/header/v'],
    ['an unknown kind', (h) => ({ ...h, kind: 'gossip' }), '/header/kind'],
    [
      'an uppercase envelope id',
      (h) => ({ ...h, envelopeId: h.envelopeId.toUpperCase() }),
      '/header/envelopeId',
    ],
    ['a lowercase trigraph', (h) => ({ ...h, from: 'usa' }), '/header/from'],
    [
      'a missing arrangement hash',
      (h) => ({ ...h, arrangement: { id: 'a', version: 1 } }),
      '/header/arrangement/versionHash',
    ],
    [
      'a fractional version',
      (h) => ({ ...h, product: { id: 'p', version: 1.5 } }),
      '/header/product/version',
    ],
    [
      'a createdAt without milliseconds',
      (h) => ({ ...h, createdAt: '2026-06-01T12:00:00Z' }),
      '/header/createdAt',
    ],
    [
      'a createdAt that is no date',
      (h) => ({ ...h, createdAt: '2026-02-30T12:00:00.000Z' }),
      '/header/createdAt',
    ],
    ['a 15-byte nonce', (h) => ({ ...h, nonce: Buffer.alloc(15).toString('base64url') }), '/header/nonce'],
    ['a non-canonical nonce', (h) => ({ ...h, nonce: `${'A'.repeat(21)}B` }), '/header/nonce'],
    ['a key that is no fingerprint', (h) => ({ ...h, senderKey: 'usa-key-1' }), '/header/senderKey'],
  ])('a header with %s', (_what, change, path) => {
    const envelope = makeEnvelope();
    const error = errorOf(() => openWith({ ...envelope, header: change(envelope.header) }));
    expect(error.code).toBe('ENVELOPE_MALFORMED');
    expect(error.details.path).toBe(path);
  });

  it.each<[string, (e: Envelope) => Envelope, string]>([
    ['a padded signature', (e) => ({ ...e, signature: `${e.signature}==` }), '/signature'],
    ['a non-canonical signature', (e) => ({ ...e, signature: sloppyTail(e.signature) }), '/signature'],
    ['a base64 (not base64url) enc', (e) => ({ ...e, enc: `+${e.enc.slice(1)}` }), '/enc'],
    ['a non-canonical enc', (e) => ({ ...e, enc: sloppyTail(e.enc) }), '/enc'],
    ['a ciphertext shorter than a tag', (e) => ({ ...e, ciphertext: 'AAAA' }), '/ciphertext'],
    [
      // No byte string has a base64url text of length 4n + 1.
      'a ciphertext of impossible length',
      (e) => ({
        ...e,
        ciphertext: e.ciphertext.padEnd(
          e.ciphertext.length + ((5 - (e.ciphertext.length % 4)) % 4 || 4),
          'A',
        ),
      }),
      '/ciphertext',
    ],
  ])('%s', (_what, change, path) => {
    const envelope = makeEnvelope();
    const error = errorOf(() => openWith(change(envelope)));
    expect(error.code).toBe('ENVELOPE_MALFORMED');
    expect(error.details.path).toBe(path);
    expect(error.details.envelopeId).toBe(envelope.header.envelopeId);
  });

  it('an envelope for another partner (ENVELOPE_MISADDRESSED), before looking up any key', () => {
    let lookups = 0;
    const resolveSenderKey: SenderKeyResolver = (...args) => {
      lookups += 1;
      return pinned(...args);
    };
    const envelope = makeEnvelope();
    const error = errorOf(() => openWith(envelope, { self: 'CAN', resolveSenderKey }));
    expect(error.code).toBe('ENVELOPE_MISADDRESSED');
    expect(error.details).toMatchObject({ envelopeId: envelope.header.envelopeId, to: 'GBR' });
    expect(lookups).toBe(0);
  });

  it('a sender key the arrangement does not pin (KEY_UNPINNED)', () => {
    const envelope = makeEnvelope();
    const error = errorOf(() => openWith(envelope, { resolveSenderKey: () => undefined }));
    expect(error.code).toBe('KEY_UNPINNED');
    expect(error.details).toMatchObject({
      envelopeId: envelope.header.envelopeId,
      from: 'USA',
      fingerprint: usaSigner.fingerprint,
    });
  });

  it('a pinned key under an older arrangement version (KEY_UNPINNED)', () => {
    const header = makeHeader({ arrangement: { ...ARRANGEMENT, version: 2 } });
    expect(errorOf(() => openWith(makeEnvelope(PAYLOAD, header))).code).toBe('KEY_UNPINNED');
  });

  it('a resolver answer whose fingerprint is not the one the header names (KEY_UNPINNED)', () => {
    const other = generateKeyPairSync('ed25519').publicKey;
    expect(errorOf(() => openWith(makeEnvelope(), { resolveSenderKey: () => other })).code).toBe(
      'KEY_UNPINNED',
    );
  });

  it('an envelope signed by another key under the pinned fingerprint (ENVELOPE_SIGNATURE_INVALID)', () => {
    const envelope = makeEnvelope();
    const forger = generateKeyPairSync('ed25519').privateKey;
    const signature = signDigest(
      forger,
      envelopeSigningBytes(envelope.header, bytesOf(envelope.enc), bytesOf(envelope.ciphertext)),
    );
    const { ctx, decrypts } = makeContext();
    const error = errorOf(() =>
      openEnvelope({ ...envelope, signature: Buffer.from(signature).toString('base64url') }, ctx),
    );
    expect(error.code).toBe('ENVELOPE_SIGNATURE_INVALID');
    expect(error.details).toMatchObject({ envelopeId: envelope.header.envelopeId, from: 'USA' });
    expect(decrypts()).toBe(0);
  });

  it('an envelope id seen before (ENVELOPE_REPLAYED)', () => {
    const envelope = makeEnvelope();
    const seen = new Set([envelope.header.envelopeId]);
    const error = errorOf(() => openWith(envelope, { hasSeen: (id) => seen.has(id) }));
    expect(error.code).toBe('ENVELOPE_REPLAYED');
    expect(error.details.envelopeId).toBe(envelope.header.envelopeId);
  });

  it('as replayed when the seen-store answers anything but false', () => {
    const hasSeen = (() => undefined) as unknown as (id: string) => boolean;
    expect(errorOf(() => openWith(makeEnvelope(), { hasSeen })).code).toBe('ENVELOPE_REPLAYED');
  });

  it('a createdAt older or newer than the skew allows (ENVELOPE_STALE), and accepts the bounds', () => {
    const envelope = makeEnvelope();
    const late = errorOf(() => openWith(envelope, { now: NOW + DEFAULT_MAX_SKEW_MS + 1 }));
    expect(late.code).toBe('ENVELOPE_STALE');
    expect(late.details).toMatchObject({
      envelopeId: envelope.header.envelopeId,
      skewMs: DEFAULT_MAX_SKEW_MS + 1,
    });
    expect(errorOf(() => openWith(envelope, { now: NOW - 1001, maxSkewMs: 1000 })).code).toBe(
      'ENVELOPE_STALE',
    );
    expect(() => openWith(envelope, { now: NOW + DEFAULT_MAX_SKEW_MS })).not.toThrow();
    expect(() => openWith(envelope, { now: NOW - 1000, maxSkewMs: 1000 })).not.toThrow();
  });

  it('to run with a clock that is not a number (CONFIG_INVALID), rather than accept any createdAt', () => {
    expect(errorOf(() => openWith(makeEnvelope(), { now: Number.NaN })).code).toBe('CONFIG_INVALID');
    expect(errorOf(() => openWith(makeEnvelope(), { maxSkewMs: Number.NaN })).code).toBe('CONFIG_INVALID');
    expect(errorOf(() => openWith(makeEnvelope(), { maxSkewMs: -1 })).code).toBe('CONFIG_INVALID');
  });

  it('a ciphertext sealed to another node (ENVELOPE_DECRYPT_FAILED naming the envelope)', () => {
    const header = makeHeader();
    const toOther = sealEnvelope({
      header,
      payload: PAYLOAD,
      signer: usaSigner,
      recipientEncryptionKey: usa.encryption.publicKey,
    });
    const error = errorOf(() => openWith(toOther));
    expect(error.code).toBe('ENVELOPE_DECRYPT_FAILED');
    expect(error.details.envelopeId).toBe(header.envelopeId);
  });

  it.each<[string, (first: Envelope, second: Envelope) => Envelope]>([
    ['enc and ciphertext', (first, second) => ({ ...second, enc: first.enc, ciphertext: first.ciphertext })],
    ['the ciphertext alone', (first, second) => ({ ...second, ciphertext: first.ciphertext })],
    ['the enc alone', (first, second) => ({ ...second, enc: first.enc })],
  ])(
    "%s of one valid envelope under another's header and signature (ENVELOPE_SIGNATURE_INVALID, undecrypted)",
    (_what, splice) => {
      const first = makeEnvelope();
      const second = makeEnvelope({ other: true });
      let asked = 0;
      const { ctx, decrypts } = makeContext({
        hasSeen: () => {
          asked += 1;
          return false;
        },
      });
      const error = errorOf(() => openEnvelope(splice(first, second), ctx));
      expect(error.code).toBe('ENVELOPE_SIGNATURE_INVALID');
      expect(error.details).toMatchObject({ envelopeId: second.header.envelopeId, from: 'USA' });
      expect(decrypts()).toBe(0);
      // Refused before the replay check: a caller never learns of, nor records, this id.
      expect(asked).toBe(0);
      // Both originals still open.
      expect(openWith(first).payload).toEqual(PAYLOAD);
      expect(openWith(second).payload).toEqual({ other: true });
    },
  );

  it("a payload of the attacker's own sealed under a captured header and signature, and the real one still opens", () => {
    const real = makeEnvelope();
    // Anyone can seal to GBR's public key with the captured header as aad (HPKE base mode).
    const tampered = { ...real, ...sealUnder(real.header, new TextEncoder().encode('{"product":"forged"}')) };
    const seen = new Set<string>();
    const hasSeen = (id: string) => seen.has(id);
    const { ctx, decrypts } = makeContext({ hasSeen });
    const error = errorOf(() => openEnvelope(tampered, ctx));
    expect(error.code).toBe('ENVELOPE_SIGNATURE_INVALID');
    expect(decrypts()).toBe(0);
    // Delivered first, the tampered copy got nothing recorded: the real envelope is not denied.
    const opened = openWith(real, { hasSeen });
    seen.add(opened.header.envelopeId);
    expect(opened.payload).toEqual(PAYLOAD);
  });

  it.each<[string, (header: EnvelopeHeader, enc: Uint8Array, ciphertext: Uint8Array) => Uint8Array]>([
    ['over the header alone (v1 before the sealed part was signed)', (header) => envelopeHeaderBytes(header)],
    [
      "under the receipt's context",
      (header, enc, ciphertext) =>
        new TextEncoder().encode(
          expectedSigningText(
            {
              header,
              signature: '',
              enc: Buffer.from(enc).toString('base64url'),
              ciphertext: Buffer.from(ciphertext).toString('base64url'),
            },
            'accord/receipt/v1',
          ),
        ),
    ],
  ])('an envelope signed by the pinned key %s (ENVELOPE_SIGNATURE_INVALID)', (_what, message) => {
    const envelope = handSealed(new TextEncoder().encode(canonicalJson(PAYLOAD)), makeHeader(), message);
    const { ctx, decrypts } = makeContext();
    expect(errorOf(() => openEnvelope(envelope, ctx)).code).toBe('ENVELOPE_SIGNATURE_INVALID');
    expect(decrypts()).toBe(0);
  });

  it.each<[string, Uint8Array]>([
    ['not UTF-8', Uint8Array.of(0x7b, 0xff, 0x7d)],
    ['not JSON', new TextEncoder().encode('{"a":')],
    ['empty', new Uint8Array(0)],
  ])('a payload that is %s (ENVELOPE_MALFORMED, after decryption)', (_what, plaintext) => {
    const envelope = handSealed(plaintext);
    const { ctx, decrypts } = makeContext();
    const error = errorOf(() => openEnvelope(envelope, ctx));
    expect(error.code).toBe('ENVELOPE_MALFORMED');
    expect(error.details).toMatchObject({ envelopeId: envelope.header.envelopeId, path: '/ciphertext' });
    expect(decrypts()).toBe(1);
  });

  it('checks in order: misaddressed before unpinned before signature before replay before decryption', () => {
    const envelope = makeEnvelope();
    const badSignature = { ...envelope, signature: Buffer.alloc(64).toString('base64url') };
    const everythingWrong = {
      self: 'CAN',
      resolveSenderKey: () => undefined,
      hasSeen: () => true,
      now: NOW + 10 * DEFAULT_MAX_SKEW_MS,
    };
    expect(errorOf(() => openWith({ ...badSignature, extra: 1 }, everythingWrong)).code).toBe(
      'ENVELOPE_MALFORMED',
    );
    expect(errorOf(() => openWith(badSignature, everythingWrong)).code).toBe('ENVELOPE_MISADDRESSED');
    const { self: _self, ...fromGbr } = everythingWrong;
    expect(errorOf(() => openWith(badSignature, fromGbr)).code).toBe('KEY_UNPINNED');
    const { resolveSenderKey: _r, ...pinnedSender } = fromGbr;
    // A forged envelope learns nothing about which ids this node has seen.
    expect(errorOf(() => openWith(badSignature, pinnedSender)).code).toBe('ENVELOPE_SIGNATURE_INVALID');
    expect(errorOf(() => openWith(envelope, pinnedSender)).code).toBe('ENVELOPE_REPLAYED');
    const { hasSeen: _h, ...fresh } = pinnedSender;
    expect(errorOf(() => openWith(envelope, fresh)).code).toBe('ENVELOPE_STALE');
  });
});

type Target =
  | {
      readonly kind: 'header-text';
      readonly field: HeaderTextField;
      readonly index: number;
      readonly bit: number;
    }
  | { readonly kind: 'header-number'; readonly field: HeaderNumberField; readonly bit: number }
  | { readonly kind: 'text'; readonly field: BodyField; readonly index: number; readonly bit: number }
  | { readonly kind: 'bytes'; readonly field: BodyField; readonly index: number; readonly bit: number };

const HEADER_TEXT_FIELDS = [
  'kind',
  'envelopeId',
  'from',
  'to',
  'arrangement.id',
  'arrangement.versionHash',
  'product.id',
  'createdAt',
  'nonce',
  'senderKey',
] as const;
type HeaderTextField = (typeof HEADER_TEXT_FIELDS)[number];
const HEADER_NUMBER_FIELDS = ['v', 'arrangement.version', 'product.version'] as const;
type HeaderNumberField = (typeof HEADER_NUMBER_FIELDS)[number];
const BODY_FIELDS = ['signature', 'enc', 'ciphertext'] as const;
type BodyField = (typeof BODY_FIELDS)[number];

const target: fc.Arbitrary<Target> = fc.oneof(
  fc.record({
    kind: fc.constant('header-text' as const),
    field: fc.constantFrom(...HEADER_TEXT_FIELDS),
    index: fc.nat(),
    bit: fc.integer({ min: 0, max: 15 }),
  }),
  fc.record({
    kind: fc.constant('header-number' as const),
    field: fc.constantFrom(...HEADER_NUMBER_FIELDS),
    bit: fc.integer({ min: 0, max: 52 }),
  }),
  fc.record({
    kind: fc.constant('text' as const),
    field: fc.constantFrom(...BODY_FIELDS),
    index: fc.nat(),
    bit: fc.integer({ min: 0, max: 15 }),
  }),
  fc.record({
    kind: fc.constant('bytes' as const),
    field: fc.constantFrom(...BODY_FIELDS),
    index: fc.nat(),
    bit: fc.integer({ min: 0, max: 7 }),
  }),
);

function flipChar(text: string, index: number, bit: number): string {
  const i = index % text.length;
  return text.slice(0, i) + String.fromCharCode(text.charCodeAt(i) ^ (1 << bit)) + text.slice(i + 1);
}

function flipNumber(value: number, bit: number): number {
  // XOR on the integer's value, past 32 bits too (2^52 keeps it exact).
  const mask = 2 ** bit;
  return Math.floor(value / mask) % 2 === 0 ? value + mask : value - mask;
}

function mutate(envelope: Envelope, t: Target): unknown {
  const copy = clone(envelope) as unknown as Record<string, unknown>;
  const header = copy.header as Record<string, unknown>;
  const at = (field: string): [Record<string, unknown>, string] => {
    const [outer, inner] = field.split('.') as [string, string | undefined];
    return inner === undefined ? [header, outer] : [header[outer] as Record<string, unknown>, inner];
  };
  switch (t.kind) {
    case 'header-text': {
      const [holder, key] = at(t.field);
      holder[key] = flipChar(String(holder[key]), t.index, t.bit);
      break;
    }
    case 'header-number': {
      const [holder, key] = at(t.field);
      holder[key] = flipNumber(Number(holder[key]), t.bit);
      break;
    }
    case 'text':
      copy[t.field] = flipChar(envelope[t.field], t.index, t.bit);
      break;
    case 'bytes': {
      const bytes = Buffer.from(envelope[t.field], 'base64url');
      const i = t.index % bytes.length;
      bytes[i] = (bytes[i] ?? 0) ^ (1 << t.bit);
      copy[t.field] = bytes.toString('base64url');
      break;
    }
  }
  return copy;
}

/** Which refusals a change to each part may cause: the first check it can fail. */
function allowedCodes(t: Target): readonly ErrorCode[] {
  const field = t.field;
  // The signature covers enc and ciphertext: a change to either fails there, never at decryption.
  if (field === 'enc' || field === 'ciphertext' || field === 'signature') {
    return ['ENVELOPE_MALFORMED', 'ENVELOPE_SIGNATURE_INVALID'];
  }
  if (field === 'to') return ['ENVELOPE_MALFORMED', 'ENVELOPE_MISADDRESSED'];
  // The resolver pins USA's key for USA under exactly this arrangement version and hash.
  if (field === 'from' || field === 'senderKey' || field.startsWith('arrangement.')) {
    return ['ENVELOPE_MALFORMED', 'KEY_UNPINNED'];
  }
  return ['ENVELOPE_MALFORMED', 'ENVELOPE_SIGNATURE_INVALID'];
}

describe('openEnvelope properties', () => {
  const payloads = fc.jsonValue({ maxDepth: 2 });

  it('refuses any bit flip in header, signature, enc or ciphertext before decryption, with the code of its check (property)', () => {
    const seen = new Set<ErrorCode>();
    const seenSealed = new Set<ErrorCode>();
    fc.assert(
      fc.property(payloads, target, (payload, t) => {
        const envelope = makeEnvelope(payload);
        const { ctx, decrypts } = makeContext();
        const error = errorOf(() => openEnvelope(mutate(envelope, t), ctx));
        expect(allowedCodes(t)).toContain(error.code);
        // No flip anywhere gets as far as decryption.
        expect(decrypts()).toBe(0);
        seen.add(error.code);
        if (t.field === 'enc' || t.field === 'ciphertext') seenSealed.add(error.code);
      }),
      RUNS,
    );
    // The flips reached the checks past the schema. (A flip of `to` into another trigraph is too
    // rare to require in every run; the hand-written ENVELOPE_MISADDRESSED case covers it.)
    for (const code of ['ENVELOPE_SIGNATURE_INVALID', 'KEY_UNPINNED'] as const) {
      expect(seen).toContain(code);
    }
    expect(seenSealed).toContain('ENVELOPE_SIGNATURE_INVALID');
  });

  it('refuses any payload sealed under a captured header and signature, before decryption (property)', () => {
    const captured = makeEnvelope();
    fc.assert(
      fc.property(payloads, (payload) => {
        const plaintext = new TextEncoder().encode(canonicalJson(payload));
        const tampered = { ...captured, ...sealUnder(captured.header, plaintext) };
        const { ctx, decrypts } = makeContext();
        expect(errorOf(() => openEnvelope(tampered, ctx)).code).toBe('ENVELOPE_SIGNATURE_INVALID');
        expect(decrypts()).toBe(0);
      }),
      RUNS,
    );
  });

  it('refuses a replayed id and accepts a fresh one (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 1 }), (payload) => {
        const envelope = makeEnvelope(payload);
        const seen = new Set<string>();
        const hasSeen = (id: string) => seen.has(id);
        const opened: OpenedEnvelope = openWith(envelope, { hasSeen });
        seen.add(opened.header.envelopeId);
        expect(errorOf(() => openWith(clone(envelope), { hasSeen })).code).toBe('ENVELOPE_REPLAYED');
      }),
      RUNS,
    );
  });

  it('refuses createdAt outside ±maxSkewMs of now and accepts it inside (property)', () => {
    const envelope = makeEnvelope();
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3_600_000 }),
        fc.integer({ min: -7_200_000, max: 7_200_000 }),
        (maxSkewMs, offset) => {
          const open = () => openWith(envelope, { now: NOW + offset, maxSkewMs });
          if (Math.abs(offset) <= maxSkewMs) expect(open().header).toEqual(envelope.header);
          else expect(errorOf(open).code).toBe('ENVELOPE_STALE');
        },
      ),
      RUNS,
    );
  });

  it('refuses an envelope signed by an unpinned key before any decryption (property)', () => {
    const keys = fc.constantFrom(...Array.from({ length: 8 }, () => generateKeyPairSync('ed25519')));
    fc.assert(
      fc.property(keys, fc.constantFrom('USA', 'CAN', 'AUS'), payloads, (stranger, from, payload) => {
        const signer: Signer = {
          privateKey: stranger.privateKey,
          fingerprint: fingerprintOf(stranger.publicKey),
        };
        const header = makeHeader({ from, senderKey: signer.fingerprint });
        const envelope = sealEnvelope({
          header,
          payload,
          signer,
          recipientEncryptionKey: gbr.encryption.publicKey,
        });
        const lookups: [string, string, EnvelopeArrangement][] = [];
        const spy: SenderKeyResolver = (...args): SigningPublicKey | undefined => {
          lookups.push(args);
          return pinned(...args);
        };
        const { ctx, decrypts } = makeContext({ resolveSenderKey: spy });
        expect(errorOf(() => openEnvelope(envelope, ctx)).code).toBe('KEY_UNPINNED');
        expect(lookups).toEqual([[from, signer.fingerprint, ARRANGEMENT]]);
        expect(decrypts()).toBe(0);
        // And with a recipient key that would throw KEY_INVALID if decryption were reached:
        const poisoned: OpenEnvelopeContext = { ...ctx, recipientPrivateKey: stranger.privateKey };
        expect(errorOf(() => openEnvelope(envelope, poisoned)).code).toBe('KEY_UNPINNED');
      }),
      RUNS,
    );
  });
});

describe('parseEnvelope', () => {
  it('returns a frozen copy that openEnvelope opens exactly as it opens the envelope itself', () => {
    const envelope = makeEnvelope();
    const parsed = parseEnvelope(JSON.parse(JSON.stringify(envelope)));
    expect(parsed).toEqual(envelope);
    expect(Object.isFrozen(parsed)).toBe(true);
    expect(Object.isFrozen(parsed.header)).toBe(true);
    expect(Object.isFrozen(parsed.header.arrangement)).toBe(true);
    expect(Object.isFrozen(parsed.header.product)).toBe(true);
    // What passed the schema cannot be changed before openEnvelope reads it.
    expect(() => {
      (parsed.header as { to: string }).to = 'CAN';
    }).toThrow(TypeError);
    expect(openWith(parsed)).toEqual(openWith(envelope));
  });

  it.each<[string, unknown, string]>([
    ['a non-object', 'envelope', '/'],
    ['null', null, '/'],
    ['an envelope without a header', { signature: '', enc: '', ciphertext: '' }, '/header'],
    ['an unknown top-level field', { ...makeEnvelope(), payload: PAYLOAD }, '/payload'],
  ])('refuses %s as openEnvelope does (ENVELOPE_MALFORMED at %s)', (_what, input, path) => {
    const error = errorOf(() => parseEnvelope(input));
    expect(error.code).toBe('ENVELOPE_MALFORMED');
    expect(error.details.path).toBe(path);
    expect(errorOf(() => openWith(input)).details).toEqual(error.details);
  });

  it('lets only its own copies past the schema: a look-alike object is checked again', () => {
    const parsed = parseEnvelope(makeEnvelope());
    const lookAlike = { ...parsed, header: { ...parsed.header, priority: 'flash' } };
    const error = errorOf(() => openWith(lookAlike));
    expect(error.code).toBe('ENVELOPE_MALFORMED');
    expect(error.details.path).toBe('/header/priority');
  });

  it('changes nothing openEnvelope decides: any bit flip is refused with the same code (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 2 }), target, (payload, t) => {
        const mutated = mutate(makeEnvelope(payload), t);
        const direct = errorOf(() => openEnvelope(mutated, makeContext().ctx));
        let parsed: Envelope;
        try {
          parsed = parseEnvelope(mutated);
        } catch (error) {
          expect(error).toBeInstanceOf(AccordError);
          expect((error as AccordError).code).toBe(direct.code);
          expect((error as AccordError).details).toEqual(direct.details);
          return;
        }
        const { ctx, decrypts } = makeContext();
        const viaParse = errorOf(() => openEnvelope(parsed, ctx));
        expect(viaParse.code).toBe(direct.code);
        expect(viaParse.details).toEqual(direct.details);
        expect(decrypts()).toBe(0);
      }),
      RUNS,
    );
  });
});
