import { AccordError } from '../../errors/index.js';

/** One MISP taxonomy as its machinetag.json defines it: predicates, and for some the values they take. */
export interface Taxonomy {
  readonly namespace: string;
  /** Predicate (lower-cased) → its allowed values (lower-cased), or null for a predicate that takes none. */
  readonly predicates: ReadonlyMap<string, ReadonlySet<string> | null>;
}

/** The taxonomies tags are validated against, by lower-cased namespace. */
export type TaxonomySet = ReadonlyMap<string, Taxonomy>;

/** A machine tag split into its parts, all as written. */
export interface MachineTag {
  readonly namespace: string;
  readonly predicate: string;
  readonly value: string | null;
}

/** A tag read against the taxonomies: of a known taxonomy (validated), or anything else (kept as it is). */
export type ReadTag =
  | {
      readonly kind: 'taxonomy';
      readonly name: string;
      /** Lower-cased parts: the taxonomy's own spelling is not relied on. */
      readonly namespace: string;
      readonly predicate: string;
      readonly value: string | null;
    }
  | { readonly kind: 'other'; readonly name: string };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalidTaxonomy(source: string, reason: string): AccordError<'INPUT_INVALID'> {
  return new AccordError('INPUT_INVALID', `taxonomy ${source}: ${reason}`, { file: source });
}

/**
 * Reads one machinetag.json document (the MISP taxonomy format: `namespace`, `predicates[].value`,
 * optional `values[].predicate` with `entry[].value`). `source` names it in errors.
 */
export function parseTaxonomy(document: unknown, source: string): Taxonomy {
  if (!isRecord(document) || typeof document.namespace !== 'string' || document.namespace === '')
    throw invalidTaxonomy(source, 'no namespace');
  if (!Array.isArray(document.predicates)) throw invalidTaxonomy(source, 'no predicates');
  const predicates = new Map<string, Set<string> | null>();
  for (const predicate of document.predicates) {
    if (!isRecord(predicate) || typeof predicate.value !== 'string')
      throw invalidTaxonomy(source, 'a predicate has no value');
    predicates.set(predicate.value.toLowerCase(), null);
  }
  for (const group of Array.isArray(document.values) ? document.values : []) {
    if (!isRecord(group) || typeof group.predicate !== 'string' || !Array.isArray(group.entry))
      throw invalidTaxonomy(source, 'a values entry has no predicate or entries');
    const key = group.predicate.toLowerCase();
    if (!predicates.has(key)) throw invalidTaxonomy(source, `values for undeclared predicate '${key}'`);
    const values = predicates.get(key) ?? new Set<string>();
    for (const entry of group.entry) {
      if (!isRecord(entry) || typeof entry.value !== 'string')
        throw invalidTaxonomy(source, `an entry of '${key}' has no value`);
      values.add(entry.value.toLowerCase());
    }
    predicates.set(key, values);
  }
  return { namespace: document.namespace, predicates };
}

/** Builds the set from parsed taxonomies; a namespace given twice is an error. */
export function taxonomySetOf(taxonomies: readonly Taxonomy[]): TaxonomySet {
  const set = new Map<string, Taxonomy>();
  for (const taxonomy of taxonomies) {
    const key = taxonomy.namespace.toLowerCase();
    if (set.has(key)) throw invalidTaxonomy(taxonomy.namespace, 'namespace given twice');
    set.set(key, taxonomy);
  }
  return set;
}

// MISP machine tags: `namespace:predicate` or `namespace:predicate="value"`. The namespace ends at
// the first colon; the predicate may hold colons itself (`tlp:ex:chr`).
const MACHINE_TAG = /^([^:="\s]+):([^="]+?)(?:="([^"]*)")?$/;

/** Splits a machine tag, or null for a tag that is not one (`OSINT`, `Phishing campaign`). */
export function splitMachineTag(name: string): MachineTag | null {
  const m = MACHINE_TAG.exec(name.trim());
  if (m === null) return null;
  return { namespace: m[1]!, predicate: m[2]!.trim(), value: m[3] ?? null };
}

/**
 * Reads a tag against the taxonomies. A tag of a known namespace (compared case-insensitively, so
 * `TLP:RED` is not mistaken for free text) must name one of its predicates, with one of that
 * predicate's values when it has a list and none otherwise; anything else is INPUT_INVALID naming
 * the tag and `path`. Tags of other namespaces, and plain tags, are `other`.
 */
export function readTag(name: string, path: string, taxonomies: TaxonomySet): ReadTag {
  // attacker-controlled: tag names come from the imported file.
  const parts = splitMachineTag(name);
  const taxonomy = parts === null ? undefined : taxonomies.get(parts.namespace.toLowerCase());
  if (parts === null || taxonomy === undefined) {
    // A known namespace written without a predicate (`tlp`, `tlp:`) is a mistake, not free text.
    const bare = name.trim().replace(/:$/, '').toLowerCase();
    if (taxonomies.has(bare)) throw unknownTag(name, path, `taxonomy '${bare}' needs a predicate`);
    // A namespace that only looks like a known one (`tlр` with a Cyrillic er, a zero-width space,
    // a full-width letter, a space before the colon) would let a reader see TLP:RED where the
    // import saw free text: refused, not kept.
    const colon = name.indexOf(':');
    const lookalike = colon < 0 ? undefined : skeleton(name.slice(0, colon));
    if (lookalike !== undefined && taxonomies.has(lookalike)) {
      throw unknownTag(name, path, `its namespace only looks like taxonomy '${lookalike}'`);
    }
    return { kind: 'other', name };
  }
  const predicate = parts.predicate.toLowerCase();
  const value = parts.value === null ? null : parts.value.toLowerCase();
  if (!taxonomy.predicates.has(predicate))
    throw unknownTag(name, path, `taxonomy '${taxonomy.namespace}' has no predicate '${parts.predicate}'`);
  const values = taxonomy.predicates.get(predicate) ?? null;
  if (values === null && value !== null)
    throw unknownTag(name, path, `'${taxonomy.namespace}:${predicate}' takes no value`);
  // `$text` in a taxonomy's entries means the predicate takes free text (iep:reference="…").
  if (values !== null && (value === null || !(values.has(value) || values.has('$text'))))
    throw unknownTag(
      name,
      path,
      value === null
        ? `'${taxonomy.namespace}:${predicate}' needs one of ${[...values].join(', ')}`
        : `'${taxonomy.namespace}:${predicate}' has no value '${parts.value}'`,
    );
  return { kind: 'taxonomy', name, namespace: taxonomy.namespace.toLowerCase(), predicate, value };
}

// Letters of other scripts that are drawn like Latin ones (Unicode confusables, the common part).
const CONFUSABLE: Readonly<Record<string, string>> = {
  а: 'a',
  в: 'b',
  е: 'e',
  к: 'k',
  м: 'm',
  н: 'h',
  о: 'o',
  р: 'p',
  с: 'c',
  т: 't',
  у: 'y',
  х: 'x',
  і: 'i',
  ј: 'j',
  ѕ: 's',
  ԁ: 'd',
  һ: 'h',
  ӏ: 'l',
  ԛ: 'q',
  ԝ: 'w',
  α: 'a',
  β: 'b',
  ε: 'e',
  ι: 'i',
  κ: 'k',
  ν: 'v',
  ο: 'o',
  ρ: 'p',
  τ: 't',
  υ: 'u',
  χ: 'x',
};

/** A name as it looks: compatibility forms folded, invisible and space characters gone, look-alike letters Latin, lower case. */
function skeleton(text: string): string {
  const folded = text
    .normalize('NFKC')
    .replace(/[\p{Cf}\s]/gu, '')
    .toLowerCase();
  return [...folded].map((c) => CONFUSABLE[c] ?? c).join('');
}

function unknownTag(name: string, path: string, reason: string): AccordError<'INPUT_INVALID'> {
  return new AccordError('INPUT_INVALID', `${path}: tag '${name}': ${reason}`, { path, token: name });
}
