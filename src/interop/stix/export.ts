import { type EntityType, extractEntities } from '../../analytics/index.js';
import { alpha3ToAlpha2, type Label, type MarkingRegistry } from '../../markings/index.js';
import type { DerivedProduct } from '../../policy/index.js';
import { type StixObject, stixIdOf, stixTimestamp } from './ids.js';
import { ACCORD_MARKING_CREATED, markingsOfLabel } from './markings.js';

/** The portion id that stands for a report's `description` (imported reports keep it there). */
export const DESCRIPTION_PORTION = 'description';

/** STIX ids an imported product keeps: its report's, and the note of each portion. */
export interface KeptStixIds {
  readonly report: string;
  readonly notes: Readonly<Record<string, string>>;
  readonly location?: string;
}

/** What one product version becomes in STIX. */
export interface ProductStixInput {
  /** The version as the viewer may have it: whole, or torn by decideRead/decideRelease. */
  readonly product: DerivedProduct;
  /** When the product's first version was written (STIX `created`, the same on every version). */
  readonly created: string;
  /** When this version was written (STIX `modified`). */
  readonly modified: string;
  readonly registry: MarkingRegistry;
  /** Ids kept from an import, so that export(import(x)) names the same objects. */
  readonly ids?: KeptStixIds;
  /** Custom properties an imported report carried, given back on export. */
  readonly custom?: Readonly<Record<string, unknown>>;
}

/** The identity of a partner: deterministic, so every product of one partner names the same one. */
export function partnerIdentityId(partner: string): string {
  return stixIdOf('identity', `partner:${partner}`);
}

/**
 * A partner as STIX: its identity and, for a nation, a `location` with its ISO 3166-1 alpha-2
 * country (STIX 2.1 §4.11 `country`; our trigraphs are alpha-3) joined by a `located-at` relationship.
 */
export function partnerObjects(partner: string): StixObject[] {
  const identity: StixObject = {
    type: 'identity',
    spec_version: '2.1',
    id: partnerIdentityId(partner),
    created: ACCORD_MARKING_CREATED,
    modified: ACCORD_MARKING_CREATED,
    name: partner,
    identity_class: 'organization',
    sectors: ['government-national'],
    x_accord_partner: partner,
  };
  const alpha2 = alpha3ToAlpha2(partner);
  if (alpha2 === undefined) return [identity];
  const location: StixObject = {
    type: 'location',
    spec_version: '2.1',
    id: stixIdOf('location', `country:${alpha2}`),
    created: ACCORD_MARKING_CREATED,
    modified: ACCORD_MARKING_CREATED,
    name: partner,
    country: alpha2,
  };
  const located: StixObject = {
    type: 'relationship',
    spec_version: '2.1',
    id: stixIdOf('relationship', `located-at:${identity.id}:${location.id}`),
    created: ACCORD_MARKING_CREATED,
    modified: ACCORD_MARKING_CREATED,
    relationship_type: 'located-at',
    source_ref: identity.id,
    target_ref: location.id,
  };
  return [identity, location, located];
}

/** Centre of the box around every position of a GeoJSON value, or undefined when it has none. */
export function centreOf(geo: unknown): { latitude: number; longitude: number } | undefined {
  let minLon = Infinity;
  let minLat = Infinity;
  let maxLon = -Infinity;
  let maxLat = -Infinity;
  const walk = (value: unknown): void => {
    if (!Array.isArray(value)) return;
    const [lon, lat] = value;
    if (typeof lon === 'number' && typeof lat === 'number') {
      minLon = Math.min(minLon, lon);
      maxLon = Math.max(maxLon, lon);
      minLat = Math.min(minLat, lat);
      maxLat = Math.max(maxLat, lat);
      return;
    }
    for (const v of value) walk(v);
  };
  const visit = (node: unknown): void => {
    if (typeof node !== 'object' || node === null) return;
    const n = node as Record<string, unknown>;
    walk(n.coordinates);
    visit(n.geometry);
    for (const key of ['features', 'geometries'] as const) {
      const list = n[key];
      if (Array.isArray(list)) for (const item of list) visit(item);
    }
  };
  visit(geo);
  if (!(minLat <= maxLat && minLon <= maxLon)) return undefined;
  const latitude = (minLat + maxLat) / 2;
  const longitude = (minLon + maxLon) / 2;
  if (Math.abs(latitude) > 90 || Math.abs(longitude) > 180) return undefined;
  return { latitude, longitude };
}

/** Markings of a label on an object and on some of its fields, collecting the definitions used. */
class MarkingCollector {
  readonly definitions = new Map<string, StixObject>();
  readonly #registry: MarkingRegistry;

  constructor(registry: MarkingRegistry) {
    this.#registry = registry;
  }

  refs(label: Label): string[] {
    const { refs, definitions } = markingsOfLabel(label, this.#registry);
    for (const d of definitions) this.definitions.set(d.id, d);
    return [...refs];
  }

  /** STIX 2.1 §7.2.3: one granular marking per marking ref, its selectors the fields the label covers. */
  granular(label: Label, selectors: readonly string[]) {
    return this.refs(label).map((ref) => ({ selectors: [...selectors], marking_ref: ref }));
  }
}

/**
 * A product version as STIX objects (pure): a `report` whose `object_refs` name a `note` per
 * portion (its label as granular markings on `content`), the originator's `identity` and country
 * `location`, a `location` for the geo footprint, and the statement and TLP 2.0 marking
 * definitions the labels use. The banner marks the report; the title's label marks its `name`.
 * Give it a torn version and only what remains is exported.
 */
export function productToStix(input: ProductStixInput): StixObject[] {
  const { product, registry } = input;
  const created = stixTimestamp(input.created);
  const modified = stixTimestamp(input.modified);
  const markings = new MarkingCollector(registry);
  const reportId = input.ids?.report ?? stixIdOf('report', `product:${product.id}`);
  const originator = partnerObjects(product.originator);
  const versioned = {
    spec_version: '2.1',
    created,
    modified,
    created_by_ref: partnerIdentityId(product.originator),
  };

  const notes: StixObject[] = [];
  let description: { text: string; label: Label } | undefined;
  for (const portion of product.portions) {
    if (portion.id === DESCRIPTION_PORTION) {
      description = { text: portion.text, label: portion.label };
      continue;
    }
    notes.push({
      type: 'note',
      id: input.ids?.notes[portion.id] ?? stixIdOf('note', `portion:${product.id}:${portion.id}`),
      ...versioned,
      content: portion.text,
      object_refs: [reportId],
      object_marking_refs: markings.refs(portion.label),
      granular_markings: markings.granular(portion.label, ['content']),
      x_accord_portion: portion.id,
    });
  }

  const observed = entityObjects(product, versioned, created, markings);

  const centre = product.geo === null ? undefined : centreOf(product.geo);
  const footprint: StixObject[] =
    centre === undefined
      ? []
      : [
          {
            type: 'location',
            id: input.ids?.location ?? stixIdOf('location', `footprint:${product.id}`),
            ...versioned,
            name: `Footprint of ${product.id}`,
            ...centre,
            // The geo footprint carries the title's label (policy/tear-line.ts).
            object_marking_refs: markings.refs(product.titleLabel),
            x_accord_geojson: product.geo,
          },
        ];

  const granular = [
    ...markings.granular(product.titleLabel, ['name']),
    ...(description === undefined ? [] : markings.granular(description.label, ['description'])),
  ];
  const report: StixObject = {
    ...input.custom,
    type: 'report',
    id: reportId,
    ...versioned,
    name: product.title,
    ...(description === undefined ? {} : { description: description.text }),
    report_types: (input.custom?.report_types as unknown[] | undefined) ?? ['threat-report'],
    published: modified,
    object_refs: [
      ...notes.map((n) => n.id),
      ...observed.map((o) => o.id),
      ...footprint.map((f) => f.id),
      ...originator.map((o) => o.id),
    ],
    object_marking_refs: markings.refs(product.banner),
    granular_markings: granular,
    x_accord_product: {
      id: product.id,
      version: product.version,
      originator: product.originator,
      discipline: product.discipline,
      categories: [...product.categories],
      reliability: product.reliability,
      credibility: product.credibility,
      title_withheld: product.titleWithheld,
      withheld_count: product.withheldCount,
    },
  };
  return [report, ...notes, ...observed, ...footprint, ...originator, ...markings.definitions.values()];
}

/** A value as a STIX patterning string literal (§9.3: quote and backslash escaped). */
function patternLiteral(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

// The observable an entity type is, as a STIX pattern's object path.
const PATTERN_PATHS: Partial<Record<EntityType, string>> = {
  ipv4: 'ipv4-addr:value',
  ipv6: 'ipv6-addr:value',
  domain: 'domain-name:value',
  url: 'url:value',
  email: 'email-addr:value',
  md5: 'file:hashes.MD5',
  sha1: "file:hashes.'SHA-1'",
  sha256: "file:hashes.'SHA-256'",
};

/**
 * The indicators and vulnerabilities the product's text carries (issue 6: "indicator/observables
 * where the product carries them"): each entity extraction finds in a portion (analytics/extract)
 * that STIX has a pattern for becomes an `indicator`, each CVE a `vulnerability`, marked with its
 * portion's label. Only the portions of the version given are read: a torn version's withheld
 * portions give nothing.
 */
function entityObjects(
  product: DerivedProduct,
  versioned: Readonly<Record<string, unknown>>,
  created: string,
  markings: MarkingCollector,
): StixObject[] {
  const out = new Map<string, StixObject>();
  for (const entity of extractEntities(product.portions)) {
    const key = `entity:${product.id}:${entity.portionId}:${entity.type}:${entity.value}`;
    const path = PATTERN_PATHS[entity.type];
    const marked = { object_marking_refs: markings.refs(entity.label), x_accord_portion: entity.portionId };
    if (path !== undefined) {
      const id = stixIdOf('indicator', key);
      out.set(id, {
        type: 'indicator',
        id,
        ...versioned,
        name: `${entity.type} ${entity.value}`,
        indicator_types: ['unknown'],
        pattern: `[${path} = ${patternLiteral(entity.value)}]`,
        pattern_type: 'stix',
        valid_from: created,
        ...marked,
      });
    } else if (entity.type === 'cve') {
      const id = stixIdOf('vulnerability', key);
      const name = entity.value.toUpperCase();
      out.set(id, {
        type: 'vulnerability',
        id,
        ...versioned,
        name,
        external_references: [{ source_name: 'cve', external_id: name }],
        ...marked,
      });
    }
  }
  return [...out.values()];
}
