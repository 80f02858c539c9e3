import { AccordError } from '../../errors/index.js';
import {
  type Control,
  joinLabels,
  type Label,
  type MarkingRegistry,
  nominalRank,
  type Pap,
  renderPortionMark,
  sortControls,
  type Tlp,
} from '../../markings/index.js';
import { type Discipline, RELIABILITY, type Reliability } from '../../products/index.js';
import type { Distribution, MispAttribute, MispEvent, MispObject, MispTag } from './event-shape.js';
import { readTag, type TaxonomySet } from './taxonomy.js';

// How a MISP event becomes an Accord product (README "Importing MISP events" says the same):
//
// - The event is one product, id `<partner>-MISP-<event uuid>` so a re-import finds it. Title =
//   `info`. Portion p1 is the event summary (uuid, date, threat level, analysis, creator
//   organisation, distribution and sharing group, publication, last change, every event tag);
//   each attribute, of the event or of an object, is one more portion `type: value`, then its
//   comment, object, category, to_ids, uuid and tags on following lines. MISP metadata that has
//   no field in the product lives in the portion text, so the portion's label protects it.
// - Labels only ever narrow (never widen): a portion's label is the join (DESIGN.md invariant 7)
//   of the --marking floor, the event's label, its object's and its own. So an attribute tag can
//   make its portion more restrictive than the event, never less (tlp:clear on an attribute of a
//   tlp:amber event stays AMBER). The title is marked with the floor joined with the event label.
// - tlp: TLP 1.0 and 2.0 names (white = clear). TLP only says who may be told, so the levels
//   that keep information inside the recipient's organisation also carry handling our release
//   policy enforces: amber and amber+strict add NOFORN (not beyond this partner), red adds NOFORN
//   and ORCON (no further dissemination without the originator). tlp:unclear is read as red;
//   tlp:ex:chr (Chatham House) is kept in the text only.
// - PAP (1.0 WHITE = CLEAR) is the label's PAP.
// - nato:classification sets the NATO level (`NS` → NATO SECRET; -A adds ATOMAL, -B BOHEMIA).
// - euci (EU classified) sets the common level of the same name and adds NOFORN (releasable
//   within the EU is not a statement about Accord partners). Sharing policies we do not translate
//   (AIS, IEP, DCSO) add NOFORN. Classifications we do not translate (French, German, US ISM and
//   ACS, data-classification) need an explicit --marking stating the level and add NOFORN;
//   without one the tag is refused rather than under-marked.
// - admiralty-scale: source-reliability a–f and information-credibility 1–6 become the product's
//   reliability and credibility; g (deliberately deceptive) counts as E. Where several are given
//   (event, objects, attributes) the least confident grade wins (the later letter, the higher
//   number); where none is given, F and 6 (cannot be judged).
// - distribution: 0 (organisation only), 1 (this community), 2 (connected communities) and 4
//   (a sharing group: its member organisations are not Accord partners) add NOFORN; 3 (all
//   communities), 5 (inherit) and an absent distribution add nothing.
// - Tags of a taxonomy we ship are validated against it (an unknown predicate or value is an
//   error naming the tag and its JSON path); any other tag is kept in the text as it is.

/** What the import needs besides the event. */
export interface MispMappingOptions {
  readonly taxonomies: TaxonomySet;
  readonly registry: MarkingRegistry;
  /** The importing node's partner: the product's originator and the first part of its id. */
  readonly partner: string;
  /** The least restrictive label any portion may carry (`--marking`); UNCLASSIFIED by default. */
  readonly floor?: Label;
  readonly discipline?: Discipline;
  readonly categories?: readonly string[];
}

/** A product draft as the import writes it; the product service validates it like any draft. */
export interface ImportedDraft {
  readonly title: string;
  readonly titleMarking: string;
  readonly discipline: Discipline;
  readonly categories: string[];
  readonly reliability: Reliability;
  readonly credibility: number;
  readonly portions: { id: string; marking: string; text: string }[];
}

/** One event mapped: the product id it is stored under and its draft, with the labels chosen. */
export interface MappedEvent {
  readonly uuid: string;
  readonly path: string;
  readonly productId: string;
  readonly draft: ImportedDraft;
  /** The label of each portion, in order (p1 the event summary), before rendering. */
  readonly labels: readonly Label[];
}

export const UNCLASSIFIED: Label = {
  classification: { scheme: 'COMMON', level: 'UNCLASSIFIED' },
  relTo: null,
  caveats: [],
  controls: [],
  tlp: null,
  pap: null,
};

/** Accord products hold at most 1000 portions; p1 is the event summary. */
export const MAX_ATTRIBUTES_PER_EVENT = 999;
const MAX_TITLE = 500;

function handling(tlp: Tlp | null, pap: Pap | null, controls: readonly Control[]): Label {
  return { ...UNCLASSIFIED, tlp, pap, controls: sortControls(controls) };
}

const TLP_TAGS: Readonly<Record<string, Label | null>> = {
  clear: handling('CLEAR', null, []),
  white: handling('CLEAR', null, []),
  green: handling('GREEN', null, []),
  amber: handling('AMBER', null, ['NOFORN']),
  'amber+strict': handling('AMBER+STRICT', null, ['NOFORN']),
  red: handling('RED', null, ['NOFORN', 'ORCON']),
  unclear: handling('RED', null, ['NOFORN', 'ORCON']),
  'ex:chr': null,
};

const PAP_TAGS: Readonly<Record<string, Pap>> = {
  clear: 'CLEAR',
  white: 'CLEAR',
  green: 'GREEN',
  amber: 'AMBER',
  red: 'RED',
};

const NATO_LEVELS: Readonly<Record<string, string>> = {
  nu: 'NATO UNCLASSIFIED',
  nr: 'NATO RESTRICTED',
  nc: 'NATO CONFIDENTIAL',
  ns: 'NATO SECRET',
  cts: 'COSMIC TOP SECRET',
};
const NATO_SUFFIX_CAVEATS: Readonly<Record<string, string>> = { a: 'ATOMAL', b: 'BOHEMIA' };

/** Shipped sharing-policy taxonomies whose terms we do not translate: conservatively NOFORN. */
const UNTRANSLATED_SHARING: ReadonlySet<string> = new Set([
  'ais-marking',
  'dcso-sharing',
  'iep',
  'iep2-policy',
]);

/**
 * Shipped classification taxonomies we do not translate: the level they state cannot be read
 * from the tag, so the import needs an explicit --marking (the operator's statement of it in
 * Accord terms) and adds NOFORN; without one it refuses the tag rather than under-mark it.
 */
const UNTRANSLATED_CLASSIFICATION: ReadonlySet<string> = new Set([
  'acs-marking',
  'data-classification',
  'de-vs',
  'dni-ism',
  'fr-classif',
]);

// EU classified information (Council Decision 2013/488/EU): its four levels on the common scale.
const EUCI_LEVELS: Readonly<Record<string, string>> = {
  'r-ue/eu-r': 'RESTRICTED',
  'c-ue/eu-c': 'CONFIDENTIAL',
  's-ue/eu-s': 'SECRET',
  'ts-ue/eu-ts': 'TOP SECRET',
};

const NOFORN: Label = handling(null, null, ['NOFORN']);

/**
 * The join of two labels, stated on a national scheme when the top level is that scheme's: the
 * lattice writes a join across schemes on the common scale (NATO SECRET ∨ UNCLASSIFIED is SECRET),
 * but the level of the same rank on the scheme the tag named is the same label and says more.
 */
function join(a: Label, b: Label, registry: MarkingRegistry): Label {
  const joined = joinLabels(a, b, registry);
  const rank = nominalRank(registry, joined.classification);
  for (const side of [a, b]) {
    if (side.classification.scheme !== 'COMMON' && nominalRank(registry, side.classification) === rank)
      return { ...joined, classification: side.classification };
  }
  return joined;
}

/** What the tags of one event, object or attribute say. */
interface TagReading {
  readonly label: Label;
  readonly reliability: Reliability | null;
  readonly credibility: number | null;
}

function worseReliability(a: Reliability | null, b: Reliability | null): Reliability | null {
  if (a === null) return b;
  if (b === null) return a;
  return RELIABILITY.indexOf(a) >= RELIABILITY.indexOf(b) ? a : b;
}

function worseCredibility(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.max(a, b);
}

/** `record[key]` for the record's own keys only: keys come from tags (`constructor` is not a level). */
function lookup<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

// A taxonomy given with --taxonomies may define values this table does not know (a newer TLP):
// those are read as the most restrictive of their kind, never as no marking.
const STRICTEST_TLP = handling('RED', null, ['NOFORN', 'ORCON']);

function readTags(tags: readonly MispTag[], options: MispMappingOptions): TagReading {
  let label = UNCLASSIFIED;
  let reliability: Reliability | null = null;
  let credibility: number | null = null;
  const add = (other: Label): void => {
    label = join(label, other, options.registry);
  };
  for (const tag of tags) {
    const read = readTag(tag.name, tag.path, options.taxonomies);
    if (read.kind === 'other') continue;
    const { namespace, predicate, value } = read;
    if (namespace === 'tlp') {
      const implied = lookup(TLP_TAGS, predicate);
      if (implied !== null) add(implied ?? STRICTEST_TLP);
    } else if (namespace === 'pap') {
      add(handling(null, lookup(PAP_TAGS, predicate) ?? 'RED', []));
    } else if (namespace === 'admiralty-scale' && value !== null) {
      if (predicate === 'source-reliability') {
        const grade = RELIABILITY.find((r) => r === value.toUpperCase()) ?? (value === 'g' ? 'E' : 'F');
        reliability = worseReliability(reliability, grade);
      } else if (predicate === 'information-credibility') {
        const grade = /^[1-6]$/.test(value) ? Number(value) : 6;
        credibility = worseCredibility(credibility, grade);
      }
    } else if (namespace === 'nato' && predicate === 'classification' && value !== null) {
      const [level, suffix] = value.split('-');
      const caveat = suffix === undefined ? undefined : lookup(NATO_SUFFIX_CAVEATS, suffix);
      add({
        ...UNCLASSIFIED,
        classification: { scheme: 'NATO', level: lookup(NATO_LEVELS, level ?? '') ?? 'COSMIC TOP SECRET' },
        caveats: caveat === undefined ? [] : [caveat],
      });
    } else if (namespace === 'euci') {
      const level = lookup(EUCI_LEVELS, predicate) ?? 'TOP SECRET';
      add({ ...NOFORN, classification: { scheme: 'COMMON', level } });
    } else if (UNTRANSLATED_SHARING.has(namespace)) {
      add(NOFORN);
    } else if (UNTRANSLATED_CLASSIFICATION.has(namespace)) {
      if (options.floor === undefined) {
        throw new AccordError(
          'INPUT_INVALID',
          `${tag.path}: tag '${tag.name}': Accord does not translate ${namespace} classifications; give --marking with the level it means`,
          { path: tag.path, token: tag.name },
        );
      }
      add(NOFORN);
    }
  }
  return { label, reliability, credibility };
}

function distributionLabel(distribution: Distribution | null): Label {
  return distribution === 0 || distribution === 1 || distribution === 2 || distribution === 4
    ? NOFORN
    : UNCLASSIFIED;
}

const DISTRIBUTIONS: Readonly<Record<Distribution, string>> = {
  0: 'your organisation only',
  1: 'this community only',
  2: 'connected communities',
  3: 'all communities',
  4: 'sharing group',
  5: 'inherit event',
};
const THREAT_LEVELS = { 1: 'high', 2: 'medium', 3: 'low', 4: 'undefined' } as const;
const ANALYSES = { 0: 'initial', 1: 'ongoing', 2: 'completed' } as const;

function tagLine(tags: readonly MispTag[]): string[] {
  return tags.length === 0 ? [] : [`tags: ${tags.map((t) => t.name).join(', ')}`];
}

function summaryText(event: MispEvent): string {
  const lines = [`MISP event ${event.uuid}`];
  if (event.date !== null) lines.push(`date: ${event.date}`);
  if (event.threatLevel !== null)
    lines.push(`threat level: ${event.threatLevel} (${THREAT_LEVELS[event.threatLevel]})`);
  if (event.analysis !== null) lines.push(`analysis: ${event.analysis} (${ANALYSES[event.analysis]})`);
  if (event.orgc !== null)
    lines.push(
      `originator organisation: ${event.orgc.name}${event.orgc.uuid === null ? '' : ` (${event.orgc.uuid})`}`,
    );
  if (event.distribution !== null) {
    const group = event.sharingGroup;
    const groupText =
      event.distribution === 4 && group !== null
        ? ` "${group.name ?? 'unnamed'}"${group.id === null ? '' : ` id ${group.id}`}`
        : '';
    lines.push(`distribution: ${event.distribution} (${DISTRIBUTIONS[event.distribution]}${groupText})`);
  }
  lines.push(`published: ${event.published ? 'yes' : 'no'}`);
  if (event.timestamp !== null)
    lines.push(`last change: ${new Date(event.timestamp * 1000).toISOString().replace('.000Z', 'Z')}`);
  lines.push(...tagLine(event.tags));
  return lines.join('\n');
}

function attributeText(attribute: MispAttribute, object: MispObject | null): string {
  const lines = [`${attribute.type}: ${attribute.value}`];
  if (attribute.comment.trim() !== '') lines.push(`comment: ${attribute.comment}`);
  if (object !== null) {
    const relation = attribute.objectRelation === null ? '' : `, relation ${attribute.objectRelation}`;
    lines.push(`object: ${object.name}${object.uuid === null ? '' : ` (${object.uuid})`}${relation}`);
    if (object.comment.trim() !== '') lines.push(`object comment: ${object.comment}`);
    lines.push(...tagLine(object.tags).map((l) => `object ${l}`));
  }
  const facts = [
    ...(attribute.category === null ? [] : [`category: ${attribute.category}`]),
    `to_ids: ${attribute.toIds ? 'yes' : 'no'}`,
    ...(attribute.distribution === null
      ? []
      : [`distribution: ${attribute.distribution} (${DISTRIBUTIONS[attribute.distribution]})`]),
    ...(attribute.uuid === null ? [] : [`uuid: ${attribute.uuid}`]),
  ];
  lines.push(facts.join('; '));
  lines.push(...tagLine(attribute.tags));
  return lines.join('\n');
}

function titleOf(info: string): string {
  const flat = info.trim();
  return flat.length <= MAX_TITLE ? flat : `${flat.slice(0, MAX_TITLE - 1)}…`;
}

/**
 * Maps one MISP event to a product draft (see the rules above). Throws INPUT_INVALID naming the
 * tag and JSON path for a tag its taxonomy does not define, or naming the event for one with
 * more attributes than a product holds portions.
 */
export function mapMispEvent(event: MispEvent, options: MispMappingOptions): MappedEvent {
  const { registry } = options;
  const floor = options.floor ?? UNCLASSIFIED;
  const eventTags = readTags(event.tags, options);
  const eventLabel = join(
    join(floor, eventTags.label, registry),
    distributionLabel(event.distribution),
    registry,
  );
  let reliability = eventTags.reliability;
  let credibility = eventTags.credibility;
  const labels: Label[] = [eventLabel];
  const texts: string[] = [summaryText(event)];

  const add = (attribute: MispAttribute, outer: Label, object: MispObject | null): void => {
    const own = readTags(attribute.tags, options);
    reliability = worseReliability(reliability, own.reliability);
    credibility = worseCredibility(credibility, own.credibility);
    labels.push(join(join(outer, own.label, registry), distributionLabel(attribute.distribution), registry));
    texts.push(attributeText(attribute, object));
  };
  for (const attribute of event.attributes) add(attribute, eventLabel, null);
  for (const object of event.objects) {
    const own = readTags(object.tags, options);
    reliability = worseReliability(reliability, own.reliability);
    credibility = worseCredibility(credibility, own.credibility);
    const objectLabel = join(
      join(eventLabel, own.label, registry),
      distributionLabel(object.distribution),
      registry,
    );
    for (const attribute of object.attributes) add(attribute, objectLabel, object);
  }
  if (labels.length - 1 > MAX_ATTRIBUTES_PER_EVENT) {
    throw new AccordError(
      'INPUT_INVALID',
      `${event.path}: event ${event.uuid} has ${labels.length - 1} attributes; a product holds at most ${MAX_ATTRIBUTES_PER_EVENT}`,
      { path: event.path },
    );
  }

  const mark = (label: Label): string => renderPortionMark(label, { originator: options.partner, registry });
  return {
    uuid: event.uuid,
    path: event.path,
    productId: `${options.partner}-MISP-${event.uuid}`,
    labels,
    draft: {
      title: titleOf(event.info),
      titleMarking: mark(eventLabel),
      discipline: options.discipline ?? 'CYBINT',
      categories: [...(options.categories ?? ['cyber'])],
      reliability: reliability ?? 'F',
      credibility: credibility ?? 6,
      portions: labels.map((label, i) => ({ id: `p${i + 1}`, marking: mark(label), text: texts[i]! })),
    },
  };
}
