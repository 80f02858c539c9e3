import { COMMON_SCHEME, DEFAULT_REGISTRY, type Label, type MarkingRegistry } from '../markings/index.js';
import type { Portion, Product } from '../products/index.js';
import { type CompiledArrangement, rankUnder } from './compiled-arrangement.js';
import type { Decision, RuleId, RuleResult, WithheldPortion } from './decision.js';
import { appendTo, levelName, missingCaveats, releasabilityProblem } from './portion-checks.js';
import { tearProduct } from './tear-line.js';

/** The person reading: what they are cleared for and who they are. */
export interface Reader {
  readonly id: string;
  readonly nationality: string;
  /** A level of the common scale. */
  readonly clearance: string;
  /** Caveat and compartment accesses held (exact tokens: `SI` does not grant `SI-G`). */
  readonly caveats: readonly string[];
  /** Communities of interest the reader belongs to (need-to-know). */
  readonly communities: readonly string[];
  /** Arrangements the reader works under (need-to-know). */
  readonly arrangements?: readonly string[];
}

export interface ReadContext {
  readonly at: number;
  readonly registry?: MarkingRegistry;
  /** The arrangement the product arrived under, whose equivalence table maps national levels. */
  readonly arrangement?: CompiledArrangement;
}

type ReadPortionRule = 'portion.clearance' | 'portion.nationality' | 'portion.caveats';

function readProblems(
  label: Label,
  product: Product,
  reader: Reader,
  clearanceRank: number,
  held: ReadonlySet<string>,
  context: ReadContext,
  registry: MarkingRegistry,
): { rule: ReadPortionRule; reason: string }[] | null {
  let problems: { rule: ReadPortionRule; reason: string }[] | null = null;
  const rank = rankUnder(context.arrangement, product.originator, label.classification, registry);
  if (rank === undefined || rank > clearanceRank) {
    problems = appendTo(problems, {
      rule: 'portion.clearance',
      reason:
        clearanceRank < 0
          ? `the clearance '${reader.clearance}' is not a level of the common scale`
          : `${label.classification.level} is above the clearance ${levelName(clearanceRank)}`,
    });
  }
  // Nationals of the originator may read their own partner's material whatever its REL TO.
  if (reader.nationality !== product.originator) {
    const problem = releasabilityProblem(
      label,
      rank ?? Number.POSITIVE_INFINITY,
      reader.nationality,
      context.at,
      registry,
      product.originator,
    );
    if (problem !== null) problems = appendTo(problems, { rule: 'portion.nationality', reason: problem });
  }
  const caveats = missingCaveats(label, held, false);
  if (caveats !== null)
    problems = appendTo(problems, {
      rule: 'portion.caveats',
      reason: `caveat ${caveats.join(', ')} not held`,
    });
  return problems;
}

function needToKnow(product: Product, reader: Reader): RuleResult {
  const ntk = product.needToKnow;
  if (ntk === null || (ntk.communities.length === 0 && ntk.arrangements.length === 0)) {
    return { rule: 'need-to-know', outcome: 'pass', reason: 'the product names no community of interest' };
  }
  const community = ntk.communities.find((c) => reader.communities.includes(c));
  const arrangement = ntk.arrangements.find((a) => (reader.arrangements ?? []).includes(a));
  const via = community ?? arrangement;
  return via !== undefined
    ? { rule: 'need-to-know', outcome: 'pass', reason: `need-to-know through ${via}` }
    : {
        rule: 'need-to-know',
        outcome: 'fail',
        reason: `need-to-know limited to ${[...ntk.communities, ...ntk.arrangements].join(', ')}`,
      };
}

/**
 * Decides what `reader` may see of `product`: the portions their clearance, nationality and
 * caveats allow, re-bannered, with a count of the rest. Pure; deny names the failing rules.
 */
export function decideRead(product: Product, reader: Reader, context: ReadContext): Decision {
  const registry = context.registry ?? DEFAULT_REGISTRY;
  const clearanceRank = COMMON_SCHEME.levels.findIndex((l) => l.name === reader.clearance);
  const held = new Set(reader.caveats);
  const rules: RuleResult[] = [
    product.recalled
      ? {
          rule: 'product.recalled',
          outcome: 'fail',
          reason: `${product.id} v${product.version} was recalled by its originator`,
        }
      : { rule: 'product.recalled', outcome: 'pass', reason: 'not recalled' },
    needToKnow(product, reader),
  ];
  const kept: Portion[] = [];
  const withheld: WithheldPortion[] = [];
  for (const portion of product.portions) {
    const problems = readProblems(portion.label, product, reader, clearanceRank, held, context, registry);
    if (problems === null) kept.push(portion);
    else withheld.push({ portionId: portion.id, reasons: problems });
  }
  const total = product.portions.length;
  for (const rule of [
    'portion.clearance',
    'portion.nationality',
    'portion.caveats',
  ] as const satisfies readonly RuleId[]) {
    const hits = withheld.filter((w) => w.reasons.some((r) => r.rule === rule)).map((w) => w.portionId);
    rules.push(
      hits.length === 0
        ? { rule, outcome: 'pass', reason: `every portion passes ${rule}` }
        : {
            rule,
            outcome: 'withhold',
            reason: `withholds ${hits.length} of ${total} portions: ${hits.join(', ')}`,
          },
    );
  }
  const titleProblems = readProblems(
    product.titleLabel,
    product,
    reader,
    clearanceRank,
    held,
    context,
    registry,
  );
  rules.push(
    titleProblems === null
      ? { rule: 'title.releasable', outcome: 'pass', reason: 'the title may be shown' }
      : {
          rule: 'title.releasable',
          outcome: 'withhold',
          reason: `title replaced: ${titleProblems.map((p) => p.reason).join('; ')}`,
        },
  );
  rules.push(
    kept.length > 0
      ? {
          rule: 'tear-line.nonempty',
          outcome: 'pass',
          reason: `${kept.length} of ${total} portions readable`,
        }
      : { rule: 'tear-line.nonempty', outcome: 'fail', reason: 'no portion is readable' },
  );
  const deniedBy = rules.filter((r) => r.outcome === 'fail').map((r) => r.rule);
  return {
    effect: deniedBy.length === 0 ? 'allow' : 'deny',
    rules,
    deniedBy,
    derived:
      deniedBy.length === 0 ? tearProduct(product, kept, titleProblems === null, registry, context.at) : null,
    withheld,
  };
}
