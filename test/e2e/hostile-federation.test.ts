import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INBOX_BODY_LIMIT_BYTES } from '../../src/api/routes/federation-routes.js';
import { seal, signDigest } from '../../src/crypto/index.js';
import {
  ENVELOPE_INFO,
  ENVELOPE_KINDS,
  type Envelope,
  type EnvelopeHeader,
  envelopeHeaderBytes,
  envelopeSigningBytes,
  type Signer,
} from '../../src/federation/index.js';
import { flipBit } from '../fixtures/bytes.js';
import {
  arrangementOf,
  bodyOf,
  derivedOf,
  envelopeOf,
  type FederationTestNode,
  gbrKeys,
  MAIN,
  NOW,
  onWire,
  recordPeers,
  sourceOf,
  startFederationNode,
  strangerSigner,
  usaKeys,
  usaSigner,
} from '../fixtures/federation.js';
import {
  CONFUSABLE_CODES,
  changedTables,
  deeplyNested,
  hostileString,
  hostileValueOf,
  jsonText,
  nestedIn,
} from '../fixtures/hostile.js';

// Issue 10, hostile input at the federation boundary (SECURITY.md T4, T13): envelopes POSTed to a
// real GBR node's /federation/v1/inbox that are malformed, truncated, oversized, deeply nested or
// wrongly typed, that carry forged signatures, tampered ciphertext or enc, headers changed after
// signing, confusable partner codes, the wrong recipient, or replayed ids — and, from a partner
// whose signature verifies, hostile payloads of every kind. Always 4xx problem+json naming the
// problem, never 5xx. What the inbox does by design, asserted exactly: an envelope that does not
// authenticate leaves no row anywhere; an authenticated one refused is recorded as one `refused`
// inbox row with its code and one audit event, and nothing else (no product, no consent, no recall).

let gbr: FederationTestNode;
beforeAll(async () => {
  gbr = await startFederationNode('GBR', 'sqlite', gbrKeys, () => NOW);
  await recordPeers(gbr.node.store, [MAIN]);
});
afterAll(() => gbr?.close());

/** Refusals an envelope meets before its signature verifies: nothing is recorded for them. */
const UNAUTHENTICATED = new Set([
  'ENVELOPE_MALFORMED',
  'ENVELOPE_MISADDRESSED',
  'KEY_UNPINNED',
  'ENVELOPE_SIGNATURE_INVALID',
  'ARRANGEMENT_MISMATCH',
  'INPUT_INVALID',
]);
/** What an authenticated refusal writes: its inbox row and its audit event (queued). */
const RECORDED = { inbox: 1, audit_queue: 1 };

const ENVELOPE_KEYS = [
  'header',
  'signature',
  'enc',
  'ciphertext',
  'v',
  'kind',
  'envelopeId',
  'from',
  'to',
  'arrangement',
  'product',
  'createdAt',
  'nonce',
  'senderKey',
  'id',
  'version',
  'versionHash',
];
const hostileValue = hostileValueOf(ENVELOPE_KEYS);
const HEADER_FIELDS = [
  'v',
  'kind',
  'envelopeId',
  'from',
  'to',
  'arrangement',
  'product',
  'createdAt',
  'nonce',
  'senderKey',
] as const;

let serial = 0;
/** A fresh, valid release envelope from USA to GBR of a product no other run uses. */
function validEnvelope(): Envelope {
  serial += 1;
  return envelopeOf(derivedOf(sourceOf({ id: `usa-hostile-${serial}` }), ['p1']));
}

function bytesOf(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64url'));
}

/**
 * `envelope` with `header` in place of its own, signed again by `signer` over the new header and
 * the same sealed bytes: what a partner (or a stranger) that holds a key can send. A header that
 * has no canonical form keeps the old signature.
 */
function resigned(envelope: Envelope, header: unknown, signer: Signer): unknown {
  try {
    const signed = envelopeSigningBytes(
      header as EnvelopeHeader,
      bytesOf(envelope.enc),
      bytesOf(envelope.ciphertext),
    );
    return {
      ...envelope,
      header,
      signature: Buffer.from(signDigest(signer.privateKey, signed)).toString('base64url'),
    };
  } catch {
    return { ...envelope, header };
  }
}

/**
 * A header's envelope carrying `plaintext` as its payload bytes, sealed to GBR and signed by USA:
 * what a partner can send that does not go through sealEnvelope (bytes that are no UTF-8, JSON
 * that canonical JSON refuses, lone surrogates as the replacement character).
 */
function sealedByUsa(header: EnvelopeHeader, plaintext: Uint8Array): Envelope {
  const sealed = seal(
    gbrKeys.identity.encryption.publicKey,
    new TextEncoder().encode(ENVELOPE_INFO),
    envelopeHeaderBytes(header),
    plaintext,
  );
  const signature = signDigest(
    usaSigner.privateKey,
    envelopeSigningBytes(header, sealed.enc, sealed.ciphertext),
  );
  return {
    header,
    signature: Buffer.from(signature).toString('base64url'),
    enc: Buffer.from(sealed.enc).toString('base64url'),
    ciphertext: Buffer.from(sealed.ciphertext).toString('base64url'),
  };
}

function deliver(body: string, contentType = 'application/json'): Promise<LightMyRequestResponse> {
  return gbr.node.server.inject({
    method: 'POST',
    url: '/federation/v1/inbox',
    headers: { 'content-type': contentType },
    payload: body,
  });
}

/** Expects a 4xx problem+json naming a code and a reason; returns its body. */
function expectProblem(response: LightMyRequestResponse, context: string): Record<string, unknown> {
  expect(response.statusCode, `${context}: ${response.body.slice(0, 400)}`).toBeGreaterThanOrEqual(400);
  expect(response.statusCode, `${context}: ${response.body.slice(0, 400)}`).toBeLessThan(500);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  const problem = bodyOf(response);
  expect(typeof problem.code).toBe('string');
  expect(typeof problem.detail).toBe('string');
  expect(String(problem.detail).length).toBeGreaterThan(0);
  // A malformed envelope names the field, as a JSON pointer, in `field` and in the reason (which
  // names a payload field from the payload's root: `payload /kind`, `incident notice /kind`).
  if (problem.code === 'ENVELOPE_MALFORMED') {
    const field = String(problem.field);
    expect(field).toMatch(/^\//);
    expect(String(problem.detail)).toContain(field.replace(/^\/payload(?=\/)/, ''));
  }
  return problem;
}

/** Delivers `body` and expects a refusal before authentication: no row written anywhere. */
async function refusedUnrecorded(body: string, context: string): Promise<Record<string, unknown>> {
  const before = await gbr.counts();
  const problem = expectProblem(await deliver(body), context);
  expect(UNAUTHENTICATED, `${context}: ${String(problem.code)}`).toContain(problem.code);
  expect(changedTables(before, await gbr.counts()), context).toEqual({});
  return problem;
}

/**
 * Delivers `envelope` (signed for real) and expects a refusal, recorded when `authenticated`: one
 * `refused` inbox row under its id with the answered code, and one audit event; otherwise nothing.
 */
async function refusedAsDesigned(
  envelope: unknown,
  authenticated: boolean,
  context: string,
): Promise<Record<string, unknown>> {
  const before = await gbr.counts();
  const problem = expectProblem(await deliver(jsonText(envelope)), context);
  const delta = changedTables(before, await gbr.counts());
  if (!authenticated) {
    expect(UNAUTHENTICATED, `${context}: ${String(problem.code)}`).toContain(problem.code);
    expect(delta, context).toEqual({});
    return problem;
  }
  expect(delta, `${context}: ${String(problem.code)}`).toEqual(RECORDED);
  const id = (envelope as Envelope).header.envelopeId;
  expect(problem.envelopeId).toBe(id);
  expect(await gbr.node.store.inbox.get(id), context).toMatchObject({
    outcome: 'refused',
    code: problem.code,
    sender: 'USA',
    reason: problem.detail,
  });
  return problem;
}

describe('the federation inbox under hostile envelopes', () => {
  it('refuses malformed, wrongly typed, nested and truncated bodies before anything is read: 4xx, nothing recorded', async () => {
    const template = validEnvelope();
    const body = fc.oneof(
      hostileValue.map(jsonText),
      deeplyNested.map(jsonText),
      fc.integer({ min: 1, max: 2000 }).map((depth) => jsonText(nestedIn(template, depth, 'header'))),
      // One top-level field or one header field replaced by a hostile value, or an extra one added.
      fc
        .tuple(fc.constantFrom('header', 'signature', 'enc', 'ciphertext', 'extra'), hostileValue)
        .map(([field, value]) => jsonText({ ...template, [field]: value })),
      fc
        .tuple(fc.constantFrom(...HEADER_FIELDS, 'extra', '__proto__'), hostileValue)
        .map(([field, value]) => jsonText({ ...template, header: { ...template.header, [field]: value } })),
      // A field missing.
      fc.constantFrom(...HEADER_FIELDS).map((field) =>
        jsonText({
          ...template,
          header: Object.fromEntries(Object.entries(template.header).filter(([k]) => k !== field)),
        }),
      ),
      // The body cut short anywhere.
      fc.integer({ min: 0, max: jsonText(template).length - 1 }).map((at) => jsonText(template).slice(0, at)),
      // Base64url fields of the wrong length or alphabet, or not canonical.
      fc
        .tuple(
          fc.constantFrom('signature', 'enc', 'ciphertext'),
          fc.constantFrom(
            '',
            '=',
            'AA==',
            '+/+/',
            'A',
            `${template.signature}A`,
            template.signature.slice(1),
            '\u0000',
          ),
        )
        .map(([field, value]) => jsonText({ ...template, [field]: value })),
    );
    await fc.assert(
      fc.asyncProperty(body, async (text) => {
        await refusedUnrecorded(text, text.slice(0, 200));
      }),
      { numRuns: 120 },
    );
  }, 120_000);

  it('refuses forged signatures and envelopes changed after signing: ENVELOPE_SIGNATURE_INVALID, nothing recorded', async () => {
    const template = validEnvelope();
    const tampering = fc.oneof(
      fc.uint8Array({ minLength: 64, maxLength: 64 }).map((sig) => ({
        ...template,
        signature: Buffer.from(sig).toString('base64url'),
      })),
      // The stranger's signature under USA's pinned fingerprint.
      fc.constant(resigned(template, template.header, strangerSigner)),
      fc.nat().map((bit) => ({
        ...template,
        ciphertext: Buffer.from(flipBit(bytesOf(template.ciphertext), bit)).toString('base64url'),
      })),
      fc.nat().map((bit) => ({
        ...template,
        enc: Buffer.from(flipBit(bytesOf(template.enc), bit)).toString('base64url'),
      })),
      fc.nat().map((bit) => ({
        ...template,
        signature: Buffer.from(flipBit(bytesOf(template.signature), bit)).toString('base64url'),
      })),
      // Another envelope's sealed payload under this header.
      fc.constant({ ...validEnvelope(), header: template.header }),
      // A header field changed to another well-formed value after signing.
      fc
        .constantFrom(
          { product: { id: 'usa-2026-0999', version: 1 } },
          { product: { ...template.header.product, version: 2 } },
          { createdAt: new Date(NOW - 1000).toISOString() },
          { nonce: Buffer.from(randomBytes(16)).toString('base64url') },
          { kind: 'recall' as const },
          { envelopeId: '00000000-0000-4000-8000-000000000000' },
        )
        .map((change) => ({ ...template, header: { ...template.header, ...change } })),
    );
    await fc.assert(
      fc.asyncProperty(tampering, async (envelope) => {
        const problem = await refusedUnrecorded(jsonText(envelope), 'tampered');
        expect(problem.code).toBe('ENVELOPE_SIGNATURE_INVALID');
      }),
      { numRuns: 60 },
    );
  }, 120_000);

  it('refuses the wrong recipient, confusable partner codes and unpinned keys, even when the header is signed', async () => {
    const cases = fc.oneof(
      fc.record({
        field: fc.constantFrom('to', 'from'),
        code: fc.constantFrom(...CONFUSABLE_CODES, 'CAN', 'FRA', 'USA', 'GBR'),
        signer: fc.constantFrom(usaSigner, strangerSigner),
      }),
      fc.record({
        field: fc.constant('senderKey'),
        code: fc.constantFrom(
          strangerSigner.fingerprint,
          gbrKeys.public.signing.fingerprint,
          usaKeys.public.encryption.fingerprint,
        ),
        signer: fc.constantFrom(usaSigner, strangerSigner),
      }),
    );
    await fc.assert(
      fc.asyncProperty(cases, async ({ field, code, signer }) => {
        const template = validEnvelope();
        // The envelope unchanged but for its signer is the stranger's forgery; the same one signed by
        // USA is no attack.
        fc.pre(template.header[field as keyof EnvelopeHeader] !== code || signer !== usaSigner);
        const header = { ...template.header, [field]: code };
        const envelope = resigned(template, header, signer);
        const context = `${field}=${JSON.stringify(code)} signed by ${signer === usaSigner ? 'USA' : 'a stranger'}`;
        // Not one of these is the envelope USA would send to GBR, so none authenticates.
        const problem = await refusedAsDesigned(envelope, false, context);
        if (field === 'to' && /^[A-Z]{3}$/.test(code) && code !== 'GBR') {
          expect(problem.code).toBe('ENVELOPE_MISADDRESSED');
        }
        if (CONFUSABLE_CODES.includes(code)) expect(problem.code).toBe('ENVELOPE_MALFORMED');
      }),
      { numRuns: 60 },
    );
  }, 120_000);

  it('refuses hostile payloads from a partner whose signature verifies: 4xx, one refused inbox row and one audit event, nothing stored', async () => {
    const document = derivedOf(sourceOf({ id: 'usa-hostile-payload' }), ['p1']);
    const arrangement = onWire(MAIN);
    const documentKeys = Object.keys(document);
    const payload = fc.oneof(
      hostileValueOf([...ENVELOPE_KEYS, 'kind', 'product', 'consent', 'recall', 'incident', ...documentKeys]),
      deeplyNested,
      // The real payload with one document field replaced, or a portion made hostile.
      fc.tuple(fc.constantFrom(...documentKeys), hostileValueOf(documentKeys)).map(([field, value]) => ({
        kind: 'release',
        arrangement,
        product: { ...document, [field]: value },
      })),
      fc.tuple(fc.constantFrom('id', 'marking', 'text'), hostileString).map(([field, value]) => ({
        kind: 'release',
        arrangement,
        product: { ...document, portions: document.portions.map((p) => ({ ...p, [field]: value })) },
      })),
      fc
        .constantFrom(...CONFUSABLE_CODES)
        .map((originator) => ({ kind: 'release', arrangement, product: { ...document, originator } })),
      fc.constant({ kind: 'release', arrangement: { ...arrangement, id: 'other' }, product: document }),
    );
    const validText = jsonText({ kind: 'release', arrangement, product: document });
    const plaintext = fc.oneof(
      { weight: 4, arbitrary: payload.map((value) => new Uint8Array(Buffer.from(jsonText(value), 'utf8'))) },
      fc.uint8Array({ maxLength: 200 }),
      fc.constant(new Uint8Array([0xff, 0xfe, 0x7b, 0x7d])),
      fc
        .integer({ min: 0, max: validText.length - 1 })
        .map((at) => new Uint8Array(Buffer.from(validText.slice(0, at), 'utf8'))),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ENVELOPE_KINDS), plaintext, async (kind, bytes) => {
        const { header } = envelopeOf(document, { header: { kind } });
        const envelope = sealedByUsa(header, bytes);
        const context = `${kind}: ${Buffer.from(bytes).toString('utf8').slice(0, 200)}`;
        await refusedAsDesigned(envelope, true, context);
        expect(await gbr.node.store.receivedProducts.get(document.id)).toBeUndefined();
      }),
      { numRuns: 100 },
    );
  }, 180_000);

  it('answers a replayed envelope with the first answer and another envelope reusing its id with ENVELOPE_REPLAYED, recording neither', async () => {
    const first = validEnvelope();
    const stored = await deliver(jsonText(first));
    expect(stored.statusCode, stored.body).toBe(201);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 5 }), async (times) => {
        const before = await gbr.counts();
        for (let i = 0; i < times; i++) {
          const again = await deliver(jsonText(first));
          expect(again.statusCode).toBe(200);
          expect(again.body).toBe(stored.body);
        }
        const reuse = envelopeOf(derivedOf(sourceOf({ id: `usa-reuse-${times}` }), ['p1']), {
          header: { envelopeId: first.header.envelopeId },
        });
        const problem = expectProblem(await deliver(jsonText(reuse)), 'id reused');
        expect(problem.code).toBe('ENVELOPE_REPLAYED');
        expect(changedTables(before, await gbr.counts())).toEqual({});
      }),
      { numRuns: 5 },
    );
  }, 60_000);

  it.each<[string, () => string, string, number, string]>([
    ['an empty body', () => '', 'application/json', 400, 'INPUT_INVALID'],
    ['a body that is not JSON', () => '<envelope/>', 'application/json', 400, 'INPUT_INVALID'],
    [
      'an envelope sent as text/plain',
      () => jsonText(validEnvelope()),
      'text/plain',
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    ],
    [
      'a body larger than the inbox limit',
      () => jsonText({ ...validEnvelope(), ciphertext: 'A'.repeat(INBOX_BODY_LIMIT_BYTES) }),
      'application/json',
      413,
      'BODY_TOO_LARGE',
    ],
    [
      'an envelope under an arrangement GBR does not hold',
      () =>
        jsonText(
          envelopeOf(derivedOf(sourceOf({ id: 'usa-unknown-arr' }), ['p1']), {
            arrangement: arrangementOf('usa-gbr-unknown'),
          }),
        ),
      'application/json',
      409,
      'ARRANGEMENT_MISMATCH',
    ],
  ])(
    'refuses %s with a problem and records nothing',
    async (_what, make, contentType, status, code) => {
      const before = await gbr.counts();
      const response = await deliver(make(), contentType);
      expect(response.statusCode, response.body.slice(0, 300)).toBe(status);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(bodyOf(response).code).toBe(code);
      expect(changedTables(before, await gbr.counts())).toEqual({});
    },
    60_000,
  );
});
