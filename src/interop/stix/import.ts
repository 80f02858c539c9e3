import { type Label, type MarkingRegistry, renderPortionMark } from '../../markings/index.js';
import { DISCIPLINES, type Discipline, RELIABILITY, type Reliability } from '../../products/index.js';
import type { DraftInput } from '../../services/product-service.js';
import { DESCRIPTION_PORTION } from './export.js';
import type { StixObject } from './ids.js';
import { labelOfMarkingRefs } from './markings.js';

/** An object as it will be stored: raw, with its version and the product it belongs to, if any. */
export interface PlannedObject {
  readonly object: StixObject;
  readonly path: string;
  /** STIX `modified` (or `created` for unversioned objects; '' for observables): with `id`, the version key. */
  readonly version: string;
  readonly productId?: string;
  readonly portionId?: string;
}

/** A product an imported report becomes. */
export interface PlannedProduct {
  readonly productId: string;
  readonly path: string;
  readonly draft: DraftInput;
}

export interface ImportPlan {
  readonly objects: readonly PlannedObject[];
  readonly products: readonly PlannedProduct[];
}

export interface PlanOptions {
  readonly registry: MarkingRegistry;
  /** The label of what carries no Accord statement marking (deny by default: the importer chooses it). */
  readonly fallback: Label;
}

const IDENTIFIER = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const CATEGORY = /^[a-z][a-z0-9-]{1,63}$/;

/** The version key of a STIX object: `modified`, else `created`, else '' (observables). */
export function versionOf(object: Readonly<Record<string, unknown>>): string {
  const stamp = object.modified ?? object.created;
  return typeof stamp === 'string' ? new Date(Date.parse(stamp)).toISOString() : '';
}

/** The product id of an imported report: stable, so importing it again names the same product. */
export function productIdOfReport(reportId: string): string {
  return `stix-${reportId.slice('report--'.length).toLowerCase()}`;
}

function refsOf(object: Readonly<Record<string, unknown>>): string[] {
  const refs = object.object_marking_refs;
  return Array.isArray(refs) ? refs.filter((r): r is string => typeof r === 'string') : [];
}

/** Marking refs a granular marking applies to `selector`, else those of the whole object. */
function refsFor(object: Readonly<Record<string, unknown>>, selector: string): string[] {
  const granular = Array.isArray(object.granular_markings) ? object.granular_markings : [];
  const refs: string[] = [];
  for (const g of granular as { selectors?: unknown; marking_ref?: unknown }[]) {
    if (Array.isArray(g.selectors) && g.selectors.includes(selector) && typeof g.marking_ref === 'string') {
      refs.push(g.marking_ref);
    }
  }
  return refs.length > 0 ? refs : refsOf(object);
}

/** Discipline, categories and grading from our own `x_accord_product`, else neutral defaults. */
function productFacts(report: Readonly<Record<string, unknown>>) {
  const facts = (
    typeof report.x_accord_product === 'object' && report.x_accord_product !== null
      ? report.x_accord_product
      : {}
  ) as Record<string, unknown>;
  const discipline = DISCIPLINES.includes(facts.discipline as Discipline)
    ? (facts.discipline as Discipline)
    : 'OSINT';
  const categories =
    Array.isArray(facts.categories) &&
    facts.categories.length > 0 &&
    facts.categories.length <= 32 &&
    facts.categories.every((c) => typeof c === 'string' && CATEGORY.test(c))
      ? [...new Set(facts.categories as string[])]
      : ['stix-import'];
  const reliability = RELIABILITY.includes(facts.reliability as Reliability)
    ? (facts.reliability as Reliability)
    : 'F';
  const credibility =
    typeof facts.credibility === 'number' &&
    Number.isInteger(facts.credibility) &&
    facts.credibility >= 1 &&
    facts.credibility <= 6
      ? facts.credibility
      : 6;
  return { discipline, categories, reliability, credibility };
}

/**
 * Plans an import (pure): every object is kept raw under its id and version; the newest version of
 * each `report` becomes a product whose title is its `name` and whose portions are its
 * `description` and the notes that refer to it, each labelled from its markings (the Accord
 * statement marking, the TLP 1.0/2.0 marking, granular markings on the field) or, lacking an
 * Accord statement, `fallback`.
 */
export function planImport(
  entries: readonly { readonly object: StixObject; readonly path: string }[],
  options: PlanOptions,
): ImportPlan {
  const { registry, fallback } = options;
  const definitions = new Map<string, StixObject>();
  const latestReport = new Map<string, { object: StixObject; path: string; version: string }>();
  const notesOf = new Map<string, { object: StixObject; path: string }[]>();
  const footprints = new Map<string, StixObject>();
  for (const { object, path } of entries) {
    if (
      object.type === 'location' &&
      typeof object.x_accord_geojson === 'object' &&
      object.x_accord_geojson !== null &&
      typeof (object.x_accord_geojson as { type?: unknown }).type === 'string'
    ) {
      footprints.set(object.id, object);
    }
    if (object.type === 'marking-definition') definitions.set(object.id, object);
    if (object.type === 'report') {
      const version = versionOf(object);
      const seen = latestReport.get(object.id);
      if (seen === undefined || seen.version < version)
        latestReport.set(object.id, { object, path, version });
    }
    if (object.type === 'note' && Array.isArray(object.object_refs)) {
      for (const ref of new Set(object.object_refs as string[])) {
        if (!ref.startsWith('report--')) continue;
        const list = notesOf.get(ref);
        if (list === undefined) notesOf.set(ref, [{ object, path }]);
        else list.push({ object, path });
      }
    }
  }
  const mark = (label: Label) => renderPortionMark(label, { registry });
  const labelOf = (refs: readonly string[]) => labelOfMarkingRefs(refs, definitions, registry, fallback);

  const products: PlannedProduct[] = [];
  const owner = new Map<StixObject, { productId: string; portionId?: string }>();
  for (const [reportId, { object: report, path }] of latestReport) {
    const productId = productIdOfReport(reportId);
    owner.set(report, { productId });
    const portions: { id: string; marking: string; text: string }[] = [];
    const used = new Set<string>([DESCRIPTION_PORTION]);
    const description = typeof report.description === 'string' ? report.description : undefined;
    const notes = notesOf.get(reportId) ?? [];
    // Our own export puts the GeoJSON footprint on a location the report names.
    const footprint = (Array.isArray(report.object_refs) ? report.object_refs : [])
      .map((ref) => footprints.get(ref as string))
      .find((l) => l !== undefined);
    if (footprint !== undefined && !owner.has(footprint)) owner.set(footprint, { productId });
    if (description !== undefined || notes.length === 0) {
      portions.push({
        id: DESCRIPTION_PORTION,
        marking: mark(labelOf(refsFor(report, 'description'))),
        text: description ?? '',
      });
    }
    for (const [i, { object: note }] of notes.entries()) {
      // A note of another report already became a portion there; one portion per note and report.
      const wanted = typeof note.x_accord_portion === 'string' ? note.x_accord_portion : '';
      const id = IDENTIFIER.test(wanted) && !used.has(wanted) ? wanted : `n${i + 1}`;
      used.add(id);
      if (!owner.has(note)) owner.set(note, { productId, portionId: id });
      portions.push({ id, marking: mark(labelOf(refsFor(note, 'content'))), text: note.content as string });
    }
    products.push({
      productId,
      path,
      draft: {
        title: report.name as string,
        titleMarking: mark(labelOf(refsFor(report, 'name'))),
        ...productFacts(report),
        portions,
        ...(footprint === undefined
          ? {}
          : { geo: footprint.x_accord_geojson as NonNullable<DraftInput['geo']> }),
      },
    });
  }
  const objects = entries.map(({ object, path }) => {
    const own = owner.get(object);
    return {
      object,
      path,
      version: versionOf(object),
      ...(own === undefined ? {} : { productId: own.productId }),
      ...(own?.portionId === undefined ? {} : { portionId: own.portionId }),
    };
  });
  return { objects, products };
}
