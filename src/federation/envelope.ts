import type { KeyObject } from 'node:crypto';
import Type, { type Static } from 'typebox';
import {
  canonicalJson,
  type EncryptionPublicKey,
  isValidSignature,
  open,
  RAW_KEY_LENGTH,
  SIGNATURE_LENGTH,
  type SigningPublicKey,
  seal,
  sha256Hex,
} from '../crypto/index.js';
import { AccordError, type ErrorDetails, isAccordError } from '../errors/index.js';
import { Identifier, PartnerCode } from '../products/index.js';
import { createValidator } from '../validation/index.js';
import { pinnedKey, type Signer, signAs } from './signer.js';
import {
  Base64UrlBytes,
  base64UrlLength,
  decodeBase64Url,
  encodeBase64Url,
  Fingerprint,
  Instant,
  instantMillis,
  Sha256Digest,
  UUID,
  Uuid,
  Version,
} from './wire-format.js';

// DESIGN.md §1 Envelope: a clear header and a payload sealed (HPKE, RFC 9180) to the recipient
// node's X25519 key, with the sender's Ed25519 signature over both. The header travels in clear so
// a node can refuse an envelope (wrong recipient, unpinned or forged sender, replay) before it
// spends anything on decryption. HPKE base mode (RFC 9180 §5.1.1) does not authenticate the
// sender: anyone can seal to the recipient under any aad. So the signature covers the sealed bytes
// too (envelopeSigningBytes): with the header alone signed, whoever captured one valid header
// could seal a payload of their own under it, and delivered first, have its id recorded.

/** What an envelope carries. */
export const ENVELOPE_KINDS = ['release', 'consent-request', 'consent-grant', 'recall', 'incident'] as const;
export type EnvelopeKind = (typeof ENVELOPE_KINDS)[number];

/** HPKE `info` for envelopes: binds the key schedule to this use and version (RFC 9180 §5.1). */
export const ENVELOPE_INFO = 'accord/envelope/v1';
/**
 * The purpose label in every envelope signature: with the receipt's and the product signature's
 * own labels it keeps an envelope signature from ever verifying as one of those.
 */
export const ENVELOPE_CONTEXT = 'accord/envelope/v1';
/** How far an envelope's createdAt may lie from the recipient's clock, either way, by default. */
export const DEFAULT_MAX_SKEW_MS = 300_000;
/** The largest ciphertext an envelope may carry (payload plus the 16-byte AEAD tag). */
export const MAX_CIPHERTEXT_BYTES = 32 * 1024 * 1024;

const AEAD_TAG_LENGTH = 16;
const NONCE_LENGTH = 16;
const INFO_BYTES = new TextEncoder().encode(ENVELOPE_INFO);

const strict = { additionalProperties: false } as const;

/** The arrangement an envelope travels under, with the version hash every party signed. */
export const EnvelopeArrangementSchema = Type.Object(
  { id: Identifier, version: Version, versionHash: Sha256Digest },
  strict,
);
export type EnvelopeArrangement = Static<typeof EnvelopeArrangementSchema>;

/** The signed, clear-text header of an envelope. */
export const EnvelopeHeaderSchema = Type.Object(
  {
    v: Type.Literal(1),
    kind: Type.Enum(ENVELOPE_KINDS),
    envelopeId: Uuid,
    from: PartnerCode,
    to: PartnerCode,
    arrangement: EnvelopeArrangementSchema,
    product: Type.Object({ id: Identifier, version: Version }, strict),
    createdAt: Instant,
    nonce: Base64UrlBytes(NONCE_LENGTH),
    senderKey: Fingerprint,
  },
  strict,
);
export type EnvelopeHeader = Static<typeof EnvelopeHeaderSchema>;

/** An envelope as it travels: header, base64url Ed25519 signature, HPKE enc and ciphertext. */
export const EnvelopeSchema = Type.Object(
  {
    header: EnvelopeHeaderSchema,
    signature: Base64UrlBytes(SIGNATURE_LENGTH),
    enc: Base64UrlBytes(RAW_KEY_LENGTH),
    ciphertext: Type.String({
      pattern: '^[A-Za-z0-9_-]+$',
      minLength: base64UrlLength(AEAD_TAG_LENGTH),
      maxLength: base64UrlLength(MAX_CIPHERTEXT_BYTES),
      description: 'HPKE ciphertext with tag, unpadded base64url',
    }),
  },
  strict,
);
export type Envelope = Static<typeof EnvelopeSchema>;

const validateEnvelope = createValidator<Envelope>(EnvelopeSchema, 'ENVELOPE_MALFORMED', 'envelope');
const validateHeader = createValidator<EnvelopeHeader>(
  EnvelopeHeaderSchema,
  'ENVELOPE_MALFORMED',
  'envelope header',
);

function malformed(message: string, path: string, details: ErrorDetails = {}, cause?: unknown): AccordError {
  return new AccordError(
    'ENVELOPE_MALFORMED',
    `envelope ${path}: ${message}`,
    { ...details, path },
    cause === undefined ? undefined : { cause },
  );
}

/** The bytes HPKE binds as aad (RFC 9180 §5.2): UTF-8 of the header's RFC 8785 canonical JSON. */
export function envelopeHeaderBytes(header: EnvelopeHeader): Uint8Array {
  return new TextEncoder().encode(canonicalJson(header));
}

/**
 * The bytes the sender's Ed25519 signature covers: UTF-8 of the RFC 8785 canonical JSON of
 * `{ context: ENVELOPE_CONTEXT, header, sealed }`, where `sealed` is `sha256:` and the lowercase
 * hex SHA-256 of enc || ciphertext (the raw bytes, not their base64url). Throws
 * ENVELOPE_MALFORMED for an enc that is not 32 bytes.
 */
export function envelopeSigningBytes(
  header: EnvelopeHeader,
  enc: Uint8Array,
  ciphertext: Uint8Array,
): Uint8Array {
  // RFC 9180 §7.1: DHKEM(X25519, HKDF-SHA256) has Nenc = 32. With enc of fixed length the
  // concatenation splits one way only, so no length prefix is needed; refuse any other length.
  if (enc.length !== RAW_KEY_LENGTH) {
    throw malformed(`must be ${RAW_KEY_LENGTH} bytes, got ${enc.length}`, '/enc', {
      envelopeId: header.envelopeId,
    });
  }
  const sealed = `sha256:${sha256Hex(Buffer.concat([enc, ciphertext]))}`;
  return new TextEncoder().encode(canonicalJson({ context: ENVELOPE_CONTEXT, header, sealed }));
}

/** What a header is built from; the id, time and nonce come from newEnvelopeHeader's sources. */
export interface EnvelopeHeaderFields {
  readonly kind: EnvelopeKind;
  readonly from: string;
  readonly to: string;
  readonly arrangement: EnvelopeArrangement;
  readonly product: { readonly id: string; readonly version: number };
  readonly senderKey: string;
}

/** Time and randomness for a new header, as parameters so the module stays pure. */
export interface HeaderSources {
  /** Epoch milliseconds. */
  readonly now: number;
  /** `n` cryptographically random bytes. */
  readonly randomBytes: (n: number) => Uint8Array;
}

function uuidV4(bytes: Uint8Array): string {
  const b = Uint8Array.from(bytes.subarray(0, 16));
  if (b.length < 16) return Buffer.from(b).toString('hex');
  // RFC 9562 §5.4: version 4 in the high nibble of byte 6, variant 10 in the top bits of byte 8.
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const hex = Buffer.from(b).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A fresh v1 header: a random UUIDv4 envelopeId, createdAt from `now`, a random 16-byte nonce. */
export function newEnvelopeHeader(fields: EnvelopeHeaderFields, sources: HeaderSources): EnvelopeHeader {
  // Short random output gives a short id or nonce, which the schema check below refuses.
  const idBytes = sources.randomBytes(16);
  const nonce = sources.randomBytes(NONCE_LENGTH);
  return validateHeader({
    v: 1,
    kind: fields.kind,
    envelopeId: uuidV4(idBytes),
    from: fields.from,
    to: fields.to,
    arrangement: { ...fields.arrangement },
    product: { id: fields.product.id, version: fields.product.version },
    createdAt: new Date(sources.now).toISOString(),
    nonce: encodeBase64Url(nonce),
    senderKey: fields.senderKey,
  });
}

/** What sealEnvelope needs: the header, any JSON payload, the sender's key and the recipient's. */
export interface SealEnvelopeInput {
  readonly header: EnvelopeHeader;
  readonly payload: unknown;
  readonly signer: Signer;
  readonly recipientEncryptionKey: EncryptionPublicKey;
}

/**
 * Seals the payload's canonical JSON to the recipient (HPKE with info ENVELOPE_INFO and
 * envelopeHeaderBytes as aad), then signs header and sealed bytes (Ed25519 over
 * envelopeSigningBytes). Throws ENVELOPE_MALFORMED for a header a peer would refuse and
 * KEY_INVALID when the header's senderKey is not the signer's.
 */
export function sealEnvelope(input: SealEnvelopeInput): Envelope {
  const header = validateHeader(input.header);
  if (instantMillis(header.createdAt) === undefined) {
    throw malformed('is not a real UTC instant', '/header/createdAt', { envelopeId: header.envelopeId });
  }
  if (header.senderKey !== input.signer.fingerprint) {
    throw new AccordError(
      'KEY_INVALID',
      `the header names sender key ${header.senderKey} but the signer is ${input.signer.fingerprint}`,
      { envelopeId: header.envelopeId },
    );
  }
  const plaintext = new TextEncoder().encode(canonicalJson(input.payload));
  if (plaintext.length + AEAD_TAG_LENGTH > MAX_CIPHERTEXT_BYTES) {
    throw malformed(`the payload is larger than ${MAX_CIPHERTEXT_BYTES} bytes`, '/ciphertext', {
      envelopeId: header.envelopeId,
    });
  }
  const aad = envelopeHeaderBytes(header);
  const sealed = seal(input.recipientEncryptionKey, INFO_BYTES, aad, plaintext);
  const signature = signAs(input.signer, envelopeSigningBytes(header, sealed.enc, sealed.ciphertext));
  return {
    header,
    signature: encodeBase64Url(signature),
    enc: encodeBase64Url(sealed.enc),
    ciphertext: encodeBase64Url(sealed.ciphertext),
  };
}

/**
 * Looks up the Ed25519 key pinned for `from` under `fingerprint` by the arrangement the envelope
 * names; undefined when that arrangement (at that version and hash) pins no such key for that party.
 */
export type SenderKeyResolver = (
  from: string,
  fingerprint: string,
  arrangement: EnvelopeArrangement,
) => SigningPublicKey | undefined;

/** What openEnvelope checks an envelope against. */
export interface OpenEnvelopeContext {
  /** This node's partner code: envelopes to anyone else are refused. */
  readonly self: string;
  /** This node's X25519 private key; read only once every other check has passed. */
  readonly recipientPrivateKey: KeyObject;
  /**
   * Another X25519 private key to try when the first does not open the envelope: the node's next
   * key while it rotates its keys (issue 10), so partners may seal to it before the rotation time.
   */
  readonly nextRecipientPrivateKey?: KeyObject;
  readonly resolveSenderKey: SenderKeyResolver;
  /** The recipient's time, epoch milliseconds. */
  readonly now: number;
  /** Allowed distance of createdAt from `now` either way; DEFAULT_MAX_SKEW_MS when absent. */
  readonly maxSkewMs?: number;
  /**
   * Whether an envelope with this id was accepted before. It must remember ids for at least
   * twice maxSkewMs: after that the createdAt check refuses a replay on its own.
   */
  readonly hasSeen: (envelopeId: string) => boolean;
}

/** An opened envelope: its header and decrypted, parsed payload, both under the sender's signature. */
export interface OpenedEnvelope {
  readonly header: EnvelopeHeader;
  readonly payload: unknown;
}

interface DecodedEnvelope {
  readonly header: EnvelopeHeader;
  readonly createdAt: number;
  readonly signature: Uint8Array;
  readonly enc: Uint8Array;
  readonly ciphertext: Uint8Array;
}

function knownEnvelopeId(input: unknown): ErrorDetails {
  // attacker-controlled: echo the id only when it is a well-formed UUID.
  if (typeof input !== 'object' || input === null) return {};
  const header = (input as { header?: unknown }).header;
  if (typeof header !== 'object' || header === null) return {};
  const id = (header as { envelopeId?: unknown }).envelopeId;
  return typeof id === 'string' && UUID.test(id) ? { envelopeId: id } : {};
}

// Envelopes parseEnvelope built: frozen copies no one else holds, so what passed the schema then
// is what openEnvelope reads now, and openEnvelope need not run the schema a second time.
const parsedEnvelopes = new WeakSet<Envelope>();

/**
 * The schema check of openEnvelope, on its own: for a caller that reads the header before it opens
 * the envelope (the inbox looks up the arrangement and earlier deliveries first). Returns a frozen
 * copy of `input`, which openEnvelope then takes without checking its schema again; every other
 * check still runs there. Throws ENVELOPE_MALFORMED naming the field, as openEnvelope does.
 */
export function parseEnvelope(input: unknown): Envelope {
  let envelope: Envelope;
  try {
    envelope = validateEnvelope(input);
  } catch (error) {
    if (!isAccordError(error)) throw error;
    throw new AccordError(
      'ENVELOPE_MALFORMED',
      error.message,
      { ...error.details, ...knownEnvelopeId(input) },
      { cause: error },
    );
  }
  // The schema allows no other field at any level, so these copies are the whole envelope.
  const { header } = envelope;
  const copy: Envelope = Object.freeze({
    header: Object.freeze({
      ...header,
      arrangement: Object.freeze({ ...header.arrangement }),
      product: Object.freeze({ ...header.product }),
    }),
    signature: envelope.signature,
    enc: envelope.enc,
    ciphertext: envelope.ciphertext,
  });
  parsedEnvelopes.add(copy);
  return copy;
}

function decodeEnvelope(input: unknown): DecodedEnvelope {
  const envelope =
    typeof input === 'object' && input !== null && parsedEnvelopes.has(input as Envelope)
      ? (input as Envelope)
      : parseEnvelope(input);
  const ids = { envelopeId: envelope.header.envelopeId };
  const createdAt = instantMillis(envelope.header.createdAt);
  if (createdAt === undefined) throw malformed('is not a real UTC instant', '/header/createdAt', ids);
  if (decodeBase64Url(envelope.header.nonce) === undefined) {
    throw malformed('is not canonical base64url', '/header/nonce', ids);
  }
  const signature = decodeBase64Url(envelope.signature);
  if (signature === undefined) throw malformed('is not canonical base64url', '/signature', ids);
  const enc = decodeBase64Url(envelope.enc);
  if (enc === undefined) throw malformed('is not canonical base64url', '/enc', ids);
  const ciphertext = decodeBase64Url(envelope.ciphertext);
  if (ciphertext === undefined) throw malformed('is not canonical base64url', '/ciphertext', ids);
  return { header: envelope.header, createdAt, signature, enc, ciphertext };
}

function checkClock(now: number, maxSkewMs: number): void {
  // A NaN here would make every skew comparison false and accept any createdAt: fail closed.
  if (!Number.isFinite(now)) {
    throw new AccordError('CONFIG_INVALID', 'openEnvelope: now must be a finite time', { path: 'now' });
  }
  if (!Number.isFinite(maxSkewMs) || maxSkewMs < 0) {
    throw new AccordError('CONFIG_INVALID', 'openEnvelope: maxSkewMs must be a non-negative number', {
      path: 'maxSkewMs',
    });
  }
}

/**
 * Opens an envelope from a peer and returns its header and payload, or throws. Checks run cheapest
 * and unauthenticated first, decryption last: ENVELOPE_MALFORMED (schema, naming the field),
 * ENVELOPE_MISADDRESSED (`to` is not self), KEY_UNPINNED (sender key not pinned for `from` under
 * the arrangement), ENVELOPE_SIGNATURE_INVALID (over header and sealed bytes, so a tampered or
 * swapped enc or ciphertext fails here, undecrypted), ENVELOPE_REPLAYED (id seen), ENVELOPE_STALE
 * (createdAt outside ±maxSkewMs), ENVELOPE_DECRYPT_FAILED, then ENVELOPE_MALFORMED for a payload
 * that is not UTF-8 JSON. Recording the id as seen is the caller's, once it has stored the payload.
 */
export function openEnvelope(input: unknown, ctx: OpenEnvelopeContext): OpenedEnvelope {
  const maxSkewMs = ctx.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
  checkClock(ctx.now, maxSkewMs);
  // attacker-controlled: everything in `input` until the signature check; the sender's after it.
  const envelope = decodeEnvelope(input);
  const { header } = envelope;
  const ids: ErrorDetails = { envelopeId: header.envelopeId };

  if (header.to !== ctx.self) {
    throw new AccordError(
      'ENVELOPE_MISADDRESSED',
      `envelope ${header.envelopeId} is addressed to ${header.to}, not ${ctx.self}`,
      { ...ids, to: header.to },
    );
  }

  const key = pinnedKey(
    ctx.resolveSenderKey(header.from, header.senderKey, header.arrangement),
    header.senderKey,
    `envelope ${header.envelopeId} from ${header.from} under arrangement ${header.arrangement.id} v${header.arrangement.version}`,
    { ...ids, from: header.from, arrangementId: header.arrangement.id },
  );

  const signed = envelopeSigningBytes(header, envelope.enc, envelope.ciphertext);
  if (!isValidSignature(key, signed, envelope.signature)) {
    throw new AccordError(
      'ENVELOPE_SIGNATURE_INVALID',
      `envelope ${header.envelopeId}: the signature over its header and sealed payload does not verify under ${header.senderKey}`,
      { ...ids, from: header.from, fingerprint: header.senderKey },
    );
  }

  // A buggy store that answers anything but false is read as "seen": refuse rather than risk a replay.
  if (ctx.hasSeen(header.envelopeId) !== false) {
    throw new AccordError('ENVELOPE_REPLAYED', `envelope ${header.envelopeId} has been received before`, ids);
  }
  const skew = ctx.now - envelope.createdAt;
  if (!(Math.abs(skew) <= maxSkewMs)) {
    throw new AccordError(
      'ENVELOPE_STALE',
      `envelope ${header.envelopeId} was created at ${header.createdAt}, ${Math.round(Math.abs(skew) / 1000)} s ${
        skew > 0 ? 'ago' : 'ahead'
      }; at most ${maxSkewMs / 1000} s is allowed`,
      { ...ids, createdAt: header.createdAt, skewMs: skew },
    );
  }

  let plaintext: Uint8Array;
  try {
    const aad = envelopeHeaderBytes(header);
    try {
      plaintext = open(ctx.recipientPrivateKey, envelope.enc, INFO_BYTES, aad, envelope.ciphertext);
    } catch (error) {
      const next = ctx.nextRecipientPrivateKey;
      if (next === undefined || !isAccordError(error) || error.code !== 'ENVELOPE_DECRYPT_FAILED')
        throw error;
      plaintext = open(next, envelope.enc, INFO_BYTES, aad, envelope.ciphertext);
    }
  } catch (error) {
    if (isAccordError(error) && error.code === 'ENVELOPE_DECRYPT_FAILED') {
      throw new AccordError(
        'ENVELOPE_DECRYPT_FAILED',
        error.message,
        { ...error.details, ...ids },
        { cause: error },
      );
    }
    throw error;
  }

  let payload: unknown;
  try {
    // attacker-controlled: authenticated as the sender's, but the sender is a peer all the same.
    payload = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(plaintext));
  } catch (error) {
    throw malformed('the payload is not UTF-8 JSON', '/ciphertext', ids, error);
  }
  return { header, payload };
}
