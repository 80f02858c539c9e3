import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HOSTILE_STRINGS } from '../../test/fixtures/hostile.js';
import { isAccordError } from '../errors/index.js';
import { parseMarking, renderBanner, renderPortionMark } from './index.js';

// Issue 10, hostile banner strings (SECURITY.md T13): whatever text arrives as a marking — from a
// request, a file, an import or a peer — parseMarking either throws an AccordError with a MARKING_*
// code naming the token, or returns a label that renders, in the form it came in, to a string that
// parses to the same label. Token soup from the marking vocabulary makes most inputs near misses.

const TOKENS = [
  'TOP SECRET',
  'SECRET',
  'CONFIDENTIAL',
  'RESTRICTED',
  'UNCLASSIFIED',
  'NATO SECRET',
  'COSMIC TOP SECRET',
  'TS',
  'S',
  'C',
  'R',
  'U',
  'NS',
  'SI',
  'TK',
  'SI-G',
  'HCS-P',
  'HCS',
  'NOFORN',
  'NF',
  'ORCON',
  'OC',
  'RELIDO',
  'IMCON',
  'REL TO USA, GBR',
  'REL TO USA, FVEY',
  'REL TO GBR',
  'REL TO USA, G\u0412R',
  'REL TO US\u0391',
  'REL TO',
  'REL TO USA,',
  'TLP:AMBER',
  'TLP:AMBER+STRICT',
  'TLP:RED',
  'TLP:CLEAR',
  'TLP:WHITE',
  'TLP:PURPLE',
  'PAP:GREEN',
  'PAP:RED',
  'UK S',
  '',
  ' ',
  '/',
];

const soup = fc
  .tuple(
    fc.array(fc.constantFrom(...TOKENS), { minLength: 1, maxLength: 6 }),
    fc.constantFrom('//', '/', '//', ' // ', '///'),
    fc.boolean(),
    fc.constantFrom(
      (s: string) => s,
      (s: string) => s.toLowerCase(),
      (s: string) => ` ${s} `,
    ),
  )
  .map(([tokens, separator, portion, tweak]) => {
    const text = tokens.join(separator);
    return tweak(portion ? `(${text})` : text);
  });

const hostileMarking = fc.oneof(
  { weight: 6, arbitrary: soup },
  fc.constantFrom(...HOSTILE_STRINGS),
  fc.string({ maxLength: 60 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('S'.repeat(2049), `SECRET//REL TO ${'USA, '.repeat(500)}GBR`, '(((S)))', '()', '(S', 'S)'),
);

describe('parseMarking under hostile input', () => {
  it('throws only AccordErrors with a MARKING_* code, and what it accepts round-trips through its rendering', () => {
    let accepted = 0;
    fc.assert(
      fc.property(hostileMarking, (input) => {
        let parsed: ReturnType<typeof parseMarking>;
        try {
          parsed = parseMarking(input);
        } catch (error) {
          expect(isAccordError(error), String(error)).toBe(true);
          if (isAccordError(error)) {
            expect(error.code).toMatch(/^MARKING_/);
            expect(error.message.length).toBeGreaterThan(0);
          }
          return;
        }
        accepted += 1;
        const rendered =
          parsed.form === 'portion' ? renderPortionMark(parsed.label) : renderBanner(parsed.label);
        const again = parseMarking(rendered);
        expect(again.label, `${JSON.stringify(input)} -> ${rendered}`).toEqual(parsed.label);
        expect(again.form).toBe(parsed.form);
        // Rendering is a fixed point: the canonical text renders to itself.
        const twice = again.form === 'portion' ? renderPortionMark(again.label) : renderBanner(again.label);
        expect(twice).toBe(rendered);
        // Nothing but printable ASCII survives into a label a partner will read.
        expect(rendered).toMatch(/^[\x20-\x7e]+$/);
      }),
      { numRuns: 3000 },
    );
    // The soup is near enough to real markings that a good share parses.
    expect(accepted).toBeGreaterThan(100);
  });
});
