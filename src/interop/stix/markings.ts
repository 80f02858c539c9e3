import {
  type Label,
  type MarkingRegistry,
  parseMarking,
  renderBanner,
  type Tlp,
} from '../../markings/index.js';
import { type StixObject, stixIdOf } from './ids.js';
import { TLP2_MARKING_IDS, tlp2MarkingDefinition, tlpOfMarkingId } from './tlp.js';

/** `created` of every Accord statement marking definition: they never change, so one fixed instant. */
export const ACCORD_MARKING_CREATED = '2025-01-01T00:00:00.000Z';

/**
 * The statement for a label's classification and releasability (caveats, controls and PAP
 * included): its banner without TLP, which STIX carries through the official TLP 2.0 markings.
 * Rendered without an originator, so equal labels give one statement.
 */
export function statementOf(label: Label, registry: MarkingRegistry): string {
  return renderBanner({ ...label, tlp: null }, { registry });
}

/** UUIDv5 over the canonical statement: one marking definition per distinct label, on every node. */
export function statementMarkingId(statement: string): string {
  return stixIdOf('marking-definition', `accord-statement:${statement}`);
}

/** The statement marking definition of a label (STIX 2.1 §7.2.1.3). */
export function statementMarkingDefinition(statement: string): StixObject {
  return {
    type: 'marking-definition',
    spec_version: '2.1',
    id: statementMarkingId(statement),
    created: ACCORD_MARKING_CREATED,
    name: `Accord: ${statement}`,
    definition_type: 'statement',
    definition: { statement },
  };
}

/** The marking refs a label becomes, and the definitions they name. */
export interface LabelMarkings {
  readonly refs: readonly string[];
  readonly definitions: readonly StixObject[];
}

/** A label as STIX markings: its statement marking, then the official TLP 2.0 marking when it has a TLP. */
export function markingsOfLabel(label: Label, registry: MarkingRegistry): LabelMarkings {
  const statement = statementMarkingDefinition(statementOf(label, registry));
  if (label.tlp === null) return { refs: [statement.id], definitions: [statement] };
  const tlp = tlp2MarkingDefinition(label.tlp);
  return { refs: [statement.id, TLP2_MARKING_IDS[label.tlp]], definitions: [statement, tlp] };
}

/**
 * The Accord label a statement marking definition carries, or undefined when it is not one of
 * ours: its id must be the deterministic id of its own statement, and the statement must parse.
 */
export function labelOfStatementMarking(
  definition: Readonly<Record<string, unknown>>,
  registry: MarkingRegistry,
): Label | undefined {
  const def = definition.definition;
  const statement =
    typeof def === 'object' && def !== null ? (def as Record<string, unknown>).statement : undefined;
  if (typeof statement !== 'string' || definition.id !== statementMarkingId(statement)) return undefined;
  try {
    return parseMarking(statement, registry).label;
  } catch {
    // A statement that no longer parses under this node's registry is kept as a foreign marking.
    return undefined;
  }
}

/**
 * The label given by marking refs: the Accord statement among them (else `fallback`), with the TLP
 * of a well-known TLP 1.0 or 2.0 marking when there is one. Unknown markings do not shape the label;
 * they travel on with the raw object.
 */
export function labelOfMarkingRefs(
  refs: readonly string[],
  definitions: ReadonlyMap<string, Readonly<Record<string, unknown>>>,
  registry: MarkingRegistry,
  fallback: Label,
): Label {
  let label: Label | undefined;
  let tlp: Tlp | null = null;
  for (const ref of refs) {
    const level = tlpOfMarkingId(ref);
    if (level !== undefined) {
      tlp = level;
      continue;
    }
    const definition = definitions.get(ref);
    const found = definition === undefined ? undefined : labelOfStatementMarking(definition, registry);
    if (found !== undefined && label === undefined) label = found;
  }
  const base = label ?? fallback;
  return { ...base, tlp: tlp ?? base.tlp };
}
