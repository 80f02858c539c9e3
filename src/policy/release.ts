import { type Label, renderBanner } from '../markings/index.js';
import type { Consent, Portion, Product } from '../products/index.js';
import { type CompiledArrangement, rankUnder } from './compiled-arrangement.js';
import type { Decision, RuleId, RuleResult, WithheldPortion } from './decision.js';
import { appendTo, dayOf, levelName, missingCaveats, releasabilityProblem } from './portion-checks.js';
import { tearProduct } from './tear-line.js';

/** Facts about the release that are not in the product or the arrangement. */
export interface ReleaseContext {
  /** The instant of the decision, epoch milliseconds. */
  readonly at: number;
  /** The partner whose node releases. */
  readonly sender: string;
  /** Consent records held for this product besides those it carries (third-party rule). */
  readonly consents?: readonly Consent[];
}

type PortionRule = 'portion.ceiling' | 'portion.releasability' | 'portion.caveats' | 'portion.controls';
const PORTION_RULES: readonly PortionRule[] = [
  'portion.ceiling',
  'portion.releasability',
  'portion.caveats',
  'portion.controls',
];

function result(rule: RuleId, ok: boolean, reason: string): RuleResult {
  return { rule, outcome: ok ? 'pass' : 'fail', reason };
}

function activeRule(a: CompiledArrangement, at: number): RuleResult {
  const name = `${a.id} v${a.version}`;
  if (a.doc.status !== 'active')
    return result('arrangement.active', false, `arrangement ${name} is ${a.doc.status}`);
  if (a.unsignedParties.length > 0) {
    return result(
      'arrangement.active',
      false,
      `arrangement ${name} is not signed by ${a.unsignedParties.join(', ')} for its current version`,
    );
  }
  if (at < a.effectiveMs) {
    return result('arrangement.active', false, `arrangement ${name} takes effect on ${dayOf(a.effectiveMs)}`);
  }
  if (at >= a.expiresMs)
    return result('arrangement.active', false, `arrangement ${name} expired on ${dayOf(a.expiresMs)}`);
  return result('arrangement.active', true, `arrangement ${name} is active and signed by every party`);
}

function partiesRule(a: CompiledArrangement, sender: string, recipient: string): RuleResult {
  const missing = [...new Set([sender, recipient])].filter((p) => !a.parties.has(p));
  if (missing.length > 0) {
    return result(
      'arrangement.parties',
      false,
      `${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not party to ${a.id}`,
    );
  }
  if (sender === recipient) return result('arrangement.parties', false, `${sender} cannot release to itself`);
  return result('arrangement.parties', true, `${sender} and ${recipient} are both parties to ${a.id}`);
}

function suspensionRule(a: CompiledArrangement, sender: string, recipient: string): RuleResult {
  const suspended = [...new Set([sender, recipient])].filter((p) => a.suspended.has(p));
  if (suspended.length > 0) {
    return result('arrangement.suspension', false, `${suspended.join(' and ')} suspended under ${a.id}`);
  }
  return result('arrangement.suspension', true, `neither ${sender} nor ${recipient} is suspended`);
}

function disciplineRule(a: CompiledArrangement, product: Product): RuleResult {
  const ok = a.disciplines.has(product.discipline);
  return result(
    'scope.discipline',
    ok,
    ok ? `${product.discipline} is in scope` : `${product.discipline} is outside the scope of ${a.id}`,
  );
}

function categoriesRule(a: CompiledArrangement, product: Product): RuleResult {
  const outside = product.categories.filter((c) => !a.categories.has(c));
  if (outside.length > 0) {
    return result(
      'scope.categories',
      false,
      `categories outside the scope of ${a.id}: ${outside.join(', ')}`,
    );
  }
  return result('scope.categories', true, `categories ${product.categories.join(', ')} are in scope`);
}

function thirdPartyRule(
  a: CompiledArrangement,
  product: Product,
  recipient: string,
  context: ReleaseContext,
): RuleResult {
  const originator = product.originator;
  if (originator === context.sender) {
    return result('third-party-rule', true, `${originator} originated the product`);
  }
  // An originator that signed an arrangement waiving the rule has consented through it.
  if (!a.thirdPartyRule && a.parties.has(originator)) {
    return result(
      'third-party-rule',
      true,
      `${a.id}, signed by the originator ${originator}, waives the third-party rule`,
    );
  }
  const matches = (c: Consent): boolean =>
    c.originator === originator &&
    c.recipient === recipient &&
    c.productId === product.id &&
    Date.parse(c.grantedAt) <= context.at &&
    (c.expiresAt === undefined || context.at < Date.parse(c.expiresAt));
  const consented = product.consents.some(matches) || (context.consents ?? []).some(matches);
  return consented
    ? result('third-party-rule', true, `${originator} consented to release to ${recipient}`)
    : result(
        'third-party-rule',
        false,
        `${originator} originated the product and has not consented to its release to ${recipient}`,
      );
}

function controlsProblem(label: Label, a: CompiledArrangement): string | null {
  let outside: string[] | null = null;
  for (const control of label.controls) {
    // NOFORN is a releasability statement, judged by portion.releasability.
    if (control !== 'NOFORN' && !a.controls.has(control)) outside = appendTo(outside, control);
  }
  return outside === null ? null : `control ${outside.join(', ')} not allowed under ${a.id}`;
}

/**
 * Every portion rule this label fails for the recipient, or null when it may go. `rank` is the
 * label's rank under the arrangement ({@link rankUnder}), worked out once by the caller.
 */
function portionProblems(
  label: Label,
  rank: number | undefined,
  recipient: string,
  a: CompiledArrangement,
  at: number,
  originator: string,
): { rule: PortionRule; reason: string }[] | null {
  const registry = a.registry;
  let problems: { rule: PortionRule; reason: string }[] | null = null;
  if (rank === undefined) {
    problems = appendTo(problems, {
      rule: 'portion.ceiling',
      reason: `no equivalence for ${label.classification.level}`,
    });
  } else if (rank > a.ceilingRank) {
    problems = appendTo(problems, {
      rule: 'portion.ceiling',
      reason: `${label.classification.level} is above the ceiling ${a.ceiling}`,
    });
  }
  const releasability = releasabilityProblem(
    label,
    rank ?? Number.POSITIVE_INFINITY,
    recipient,
    at,
    registry,
    originator,
  );
  if (releasability !== null)
    problems = appendTo(problems, { rule: 'portion.releasability', reason: releasability });
  const caveats = missingCaveats(label, a.caveats, true);
  if (caveats !== null) {
    problems = appendTo(problems, {
      rule: 'portion.caveats',
      reason: `caveat ${caveats.join(', ')} not allowed under ${a.id}`,
    });
  }
  const controls = controlsProblem(label, a);
  if (controls !== null) problems = appendTo(problems, { rule: 'portion.controls', reason: controls });
  return problems;
}

function passText(rule: PortionRule, a: CompiledArrangement, recipient: string): string {
  switch (rule) {
    case 'portion.ceiling':
      return `every portion is at or below ${a.ceiling}`;
    case 'portion.releasability':
      return `every portion's label allows ${recipient}`;
    case 'portion.caveats':
      return 'every caveat is allowed';
    case 'portion.controls':
      return 'every control is allowed';
  }
}

// Runs once per portion rule on every decision: plain loops, and the pass sentence is only
// written when the rule passes.
function summarise(
  rule: PortionRule,
  withheld: readonly WithheldPortion[],
  total: number,
  a: CompiledArrangement,
  recipient: string,
): RuleResult {
  const hits: string[] = [];
  for (const w of withheld) {
    for (const r of w.reasons) {
      if (r.rule === rule) {
        hits.push(w.portionId);
        break;
      }
    }
  }
  if (hits.length === 0) return { rule, outcome: 'pass', reason: passText(rule, a, recipient) };
  return {
    rule,
    outcome: 'withhold',
    reason: `withholds ${hits.length} of ${total} portions: ${hits.join(', ')}`,
  };
}

/**
 * Decides whether `sender` may release `product` to `recipient` under `arrangement`, and
 * tears it down to what the recipient may have. Pure: the same inputs give the same Decision.
 * Every rule is evaluated and reported; a deny names each rule that failed.
 */
export function decideRelease(
  product: Product,
  arrangement: CompiledArrangement,
  recipient: string,
  context: ReleaseContext,
): Decision {
  const a = arrangement;
  const at = context.at;
  const rules: RuleResult[] = [
    // A recalled version is withdrawn by its originator and goes nowhere.
    product.recalled
      ? result('product.recalled', false, `${product.id} v${product.version} was recalled by its originator`)
      : result('product.recalled', true, 'not recalled'),
    activeRule(a, at),
    partiesRule(a, context.sender, recipient),
    suspensionRule(a, context.sender, recipient),
    disciplineRule(a, product),
    categoriesRule(a, product),
    thirdPartyRule(a, product, recipient, context),
  ];

  // Each label is ranked once, for its portion rules and for release-approval (where an unknown
  // level counts as the highest): the highest rank of the kept portions, and of all of them.
  const kept: Portion[] = [];
  const withheld: WithheldPortion[] = [];
  let keptRank = Number.NEGATIVE_INFINITY;
  let allRank = Number.NEGATIVE_INFINITY;
  for (const portion of product.portions) {
    const rank = rankUnder(a, product.originator, portion.label.classification, a.registry);
    const problems = portionProblems(portion.label, rank, recipient, a, at, product.originator);
    allRank = Math.max(allRank, rank ?? Number.POSITIVE_INFINITY);
    if (problems === null) {
      kept.push(portion);
      keptRank = Math.max(keptRank, rank ?? Number.POSITIVE_INFINITY);
    } else withheld.push({ portionId: portion.id, reasons: problems });
  }
  const total = product.portions.length;
  for (const rule of PORTION_RULES) rules.push(summarise(rule, withheld, total, a, recipient));

  const titleRank = rankUnder(a, product.originator, product.titleLabel.classification, a.registry);
  const titleProblems = portionProblems(product.titleLabel, titleRank, recipient, a, at, product.originator);
  rules.push(
    titleProblems === null
      ? { rule: 'title.releasable', outcome: 'pass', reason: 'the title may go as written' }
      : {
          rule: 'title.releasable',
          outcome: 'withhold',
          reason: `title replaced: ${titleProblems.map((p) => p.reason).join('; ')}`,
        },
  );

  rules.push(
    kept.length > 0
      ? { rule: 'tear-line.nonempty', outcome: 'pass', reason: `${kept.length} of ${total} portions remain` }
      : { rule: 'tear-line.nonempty', outcome: 'fail', reason: 'no portion remains after the tear line' },
  );

  const derived = kept.length > 0 ? tearProduct(product, kept, titleProblems === null, a.registry, at) : null;
  // Released: on deny the product as it stands, else the title when kept and the kept portions.
  const releaseRank = Math.max(
    derived === null || titleProblems === null
      ? (titleRank ?? Number.POSITIVE_INFINITY)
      : Number.NEGATIVE_INFINITY,
    derived === null ? allRank : keptRank,
  );
  rules.push(approvalRule(a, product, releaseRank, derived === null ? product.banner : derived.banner));

  const deniedBy: RuleId[] = [];
  for (const r of rules) if (r.outcome === 'fail') deniedBy.push(r.rule);
  return {
    effect: deniedBy.length === 0 ? 'allow' : 'deny',
    rules,
    deniedBy,
    derived: deniedBy.length === 0 ? derived : null,
    withheld,
  };
}

function approvalRule(
  a: CompiledArrangement,
  product: Product,
  releaseRank: number,
  banner: Label,
): RuleResult {
  // The level of the release is the highest of what is released, each label ranked through the
  // originator's equivalence table. Not the banner's rank: the join ranks nominally (and restates
  // mixed schemes on the common scale), so it can sit below a portion the table maps higher.
  // An unknown level counts as the highest: it needs approval.
  if (a.approvalsRequired === 0 || releaseRank < a.approvalFromRank) {
    return result(
      'release-approval',
      true,
      `no approval needed below ${levelName(a.approvalFromRank)} (release is ${renderBanner(banner)})`,
    );
  }
  // The latest decision of each approver on this version counts; the author cannot approve.
  const latest = new Map<string, 'approved' | 'rejected'>();
  for (const approval of product.approvals) {
    if (approval.version === product.version && approval.by !== product.author)
      latest.set(approval.by, approval.decision);
  }
  const rejectedBy = [...latest].filter(([, d]) => d === 'rejected').map(([by]) => by);
  if (rejectedBy.length > 0) return result('release-approval', false, `rejected by ${rejectedBy.join(', ')}`);
  const approvers = [...latest.keys()];
  const ok = approvers.length >= a.approvalsRequired;
  return result(
    'release-approval',
    ok,
    ok
      ? `approved by ${approvers.join(', ')}`
      : `needs ${a.approvalsRequired} approval(s) by someone other than the author ${product.author}; has ${approvers.length}`,
  );
}
