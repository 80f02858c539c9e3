import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { makeArrangement, makeProductDocument } from '../../test/fixtures/builders.js';
import { errorOf } from '../../test/fixtures/errors.js';
import { digestOf, fingerprintOf, isValidSignature, signDigest } from '../crypto/index.js';
import { AccordError } from '../errors/index.js';
import { DEFAULT_REGISTRY, renderBanner, renderPortionMark } from '../markings/index.js';
import { compileArrangement, type DerivedProduct, decideRelease } from '../policy/index.js';
import { parseProduct } from '../products/index.js';
import {
  type DerivedDocument,
  derivedFromOf,
  PRODUCT_CONTEXT,
  parseDerivedDocument,
  productDigest,
  productSigningBytes,
  signProduct,
  type UnsignedDerivedDocument,
  verifyDerivedFrom,
  verifyProductSignature,
} from './product-signature.js';
import type { KeyResolver, Signer } from './signer.js';

const RUNS = { numRuns: 300 } as const;

function makeSigner(): Signer & { readonly publicKey: KeyObject } {
  const pair = generateKeyPairSync('ed25519');
  return {
    privateKey: pair.privateKey,
    publicKey: pair.publicKey,
    fingerprint: fingerprintOf(pair.publicKey),
  };
}

const usa = makeSigner();
const stranger = makeSigner();
const pinnedUsa: KeyResolver = (fingerprint) => (fingerprint === usa.fingerprint ? usa.publicKey : undefined);

/** The derived document as ProductService#derivedDocument writes it, plus derivedFrom's digest. */
function derivedDocumentOf(derived: DerivedProduct, sourceDigest: string): UnsignedDerivedDocument {
  const options = { originator: derived.originator, registry: DEFAULT_REGISTRY };
  return {
    id: derived.id,
    version: derived.version,
    derivedFrom: { ...derived.derivedFrom, digest: sourceDigest },
    originator: derived.originator,
    title: derived.title,
    titleMarking: renderPortionMark(derived.titleLabel, options),
    discipline: derived.discipline,
    categories: [...derived.categories],
    portions: derived.portions.map((p) => ({
      id: p.id,
      marking: renderPortionMark(p.label, options),
      text: p.text,
    })),
    banner: renderBanner(derived.banner, options),
    withheldCount: derived.withheldCount,
    reliability: derived.reliability,
    credibility: derived.credibility,
    createdAt: derived.createdAt,
    // DerivedProduct holds geo as an opaque record; the document schema types it as GeoJSON.
    ...(derived.geo === null ? {} : { geo: derived.geo as NonNullable<DerivedDocument['geo']> }),
  };
}

const sourceDocument = signProduct(
  makeProductDocument({
    portions: [
      ['SECRET//REL TO USA, GBR', 'Releasable to GBR.'],
      ['SECRET//NOFORN', 'US eyes only.'],
      ['CONFIDENTIAL//REL TO USA, GBR', 'Also releasable.'],
    ],
  }),
  usa,
);

function releasedToGbr(): DerivedDocument {
  // ProductDocumentSchema admits the originator's signature, so the core parses the signed version.
  const product = parseProduct(sourceDocument);
  const decision = decideRelease(product, compileArrangement(makeArrangement()), 'GBR', {
    at: Date.parse('2026-06-01T00:00:00Z'),
    sender: 'USA',
  });
  if (decision.derived === null) throw new Error(`fixture release denied: ${decision.deniedBy.join(', ')}`);
  return signProduct(derivedDocumentOf(decision.derived, productDigest(sourceDocument)), usa);
}

const derived = releasedToGbr();

describe('productDigest', () => {
  it('is digestOf the document without signature and provenance', () => {
    const doc = makeProductDocument();
    expect(productDigest(doc)).toBe(digestOf(doc));
    expect(productDigest({ ...doc, signature: { by: 'x', value: 'y' }, provenance: { via: 'GBR' } })).toBe(
      digestOf(doc),
    );
  });

  it('changes with any authored field', () => {
    const doc = makeProductDocument();
    expect(productDigest({ ...doc, title: `${doc.title}.` })).not.toBe(productDigest(doc));
    expect(productDigest({ ...doc, version: 2 })).not.toBe(productDigest(doc));
  });
});

describe('a signed product document', () => {
  it('parses as a product, its signature beside the authored fields', () => {
    expect(parseProduct(sourceDocument)).toMatchObject({ id: 'prod-1', version: 1 });
  });

  it('is refused by parseProduct when the signature is malformed, naming the field', () => {
    for (const [signature, path] of [
      [{ ...sourceDocument.signature, by: 'usa' }, '/signature/by'],
      [{ ...sourceDocument.signature, value: 'not base64' }, '/signature/value'],
      [{ ...sourceDocument.signature, alg: 'Ed25519' }, '/signature'],
    ] as const) {
      const error = errorOf(() => parseProduct({ ...sourceDocument, signature }));
      expect(error.code).toBe('PRODUCT_INVALID');
      expect(String(error.details.path)).toContain(path);
    }
  });
});

describe('signProduct and verifyProductSignature', () => {
  it('round-trips a product version and returns the digest it signed', () => {
    expect(sourceDocument.signature.by).toBe(usa.fingerprint);
    expect(Buffer.from(sourceDocument.signature.value, 'base64')).toHaveLength(64);
    expect(verifyProductSignature(sourceDocument, pinnedUsa)).toBe(productDigest(sourceDocument));
  });

  it('signs accord/product/v1: followed by the productDigest, not the bare digest', () => {
    const digest = productDigest(sourceDocument);
    const text = `accord/product/v1:${digest}`;
    expect(PRODUCT_CONTEXT).toBe('accord/product/v1');
    expect(new TextDecoder().decode(productSigningBytes(digest))).toBe(text);
    const value = Buffer.from(sourceDocument.signature.value, 'base64');
    expect(isValidSignature(usa.publicKey, text, value)).toBe(true);
    expect(isValidSignature(usa.publicKey, digest, value)).toBe(false);
  });

  it.each<[string, (digest: string) => string]>([
    // What an arrangement party signs: the bare `sha256:<hex>` version hash.
    ['the bare digest (no context)', (digest) => digest],
    ["the receipt's context", (digest) => `accord/receipt/v1:${digest}`],
    ["the envelope's context", (digest) => `accord/envelope/v1:${digest}`],
  ])('refuses a signature by the pinned key over %s (PRODUCT_SIGNATURE_INVALID)', (_what, message) => {
    const value = Buffer.from(signDigest(usa.privateKey, message(productDigest(sourceDocument)))).toString(
      'base64',
    );
    const doc = { ...sourceDocument, signature: { by: usa.fingerprint, value } };
    const error = errorOf(() => verifyProductSignature(doc, pinnedUsa));
    expect(error.code).toBe('PRODUCT_SIGNATURE_INVALID');
    expect(error.details.path).toBe('/signature');
  });

  it('accepts a key given as its 32 raw bytes', () => {
    const raw = Buffer.from(usa.publicKey.export({ format: 'jwk' }).x ?? '', 'base64url');
    expect(() => verifyProductSignature(sourceDocument, () => new Uint8Array(raw))).not.toThrow();
  });

  it('replaces an earlier signature rather than signing over it', () => {
    const resigned = signProduct(sourceDocument, usa);
    expect(Object.keys(resigned).filter((k) => k === 'signature')).toHaveLength(1);
    expect(() => verifyProductSignature(resigned, pinnedUsa)).not.toThrow();
  });

  it('still verifies after a holder adds provenance', () => {
    const held = { ...sourceDocument, provenance: { receivedFrom: 'USA', envelopeId: 'e1' } };
    expect(() => verifyProductSignature(held, pinnedUsa)).not.toThrow();
  });

  it('refuses a changed field with PRODUCT_SIGNATURE_INVALID naming the product', () => {
    const error = errorOf(() => verifyProductSignature({ ...sourceDocument, credibility: 1 }, pinnedUsa));
    expect(error.code).toBe('PRODUCT_SIGNATURE_INVALID');
    expect(error.details).toMatchObject({ productId: 'prod-1', version: 1, path: '/signature' });
  });

  it('refuses a key no arrangement pins with KEY_UNPINNED, before looking at the bytes', () => {
    const byStranger = signProduct(makeProductDocument(), stranger);
    const error = errorOf(() => verifyProductSignature(byStranger, pinnedUsa));
    expect(error.code).toBe('KEY_UNPINNED');
    expect(error.details.fingerprint).toBe(stranger.fingerprint);
  });

  it('refuses a stranger signature presented under the pinned fingerprint', () => {
    const byStranger = signProduct(makeProductDocument(), stranger);
    const forged = { ...byStranger, signature: { by: usa.fingerprint, value: byStranger.signature.value } };
    expect(errorOf(() => verifyProductSignature(forged, pinnedUsa)).code).toBe('PRODUCT_SIGNATURE_INVALID');
  });

  it('treats a resolver that answers with another key as pinning nothing', () => {
    const error = errorOf(() => verifyProductSignature(sourceDocument, () => stranger.publicKey));
    expect(error.code).toBe('KEY_UNPINNED');
  });

  it.each([
    ['no signature', undefined, '/signature'],
    ['a string signature', 'abc', '/signature'],
    ['an extra field', { by: usa.fingerprint, value: 'x', alg: 'none' }, '/signature'],
    ['a bad fingerprint', { by: 'sha256:XYZ', value: 'x' }, '/signature/by'],
    [
      'a short value',
      { by: usa.fingerprint, value: Buffer.alloc(63).toString('base64') },
      '/signature/value',
    ],
    ['base64url in place of base64', { by: usa.fingerprint, value: '_'.repeat(86) }, '/signature/value'],
  ])('refuses %s with PRODUCT_SIGNATURE_INVALID at %s', (_what, signature, path) => {
    const { signature: _s, ...rest } = sourceDocument;
    const doc = signature === undefined ? rest : { ...rest, signature };
    const error = errorOf(() => verifyProductSignature(doc, pinnedUsa));
    expect(error.code).toBe('PRODUCT_SIGNATURE_INVALID');
    expect(error.details.path).toBe(path);
  });

  it('refuses a non-canonical base64 spelling of the right bytes', () => {
    // 64 bytes leave 4 unused bits in the last character; setting one gives the same bytes in Node's decoder.
    const { value } = sourceDocument.signature;
    const last = value.at(-3) ?? 'A';
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const sloppy = `${value.slice(0, -3)}${alphabet[alphabet.indexOf(last) ^ 1]}==`;
    expect(Buffer.from(sloppy, 'base64')).toEqual(Buffer.from(value, 'base64'));
    const error = errorOf(() =>
      verifyProductSignature(
        { ...sourceDocument, signature: { by: usa.fingerprint, value: sloppy } },
        pinnedUsa,
      ),
    );
    expect(error.details.path).toBe('/signature/value');
  });

  it('refuses a document that cannot be canonicalised (a lone surrogate) as unverifiable', () => {
    const error = errorOf(() => verifyProductSignature({ ...sourceDocument, title: '\uD800' }, pinnedUsa));
    expect(error.code).toBe('PRODUCT_SIGNATURE_INVALID');
    expect(error.cause).toBeInstanceOf(AccordError);
  });

  it('refuses to sign with a key other than the one the fingerprint names (KEY_INVALID)', () => {
    const wrong = { privateKey: stranger.privateKey, fingerprint: usa.fingerprint };
    expect(errorOf(() => signProduct(makeProductDocument(), wrong)).code).toBe('KEY_INVALID');
  });
});

describe('derived documents', () => {
  it('accepts what a real release tears, signs and names as its source', () => {
    expect(parseDerivedDocument(derived)).toBe(derived);
    expect(derived.portions.map((p) => p.text)).toEqual(['Releasable to GBR.', 'Also releasable.']);
    expect(derived.withheldCount).toBe(1);
    expect(derived.derivedFrom).toEqual(derivedFromOf(sourceDocument));
    expect(() => verifyProductSignature(derived, pinnedUsa)).not.toThrow();
    expect(() => verifyDerivedFrom(derived, sourceDocument)).not.toThrow();
  });

  it('parses strictly: unknown fields are refused with PRODUCT_INVALID naming them', () => {
    const error = errorOf(() => parseDerivedDocument({ ...derived, author: 'analyst.usa' }));
    expect(error.code).toBe('PRODUCT_INVALID');
    expect(error.details.path).toBe('/author');
  });

  it.each([
    ['derivedFrom', (d: DerivedDocument) => ({ ...d, derivedFrom: undefined }), '/derivedFrom'],
    ['signature', (d: DerivedDocument) => ({ ...d, signature: undefined }), '/signature'],
    [
      'derivedFrom.digest',
      (d: DerivedDocument) => ({ ...d, derivedFrom: { id: d.id, version: d.version } }),
      '/derivedFrom/digest',
    ],
  ])('requires %s', (_what, change, path) => {
    const input = JSON.parse(JSON.stringify(change(derived))) as unknown;
    expect(errorOf(() => parseDerivedDocument(input)).details.path).toBe(path);
  });

  const portionChange = fc.record({
    index: fc.nat(),
    field: fc.constantFrom('text' as const, 'marking' as const),
    value: fc.string({ minLength: 1, maxLength: 40 }),
  });

  it('breaks its signature when any portion text or marking changes (property)', () => {
    fc.assert(
      fc.property(portionChange, ({ index, field, value }) => {
        const i = index % derived.portions.length;
        const portion = derived.portions[i]!;
        fc.pre(portion[field] !== value);
        const portions = derived.portions.map((p, j) => (j === i ? { ...p, [field]: value } : p));
        const tampered = { ...derived, portions };
        expect(errorOf(() => verifyProductSignature(tampered, pinnedUsa)).code).toBe(
          'PRODUCT_SIGNATURE_INVALID',
        );
      }),
      RUNS,
    );
  });

  it('breaks its signature when a portion is dropped, reordered or put back (property)', () => {
    const { portions } = derived;
    const withheld = sourceDocument.portions[1]!;
    const variants = [
      portions.slice(1),
      [...portions].reverse(),
      [portions[0]!, withheld, ...portions.slice(1)],
      [...portions, withheld],
    ];
    fc.assert(
      fc.property(fc.constantFrom(...variants), (changed) => {
        expect(errorOf(() => verifyProductSignature({ ...derived, portions: changed }, pinnedUsa)).code).toBe(
          'PRODUCT_SIGNATURE_INVALID',
        );
      }),
      { numRuns: variants.length * 4 },
    );
  });

  it('breaks its signature when banner, withheldCount or derivedFrom changes', () => {
    for (const tampered of [
      { ...derived, banner: 'UNCLASSIFIED' },
      { ...derived, withheldCount: 0 },
      { ...derived, derivedFrom: { ...derived.derivedFrom, version: 2 } },
      { ...derived, derivedFrom: { ...derived.derivedFrom, digest: `sha256:${'0'.repeat(64)}` } },
    ]) {
      expect(errorOf(() => verifyProductSignature(tampered, pinnedUsa)).code).toBe(
        'PRODUCT_SIGNATURE_INVALID',
      );
    }
  });
});

describe('verifyDerivedFrom', () => {
  it('refuses a source other than the one the derived version names', () => {
    const other = signProduct(makeProductDocument({ id: 'prod-2' }), usa);
    expect(errorOf(() => verifyDerivedFrom(derived, other)).details.path).toBe('/derivedFrom');
  });

  it('refuses a source changed since the release, even under the same id and version', () => {
    const edited = signProduct({ ...sourceDocument, title: 'Edited after release' }, usa);
    const error = errorOf(() => verifyDerivedFrom(derived, edited));
    expect(error.code).toBe('PRODUCT_SIGNATURE_INVALID');
    expect(error.details.path).toBe('/derivedFrom/digest');
  });

  it('does not depend on the source signature (a re-signed source is the same version)', () => {
    const { signature: _s, ...unsigned } = sourceDocument;
    expect(() => verifyDerivedFrom(derived, unsigned)).not.toThrow();
  });
});
