import type { Label } from '../markings/index.js';
import type { Discipline, Portion, Reliability } from '../products/index.js';

/** Stable rule ids. Clients key on them; never rename one. */
export const RULE_IDS = [
  'arrangement.active',
  'arrangement.parties',
  'arrangement.suspension',
  'scope.discipline',
  'scope.categories',
  'third-party-rule',
  'portion.ceiling',
  'portion.releasability',
  'portion.caveats',
  'portion.controls',
  'title.releasable',
  'release-approval',
  'product.recalled',
  'need-to-know',
  'portion.clearance',
  'portion.nationality',
  'tear-line.nonempty',
] as const;
export type RuleId = (typeof RULE_IDS)[number];

/**
 * One rule's outcome. `pass` and `fail` are for the product as a whole; `withhold` means the
 * rule tore some portions (or the title) out without denying the whole.
 */
export type RuleOutcome = 'pass' | 'fail' | 'withhold';

export interface RuleResult {
  readonly rule: RuleId;
  readonly outcome: RuleOutcome;
  /** A sentence a person can read. */
  readonly reason: string;
}

/** Why one portion was torn out: every rule it failed. */
export interface WithheldPortion {
  readonly portionId: string;
  readonly reasons: readonly { readonly rule: RuleId; readonly reason: string }[];
}

/** What a recipient or reader is given: the portions they may have, re-bannered. */
export interface DerivedProduct {
  readonly id: string;
  readonly version: number;
  readonly derivedFrom: { readonly id: string; readonly version: number };
  readonly originator: string;
  readonly title: string;
  readonly titleLabel: Label;
  readonly titleWithheld: boolean;
  readonly discipline: Discipline;
  readonly categories: readonly string[];
  readonly portions: readonly Portion[];
  /** Join of what remains: the kept portions and the title when kept. */
  readonly banner: Label;
  readonly withheldCount: number;
  readonly reliability: Reliability;
  readonly credibility: number;
  readonly createdAt: string;
  readonly geo: Readonly<Record<string, unknown>> | null;
}

/** The result of a policy check: allow or deny, every rule evaluated with its reason, and what may be given. */
export interface Decision {
  readonly effect: 'allow' | 'deny';
  readonly rules: readonly RuleResult[];
  /** Ids of the rules that failed (empty when allowed). Every deny names at least one. */
  readonly deniedBy: readonly RuleId[];
  /** The torn version to hand over; null on deny. */
  readonly derived: DerivedProduct | null;
  readonly withheld: readonly WithheldPortion[];
}
