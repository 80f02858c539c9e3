import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type AccordError, type ErrorCode, isAccordError } from '../errors/index.js';
import { type Label, parseMarking } from './index.js';

/** The AccordError `parseMarking` throws for `input`; fails the test when it parses. */
function rejectionOf(input: string): AccordError {
  try {
    parseMarking(input);
  } catch (error) {
    if (isAccordError(error)) return error;
    throw error;
  }
  return expect.fail(`expected '${input}' to be rejected`);
}

function expectRejected(input: string, code: ErrorCode, token: string, position: number): void {
  const error = rejectionOf(input);
  expect({ code: error.code, token: error.details.token, position: error.details.position }).toEqual({
    code,
    token,
    position,
  });
  expect(error.message).toContain(`position ${position}`);
}

/** 1-based position of the first occurrence of `needle` at or after `from` in `haystack`. */
function positionOf(haystack: string, needle: string, from = 0): number {
  const index = haystack.indexOf(needle, from);
  if (index === -1) return expect.fail(`'${needle}' not found in '${haystack}'`);
  return index + 1;
}

function label(fields: Partial<Label> & Pick<Label, 'classification'>): Label {
  return { relTo: null, caveats: [], controls: [], tlp: null, pap: null, ...fields };
}

const COMMON = (level: string) => ({ scheme: 'COMMON', level });

describe('parseMarking', () => {
  describe('examples from the design', () => {
    it('parses a banner with caveat, REL TO with a community, and ORCON in its own segment', () => {
      expect(parseMarking('TOP SECRET//SI//REL TO USA, GBR, FVEY//ORCON')).toEqual({
        form: 'banner',
        label: label({
          classification: COMMON('TOP SECRET'),
          relTo: ['GBR', 'USA', 'FVEY'],
          caveats: ['SI'],
          controls: ['ORCON'],
        }),
      });
    });

    it('parses a portion mark with an abbreviated level', () => {
      expect(parseMarking('(S//REL TO GBR, USA)')).toEqual({
        form: 'portion',
        label: label({ classification: COMMON('SECRET'), relTo: ['GBR', 'USA'] }),
      });
    });

    it('parses TLP 2.0 AMBER+STRICT on an unclassified banner', () => {
      expect(parseMarking('UNCLASSIFIED//TLP:AMBER+STRICT').label).toEqual(
        label({ classification: COMMON('UNCLASSIFIED'), tlp: 'AMBER+STRICT' }),
      );
    });

    it('parses a NATO level onto the NATO scheme', () => {
      expect(parseMarking('NATO SECRET').label).toEqual(
        label({ classification: { scheme: 'NATO', level: 'NATO SECRET' } }),
      );
    });

    it('parses NOFORN as a control with no REL TO list', () => {
      expect(parseMarking('SECRET//NOFORN').label).toEqual(
        label({ classification: COMMON('SECRET'), controls: ['NOFORN'] }),
      );
    });
  });

  describe('tolerance', () => {
    it('ignores case and extra spaces around and inside tokens', () => {
      const canonical = parseMarking('TOP SECRET//SI//REL TO USA, GBR, FVEY//ORCON').label;
      expect(parseMarking('  top   secret // si //  rel   to  fvey,usa ,  gbr // orcon  ').label).toEqual(
        canonical,
      );
      expect(parseMarking('Top Secret//Si//Rel To Gbr, Fvey, Usa//Orcon').label).toEqual(canonical);
    });

    it('normalises any REL TO order to the same label', () => {
      const codes = ['USA', 'GBR', 'CAN', 'AUS', 'NZL', 'FVEY', 'NATO', 'EU'];
      const canonical = parseMarking(`SECRET//REL TO ${codes.join(', ')}`).label;
      expect(canonical.relTo).toEqual(['AUS', 'CAN', 'GBR', 'NZL', 'USA', 'EU', 'FVEY', 'NATO']);
      fc.assert(
        fc.property(fc.shuffledSubarray(codes, { minLength: codes.length }), (order) => {
          expect(parseMarking(`SECRET//REL TO ${order.join(', ')}`).label).toEqual(canonical);
        }),
      );
    });

    it('treats a repeated REL TO code as one', () => {
      expect(parseMarking('SECRET//REL TO USA, GBR, USA').label.relTo).toEqual(['GBR', 'USA']);
    });

    it('stores caveats alphabetically and controls in CAPCO order, whatever the input order', () => {
      expect(parseMarking('TOP SECRET//TK/SI-G/SI//RELIDO/PROPIN/ORCON/REL TO USA').label).toEqual(
        label({
          classification: COMMON('TOP SECRET'),
          relTo: ['USA'],
          caveats: ['SI', 'SI-G', 'TK'],
          controls: ['ORCON', 'PROPIN', 'RELIDO'],
        }),
      );
    });

    it('accepts the TLP 1.0 and PAP 1.0 word WHITE as CLEAR', () => {
      expect(parseMarking('UNCLASSIFIED//TLP:WHITE//PAP:WHITE').label).toEqual(
        label({ classification: COMMON('UNCLASSIFIED'), tlp: 'CLEAR', pap: 'CLEAR' }),
      );
    });

    it('accepts an input of exactly the maximum length', () => {
      const input = `SECRET${' '.repeat(2048 - 'SECRET'.length)}`;
      expect(input).toHaveLength(2048);
      expect(parseMarking(input).label.classification).toEqual(COMMON('SECRET'));
    });
  });

  describe('portion abbreviations', () => {
    it.each([
      ['(U)', 'COMMON', 'UNCLASSIFIED'],
      ['(R)', 'COMMON', 'RESTRICTED'],
      ['(C)', 'COMMON', 'CONFIDENTIAL'],
      ['(S)', 'COMMON', 'SECRET'],
      ['(TS)', 'COMMON', 'TOP SECRET'],
      ['(NU)', 'NATO', 'NATO UNCLASSIFIED'],
      ['(NR)', 'NATO', 'NATO RESTRICTED'],
      ['(NC)', 'NATO', 'NATO CONFIDENTIAL'],
      ['(NS)', 'NATO', 'NATO SECRET'],
      ['(CTS)', 'NATO', 'COSMIC TOP SECRET'],
      ['(UK O)', 'UK', 'UK OFFICIAL'],
      ['(UK OS)', 'UK', 'UK OFFICIAL-SENSITIVE'],
      ['(UK S)', 'UK', 'UK SECRET'],
      ['(UK TS)', 'UK', 'UK TOP SECRET'],
    ])('reads %s as %s %s', (input, scheme, level) => {
      expect(parseMarking(input)).toEqual({
        form: 'portion',
        label: label({ classification: { scheme, level } }),
      });
    });

    it.each([
      ['(S//NF)', 'NOFORN'],
      ['(S//OC)', 'ORCON'],
      ['(S//PR)', 'PROPIN'],
      ['(S//IMC)', 'IMCON'],
    ] as const)('reads the control abbreviation in %s as %s', (input, control) => {
      expect(parseMarking(input).label.controls).toEqual([control]);
    });

    it('accepts full level names and control words inside a portion mark', () => {
      expect(parseMarking('(SECRET//NOFORN)')).toEqual(parseMarking('(S//NF)'));
    });

    it('reads a banner written with abbreviations as the same label as the full form', () => {
      expect(parseMarking('TS//SI//OC/REL TO USA').label).toEqual(
        parseMarking('TOP SECRET//SI//ORCON/REL TO USA').label,
      );
    });
  });

  describe('errors', () => {
    it('rejects REL TO together with NOFORN and names the token', () => {
      const input = 'SECRET//REL TO USA, GBR//NOFORN';
      expectRejected(input, 'MARKING_CONTRADICTION', 'NOFORN', positionOf(input, 'NOFORN'));
    });

    it('rejects NOFORN followed by REL TO and names REL TO, the later token', () => {
      const input = 'SECRET//NOFORN/REL TO USA';
      expectRejected(input, 'MARKING_CONTRADICTION', 'REL TO', positionOf(input, 'REL TO'));
    });

    it('rejects an unknown classification level and names it', () => {
      const input = '  SEKRET//NOFORN';
      expectRejected(input, 'MARKING_UNKNOWN_TOKEN', 'SEKRET', positionOf(input, 'SEKRET'));
    });

    it('rejects an unknown country code in REL TO and names it', () => {
      const input = 'SECRET//REL TO USA, XYZ, GBR';
      expectRejected(input, 'MARKING_UNKNOWN_TOKEN', 'XYZ', positionOf(input, 'XYZ'));
    });

    it('rejects an alpha-2 country code in REL TO', () => {
      const input = 'SECRET//REL TO USA, GB';
      expectRejected(input, 'MARKING_UNKNOWN_TOKEN', 'GB', input.lastIndexOf('GB') + 1);
    });

    it('names an unknown lower-case country code upper-cased at its position', () => {
      const input = 'secret//rel to usa, xyz';
      expectRejected(input, 'MARKING_UNKNOWN_TOKEN', 'XYZ', positionOf(input, 'xyz'));
    });

    it('rejects a classification level given twice', () => {
      const input = 'SECRET//TOP SECRET';
      expectRejected(input, 'MARKING_DUPLICATE', 'TOP SECRET', positionOf(input, 'TOP SECRET'));
    });

    it('rejects a second level written as an abbreviation in a portion mark', () => {
      const input = '(S//C)';
      expectRejected(input, 'MARKING_DUPLICATE', 'C', positionOf(input, 'C'));
    });

    it('rejects an empty REL TO list', () => {
      const input = 'SECRET//REL TO';
      expectRejected(input, 'MARKING_EMPTY_REL_TO', 'REL TO', positionOf(input, 'REL TO'));
    });

    it('rejects an empty REL TO list followed by another segment', () => {
      const input = 'SECRET//REL TO  //ORCON';
      expectRejected(input, 'MARKING_EMPTY_REL_TO', 'REL TO', positionOf(input, 'REL TO'));
    });

    it('rejects a REL TO list with an empty entry', () => {
      const input = 'SECRET//REL TO USA, , GBR';
      expectRejected(input, 'MARKING_SYNTAX', ',', positionOf(input, ',', positionOf(input, ',')));
    });

    it('rejects a REL TO list that ends with a comma', () => {
      const input = 'SECRET//REL TO USA,';
      expectRejected(input, 'MARKING_SYNTAX', ',', positionOf(input, ','));
    });

    it('rejects REL TO given twice', () => {
      const input = 'SECRET//REL TO USA//REL TO GBR';
      expectRejected(input, 'MARKING_DUPLICATE', 'REL TO', positionOf(input, 'REL TO GBR'));
    });

    it('rejects RELIDO together with NOFORN and names the later token', () => {
      const input = 'SECRET//NOFORN/RELIDO';
      expectRejected(input, 'MARKING_CONTRADICTION', 'RELIDO', positionOf(input, 'RELIDO'));
    });

    it('rejects a control given twice, once abbreviated', () => {
      const input = '(S//NF/NOFORN)';
      expectRejected(input, 'MARKING_DUPLICATE', 'NOFORN', positionOf(input, 'NOFORN'));
    });

    it('rejects an unknown caveat and names it', () => {
      const input = 'TOP SECRET//SI/ZZ//NOFORN';
      expectRejected(input, 'MARKING_UNKNOWN_TOKEN', 'ZZ', positionOf(input, 'ZZ'));
    });

    it('rejects a compartment of an unknown caveat', () => {
      const input = 'TOP SECRET//XX-G';
      expectRejected(input, 'MARKING_UNKNOWN_TOKEN', 'XX-G', positionOf(input, 'XX-G'));
    });

    it('rejects a caveat given twice', () => {
      const input = 'TOP SECRET//SI/TK/SI';
      expectRejected(input, 'MARKING_DUPLICATE', 'SI', input.lastIndexOf('SI') + 1);
    });

    it('rejects an unknown TLP level and names the TLP token', () => {
      const input = 'UNCLASSIFIED//TLP:PURPLE';
      expectRejected(input, 'MARKING_UNKNOWN_TOKEN', 'TLP:PURPLE', positionOf(input, 'TLP:'));
    });

    it('rejects a TLP given twice and names the second', () => {
      const input = 'UNCLASSIFIED//TLP:GREEN//TLP:RED';
      expectRejected(input, 'MARKING_DUPLICATE', 'TLP:RED', positionOf(input, 'TLP:RED'));
    });

    it('rejects an unknown PAP level', () => {
      const input = 'UNCLASSIFIED//PAP:AMBER+STRICT';
      expectRejected(input, 'MARKING_UNKNOWN_TOKEN', 'PAP:AMBER+STRICT', positionOf(input, 'PAP:'));
    });

    it('rejects an empty segment and points at it', () => {
      const input = 'SECRET////NOFORN';
      expectRejected(input, 'MARKING_SYNTAX', '', positionOf(input, '//') + 2);
    });

    it('rejects a trailing // and points just past it', () => {
      const input = 'SECRET//NOFORN//';
      expectRejected(input, 'MARKING_SYNTAX', '', input.length + 1);
    });

    it('rejects a trailing single / after a token', () => {
      const input = 'SECRET//NOFORN/';
      expectRejected(input, 'MARKING_SYNTAX', '', input.length + 1);
    });

    it('rejects a marking with no classification', () => {
      expectRejected('//NOFORN', 'MARKING_SYNTAX', '', 1);
    });

    it('rejects an empty or blank marking', () => {
      expectRejected('', 'MARKING_SYNTAX', '', 1);
      expectRejected('   ', 'MARKING_SYNTAX', '', 1);
      expectRejected('()', 'MARKING_SYNTAX', '', 2);
    });

    it('rejects an opening parenthesis without a closing one', () => {
      const input = ' (S//NF';
      expectRejected(input, 'MARKING_SYNTAX', '(', positionOf(input, '('));
    });

    it('rejects a closing parenthesis without an opening one', () => {
      const input = 'S//NF)';
      expectRejected(input, 'MARKING_SYNTAX', ')', positionOf(input, ')'));
    });

    it('rejects a parenthesis inside a portion mark', () => {
      const input = '(S//(NF))';
      expectRejected(input, 'MARKING_SYNTAX', '(', positionOf(input, '(', 1));
    });

    it('rejects a Cyrillic confusable in a country code and names the character', () => {
      const input = 'SECRET//REL TO GBR, US\u0410';
      expectRejected(input, 'MARKING_SYNTAX', '\u0410', positionOf(input, '\u0410'));
      expect(rejectionOf(input).message).toContain('U+0410');
    });

    it('rejects a Turkish dotless i that would upper-case into a valid caveat', () => {
      const input = 'top secret//s\u0131//noforn';
      expect('s\u0131'.toUpperCase()).toBe('SI');
      expectRejected(input, 'MARKING_SYNTAX', '\u0131', positionOf(input, '\u0131'));
    });

    it('rejects control characters such as a tab', () => {
      const input = 'SECRET//\tNOFORN';
      expectRejected(input, 'MARKING_SYNTAX', '\t', positionOf(input, '\t'));
    });

    it('rejects an over-long input before reading it', () => {
      const input = `SECRET//${'SI/'.repeat(700)}NOFORN`;
      expect(input.length).toBeGreaterThan(2048);
      expectRejected(input, 'MARKING_SYNTAX', '', 2049);
    });
  });
});
