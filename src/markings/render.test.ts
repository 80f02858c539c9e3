import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arbLabel, makeLabel } from '../../test/fixtures/label-arbitraries.js';
import { orderRelTo, parseMarking, renderBanner, renderPortionMark } from './index.js';

describe('orderRelTo', () => {
  it('puts the originator first, then trigraphs, then communities, each alphabetically', () => {
    expect(orderRelTo(['AUS', 'CAN', 'GBR', 'USA', 'FVEY', 'NATO'], 'GBR')).toEqual([
      'GBR',
      'AUS',
      'CAN',
      'USA',
      'FVEY',
      'NATO',
    ]);
  });

  it('keeps storage order when there is no originator or it is not in the list', () => {
    const stored = ['AUS', 'CAN', 'USA', 'EU', 'FVEY'];
    expect(orderRelTo(stored)).toEqual(stored);
    expect(orderRelTo(stored, 'FRA')).toEqual(stored);
  });
});

describe('renderBanner', () => {
  it('renders the design example with the originator first in REL TO', () => {
    const l = makeLabel('TOP SECRET//SI//REL TO USA, GBR, FVEY//ORCON');
    expect(renderBanner(l, { originator: 'USA' })).toBe('TOP SECRET//SI//ORCON/REL TO USA, GBR, FVEY');
  });

  it('renders trigraphs alphabetically, then communities alphabetically, when there is no originator', () => {
    const l = makeLabel('SECRET//REL TO NATO, USA, FVEY, AUS, EU, CAN');
    expect(renderBanner(l)).toBe('SECRET//REL TO AUS, CAN, USA, EU, FVEY, NATO');
  });

  it('moves only the originator forward and leaves the rest in canonical order', () => {
    const l = makeLabel('SECRET//REL TO NATO, USA, FVEY, AUS, NZL');
    expect(renderBanner(l, { originator: 'NZL' })).toBe('SECRET//REL TO NZL, AUS, USA, FVEY, NATO');
  });

  it('writes dissemination controls in CAPCO order with REL TO between PROPIN and RELIDO', () => {
    const l = makeLabel('SECRET//RELIDO/REL TO USA, GBR/PROPIN/IMCON/ORCON');
    expect(renderBanner(l)).toBe('SECRET//ORCON/IMCON/PROPIN/REL TO GBR, USA/RELIDO');
  });

  it('writes NOFORN between IMCON and PROPIN', () => {
    const l = makeLabel('SECRET//PROPIN/NOFORN/IMCON/ORCON');
    expect(renderBanner(l)).toBe('SECRET//ORCON/IMCON/NOFORN/PROPIN');
  });

  it('writes REL TO last when there is no RELIDO', () => {
    expect(renderBanner(makeLabel('SECRET//REL TO USA//ORCON'))).toBe('SECRET//ORCON/REL TO USA');
  });

  it('writes caveats alphabetically in their own segment before dissemination controls', () => {
    expect(renderBanner(makeLabel('TOP SECRET//NOFORN//TK/SI-G/SI'))).toBe('TOP SECRET//SI/SI-G/TK//NOFORN');
  });

  it('writes TLP and PAP last, each in its own segment', () => {
    expect(renderBanner(makeLabel('UNCLASSIFIED//PAP:GREEN//TLP:AMBER+STRICT'))).toBe(
      'UNCLASSIFIED//TLP:AMBER+STRICT//PAP:GREEN',
    );
  });

  it('writes national scheme levels by their full name', () => {
    expect(renderBanner(makeLabel('(NS//NF)'))).toBe('NATO SECRET//NOFORN');
    expect(renderBanner(makeLabel('(UK OS)'))).toBe('UK OFFICIAL-SENSITIVE');
  });
});

describe('renderPortionMark', () => {
  it('uses the level and control abbreviations, keeping REL TO and RELIDO in full', () => {
    const l = makeLabel('TOP SECRET//SI//ORCON/IMCON/PROPIN/REL TO USA, GBR/RELIDO');
    expect(renderPortionMark(l)).toBe('(TS//SI//OC/IMC/PR/REL TO GBR, USA/RELIDO)');
  });

  it('abbreviates NOFORN to NF', () => {
    expect(renderPortionMark(makeLabel('SECRET//NOFORN'))).toBe('(S//NF)');
  });

  it('puts the originator first in a portion REL TO', () => {
    expect(renderPortionMark(makeLabel('SECRET//REL TO USA, GBR'), { originator: 'USA' })).toBe(
      '(S//REL TO USA, GBR)',
    );
  });

  it.each([
    ['UNCLASSIFIED', '(U)'],
    ['RESTRICTED', '(R)'],
    ['CONFIDENTIAL', '(C)'],
    ['TOP SECRET', '(TS)'],
    ['NATO UNCLASSIFIED', '(NU)'],
    ['NATO RESTRICTED', '(NR)'],
    ['NATO CONFIDENTIAL', '(NC)'],
    ['NATO SECRET', '(NS)'],
    ['COSMIC TOP SECRET', '(CTS)'],
    ['UK OFFICIAL', '(UK O)'],
    ['UK OFFICIAL-SENSITIVE', '(UK OS)'],
    ['UK SECRET', '(UK S)'],
    ['UK TOP SECRET', '(UK TS)'],
  ])('writes %s as %s', (level, portion) => {
    expect(renderPortionMark(makeLabel(level))).toBe(portion);
  });
});

describe('rendering round trip', () => {
  const originator = fc.option(fc.constantFrom('USA', 'GBR', 'CAN', 'FRA', 'NOR'), { nil: undefined });

  it('parses a rendered banner back to the same label', () => {
    fc.assert(
      fc.property(arbLabel(), originator, (l, o) => {
        const banner = renderBanner(l, o === undefined ? {} : { originator: o });
        expect(parseMarking(banner)).toEqual({ form: 'banner', label: l });
      }),
      { numRuns: 1000 },
    );
  });

  it('parses a rendered portion mark back to the same label', () => {
    fc.assert(
      fc.property(arbLabel(), originator, (l, o) => {
        const portion = renderPortionMark(l, o === undefined ? {} : { originator: o });
        expect(parseMarking(portion)).toEqual({ form: 'portion', label: l });
      }),
      { numRuns: 1000 },
    );
  });

  it('renders the same banner after a parse of its own output', () => {
    fc.assert(
      fc.property(arbLabel(), (l) => {
        const banner = renderBanner(l);
        expect(renderBanner(parseMarking(banner).label)).toBe(banner);
        const portion = renderPortionMark(l);
        expect(renderPortionMark(parseMarking(portion).label)).toBe(portion);
      }),
      { numRuns: 1000 },
    );
  });
});
