import { AccordError } from '../errors/index.js';
import {
  type Classification,
  CONTROLS,
  type Control,
  type Label,
  PAP_LEVELS,
  type Pap,
  TLP_LEVELS,
  type Tlp,
} from './model.js';
import {
  DEFAULT_REGISTRY,
  hasTrigraphMembers,
  isMemberAt,
  type MarkingRegistry,
  membersDuring,
  nominalRank,
} from './registry.js';
import { commonLevelName } from './schemes.js';

/**
 * What a label's releasability means: every partner ('ALL', an unclassified label with no
 * REL TO or NOFORN), or exactly the listed codes. NOFORN, and a classified label with no
 * REL TO, mean the empty set: originator nationals only (CAPCO: not marked releasable).
 */
export type Releasability = 'ALL' | ReadonlySet<string>;

// Label lattice (DESIGN.md invariant 7). Join is the most restrictive combination: highest
// level, union of caveats and restrictive controls, intersection of releasability, and RELIDO
// (a permission) only where both allow it. Meet is the dual. Labels on different schemes are
// compared by nominal rank, and their join or meet is stated on the common scale. REL TO is
// compared code by code when no instant is given (conservative: FVEY ∩ GBR is empty). Given an
// instant `at`, communities are expanded into their members on that day, so that
// REL TO USA, FVEY joined with REL TO USA, GBR is REL TO USA, GBR; the result names a community
// of the inputs only where all its members remain.

const RESTRICTIVE: readonly Control[] = ['ORCON', 'IMCON', 'PROPIN'];

function rankOf(label: Label, registry: MarkingRegistry): number {
  const rank = nominalRank(registry, label.classification);
  if (rank === undefined) {
    throw new AccordError('MARKING_UNKNOWN_TOKEN', `unknown classification '${label.classification.level}'`, {
      token: label.classification.level,
    });
  }
  return rank;
}

/**
 * The semantic releasability of a label (see {@link Releasability}). With an instant `at`,
 * communities are expanded into the partners that belong to them then.
 */
export function releasabilityOf(
  label: Label,
  registry: MarkingRegistry = DEFAULT_REGISTRY,
  at?: number,
): Releasability {
  if (label.controls.includes('NOFORN')) return new Set();
  if (label.relTo !== null)
    return at === undefined ? new Set(label.relTo) : expand(label.relTo, registry, at);
  return rankOf(label, registry) === 0 ? 'ALL' : new Set();
}

function expand(codes: Iterable<string>, registry: MarkingRegistry, at: number): Set<string> {
  const partners = new Set<string>();
  for (const code of codes) {
    if (code.length === 3) partners.add(code);
    else for (const member of membersDuring(registry, code, at)) partners.add(member);
  }
  return partners;
}

/**
 * Writes a set of partners back as codes: the trigraphs the inputs named, the communities they
 * named whose every member is in the set, and any other partner by its own trigraph.
 */
function compress(
  partners: ReadonlySet<string>,
  namedA: Iterable<string>,
  namedB: Iterable<string>,
  registry: MarkingRegistry,
  at: number,
): Set<string> {
  const codes = new Set<string>();
  let covered: Set<string> | null = null;
  for (const named of [namedA, namedB]) {
    for (const code of named) {
      if (code.length === 3) {
        if (partners.has(code)) codes.add(code);
        continue;
      }
      if (codes.has(code)) continue;
      const members = membersDuring(registry, code, at);
      // Members are distinct, so more of them than partners cannot all be partners.
      if (members.length > 0 && members.length <= partners.size && members.every((m) => partners.has(m))) {
        codes.add(code);
        covered ??= new Set<string>();
        for (const m of members) covered.add(m);
      }
    }
  }
  for (const partner of partners) if (covered === null || !covered.has(partner)) codes.add(partner);
  return codes;
}

interface ReleasabilityOps {
  readonly registry: MarkingRegistry;
  readonly at: number | undefined;
}

function combine(a: Label, b: Label, ops: ReleasabilityOps, both: boolean): Releasability {
  const ra = releasabilityOf(a, ops.registry, ops.at);
  const rb = releasabilityOf(b, ops.registry, ops.at);
  let partners: Set<string> | 'ALL';
  if (both) {
    if (ra === 'ALL') partners = rb === 'ALL' ? 'ALL' : new Set(rb);
    else partners = rb === 'ALL' ? new Set(ra) : new Set([...ra].filter((c) => rb.has(c)));
  } else {
    partners = ra === 'ALL' || rb === 'ALL' ? 'ALL' : new Set([...ra, ...rb]);
  }
  if (partners === 'ALL' || ops.at === undefined) return partners;
  return compress(partners, a.relTo ?? [], b.relTo ?? [], ops.registry, ops.at);
}

function pickClassification(
  a: Label,
  b: Label,
  registry: MarkingRegistry,
  pick: (x: number, y: number) => number,
): { classification: Classification; rank: number } {
  const ra = rankOf(a, registry);
  const rb = rankOf(b, registry);
  const rank = pick(ra, rb);
  if (a.classification.scheme === b.classification.scheme) {
    return { classification: rank === ra ? a.classification : b.classification, rank };
  }
  return { classification: { scheme: 'COMMON', level: commonLevelName(rank) }, rank };
}

/** Place of a level in its order; an absent level sits below the lowest. */
function orderIndex<T>(order: readonly T[], value: T | null): number {
  return value === null ? -1 : order.indexOf(value);
}

function maxOf<T>(order: readonly T[], a: T | null, b: T | null): T | null {
  return orderIndex(order, a) >= orderIndex(order, b) ? a : b;
}

function minOf<T>(order: readonly T[], a: T | null, b: T | null): T | null {
  return orderIndex(order, a) <= orderIndex(order, b) ? a : b;
}

interface Parts {
  readonly classification: Classification;
  readonly rank: number;
  readonly releasability: Releasability;
  readonly caveats: readonly string[];
  readonly restrictive: Iterable<Control>;
  readonly relido: boolean;
  /** Whether an empty releasability came from explicit markings (then NOFORN is written out). */
  readonly explicit: boolean;
  readonly tlp: Tlp | null;
  readonly pap: Pap | null;
}

function assemble(parts: Parts): Label {
  const r = parts.releasability;
  const empty = r !== 'ALL' && r.size === 0;
  const controls = new Set(parts.restrictive);
  if (empty && (parts.explicit || parts.rank === 0)) controls.add('NOFORN');
  // RELIDO permits release by a disclosure official; with nothing releasable it means nothing.
  if (parts.relido && !empty) controls.add('RELIDO');
  return {
    classification: parts.classification,
    relTo: r === 'ALL' || empty ? null : sortedRelTo(r),
    caveats: parts.caveats.length === 0 ? [] : [...new Set(parts.caveats)].sort(),
    controls: CONTROLS.filter((c) => controls.has(c)),
    tlp: parts.tlp,
    pap: parts.pap,
  };
}

/**
 * `sortRelTo` (parse.ts) of a set, which has no repeats to drop: trigraphs, then communities, each
 * alphabetical. Every label a join writes goes through here, and the lists are short, so an
 * insertion sort does it without the copies and comparator calls of the general one.
 */
function sortedRelTo(codes: ReadonlySet<string>): string[] {
  const sorted: string[] = [];
  for (const code of codes) {
    const trigraph = code.length === 3;
    let i = sorted.length;
    for (; i > 0; i--) {
      const prev = sorted[i - 1]!;
      const prevTrigraph = prev.length === 3;
      if (prevTrigraph === trigraph ? prev < code : prevTrigraph) break;
      sorted[i] = prev;
    }
    sorted[i] = code;
  }
  return sorted;
}

function restrictiveOf(label: Label): Control[] {
  return label.controls.filter((c) => RESTRICTIVE.includes(c));
}

// RELIDO permits something only on a label releasable to someone. On a label releasable to no
// one it is inert, and a meet must not let it attach to the REL TO list the other label brings.
function grantsRelido(label: Label, releasability: Releasability): boolean {
  return label.controls.includes('RELIDO') && (releasability === 'ALL' || releasability.size > 0);
}

function isExplicit(label: Label): boolean {
  return label.relTo !== null || label.controls.includes('NOFORN');
}

/**
 * Least upper bound: the label a document holding both portions must carry. Pass `at` to
 * read community codes as their membership on that instant.
 */
export function joinLabels(
  a: Label,
  b: Label,
  registry: MarkingRegistry = DEFAULT_REGISTRY,
  at?: number,
): Label {
  const { classification, rank } = pickClassification(a, b, registry, Math.max);
  return assemble({
    classification,
    rank,
    releasability: combine(a, b, { registry, at }, true),
    caveats: [...a.caveats, ...b.caveats],
    restrictive: [...restrictiveOf(a), ...restrictiveOf(b)],
    relido: a.controls.includes('RELIDO') && b.controls.includes('RELIDO'),
    explicit: isExplicit(a) || isExplicit(b),
    tlp: maxOf(TLP_LEVELS, a.tlp, b.tlp),
    pap: maxOf(PAP_LEVELS, a.pap, b.pap),
  });
}

/** Greatest lower bound: the most that is common to both labels. */
export function meetLabels(
  a: Label,
  b: Label,
  registry: MarkingRegistry = DEFAULT_REGISTRY,
  at?: number,
): Label {
  const { classification, rank } = pickClassification(a, b, registry, Math.min);
  const ra = restrictiveOf(a);
  const rb = new Set(restrictiveOf(b));
  return assemble({
    classification,
    rank,
    releasability: combine(a, b, { registry, at }, false),
    caveats: a.caveats.filter((c) => b.caveats.includes(c)),
    restrictive: ra.filter((c) => rb.has(c)),
    relido:
      grantsRelido(a, releasabilityOf(a, registry, at)) || grantsRelido(b, releasabilityOf(b, registry, at)),
    explicit: isExplicit(a) && isExplicit(b),
    tlp: minOf(TLP_LEVELS, a.tlp, b.tlp),
    pap: minOf(PAP_LEVELS, a.pap, b.pap),
  });
}

/** The banner of a product: the join of its portion labels. Throws on an empty list. */
export function bannerOf(
  labels: readonly Label[],
  registry: MarkingRegistry = DEFAULT_REGISTRY,
  at?: number,
): Label {
  const first = labels[0];
  if (first === undefined) throw new AccordError('MARKING_SYNTAX', 'a banner needs at least one portion', {});
  if (labels.length === 1) return first;
  if (at !== undefined && !hasTrigraphMembers(registry)) {
    return labels.slice(1).reduce((acc, l) => joinLabels(acc, l, registry, at), first);
  }
  return foldJoins(labels, registry, at);
}

/** Whether `partner` is in the releasability of `label` (see {@link releasabilityOf}), without building it. */
function covers(
  label: Label,
  rank: number,
  partner: string,
  registry: MarkingRegistry,
  at: number | undefined,
): boolean {
  const relTo = label.relTo;
  if (relTo === null) return rank === 0 && !label.controls.includes('NOFORN');
  if (label.controls.includes('NOFORN')) return false;
  for (let i = 0; i < relTo.length; i++) {
    const code = relTo[i]!;
    if (code === partner) return true;
    if (at !== undefined && code.length !== 3 && isMemberAt(registry, code, partner, at)) return true;
  }
  return false;
}

/**
 * The left fold `labels.reduce(joinLabels)` (two labels or more) in one pass, without writing out
 * and re-reading a label at each step; the result is the same label. What each join reads from
 * the label accumulated so far is kept as it goes:
 * - classification: joinLabels' pick, step by step (the first label of the top rank on one
 *   scheme, the common level once schemes mix);
 * - releasability: the intersection of every label's releasability. Reading back a joined label
 *   gives the partners it was written from (when every community member is a trigraph, which the
 *   caller checks), so the partners are narrowed in place instead of re-expanded;
 * - REL TO codes: a join names the trigraphs and communities the previous label and the new one
 *   named. While the partners do not change, rewriting them keeps every code already written and
 *   adds the new label's trigraphs and communities that still hold, so only those are checked;
 * - caveats and restrictive controls are unions, TLP and PAP maxima, RELIDO needs every label;
 * - NOFORN is written when nothing is releasable and some label was explicit (REL TO or NOFORN)
 *   or the result is unclassified, as a step-by-step fold would have written it.
 */
function foldJoins(labels: readonly Label[], registry: MarkingRegistry, at: number | undefined): Label {
  const first = labels[0]!;
  let classification = first.classification;
  let rank = rankOf(first, registry);
  let partners = releasabilityOf(first, registry, at) as 'ALL' | Set<string>;
  // The REL TO codes of the label joined so far: the first label's own (`named`) until a join at
  // the instant writes them (`codes`).
  const named: readonly string[] = first.relTo ?? [];
  let codes: Set<string> | null = null;
  // Codes named so far that were not written: the partners only ever shrink, so they never will be.
  const unwritten = new Set<string>();
  // Unions with repeats: assemble removes them.
  const caveats = [...first.caveats];
  const restrictive = restrictiveOf(first);
  let relido = first.controls.includes('RELIDO');
  let explicit = isExplicit(first);
  let tlp = first.tlp;
  let pap = first.pap;

  for (let i = 1; i < labels.length; i++) {
    const label = labels[i]!;
    // Parsed labels share the registry's classification objects: the same one has the same rank.
    const labelRank = label.classification === classification ? rank : rankOf(label, registry);
    const top = Math.max(rank, labelRank);
    if (classification.scheme === label.classification.scheme) {
      if (top !== rank) classification = label.classification;
    } else {
      classification = { scheme: 'COMMON', level: commonLevelName(top) };
    }
    rank = top;

    let narrowed = false;
    if (partners === 'ALL') {
      partners = releasabilityOf(label, registry, at) as 'ALL' | Set<string>;
      narrowed = partners !== 'ALL';
    } else if (partners.size > 0) {
      for (const partner of partners) {
        if (!covers(label, labelRank, partner, registry, at)) {
          partners.delete(partner);
          narrowed = true;
        }
      }
    }
    // While every partner is allowed, the label joined so far has no REL TO (nor had the first).
    if (at !== undefined && partners !== 'ALL') {
      if (narrowed || codes === null) {
        codes = compress(partners, codes ?? named, label.relTo ?? [], registry, at);
      } else if (label.relTo !== null) {
        addStillNamed(partners, codes, unwritten, label.relTo, registry, at);
      }
    }

    for (const caveat of label.caveats) caveats.push(caveat);
    for (const control of label.controls) if (RESTRICTIVE.includes(control)) restrictive.push(control);
    relido &&= label.controls.includes('RELIDO');
    explicit ||= isExplicit(label);
    // A missing TLP or PAP never raises the maximum.
    if (label.tlp !== null) tlp = maxOf(TLP_LEVELS, tlp, label.tlp);
    if (label.pap !== null) pap = maxOf(PAP_LEVELS, pap, label.pap);
  }

  return assemble({
    classification,
    rank,
    // With an instant, a non-empty set of partners has been written back as codes by now.
    releasability: partners === 'ALL' || at === undefined ? partners : (codes ?? partners),
    caveats,
    restrictive,
    relido,
    explicit,
    tlp,
    pap,
  });
}

/**
 * {@link compress} of unchanged partners whose codes were already written by it, in place: the
 * codes so far stay, plus the newly named trigraphs among the partners and the newly named
 * communities whose members are all among them. Codes found not to hold go in `unwritten` and are
 * not looked at again.
 */
function addStillNamed(
  partners: ReadonlySet<string>,
  codes: Set<string>,
  unwritten: Set<string>,
  named: readonly string[],
  registry: MarkingRegistry,
  at: number,
): void {
  for (const code of named) {
    if (codes.has(code) || unwritten.has(code)) continue;
    let holds: boolean;
    if (code.length === 3) holds = partners.has(code);
    else {
      const members = membersDuring(registry, code, at);
      // Members are distinct, so more of them than partners cannot all be partners.
      holds = members.length > 0 && members.length <= partners.size && members.every((m) => partners.has(m));
    }
    if (holds) codes.add(code);
    else unwritten.add(code);
  }
}

function subset(a: Iterable<string>, b: readonly string[] | ReadonlySet<string>): boolean {
  const set = b instanceof Set ? b : new Set(b);
  for (const x of a) if (!set.has(x)) return false;
  return true;
}

function releasabilityWithin(a: Releasability, b: Releasability): boolean {
  if (b === 'ALL') return true;
  if (a === 'ALL') return false;
  return subset(a, b);
}

/** Whether `a` is at least as restrictive as `b` in every dimension (a ⊒ b in the lattice). */
export function dominates(
  a: Label,
  b: Label,
  registry: MarkingRegistry = DEFAULT_REGISTRY,
  at?: number,
): boolean {
  const ra = releasabilityOf(a, registry, at);
  const rb = releasabilityOf(b, registry, at);
  const relidoA = grantsRelido(a, ra);
  const relidoB = grantsRelido(b, rb);
  return (
    rankOf(a, registry) >= rankOf(b, registry) &&
    releasabilityWithin(ra, rb) &&
    subset(b.caveats, a.caveats) &&
    subset(restrictiveOf(b), restrictiveOf(a)) &&
    (!relidoA || relidoB) &&
    orderIndex(TLP_LEVELS, a.tlp) >= orderIndex(TLP_LEVELS, b.tlp) &&
    orderIndex(PAP_LEVELS, a.pap) >= orderIndex(PAP_LEVELS, b.pap)
  );
}

/** Whether two labels mean the same (same rank and sets), whatever scheme or spelling they use. */
export function labelsEquivalent(
  a: Label,
  b: Label,
  registry: MarkingRegistry = DEFAULT_REGISTRY,
  at?: number,
): boolean {
  return dominates(a, b, registry, at) && dominates(b, a, registry, at);
}
