import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  arbMembershipShiftCase,
  arbReadCase,
  arbReleaseCase,
  type ReadCase,
  type ReleaseCase,
} from '../../test/fixtures/policy-arbitraries.js';
import { type ArrangementDocument, arrangementVersionHash } from '../arrangements/index.js';
import {
  BUILTIN_COMMUNITIES,
  BUILTIN_SCHEMES,
  bannerOf,
  DEFAULT_REGISTRY,
  type Label,
  labelsEquivalent,
  renderBanner,
} from '../markings/index.js';
import type { Product } from '../products/index.js';
import {
  compileArrangement,
  type Decision,
  decideRead,
  decideRelease,
  RULE_IDS,
  type RuleId,
  WITHHELD_TITLE,
} from './index.js';

// DESIGN.md §2, invariants 1 (no leak), 2 (third-party rule) and 3 (explainable), plus the tear
// line's own promises. The oracle below is written from the design and the source comments, not
// from the policy's helpers: ranks from the published scheme tables and the arrangement's
// equivalence table, community membership from the dated lists, caveats and controls by set.
const RUNS = { numRuns: 1000 } as const;

const COMMON_ORDER: readonly string[] = [
  'UNCLASSIFIED',
  'RESTRICTED',
  'CONFIDENTIAL',
  'SECRET',
  'TOP SECRET',
];
const NOMINAL: ReadonlyMap<string, number> = new Map(
  BUILTIN_SCHEMES.flatMap((s) => s.levels.map((l) => [`${s.id}/${l.name}`, l.rank] as const)),
);

const RELEASE_RULES: readonly RuleId[] = RULE_IDS.filter(
  (id) => !['need-to-know', 'portion.clearance', 'portion.nationality'].includes(id),
);
const READ_RULES: readonly RuleId[] = [
  'product.recalled',
  'need-to-know',
  'portion.clearance',
  'portion.nationality',
  'portion.caveats',
  'title.releasable',
  'tear-line.nonempty',
];

/** Full level name for a name or an abbreviation, from the published scheme tables. */
const FULL_NAME: ReadonlyMap<string, string> = new Map(
  BUILTIN_SCHEMES.flatMap((s) =>
    s.levels.flatMap((l) => [[l.name, l.name] as const, [l.abbrev, l.name] as const]),
  ),
);

/**
 * Common-scale rank: the originator's equivalence table first (its keys name a level in full or
 * by abbreviation; where both spellings appear the higher mapping is the safe reading), else the
 * scheme's nominal place.
 */
function oracleRank(
  label: Label,
  originator: string,
  doc: ArrangementDocument | undefined,
): number | undefined {
  const table =
    doc !== undefined && Object.hasOwn(doc.equivalences, originator)
      ? doc.equivalences[originator]
      : undefined;
  const level = label.classification.level;
  const mapped = Object.entries(table ?? {})
    .filter(([key]) => FULL_NAME.get(key) === level)
    .map(([, common]) => COMMON_ORDER.indexOf(common));
  if (mapped.length > 0) return Math.max(...mapped);
  return NOMINAL.get(`${label.classification.scheme}/${level}`);
}

function memberOn(community: string, partner: string, at: number): boolean {
  const c = BUILTIN_COMMUNITIES.find((x) => x.code === community);
  return (
    c?.members.some(
      (m) =>
        m.partner === partner &&
        Date.parse(`${m.from}T00:00:00Z`) <= at &&
        (m.until === undefined || at < Date.parse(`${m.until}T00:00:00Z`)),
    ) ?? false
  );
}

/** Whether a label lets `partner` have the portion at `at` (NOFORN and unmarked classified reach nobody). */
function reaches(label: Label, partner: string, rank: number | undefined, at: number): boolean {
  if (label.controls.includes('NOFORN')) return false;
  if (label.relTo === null) return rank === 0;
  return label.relTo.some((code) => code === partner || memberOn(code, partner, at));
}

/** What is wrong with handing over a portion with this label to the recipient; empty when nothing. */
function releaseLeaks(label: Label, c: ReleaseCase): string[] {
  const doc = c.arrangement;
  const rank = oracleRank(label, c.product.originator, doc);
  const leaks: string[] = [];
  if (rank === undefined || rank > COMMON_ORDER.indexOf(doc.scope.ceiling)) leaks.push('above the ceiling');
  if (!reaches(label, c.recipient, rank, c.at)) leaks.push(`not releasable to ${c.recipient}`);
  const caveats: readonly string[] = doc.scope.caveats;
  for (const caveat of label.caveats) {
    if (!caveats.includes(caveat) && !caveats.includes(caveat.split('-')[0] ?? caveat)) {
      leaks.push(`caveat ${caveat} not allowed`);
    }
  }
  const controls: readonly string[] = doc.scope.controls;
  for (const control of label.controls)
    if (!controls.includes(control)) leaks.push(`control ${control} not allowed`);
  return leaks;
}

/** Gate failures that must deny the whole release, each with the rule that must name it. */
function gateFailures(c: ReleaseCase): RuleId[] {
  const doc = c.arrangement;
  const failures: RuleId[] = [];
  const hash = arrangementVersionHash(doc);
  const everyPartySigned = doc.parties.every((party) =>
    doc.signatures.some(
      (s) =>
        s.partner === party.partner &&
        s.versionHash === hash &&
        party.nodeKeys.some((k) => k.use === 'signing' && k.fingerprint === s.fingerprint),
    ),
  );
  const inWindow = Date.parse(doc.effective) <= c.at && c.at < Date.parse(doc.expires);
  if (doc.status !== 'active' || !everyPartySigned || !inWindow) failures.push('arrangement.active');
  const parties = doc.parties.map((p) => p.partner);
  if (!parties.includes(c.sender) || !parties.includes(c.recipient)) failures.push('arrangement.parties');
  const suspended = doc.suspendedParties ?? [];
  if (suspended.includes(c.sender) || suspended.includes(c.recipient))
    failures.push('arrangement.suspension');
  if (!doc.scope.disciplines.includes(c.product.discipline)) failures.push('scope.discipline');
  const categories: readonly string[] = doc.scope.categories;
  if (!c.product.categories.every((x) => categories.includes(x))) failures.push('scope.categories');
  return failures;
}

/** Whether the third-party rule lets the sender pass the product on to the recipient. */
function thirdPartyCleared(c: ReleaseCase): boolean {
  const { product, arrangement: doc } = c;
  if (product.originator === c.sender) return true;
  if (doc.thirdPartyRule === false && doc.parties.some((p) => p.partner === product.originator)) return true;
  return [...product.consents, ...c.consents].some(
    (consent) =>
      consent.originator === product.originator &&
      consent.recipient === c.recipient &&
      consent.productId === product.id &&
      Date.parse(consent.grantedAt) <= c.at &&
      (consent.expiresAt === undefined || c.at < Date.parse(consent.expiresAt)),
  );
}

function release(c: ReleaseCase): Decision {
  return decideRelease(c.product, compileArrangement(c.arrangement), c.recipient, {
    at: c.at,
    sender: c.sender,
    consents: c.consents,
  });
}

function read(c: ReadCase): Decision {
  return decideRead(c.product, c.reader, {
    at: c.at,
    ...(c.arrangement === undefined ? {} : { arrangement: compileArrangement(c.arrangement) }),
  });
}

/** The labels a decision hands over: the kept portions and the title when it goes as written. */
function handedOver(product: Product, decision: Decision): Label[] {
  const derived = decision.derived;
  if (derived === null) return [];
  return [...(derived.titleWithheld ? [] : [product.titleLabel]), ...derived.portions.map((p) => p.label)];
}

/** Invariant 3 for any decision, plus: withheld and kept portions partition the product. */
function expectExplainable(product: Product, decision: Decision, ruleIds: readonly RuleId[]): void {
  expect(decision.rules.map((r) => r.rule).sort()).toEqual([...ruleIds].sort());
  for (const rule of decision.rules) expect(rule.reason.trim()).not.toBe('');
  const failing = decision.rules.filter((r) => r.outcome === 'fail').map((r) => r.rule);
  expect(decision.deniedBy).toEqual(failing);
  expect(decision.effect).toBe(failing.length === 0 ? 'allow' : 'deny');
  if (decision.effect === 'deny') {
    expect(decision.deniedBy.length).toBeGreaterThan(0);
    expect(decision.derived).toBeNull();
  } else {
    expect(decision.derived).not.toBeNull();
  }
  const ids = product.portions.map((p) => p.id);
  const withheldIds = decision.withheld.map((w) => w.portionId);
  expect(new Set(withheldIds).size).toBe(withheldIds.length);
  for (const id of withheldIds) expect(ids).toContain(id);
  for (const w of decision.withheld) {
    expect(w.reasons.length).toBeGreaterThan(0);
    for (const r of w.reasons) expect(r.reason.trim()).not.toBe('');
  }
  const derived = decision.derived;
  if (derived !== null) {
    const keptIds = derived.portions.map((p) => p.id);
    expect(keptIds.filter((id) => withheldIds.includes(id))).toEqual([]);
    expect([...keptIds, ...withheldIds].sort()).toEqual([...ids].sort());
  }
}

/** The tear line: what remains is the product's own portions, re-bannered as the join of what remains. */
function expectTornConsistently(product: Product, decision: Decision, at: number): void {
  const derived = decision.derived;
  if (derived === null) return;
  const withheldIds = new Set(decision.withheld.map((w) => w.portionId));
  expect(derived.portions).toEqual(product.portions.filter((p) => !withheldIds.has(p.id)));
  expect(derived.withheldCount).toBe(decision.withheld.length);
  expect(derived.withheldCount).toBe(product.portions.length - derived.portions.length);
  if (derived.titleWithheld) {
    expect(derived.title).toBe(WITHHELD_TITLE);
    expect(derived.geo).toBeNull();
  } else {
    expect(derived.title).toBe(product.title);
    expect(derived.titleLabel).toEqual(product.titleLabel);
  }
  const expected = bannerOf(handedOver(product, decision), DEFAULT_REGISTRY, at);
  const same = labelsEquivalent(derived.banner, expected, DEFAULT_REGISTRY, at);
  if (!same) {
    expect.fail(
      `banner ${renderBanner(derived.banner)} is not the join of what remains: ${renderBanner(expected)}`,
    );
  }
}

describe('decideRelease', () => {
  it('never hands over a portion or title above the ceiling, not releasable to the recipient, or with a caveat or control not allowed', () => {
    let allowed = 0;
    fc.assert(
      fc.property(arbReleaseCase(), (c) => {
        const decision = release(c);
        if (decision.effect === 'allow') allowed++;
        for (const label of handedOver(c.product, decision)) {
          expect({ marking: renderBanner(label), leaks: releaseLeaks(label, c) }).toEqual({
            marking: renderBanner(label),
            leaks: [],
          });
        }
      }),
      RUNS,
    );
    // The generators must keep reaching the allow path, or this property says nothing.
    expect(allowed).toBeGreaterThan(RUNS.numRuns / 20);
  });

  it('denies with nothing handed over when the arrangement is inactive, a party is missing or suspended, or the product is out of scope', () => {
    fc.assert(
      fc.property(arbReleaseCase(), (c) => {
        const failures = gateFailures(c);
        const decision = release(c);
        if (failures.length === 0) return;
        expect(decision.effect).toBe('deny');
        expect(decision.derived).toBeNull();
        for (const rule of failures) expect(decision.deniedBy).toContain(rule);
      }),
      RUNS,
    );
  });

  it('denies naming the third-party rule when another partner originated the product and has not consented', () => {
    fc.assert(
      fc.property(arbReleaseCase(), (c) => {
        const decision = release(c);
        const rule = decision.rules.find((r) => r.rule === 'third-party-rule');
        if (thirdPartyCleared(c)) {
          expect(rule?.outcome).toBe('pass');
        } else {
          expect(decision.effect).toBe('deny');
          expect(decision.deniedBy).toContain('third-party-rule');
          expect(rule?.reason).toContain(c.product.originator);
        }
      }),
      RUNS,
    );
  });

  it('names every failing rule with a reason and accounts for every portion', () => {
    fc.assert(
      fc.property(arbReleaseCase(), (c) => {
        expectExplainable(c.product, release(c), RELEASE_RULES);
      }),
      RUNS,
    );
  });

  it('re-banners the derived version as the join of what remains at the decision instant', () => {
    fc.assert(
      fc.property(arbReleaseCase(), (c) => {
        expectTornConsistently(c.product, release(c), c.at);
      }),
      RUNS,
    );
  });

  it('reads communities at the decision instant when the product was written on the other side of a membership change', () => {
    fc.assert(
      fc.property(arbMembershipShiftCase(), (c) => {
        const decision = release(c);
        for (const label of handedOver(c.product, decision)) expect(releaseLeaks(label, c)).toEqual([]);
        expectTornConsistently(c.product, decision, c.at);
      }),
      RUNS,
    );
  });

  it('releases at or above the approval level through the equivalence table only with approvals by others on this version', () => {
    fc.assert(
      fc.property(arbReleaseCase(), (c) => {
        const decision = release(c);
        const { product, arrangement: doc } = c;
        if (decision.effect === 'deny' || doc.releaseApproval.approvals === 0) return;
        const ranks = handedOver(product, decision).map(
          (label) => oracleRank(label, product.originator, doc) ?? Number.POSITIVE_INFINITY,
        );
        if (Math.max(...ranks) < COMMON_ORDER.indexOf(doc.releaseApproval.fromLevel)) return;
        // The latest word of each approver other than the author on this version counts.
        const latest = new Map<string, string>();
        for (const a of product.approvals) {
          if (a.version === product.version && a.by !== product.author) latest.set(a.by, a.decision);
        }
        expect([...latest.values()]).not.toContain('rejected');
        expect(latest.size).toBeGreaterThanOrEqual(doc.releaseApproval.approvals);
      }),
      RUNS,
    );
  });

  it('decides the same inputs the same way', () => {
    fc.assert(
      fc.property(arbReleaseCase(), (c) => {
        const compiled = compileArrangement(c.arrangement);
        const context = { at: c.at, sender: c.sender, consents: c.consents };
        const first = decideRelease(c.product, compiled, c.recipient, context);
        expect(decideRelease(c.product, compiled, c.recipient, context)).toEqual(first);
        expect(release(c)).toEqual(first);
      }),
      RUNS,
    );
  });
});

/** What is wrong with showing a portion with this label to the reader; empty when nothing. */
function readLeaks(label: Label, c: ReadCase): string[] {
  const { reader, product } = c;
  const rank = oracleRank(label, product.originator, c.arrangement);
  const clearance = COMMON_ORDER.indexOf(reader.clearance);
  const leaks: string[] = [];
  if (clearance < 0 || rank === undefined || rank > clearance)
    leaks.push(`above the clearance ${reader.clearance}`);
  // Nationals of the originator may read their own partner's material whatever its REL TO.
  if (reader.nationality !== product.originator && !reaches(label, reader.nationality, rank, c.at)) {
    leaks.push(`not releasable to a ${reader.nationality} national`);
  }
  for (const caveat of label.caveats)
    if (!reader.caveats.includes(caveat)) leaks.push(`caveat ${caveat} not held`);
  return leaks;
}

describe('decideRead', () => {
  it('never shows a portion or title above the clearance, beyond the nationality, or with a caveat not held', () => {
    let allowed = 0;
    fc.assert(
      fc.property(arbReadCase(), (c) => {
        const decision = read(c);
        if (decision.effect === 'allow') allowed++;
        for (const label of handedOver(c.product, decision)) {
          expect({ marking: renderBanner(label), leaks: readLeaks(label, c) }).toEqual({
            marking: renderBanner(label),
            leaks: [],
          });
        }
      }),
      RUNS,
    );
    expect(allowed).toBeGreaterThan(RUNS.numRuns / 20);
  });

  it('denies a recalled product, a reader without need-to-know, and an unknown clearance', () => {
    fc.assert(
      fc.property(arbReadCase(), (c) => {
        const { product, reader } = c;
        const decision = read(c);
        const ntk = product.needToKnow;
        const ntkNamed = ntk !== null && ntk.communities.length + ntk.arrangements.length > 0;
        const ntkHeld =
          ntk !== null &&
          (ntk.communities.some((x) => reader.communities.includes(x)) ||
            ntk.arrangements.some((x) => (reader.arrangements ?? []).includes(x)));
        if (product.recalled) expect(decision.deniedBy).toContain('product.recalled');
        if (ntkNamed && !ntkHeld) expect(decision.deniedBy).toContain('need-to-know');
        if (!COMMON_ORDER.includes(reader.clearance)) expect(decision.effect).toBe('deny');
        if (product.recalled || (ntkNamed && !ntkHeld)) expect(decision.derived).toBeNull();
      }),
      RUNS,
    );
  });

  it('names every failing rule with a reason and accounts for every portion', () => {
    fc.assert(
      fc.property(arbReadCase(), (c) => {
        expectExplainable(c.product, read(c), READ_RULES);
      }),
      RUNS,
    );
  });

  it('re-banners what a reader sees as the join of what remains at the decision instant', () => {
    fc.assert(
      fc.property(arbReadCase(), (c) => {
        expectTornConsistently(c.product, read(c), c.at);
      }),
      RUNS,
    );
  });

  it('decides the same inputs the same way', () => {
    fc.assert(
      fc.property(arbReadCase(), (c) => {
        expect(read(c)).toEqual(read(c));
      }),
      RUNS,
    );
  });
});
