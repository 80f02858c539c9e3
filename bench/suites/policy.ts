// Policy hot paths: release decisions, marking parses and label joins, each beside the bare
// work it cannot beat. Inputs are built here from in-code documents so that the figures do not
// move when the examples/ files are edited.
import { deepEqual, equal } from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  type ArrangementDocument,
  arrangementVersionHash,
  parseArrangement,
} from '../../src/arrangements/index.js';
import {
  DEFAULT_REGISTRY,
  joinLabels,
  type Label,
  nominalRank,
  parseMarking,
  releasabilityOf,
} from '../../src/markings/index.js';
import {
  type CompiledArrangement,
  compileArrangement,
  decideRelease,
  type ReleaseContext,
} from '../../src/policy/index.js';
import { type Product, parseProduct } from '../../src/products/index.js';
import type { BenchCase, Suite } from '../harness.js';

const RECIPIENT = 'GBR';
const CONTEXT: ReleaseContext = { at: Date.parse('2026-11-26T09:00:00Z'), sender: 'USA' };
const PARTIES = ['USA', 'GBR', 'CAN', 'AUS', 'NZL'];

function fingerprint(partner: string): string {
  return `sha256:${createHash('sha256').update(`bench-key-${partner}`).digest('hex')}`;
}

/** An active Five Eyes arrangement, ceiling SECRET, every party signed on the current version. */
function fveyArrangement(): ArrangementDocument {
  const unsigned = parseArrangement({
    id: 'bench-fvey',
    version: 1,
    title: 'Five Eyes multilateral arrangement (benchmark)',
    type: 'multilateral',
    legalBasis: 'UKUSA Agreement',
    parties: PARTIES.map((partner, i) => ({
      partner,
      role: i === 0 ? 'lead' : 'party',
      nodeKeys: [{ use: 'signing', fingerprint: fingerprint(partner) }],
    })),
    scope: {
      disciplines: ['SIGINT', 'IMINT', 'GEOINT', 'HUMINT', 'OSINT', 'CYBINT'],
      categories: ['counterterrorism', 'cyber', 'proliferation', 'military'],
      ceiling: 'SECRET',
      caveats: [],
      controls: ['ORCON', 'RELIDO'],
    },
    equivalences: {
      GBR: { 'UK OFFICIAL': 'UNCLASSIFIED', 'UK SECRET': 'SECRET', 'UK TOP SECRET': 'TOP SECRET' },
    },
    effective: '2025-01-01T00:00:00Z',
    expires: '2030-12-31T23:59:59Z',
    review: '2027-01-01T00:00:00Z',
    thirdPartyRule: true,
    releaseApproval: { fromLevel: 'CONFIDENTIAL', approvals: 1 },
    oversight: { body: 'Five Eyes Intelligence Oversight and Review Council' },
    breachProtocol: { notifyWithinHours: 24, autoSuspendOnConfirmedBreach: true, recall: true },
    status: 'active',
    signatures: [],
  });
  // signatureStatus checks the hash and the pinned key, not the signature bytes.
  const versionHash = arrangementVersionHash(unsigned);
  return parseArrangement({
    ...unsigned,
    signatures: PARTIES.map((partner) => ({
      partner,
      fingerprint: fingerprint(partner),
      versionHash,
      signedAt: '2025-01-01T00:00:00Z',
      signature: 'AAAA',
    })),
  });
}

/** Portion marks a GBR recipient may have under the arrangement at CONTEXT.at. */
const RELEASABLE = [
  '(S//REL TO USA, GBR)',
  '(C//REL TO USA, FVEY)',
  '(S//REL TO USA, AUS, CAN, GBR, NZL)',
  '(U)',
  '(S//OC/REL TO USA, FVEY)',
  '(C//REL TO USA, GBR/RELIDO)',
  '(R//REL TO USA, NATO)',
  '(S//REL TO USA, ACGU)',
  '(U//REL TO USA, FVEY)',
  '(S//REL TO USA, FVEY)',
  '(S//REL TO USA, GBR, NATO)',
  '(C//REL TO USA, FVEY//TLP:AMBER)',
  '(S//REL TO USA, GBR, FVEY)',
  '(U//TLP:GREEN)',
  '(C//REL TO USA, AUS, GBR)',
  '(S//REL TO USA, FVEY//PAP:GREEN)',
];

/** Portion marks withheld from GBR, one per reason: NOFORN, the ceiling, REL TO, and a dated community. */
const WITHHELD = [
  '(S//NF)',
  '(TS//REL TO USA, GBR)',
  '(C//REL TO USA, CAN)',
  // The United Kingdom left the EU on 2020-01-31.
  '(C//REL TO USA, EU)',
];

function productOf(id: string, markings: readonly string[]): Product {
  return parseProduct({
    id,
    version: 1,
    originator: 'USA',
    author: 'analyst.usa',
    title: 'Facilitation network moving funds through hawala brokers',
    titleMarking: '(U//REL TO USA, FVEY)',
    discipline: 'SIGINT',
    categories: ['counterterrorism'],
    portions: markings.map((marking, i) => ({
      id: `p${i + 1}`,
      marking,
      text: `Portion ${i + 1} of the report.`,
    })),
    reliability: 'B',
    credibility: 2,
    createdAt: '2026-11-20T09:30:00Z',
    geo: { type: 'Point', coordinates: [67.0099, 24.8615] },
    approvals: [{ by: 'officer.usa', version: 1, at: '2026-11-20T11:00:00Z', decision: 'approved' }],
  });
}

/** 20 portions: the withheld ones spread among releasable ones, as an analyst would write them. */
function mixedMarkings(): string[] {
  const markings = RELEASABLE.slice();
  WITHHELD.forEach((marking, i) => {
    markings.splice(3 + i * 5, 0, marking);
  });
  return markings;
}

function allReleasableMarkings(): string[] {
  return Array.from({ length: 20 }, (_, i) => RELEASABLE[i % RELEASABLE.length] ?? '(U)');
}

interface PortionFacts {
  readonly rank: number;
  readonly releasability: 'ALL' | ReadonlySet<string>;
}

/**
 * The ceiling of a release decision: the membership checks alone, with each portion's rank and
 * (community-expanded) releasability worked out beforehand, and nothing explained or built.
 */
function bareReleaseCheck(product: Product, ceilingRank: number): () => number {
  const facts: PortionFacts[] = [product.titleLabel, ...product.portions.map((p) => p.label)].map(
    (label) => ({
      rank: nominalRank(DEFAULT_REGISTRY, label.classification) ?? Number.POSITIVE_INFINITY,
      releasability: releasabilityOf(label, DEFAULT_REGISTRY, CONTEXT.at),
    }),
  );
  return () => {
    let kept = 0;
    for (const f of facts) {
      if (f.rank <= ceilingRank && (f.releasability === 'ALL' || f.releasability.has(RECIPIENT))) kept++;
    }
    return kept;
  };
}

interface ReleaseFixture {
  readonly arrangement: CompiledArrangement;
  readonly mixed: Product;
  readonly clear: Product;
}

/** The compiled arrangement and the two products, checked to decide as the case names say. */
function releaseFixture(): ReleaseFixture {
  const arrangement = compileArrangement(fveyArrangement());
  const mixed = productOf('bench-mixed', mixedMarkings());
  const clear = productOf('bench-clear', allReleasableMarkings());
  // The figures are only meaningful if the decisions are the ones described.
  const mixedDecision = decideRelease(mixed, arrangement, RECIPIENT, CONTEXT);
  equal(mixed.portions.length, 20);
  equal(mixedDecision.effect, 'allow', JSON.stringify(mixedDecision.rules));
  deepEqual(
    mixedDecision.withheld.map((w) => w.portionId),
    ['p4', 'p9', 'p14', 'p19'],
  );
  const clearDecision = decideRelease(clear, arrangement, RECIPIENT, CONTEXT);
  equal(clear.portions.length, 20);
  equal(clearDecision.effect, 'allow', JSON.stringify(clearDecision.rules));
  equal(clearDecision.withheld.length, 0);
  return { arrangement, mixed, clear };
}

const RELEASE_TARGET = { opsPerSec: 200_000, source: 'one core, compiled arrangement' };

function releaseCase(name: string, pick: (f: ReleaseFixture) => Product): BenchCase {
  return {
    name,
    ceiling: 'bare rank + Set.has loop',
    target: RELEASE_TARGET,
    setup: () => {
      const fixture = releaseFixture();
      const { arrangement } = fixture;
      const product = pick(fixture);
      return {
        run: () => decideRelease(product, arrangement, RECIPIENT, CONTEXT),
        ceiling: bareReleaseCheck(product, arrangement.ceilingRank),
      };
    },
  };
}

/** Banner lines and portion marks as they arrive: mixed schemes, case and spacing. */
const MARKINGS = [
  'SECRET//REL TO USA, GBR',
  'TOP SECRET//SI/TK//ORCON/REL TO USA, FVEY',
  'CONFIDENTIAL//REL TO USA, AUS, CAN, GBR, NZL',
  'UNCLASSIFIED//TLP:GREEN',
  'SECRET//NOFORN',
  'NATO SECRET//REL TO NATO',
  'UK SECRET//REL TO GBR, USA',
  'secret//rel to usa,  gbr',
  '(S//REL TO USA, GBR)',
  '(C//REL TO USA, FVEY)',
  '(S//NF)',
  '(TS//SI-G//OC/NF)',
  '(U)',
  '(S//REL TO USA, GBR/RELIDO)',
  '(C//REL TO USA, FVEY//TLP:AMBER//PAP:GREEN)',
  '(R//REL TO USA, NATO)',
];

/** The lexical work alone: split on `//` and `/`, upper-case every token. */
function splitOnly(input: string): number {
  let tokens = 0;
  for (const segment of input.split('//')) {
    for (const token of segment.split('/')) tokens += token.toUpperCase().length > 0 ? 1 : 0;
  }
  return tokens;
}

const parseCase: BenchCase = {
  name: `banner parses/s (${MARKINGS.length} banners and portion marks)`,
  ceiling: 'split on // and / + upper-case',
  setup: () => {
    for (const m of MARKINGS) parseMarking(m);
    const n = MARKINGS.length;
    return {
      run: (i) => parseMarking(MARKINGS[i % n]!),
      ceiling: (i) => splitOnly(MARKINGS[i % n]!),
    };
  },
};

/** Every token of a label, for a set operation of the same size as its join. */
function tokensOf(label: Label): string[] {
  return [...(label.relTo ?? []), ...label.caveats, ...label.controls];
}

function setUnionAndIntersection(a: readonly string[], b: readonly string[]): number {
  const union = new Set(a);
  for (const x of b) union.add(x);
  const inB = new Set(b);
  let common = 0;
  for (const x of a) if (inB.has(x)) common++;
  return union.size + common;
}

const JOIN_LABELS = [...RELEASABLE, ...WITHHELD];

/** Each label with the next-but-three, so classifications, REL TO lists and communities mix. */
function joinPairs(): { pairs: (readonly [Label, Label])[]; tokens: (readonly [string[], string[]])[] } {
  const labels = JOIN_LABELS.map((m) => parseMarking(m).label);
  const pairs = labels.map((a, i) => [a, labels[(i + 3) % labels.length]!] as const);
  return { pairs, tokens: pairs.map(([a, b]) => [tokensOf(a), tokensOf(b)] as const) };
}

function joinCase(what: string, at: number | undefined): BenchCase {
  return {
    name: `label joins/s (${JOIN_LABELS.length} pairs, ${what})`,
    ceiling: 'Set union + intersection',
    setup: () => {
      const { pairs, tokens } = joinPairs();
      const n = pairs.length;
      return {
        run: (i) => {
          const [a, b] = pairs[i % n]!;
          return joinLabels(a, b, DEFAULT_REGISTRY, at);
        },
        ceiling: (i) => {
          const [a, b] = tokens[i % n]!;
          return setUnionAndIntersection(a, b);
        },
      };
    },
  };
}

/** Release decisions, marking parses and label joins. */
export const policySuite: Suite = {
  name: 'policy',
  cases: [
    releaseCase('release decisions/s (20 portions, 4 withheld)', (f) => f.mixed),
    releaseCase('release decisions/s (20 portions, all releasable)', (f) => f.clear),
    parseCase,
    joinCase('code by code', undefined),
    joinCase('communities at an instant', CONTEXT.at),
  ],
};
