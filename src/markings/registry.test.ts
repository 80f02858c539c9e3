import { describe, expect, it } from 'vitest';
import {
  BUILTIN_CAVEATS,
  createRegistry,
  DEFAULT_REGISTRY,
  isCommunityCode,
  isCountryCode,
  isMemberAt,
  membersAt,
  parseMarking,
} from './index.js';

/** Epoch milliseconds of the start of an ISO day (UTC). */
const dayStart = (day: string): number => Date.parse(`${day}T00:00:00Z`);
/** Epoch milliseconds of the last millisecond of an ISO day (UTC). */
const dayEnd = (day: string): number => dayStart(day) + 86_400_000 - 1;

describe('isCountryCode', () => {
  it.each(['USA', 'GBR', 'CAN', 'AUS', 'NZL', 'FRA', 'DEU', 'NLD', 'NOR', 'POL', 'FIN', 'SWE'])(
    'accepts the ISO 3166-1 alpha-3 code %s',
    (code) => {
      expect(isCountryCode(DEFAULT_REGISTRY, code)).toBe(true);
    },
  );

  it.each([
    ['XYZ', 'an unassigned code'],
    ['usa', 'a lower-case code'],
    ['US', 'an alpha-2 code'],
    ['840', 'a numeric code'],
    ['FVEY', 'a community code'],
    ['XKX', 'a user-assigned code not in configuration'],
    ['', 'the empty string'],
  ])('rejects %s (%s)', (code) => {
    expect(isCountryCode(DEFAULT_REGISTRY, code)).toBe(false);
  });
});

describe('isCommunityCode', () => {
  it('knows the built-in communities and nothing else', () => {
    expect(['FVEY', 'ACGU', 'NATO', 'EU'].map((c) => isCommunityCode(DEFAULT_REGISTRY, c))).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect(isCommunityCode(DEFAULT_REGISTRY, 'USA')).toBe(false);
    expect(isCommunityCode(DEFAULT_REGISTRY, 'fvey')).toBe(false);
  });
});

describe('isMemberAt', () => {
  it('has all five partners in FVEY today', () => {
    const now = Date.now();
    for (const partner of ['USA', 'GBR', 'CAN', 'AUS', 'NZL']) {
      expect(isMemberAt(DEFAULT_REGISTRY, 'FVEY', partner, now)).toBe(true);
    }
    expect(isMemberAt(DEFAULT_REGISTRY, 'FVEY', 'FRA', now)).toBe(false);
    expect(membersAt(DEFAULT_REGISTRY, 'FVEY', now).sort()).toEqual(['AUS', 'CAN', 'GBR', 'NZL', 'USA']);
  });

  it('has Finland in NATO from 2023-04-04, not the day before', () => {
    expect(isMemberAt(DEFAULT_REGISTRY, 'NATO', 'FIN', dayEnd('2023-04-03'))).toBe(false);
    expect(isMemberAt(DEFAULT_REGISTRY, 'NATO', 'FIN', dayStart('2023-04-04'))).toBe(true);
  });

  it('has Sweden in NATO from 2024-03-07', () => {
    expect(isMemberAt(DEFAULT_REGISTRY, 'NATO', 'SWE', dayEnd('2024-03-06'))).toBe(false);
    expect(isMemberAt(DEFAULT_REGISTRY, 'NATO', 'SWE', dayStart('2024-03-07'))).toBe(true);
  });

  it('has the United Kingdom in the EU in 2019 and out of it from 2020-02-01', () => {
    expect(isMemberAt(DEFAULT_REGISTRY, 'EU', 'GBR', dayStart('2019-06-01'))).toBe(true);
    expect(isMemberAt(DEFAULT_REGISTRY, 'EU', 'GBR', dayEnd('2020-01-31'))).toBe(true);
    expect(isMemberAt(DEFAULT_REGISTRY, 'EU', 'GBR', dayStart('2020-02-01'))).toBe(false);
    expect(isMemberAt(DEFAULT_REGISTRY, 'EU', 'GBR', dayStart('1972-12-31'))).toBe(false);
  });

  it('answers false for an unknown community or partner', () => {
    expect(isMemberAt(DEFAULT_REGISTRY, 'NORDEFCO', 'NOR', Date.now())).toBe(false);
    expect(isMemberAt(DEFAULT_REGISTRY, 'NATO', 'XYZ', Date.now())).toBe(false);
  });
});

describe('createRegistry', () => {
  const registry = createRegistry({
    communities: [
      {
        code: 'NORDEFCO',
        name: 'Nordic Defence Cooperation',
        members: ['DNK', 'FIN', 'ISL', 'NOR', 'SWE'].map((partner) => ({ partner, from: '2009-11-04' })),
      },
    ],
    caveats: ['BALK'],
    countries: ['XKX'],
  });

  it('keeps the built-in data', () => {
    for (const caveat of BUILTIN_CAVEATS) expect(registry.caveats.has(caveat)).toBe(true);
    expect(isCommunityCode(registry, 'FVEY')).toBe(true);
    expect(isCountryCode(registry, 'USA')).toBe(true);
  });

  it('adds a community with dated membership', () => {
    expect(isCommunityCode(registry, 'NORDEFCO')).toBe(true);
    expect(isMemberAt(registry, 'NORDEFCO', 'FIN', dayStart('2009-11-04'))).toBe(true);
    expect(isMemberAt(registry, 'NORDEFCO', 'FIN', dayEnd('2009-11-03'))).toBe(false);
  });

  it('adds an extra partner code', () => {
    expect(isCountryCode(registry, 'XKX')).toBe(true);
    expect(isCountryCode(DEFAULT_REGISTRY, 'XKX')).toBe(false);
  });

  it('lets the parser accept the added caveat, partner and community', () => {
    const input = 'SECRET//BALK-2//REL TO XKX, NOR, NORDEFCO';
    expect(parseMarking(input, registry).label).toEqual({
      classification: { scheme: 'COMMON', level: 'SECRET' },
      relTo: ['NOR', 'XKX', 'NORDEFCO'],
      caveats: ['BALK-2'],
      controls: [],
      tlp: null,
      pap: null,
    });
    expect(() => parseMarking(input)).toThrow(expect.objectContaining({ code: 'MARKING_UNKNOWN_TOKEN' }));
  });

  it('does not change the default registry', () => {
    expect(isCommunityCode(DEFAULT_REGISTRY, 'NORDEFCO')).toBe(false);
    expect(DEFAULT_REGISTRY.caveats.has('BALK')).toBe(false);
  });

  it('lets a configured community replace a built-in one of the same code', () => {
    const replaced = createRegistry({
      communities: [{ code: 'FVEY', name: 'Five Eyes', members: [{ partner: 'USA', from: '1946-03-05' }] }],
    });
    expect(membersAt(replaced, 'FVEY', Date.now())).toEqual(['USA']);
  });

  it('adds a classification scheme whose levels the parser reads', () => {
    const withScheme = createRegistry({
      schemes: [
        {
          id: 'EU',
          levels: [
            { name: 'RESTREINT UE', abbrev: 'R-UE', rank: 1 },
            { name: 'SECRET UE', abbrev: 'S-UE', rank: 3 },
          ],
        },
      ],
    });
    expect(parseMarking('(S-UE)', withScheme).label.classification).toEqual({
      scheme: 'EU',
      level: 'SECRET UE',
    });
  });

  it.each(['FIVE EYES', 'F', 'ABC', 'fvey', 'ABCDEFGHI'])('rejects the community code %j', (code) => {
    expect(() => createRegistry({ communities: [{ code, name: 'bad', members: [] }] })).toThrow(RangeError);
  });

  it.each(['2009-13-45', '2023-02-30', '2023-04-31', '04/11/2009', '2009-11-4'])(
    'rejects the membership date %j',
    (from) => {
      expect(() =>
        createRegistry({
          communities: [{ code: 'NORDEFCO', name: 'bad', members: [{ partner: 'NOR', from }] }],
        }),
      ).toThrow(RangeError);
    },
  );
});
