import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type DerivedDocument, productDigest } from './product-signature.js';
import { isRecalledDocument, recalledDocumentOf } from './recalled-document.js';

const document: DerivedDocument = {
  id: 'usa-2026-0417',
  version: 3,
  originator: 'USA',
  title: 'Facilitation network in the port district',
  titleMarking: '(U)',
  discipline: 'SIGINT',
  categories: ['counterterrorism'],
  portions: [
    { id: 'p1', marking: '(S//REL TO USA, GBR)', text: 'Courier meets the cell leader on Fridays.' },
    { id: 'p2', marking: '(C//REL TO USA, FVEY)', text: 'Payments move through two exchange houses.' },
  ],
  banner: 'SECRET//REL TO USA, GBR',
  withheldCount: 1,
  reliability: 'B',
  credibility: 2,
  createdAt: '2026-11-20T09:30:00Z',
  geo: { type: 'Point', coordinates: [33.52, 44.61] },
  derivedFrom: { id: 'usa-2026-0417', version: 3, digest: `sha256:${'ef'.repeat(32)}` },
  signature: { by: `sha256:${'cd'.repeat(32)}`, value: `${'A'.repeat(86)}==` },
};

describe('recalledDocumentOf', () => {
  it('keeps ids, markings, evaluation, provenance, digest and signature, and drops title, text and geo', () => {
    const tombstone = recalledDocumentOf(document);
    expect(tombstone).toEqual({
      recalled: true,
      id: 'usa-2026-0417',
      version: 3,
      originator: 'USA',
      titleMarking: '(U)',
      banner: 'SECRET//REL TO USA, GBR',
      discipline: 'SIGINT',
      categories: ['counterterrorism'],
      portions: [
        { id: 'p1', marking: '(S//REL TO USA, GBR)' },
        { id: 'p2', marking: '(C//REL TO USA, FVEY)' },
      ],
      withheldCount: 1,
      reliability: 'B',
      credibility: 2,
      createdAt: '2026-11-20T09:30:00Z',
      derivedFrom: document.derivedFrom,
      digest: productDigest(document),
      signature: document.signature,
    });
    expect(isRecalledDocument(tombstone)).toBe(true);
    expect(isRecalledDocument(document)).toBe(false);
    // A tombstone is final: making one of it again changes nothing.
    expect(recalledDocumentOf(tombstone)).toBe(tombstone);
  });

  it('leaves no title, portion text or coordinates of the document in the tombstone (property)', () => {
    const secret = fc.string({ minLength: 1, maxLength: 40 }).map((s) => `secret «${s}»`);
    fc.assert(
      fc.property(
        secret,
        fc.array(secret, { minLength: 1, maxLength: 8 }),
        fc.tuple(
          fc.double({ min: -180, max: 180, noNaN: true }),
          fc.double({ min: -90, max: 90, noNaN: true }),
        ),
        (title, texts, [lon, lat]) => {
          const held: DerivedDocument = {
            ...document,
            title,
            portions: texts.map((text, i) => ({ id: `p${i + 1}`, marking: '(U)', text })),
            geo: { type: 'Point', coordinates: [lon, lat] },
          };
          const json = JSON.stringify(recalledDocumentOf(held));
          for (const text of [title, ...texts]) expect(json).not.toContain(JSON.stringify(text).slice(1, -1));
          expect(json).not.toContain('"geo"');
          expect(json).not.toContain('"title"');
          expect(json).not.toContain('"text"');
        },
      ),
      { numRuns: 200 },
    );
  });
});
