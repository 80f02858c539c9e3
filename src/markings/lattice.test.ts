import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arbLabel, makeLabel } from '../../test/fixtures/label-arbitraries.js';
import {
  bannerOf,
  DEFAULT_REGISTRY,
  dominates,
  joinLabels,
  type Label,
  labelsEquivalent,
  meetLabels,
  parseMarking,
  releasabilityOf,
  renderBanner,
} from './index.js';

// DESIGN.md invariant 7: join, meet and dominance obey the lattice laws; banner = join of portions.
const RUNS = { numRuns: 1000 } as const;

const label = arbLabel();
const common = arbLabel({ scheme: 'COMMON' });

function equivalent(a: Label, b: Label): boolean {
  return labelsEquivalent(a, b);
}

/** Renders and re-parses: throws if the label is not a valid marking. */
function reparse(l: Label): Label {
  return parseMarking(renderBanner(l)).label;
}

// Instants around membership changes in the built-in communities, so that community codes in
// REL TO lists expand to different partner sets.
const instant = fc
  .constantFrom(
    '1950-01-01',
    '2019-06-01',
    '2020-02-01',
    '2023-04-03',
    '2023-04-04',
    '2024-03-07',
    '2025-06-01',
  )
  .map((day) => Date.parse(`${day}T12:00:00Z`));

type Op = (a: Label, b: Label) => Label;

interface LatticeAt {
  readonly join: Op;
  readonly meet: Op;
  readonly dom: (a: Label, b: Label) => boolean;
  readonly eq: (a: Label, b: Label) => boolean;
}

/** The lattice operations, reading community codes at `at` when it is given. */
function latticeAt(at: number | undefined): LatticeAt {
  return {
    join: (a, b) => joinLabels(a, b, DEFAULT_REGISTRY, at),
    meet: (a, b) => meetLabels(a, b, DEFAULT_REGISTRY, at),
    dom: (a, b) => dominates(a, b, DEFAULT_REGISTRY, at),
    eq: (a, b) => labelsEquivalent(a, b, DEFAULT_REGISTRY, at),
  };
}

describe('joinLabels and meetLabels', () => {
  describe.each([
    ['labels on any scheme, communities as codes', label, fc.constant(undefined)],
    ['labels on the common scheme, communities as codes', common, fc.constant(undefined)],
    ['labels on any scheme, communities read at an instant', label, instant],
  ] as const)('over %s', (_, arb, at) => {
    const ops = at.map(latticeAt);

    it('are commutative', () => {
      fc.assert(
        fc.property(ops, arb, arb, ({ join, meet, eq }, a, b) => {
          expect(eq(join(a, b), join(b, a))).toBe(true);
          expect(eq(meet(a, b), meet(b, a))).toBe(true);
        }),
        RUNS,
      );
    });

    it('are associative', () => {
      fc.assert(
        fc.property(ops, arb, arb, arb, ({ join, meet, eq }, a, b, c) => {
          expect(eq(join(join(a, b), c), join(a, join(b, c)))).toBe(true);
          expect(eq(meet(meet(a, b), c), meet(a, meet(b, c)))).toBe(true);
        }),
        RUNS,
      );
    });

    it('are idempotent', () => {
      fc.assert(
        fc.property(ops, arb, ({ join, meet, eq }, a) => {
          expect(eq(join(a, a), a)).toBe(true);
          expect(eq(meet(a, a), a)).toBe(true);
        }),
        RUNS,
      );
    });

    it('obey absorption', () => {
      fc.assert(
        fc.property(ops, arb, arb, ({ join, meet, eq }, a, b) => {
          expect(eq(meet(a, join(a, b)), a)).toBe(true);
          expect(eq(join(a, meet(a, b)), a)).toBe(true);
        }),
        RUNS,
      );
    });

    it('give a join that dominates both inputs and a meet that both inputs dominate', () => {
      fc.assert(
        fc.property(ops, arb, arb, ({ join, meet, dom }, a, b) => {
          const j = join(a, b);
          const m = meet(a, b);
          expect([dom(j, a), dom(j, b), dom(a, m), dom(b, m)]).toEqual([true, true, true, true]);
        }),
        RUNS,
      );
    });

    it('give the least upper bound and the greatest lower bound', () => {
      fc.assert(
        fc.property(ops, arb, arb, arb, ({ join, meet, dom }, a, b, c) => {
          if (dom(c, a) && dom(c, b)) expect(dom(c, join(a, b))).toBe(true);
          if (dom(a, c) && dom(b, c)) expect(dom(meet(a, b), c)).toBe(true);
        }),
        RUNS,
      );
    });

    it('agree with dominance: dominates(a, b) ⇔ a ∨ b ≡ a ⇔ a ∧ b ≡ b', () => {
      fc.assert(
        fc.property(ops, arb, arb, ({ join, meet, dom, eq }, a, b) => {
          const d = dom(a, b);
          expect(eq(join(a, b), a)).toBe(d);
          expect(eq(meet(a, b), b)).toBe(d);
        }),
        RUNS,
      );
    });

    it('always give a valid marking that parses back to the same label', () => {
      fc.assert(
        fc.property(ops, arb, arb, ({ join, meet, eq }, a, b) => {
          for (const result of [join(a, b), meet(a, b)]) {
            const back = reparse(result);
            expect(back).toEqual(result);
            expect(eq(back, result)).toBe(true);
          }
        }),
        RUNS,
      );
    });
  });
});

describe('dominates', () => {
  it('is reflexive and transitive', () => {
    fc.assert(
      fc.property(label, label, label, (a, b, c) => {
        expect(dominates(a, a)).toBe(true);
        if (dominates(a, b) && dominates(b, c)) expect(dominates(a, c)).toBe(true);
      }),
      RUNS,
    );
  });

  it('puts a higher level above a lower one with the same markings', () => {
    expect(dominates(makeLabel('SECRET'), makeLabel('CONFIDENTIAL'))).toBe(true);
    expect(dominates(makeLabel('CONFIDENTIAL'), makeLabel('SECRET'))).toBe(false);
  });

  it('puts a narrower REL TO above a wider one', () => {
    expect(dominates(makeLabel('S//REL TO USA'), makeLabel('S//REL TO USA, GBR'))).toBe(true);
    expect(dominates(makeLabel('S//REL TO USA, GBR'), makeLabel('S//REL TO USA'))).toBe(false);
  });

  it('compares levels across schemes by nominal rank', () => {
    expect(labelsEquivalent(makeLabel('NATO SECRET'), makeLabel('SECRET'))).toBe(true);
    expect(labelsEquivalent(makeLabel('UK OFFICIAL-SENSITIVE'), makeLabel('RESTRICTED'))).toBe(true);
    expect(dominates(makeLabel('UK SECRET'), makeLabel('NATO CONFIDENTIAL'))).toBe(true);
  });
});

describe('bannerOf', () => {
  const portions = fc.array(label, { minLength: 1, maxLength: 6 });

  const maybeInstant = fc.option(instant, { nil: undefined });

  it('dominates every portion', () => {
    fc.assert(
      fc.property(portions, maybeInstant, (ls, at) => {
        const banner = bannerOf(ls, DEFAULT_REGISTRY, at);
        for (const l of ls) expect(dominates(banner, l, DEFAULT_REGISTRY, at)).toBe(true);
      }),
      RUNS,
    );
  });

  it('is the fold of joins over the portions', () => {
    fc.assert(
      fc.property(portions, maybeInstant, (ls, at) => {
        const [first, ...rest] = ls;
        if (first === undefined) return;
        const folded = rest.reduce((acc, l) => joinLabels(acc, l, DEFAULT_REGISTRY, at), first);
        expect(bannerOf(ls, DEFAULT_REGISTRY, at)).toEqual(folded);
      }),
      RUNS,
    );
  });

  it('does not depend on portion order', () => {
    fc.assert(
      fc.property(
        portions.chain((ls) => fc.tuple(fc.constant(ls), fc.shuffledSubarray(ls, { minLength: ls.length }))),
        ([ls, shuffled]) => {
          expect(equivalent(bannerOf(ls), bannerOf(shuffled))).toBe(true);
        },
      ),
      RUNS,
    );
  });

  it('joins the design example portions to SECRET//REL TO GBR, USA', () => {
    const banner = bannerOf([
      makeLabel('(S//REL TO USA, GBR)'),
      makeLabel('(C//REL TO USA, CAN, GBR)'),
      makeLabel('(U)'),
    ]);
    expect(renderBanner(banner)).toBe('SECRET//REL TO GBR, USA');
  });

  it('rejects an empty list of portions', () => {
    expect(() => bannerOf([])).toThrow(expect.objectContaining({ code: 'MARKING_SYNTAX' }));
  });
});

describe('joinLabels corner cases', () => {
  it('marks NOFORN when an explicit REL TO meets an unmarked classified portion', () => {
    expect(renderBanner(joinLabels(makeLabel('S//REL TO GBR'), makeLabel('S')))).toBe('SECRET//NOFORN');
  });

  it('does not add NOFORN to a join of two unmarked classified portions', () => {
    expect(renderBanner(joinLabels(makeLabel('S'), makeLabel('S')))).toBe('SECRET');
  });

  it('marks NOFORN when REL TO lists have no code in common', () => {
    const join = joinLabels(makeLabel('S//REL TO USA'), makeLabel('S//REL TO GBR, FVEY'));
    expect(join.relTo).toBeNull();
    expect(renderBanner(join)).toBe('SECRET//NOFORN');
    expect(releasabilityOf(join)).toEqual(new Set());
  });

  it('intersects REL TO code by code without expanding communities', () => {
    const join = joinLabels(makeLabel('S//REL TO USA, FVEY'), makeLabel('S//REL TO FVEY, NATO'));
    expect(renderBanner(join)).toBe('SECRET//REL TO FVEY');
  });

  it('keeps a NATO join on the NATO scheme', () => {
    const join = joinLabels(makeLabel('NATO SECRET'), makeLabel('NATO CONFIDENTIAL'));
    expect(join.classification).toEqual({ scheme: 'NATO', level: 'NATO SECRET' });
    expect(renderBanner(join)).toBe('NATO SECRET');
  });

  it('states a join across schemes on the common scale', () => {
    expect(joinLabels(makeLabel('NATO SECRET'), makeLabel('UK OFFICIAL')).classification).toEqual({
      scheme: 'COMMON',
      level: 'SECRET',
    });
    expect(
      joinLabels(makeLabel('UK OFFICIAL-SENSITIVE'), makeLabel('NATO UNCLASSIFIED')).classification,
    ).toEqual({ scheme: 'COMMON', level: 'RESTRICTED' });
    expect(joinLabels(makeLabel('SECRET'), makeLabel('COSMIC TOP SECRET')).classification).toEqual({
      scheme: 'COMMON',
      level: 'TOP SECRET',
    });
  });

  it('keeps RELIDO only when both labels carry it', () => {
    const both = joinLabels(makeLabel('S//REL TO USA, GBR/RELIDO'), makeLabel('S//REL TO USA/RELIDO'));
    expect(renderBanner(both)).toBe('SECRET//REL TO USA/RELIDO');
    const one = joinLabels(makeLabel('S//REL TO USA, GBR/RELIDO'), makeLabel('S//REL TO USA'));
    expect(renderBanner(one)).toBe('SECRET//REL TO USA');
  });

  it('drops RELIDO when nothing remains releasable', () => {
    const join = joinLabels(makeLabel('S//REL TO USA/RELIDO'), makeLabel('S//REL TO GBR/RELIDO'));
    expect(renderBanner(join)).toBe('SECRET//NOFORN');
  });

  it('unites caveats and restrictive controls and takes the stricter TLP and PAP', () => {
    const join = joinLabels(
      makeLabel('TS//SI//ORCON/REL TO USA, GBR//TLP:GREEN//PAP:AMBER'),
      makeLabel('S//TK//PROPIN/REL TO GBR//TLP:AMBER+STRICT'),
    );
    expect(renderBanner(join)).toBe(
      'TOP SECRET//SI/TK//ORCON/PROPIN/REL TO GBR//TLP:AMBER+STRICT//PAP:AMBER',
    );
  });

  it('keeps an unclassified join releasable to all when neither side restricts it', () => {
    const join = joinLabels(makeLabel('U//TLP:CLEAR'), makeLabel('U'));
    expect(releasabilityOf(join)).toBe('ALL');
    expect(renderBanner(join)).toBe('UNCLASSIFIED//TLP:CLEAR');
  });

  it('writes NOFORN on an unclassified join that is releasable to no one', () => {
    expect(renderBanner(joinLabels(makeLabel('U//REL TO USA'), makeLabel('U//NOFORN')))).toBe(
      'UNCLASSIFIED//NOFORN',
    );
  });
});

describe('joinLabels with communities read at an instant', () => {
  const day = (d: string) => Date.parse(`${d}T12:00:00Z`);

  it('keeps a partner that a community on the other side covers', () => {
    const a = makeLabel('S//REL TO USA, FVEY');
    const b = makeLabel('S//REL TO USA, GBR');
    expect(renderBanner(joinLabels(a, b, DEFAULT_REGISTRY, day('2025-06-01')))).toBe(
      'SECRET//REL TO GBR, USA',
    );
    expect(renderBanner(joinLabels(a, b))).toBe('SECRET//REL TO USA');
  });

  it('names a community in the result only when all its members remain', () => {
    const join = joinLabels(
      makeLabel('S//REL TO FVEY'),
      makeLabel('S//REL TO FVEY, NATO'),
      DEFAULT_REGISTRY,
      day('2025-06-01'),
    );
    expect(renderBanner(join)).toBe('SECRET//REL TO FVEY');
  });

  it('follows the United Kingdom out of the EU on 2020-02-01', () => {
    const a = makeLabel('S//REL TO EU');
    const b = makeLabel('S//REL TO GBR, FRA');
    expect(renderBanner(joinLabels(a, b, DEFAULT_REGISTRY, day('2019-06-01')))).toBe(
      'SECRET//REL TO FRA, GBR',
    );
    expect(renderBanner(joinLabels(a, b, DEFAULT_REGISTRY, day('2020-02-01')))).toBe('SECRET//REL TO FRA');
  });

  it('follows Finland into NATO on 2023-04-04', () => {
    const a = makeLabel('S//REL TO NATO');
    const b = makeLabel('S//REL TO FIN, USA');
    expect(renderBanner(joinLabels(a, b, DEFAULT_REGISTRY, day('2023-04-03')))).toBe('SECRET//REL TO USA');
    expect(renderBanner(joinLabels(a, b, DEFAULT_REGISTRY, day('2023-04-04')))).toBe(
      'SECRET//REL TO FIN, USA',
    );
  });
});

describe('meetLabels corner cases', () => {
  it('takes the lower level and unites REL TO lists', () => {
    const meet = meetLabels(makeLabel('S//REL TO USA'), makeLabel('C//REL TO GBR'));
    expect(renderBanner(meet)).toBe('CONFIDENTIAL//REL TO GBR, USA');
  });

  it('keeps only caveats and restrictive controls common to both', () => {
    const meet = meetLabels(
      makeLabel('TS//SI/TK//ORCON/PROPIN/REL TO USA'),
      makeLabel('TS//SI//ORCON/REL TO USA'),
    );
    expect(renderBanner(meet)).toBe('TOP SECRET//SI//ORCON/REL TO USA');
  });

  it('is releasable to all when one side is unclassified and unrestricted', () => {
    const meet = meetLabels(makeLabel('U'), makeLabel('S//NOFORN'));
    expect(releasabilityOf(meet)).toBe('ALL');
    expect(renderBanner(meet)).toBe('UNCLASSIFIED');
  });

  it('does not grant RELIDO from a label that had nothing releasable', () => {
    // `S//RELIDO` releases to no one, so its RELIDO permits nothing; it must not
    // turn into a permission on the REL TO list that the other label contributes.
    const meet = meetLabels(makeLabel('S//RELIDO'), makeLabel('S//REL TO USA'));
    expect(renderBanner(meet)).toBe('SECRET//REL TO USA');
  });
});
