import { type ArrangementDocument, signatureStatus } from '../arrangements/index.js';
import {
  type Classification,
  COMMON_SCHEME,
  DEFAULT_REGISTRY,
  type MarkingRegistry,
  nominalRank,
} from '../markings/index.js';

/** An arrangement prepared for fast, repeated policy decisions: sets, ranks and times resolved once. */
export interface CompiledArrangement {
  readonly doc: ArrangementDocument;
  readonly id: string;
  readonly version: number;
  readonly versionHash: string;
  readonly unsignedParties: readonly string[];
  readonly effectiveMs: number;
  readonly expiresMs: number;
  readonly parties: ReadonlySet<string>;
  readonly suspended: ReadonlySet<string>;
  readonly disciplines: ReadonlySet<string>;
  readonly categories: ReadonlySet<string>;
  readonly ceilingRank: number;
  readonly ceiling: string;
  readonly caveats: ReadonlySet<string>;
  readonly controls: ReadonlySet<string>;
  /** Per party: national level name -> common rank. */
  readonly equivalences: ReadonlyMap<string, ReadonlyMap<string, number>>;
  readonly approvalFromRank: number;
  readonly approvalsRequired: number;
  readonly thirdPartyRule: boolean;
  readonly registry: MarkingRegistry;
}

function commonRank(level: string): number {
  return COMMON_SCHEME.levels.findIndex((l) => l.name === level);
}

/** Compiles a validated arrangement document for the policy engine. */
export function compileArrangement(
  doc: ArrangementDocument,
  registry: MarkingRegistry = DEFAULT_REGISTRY,
): CompiledArrangement {
  const status = signatureStatus(doc);
  const equivalences = new Map<string, Map<string, number>>();
  for (const [partner, table] of Object.entries(doc.equivalences)) {
    // Validation accepts a level by full name or abbreviation (`UK S`); labels carry the full
    // name, so key by it. Where both spellings appear, the higher mapping holds (deny-leaning).
    const ranks = new Map<string, number>();
    for (const [level, common] of Object.entries(table)) {
      const name = registry.levels.get(level)?.classification.level ?? level;
      ranks.set(name, Math.max(ranks.get(name) ?? -1, commonRank(common)));
    }
    equivalences.set(partner, ranks);
  }
  return {
    doc,
    id: doc.id,
    version: doc.version,
    versionHash: status.versionHash,
    unsignedParties: status.missing,
    effectiveMs: Date.parse(doc.effective),
    expiresMs: Date.parse(doc.expires),
    parties: new Set(doc.parties.map((p) => p.partner)),
    suspended: new Set(doc.suspendedParties ?? []),
    disciplines: new Set(doc.scope.disciplines),
    categories: new Set(doc.scope.categories),
    ceilingRank: commonRank(doc.scope.ceiling),
    ceiling: doc.scope.ceiling,
    caveats: new Set(doc.scope.caveats),
    controls: new Set(doc.scope.controls),
    equivalences,
    approvalFromRank: commonRank(doc.releaseApproval.fromLevel),
    approvalsRequired: doc.releaseApproval.approvals,
    thirdPartyRule: doc.thirdPartyRule !== false,
    registry,
  };
}

/**
 * A classification's place on the arrangement's common scale: the originating party's
 * equivalence table first, else the scheme's nominal rank; undefined when unknown (deny).
 */
export function rankUnder(
  arrangement: CompiledArrangement | undefined,
  originator: string,
  classification: Classification,
  registry: MarkingRegistry,
): number | undefined {
  const mapped = arrangement?.equivalences.get(originator)?.get(classification.level);
  return mapped ?? nominalRank(registry, classification);
}
