/** One level of a classification scheme. `rank` is its nominal place on the common scale (0 = unclassified). */
export interface SchemeLevel {
  readonly name: string;
  readonly abbrev: string;
  readonly rank: number;
}

/** A classification scheme: its id and levels, lowest first. */
export interface ClassificationScheme {
  readonly id: string;
  readonly levels: readonly SchemeLevel[];
}

/** The common scale every arrangement maps onto: UNCLASSIFIED < RESTRICTED < CONFIDENTIAL < SECRET < TOP SECRET. */
export const COMMON_SCHEME: ClassificationScheme = {
  id: 'COMMON',
  levels: [
    { name: 'UNCLASSIFIED', abbrev: 'U', rank: 0 },
    { name: 'RESTRICTED', abbrev: 'R', rank: 1 },
    { name: 'CONFIDENTIAL', abbrev: 'C', rank: 2 },
    { name: 'SECRET', abbrev: 'S', rank: 3 },
    { name: 'TOP SECRET', abbrev: 'TS', rank: 4 },
  ],
};

// NATO security classifications (C-M(2002)49): NU, NR, NC, NS, CTS.
export const NATO_SCHEME: ClassificationScheme = {
  id: 'NATO',
  levels: [
    { name: 'NATO UNCLASSIFIED', abbrev: 'NU', rank: 0 },
    { name: 'NATO RESTRICTED', abbrev: 'NR', rank: 1 },
    { name: 'NATO CONFIDENTIAL', abbrev: 'NC', rank: 2 },
    { name: 'NATO SECRET', abbrev: 'NS', rank: 3 },
    { name: 'COSMIC TOP SECRET', abbrev: 'CTS', rank: 4 },
  ],
};

// UK Government Security Classifications (2014 scheme). OFFICIAL-SENSITIVE is a handling
// caveat of OFFICIAL in the policy; as a level it sits at the nominal place of RESTRICTED.
export const UK_SCHEME: ClassificationScheme = {
  id: 'UK',
  levels: [
    { name: 'UK OFFICIAL', abbrev: 'UK O', rank: 0 },
    { name: 'UK OFFICIAL-SENSITIVE', abbrev: 'UK OS', rank: 1 },
    { name: 'UK SECRET', abbrev: 'UK S', rank: 3 },
    { name: 'UK TOP SECRET', abbrev: 'UK TS', rank: 4 },
  ],
};

export const BUILTIN_SCHEMES: readonly ClassificationScheme[] = [COMMON_SCHEME, NATO_SCHEME, UK_SCHEME];

/** The common scale's level names, lowest first. */
export const COMMON_LEVEL_NAMES = [
  'UNCLASSIFIED',
  'RESTRICTED',
  'CONFIDENTIAL',
  'SECRET',
  'TOP SECRET',
] as const;

/** Name of the common-scale level with the given rank; throws on a rank outside the scale. */
export function commonLevelName(rank: number): string {
  const level = COMMON_SCHEME.levels[rank];
  if (level === undefined) throw new RangeError(`no common level of rank ${rank}`);
  return level.name;
}
