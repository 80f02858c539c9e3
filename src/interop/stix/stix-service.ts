import type { AuditEvent } from '../../audit/index.js';
import { AccordError, isAccordError } from '../../errors/index.js';
import { type MarkingRegistry, parseMarking } from '../../markings/index.js';
import {
  compileArrangement,
  type DerivedProduct,
  decideRead,
  decideRelease,
  tearProduct,
} from '../../policy/index.js';
import { type Product, parseProduct } from '../../products/index.js';
import { type Actor, readerOf, requirePermission } from '../../services/actor.js';
import { userActor } from '../../services/audit-events.js';
import type { AuditRecorder } from '../../services/audit-log.js';
import type { ProductService } from '../../services/product-service.js';
import {
  type ArrangementVersion,
  markingRefsOfObject,
  type ProductRecord,
  type ProductState,
  type Repositories,
  type StixObjectRecord,
  type Store,
} from '../../store/index.js';
import { type KeptStixIds, productToStix } from './export.js';
import { type StixObject, uuidV5 } from './ids.js';
import { planImport, versionOf } from './import.js';
import { parseStixObjects } from './validate.js';

/**
 * Who is looking: the node operator (everything stored), a user (what decideRead lets them read)
 * or a partner (what decideRelease would give them: the torn version, never more).
 */
export type StixViewer =
  | { readonly kind: 'operator' }
  | { readonly kind: 'user'; readonly actor: Actor }
  | {
      readonly kind: 'partner';
      readonly partner: string;
      /** Judge under this arrangement only; by default the one that gives the partner most. */
      readonly arrangementId?: string;
    };

/** One STIX object a viewer may see, with its version and when this node first held it (TAXII `date_added`). */
export interface StixEntry {
  /** The object (of an imported one, parsed when first read). */
  readonly object: StixObject;
  /** Its `id` and `type`, readable without parsing an imported object. */
  readonly id: string;
  readonly type: string;
  /** STIX `modified` (or `created`; '' for observables), as an ISO instant. */
  readonly version: string;
  readonly dateAdded: string;
}

/** A collection as StixService.collectionParts splits it for paging. */
export interface CollectionParts {
  /** Products whose stored objects are served as they are, read by the page in SQL. */
  readonly importedProducts: readonly string[];
  /** Every other object the viewer may see. */
  readonly entries: readonly StixEntry[];
  /** `id@version` of stored objects of those products not to serve: `entries` holds them, added earlier. */
  readonly hidden: ReadonlySet<string>;
}

export interface StixImportOptions {
  /**
   * Label of objects without an Accord statement marking, as a marking string. Default
   * UNCLASSIFIED//NOFORN: material of unknown handling is not passed on to partners until someone
   * marks it otherwise (deny by default).
   */
  readonly marking?: string;
  /** Told as objects are checked and stored: (done, total). */
  readonly onProgress?: (done: number, total: number) => void;
}

export interface StixImportSummary {
  readonly objects: number;
  /** Object versions this node did not hold before. */
  readonly added: number;
  /** Products created from reports. */
  readonly products: readonly string[];
}

export interface StixServiceDeps {
  readonly store: Store;
  readonly registry: MarkingRegistry;
  /** The partner this node belongs to. */
  readonly partner: string;
  readonly now: () => number;
  readonly products: ProductService;
  /** The audit log: every product an export hands out is logged (issue 5: "export"). */
  readonly audit?: AuditRecorder;
}

/** The label of imported material that carries no Accord statement marking, unless the importer gives one. */
export const DEFAULT_IMPORT_MARKING = 'UNCLASSIFIED//NOFORN';

// Products a partner may be sent: the states ProductService.release accepts.
const RELEASABLE: readonly ProductState[] = ['submitted', 'approved', 'released'];
const PAGE = 500;
// Parsed products kept for the read path (see #load): some 20,000 products' documents.
const PARSED_PRODUCTS = 20_000;
const STORE_CHUNK = 2000;
// Properties of a report that export writes itself; the rest of an imported report travels as is.
const REPORT_OWN = new Set([
  'type',
  'id',
  'spec_version',
  'created',
  'modified',
  'created_by_ref',
  'name',
  'description',
  'published',
  'object_refs',
  'object_marking_refs',
  'granular_markings',
  'x_accord_product',
]);

/** STIX 2.1 import and export over a node's store, filtered by the release and read policies. */
export class StixService {
  readonly #deps: StixServiceDeps;
  /** Products parsed without approvals, by id, with the version and state they were parsed at. */
  readonly #parsed = new Map<string, { readonly key: string; readonly product: Product }>();

  constructor(deps: StixServiceDeps) {
    this.#deps = deps;
  }

  /**
   * Imports a STIX 2.1 bundle (or object array, or one object) as `actor`: every object is checked
   * first and the first error is STIX_INVALID with its JSON path; then, in one transaction, each
   * report becomes a draft product through the normal creation path (validation, audit entry) and
   * every object is kept raw by id and version. Any failure stores nothing.
   */
  async import(actor: Actor, input: unknown, options: StixImportOptions = {}): Promise<StixImportSummary> {
    requirePermission(actor, 'product:create');
    const { registry } = this.#deps;
    const entries = parseStixObjects(input);
    const fallback = parseMarking(options.marking ?? DEFAULT_IMPORT_MARKING, registry).label;
    const plan = planImport(entries, { registry, fallback });
    const total = plan.objects.length;
    return this.#deps.store.transaction(async (tx) => {
      const created: string[] = [];
      for (const planned of plan.products) {
        if ((await tx.products.get(planned.productId)) !== undefined) continue;
        try {
          await this.#deps.products.createDraftIn(tx, actor, planned.draft, { id: planned.productId });
        } catch (error) {
          if (
            !isAccordError(error) ||
            !(error.code === 'PRODUCT_INVALID' || error.code.startsWith('MARKING_'))
          )
            throw error;
          throw new AccordError(
            'STIX_INVALID',
            `STIX ${planned.path}: the report cannot become a product: ${error.message}`,
            { path: planned.path },
            { cause: error },
          );
        }
        created.push(planned.productId);
      }
      let added = 0;
      for (let start = 0; start < total; start += STORE_CHUNK) {
        const rows = plan.objects.slice(start, start + STORE_CHUNK).map((o) => ({
          stixId: o.object.id,
          version: o.version,
          type: o.object.type,
          productId: o.productId ?? null,
          portionId: o.portionId ?? null,
          json: JSON.stringify(o.object),
          markingRefs: markingRefsOfObject(o.object),
        }));
        added += await tx.stix.addMany(rows);
        options.onProgress?.(Math.min(total, start + STORE_CHUNK), total);
      }
      if (total === 0) options.onProgress?.(0, 0);
      return { objects: total, added, products: created };
    });
  }

  /** A bundle of what `viewer` may see, of one product or of all. */
  async exportBundle(
    viewer: StixViewer,
    options: { readonly productId?: string } = {},
  ): Promise<{ readonly type: 'bundle'; readonly id: string; readonly objects: readonly StixObject[] }> {
    const productIds = options.productId === undefined ? undefined : [options.productId];
    const entries = await this.objectsFor(viewer, productIds === undefined ? {} : { productIds });
    if (options.productId !== undefined && entries.length === 0) {
      throw new AccordError('NOT_FOUND', `no product '${options.productId}'`, { id: options.productId });
    }
    const objects = entries.map((e) => e.object);
    await this.#logExport(viewer, objects);
    // Deterministic: the same objects give the same bundle id.
    const id = `bundle--${uuidV5(`bundle:${entries.map((e) => `${e.object.id}@${e.version}`).join(',')}`)}`;
    return { type: 'bundle', id, objects };
  }

  /** One `product.exported` entry per product version in an export, in one transaction. */
  async #logExport(viewer: StixViewer, objects: readonly StixObject[]): Promise<void> {
    const audit = this.#deps.audit;
    if (audit === undefined) return;
    const events: AuditEvent[] = [];
    for (const object of objects) {
      const product = (object as { x_accord_product?: { id?: unknown; version?: unknown } }).x_accord_product;
      if (object.type !== 'report' || typeof product?.id !== 'string' || typeof product.version !== 'number')
        continue;
      events.push({
        action: 'product.exported',
        actor: viewer.kind === 'user' ? userActor(viewer.actor) : { kind: 'node' },
        product: { id: product.id, version: product.version },
        ...(viewer.kind === 'partner' ? { partner: viewer.partner } : {}),
      });
    }
    if (events.length === 0) return;
    await this.#deps.store.transaction(async (tx) => {
      for (const event of events) await audit.recordIn(tx, event);
    });
  }

  /**
   * The STIX objects `viewer` may see, each with its version and the date this node added it: for
   * every product, the version the policy gives the viewer (whole, or torn, or nothing); imported
   * objects of no product only for the operator; and the marking definitions all of them name.
   * Ids and versions are stable: deterministic for our products, kept for imported ones.
   */
  async objectsFor(
    viewer: StixViewer,
    options: { readonly productIds?: readonly string[] } = {},
  ): Promise<StixEntry[]> {
    const store = this.#deps.store;
    const out = new Map<string, StixEntry>();
    const add = (entry: StixEntry) => addEarliest(out, entry);
    for (const { record, seen } of await this.#visibleProducts(viewer, options.productIds)) {
      const raw = await store.stix.list({ productId: record.id });
      const entries = raw.length > 0 && servedAsImported(record, seen) ? raw.map(storedEntry) : undefined;
      for (const entry of entries ?? (await this.#generated(record, seen, raw))) add(entry);
    }
    // Imported objects of no product, read once.
    const raw = await store.stix.list({ productId: null });
    if (viewer.kind === 'operator' && options.productIds === undefined) {
      for (const r of raw) add(storedEntry(r));
    } else {
      // Foreign objects of no product carry no label this node can judge: deny by default, except
      // the marking definitions that what the viewer sees names (foreign ones travel with them).
      const definitions = raw.filter((r) => r.type === 'marking-definition');
      if (definitions.length > 0) {
        const named = new Set([...out.values()].flatMap((e) => markingRefsOfObject(e.object)));
        for (const r of definitions) if (named.has(r.stixId)) add(storedEntry(r));
      }
    }
    // TAXII 2.1: objects in the order the node added them (a stable sort: a product's report, then
    // its notes in portion order). ISO instants order as text; compared by code unit, which is
    // what the order means and far cheaper than localeCompare over a million entries.
    return [...out.values()].sort((a, b) =>
      a.dateAdded < b.dateAdded ? -1 : a.dateAdded > b.dateAdded ? 1 : 0,
    );
  }

  /**
   * What `viewer` may see of a TAXII collection, in two parts, for paging in SQL (issue 6): the
   * products whose stored objects the viewer is served as imported (`importedProducts`: each
   * seen whole, unedited, with objects stored), and every other visible object in memory
   * (`entries`: generated versions, and the marking definitions of no product that anything
   * visible names). Together they are objectsFor's answer: an id and version in both is kept once,
   * added earliest, and `hidden` lists the stored ones to skip because the memory part holds them.
   */
  async collectionParts(
    viewer: StixViewer,
    options: { readonly productIds?: readonly string[] } = {},
  ): Promise<CollectionParts> {
    const store = this.#deps.store;
    const visible = await this.#visibleProducts(viewer, options.productIds);
    const stored = await store.stix.productsWithObjects(
      visible.filter(({ record, seen }) => servedAsImported(record, seen)).map(({ record }) => record.id),
    );
    const importedProducts = visible
      .filter(({ record }) => stored.has(record.id))
      .map(({ record }) => record.id);
    const out = new Map<string, StixEntry>();
    const add = (entry: StixEntry) => addEarliest(out, entry);
    for (const { record, seen } of visible) {
      if (stored.has(record.id)) continue;
      // Only the stored objects a generated version reuses the ids of.
      const heads = await store.stix.list({ productId: record.id, types: ['report', 'note', 'location'] });
      for (const entry of await this.#generated(record, seen, heads)) add(entry);
    }
    const named = new Set(await store.stix.markingRefsOf(importedProducts));
    for (const e of out.values()) for (const ref of markingRefsOfObject(e.object)) named.add(ref);
    for (const r of await store.stix.list({ productId: null, types: ['marking-definition'] })) {
      if (named.has(r.stixId)) add(storedEntry(r));
    }
    // An id and version both generated here and stored with a product served as imported: the
    // earlier added is kept (the stored one on a tie), as objectsFor keeps it.
    const hidden = new Set<string>();
    const twins = await store.stix.versionsOf(
      [...new Set([...out.values()].map((e) => e.id))],
      importedProducts,
    );
    for (const twin of twins) {
      const key = `${twin.stixId}@${twin.version}`;
      const held = out.get(key);
      if (held === undefined) continue;
      if (held.dateAdded < twin.dateAdded) hidden.add(key);
      else out.delete(key);
    }
    return { importedProducts, entries: [...out.values()], hidden };
  }

  /** The products of `productIds` (default all) `viewer` may see, with the version the policy gives them. */
  async #visibleProducts(
    viewer: StixViewer,
    productIds?: readonly string[],
  ): Promise<{ readonly record: ProductRecord; readonly seen: DerivedProduct }[]> {
    if (viewer.kind === 'user') requirePermission(viewer.actor, 'product:read');
    const store = this.#deps.store;
    const arrangements = viewer.kind === 'partner' ? await this.#arrangementsWith(viewer) : [];
    const records =
      productIds === undefined
        ? await this.#allProducts()
        : (await Promise.all(productIds.map((id) => store.products.get(id)))).filter(
            (r): r is ProductRecord => r !== undefined,
          );
    const out: { record: ProductRecord; seen: DerivedProduct }[] = [];
    for (const record of records) {
      const seen = await this.#productFor(viewer, record, arrangements);
      if (seen !== undefined) out.push({ record, seen });
    }
    return out;
  }

  async #allProducts(): Promise<ProductRecord[]> {
    const all: ProductRecord[] = [];
    for (let offset = 0; ; offset += PAGE) {
      const page = await this.#deps.store.products.list({ limit: PAGE, offset });
      all.push(...page);
      if (page.length < PAGE) return all;
    }
  }

  async #arrangementsWith(viewer: {
    partner: string;
    arrangementId?: string;
  }): Promise<ArrangementVersion[]> {
    const versions = await this.#deps.store.arrangements.list();
    const governing = new Map<string, ArrangementVersion>();
    for (const v of versions) {
      if (viewer.arrangementId !== undefined && v.id !== viewer.arrangementId) continue;
      const held = governing.get(v.id);
      // The newest version signed into force governs (as ProductService.release picks it).
      if (
        held === undefined ||
        (v.status === 'active' && (held.status !== 'active' || v.version > held.version))
      ) {
        governing.set(v.id, v);
      }
    }
    return [...governing.values()];
  }

  /**
   * The product as stored. Approvals only count for partners (the release policy); without them a
   * stored version never changes, so it is parsed once and kept while its version and state hold:
   * a TAXII page judges every product a reader may see on each request.
   */
  async #load(tx: Repositories, record: ProductRecord, withApprovals: boolean): Promise<Product | undefined> {
    const key = `${record.currentVersion}:${record.state}`;
    if (!withApprovals) {
      const held = this.#parsed.get(record.id);
      if (held?.key === key) return held.product;
    }
    const version = await tx.products.getVersion(record.id, record.currentVersion);
    if (version === undefined) return undefined;
    const approvals = withApprovals ? await tx.approvals.list(record.id, record.currentVersion) : [];
    const product = parseProduct(
      {
        ...version.document,
        approvals: approvals.map((a) => ({ by: a.by, version: a.version, at: a.at, decision: a.decision })),
        recalled: record.state === 'recalled',
      },
      this.#deps.registry,
    );
    if (!withApprovals) {
      this.#parsed.delete(record.id);
      this.#parsed.set(record.id, { key, product });
      // The oldest kept first out, past the bound.
      if (this.#parsed.size > PARSED_PRODUCTS)
        this.#parsed.delete(this.#parsed.keys().next().value as string);
    }
    return product;
  }

  /** The version of a product `viewer` may have, or undefined when none. */
  async #productFor(
    viewer: StixViewer,
    record: ProductRecord,
    arrangements: readonly ArrangementVersion[],
  ): Promise<DerivedProduct | undefined> {
    const { store, registry } = this.#deps;
    const at = this.#deps.now();
    if (viewer.kind === 'user' && record.state === 'draft' && record.author !== viewer.actor.user.username) {
      return undefined;
    }
    if (viewer.kind === 'partner' && !RELEASABLE.includes(record.state)) return undefined;
    const product = await this.#load(store, record, viewer.kind === 'partner');
    if (product === undefined) return undefined;
    switch (viewer.kind) {
      case 'operator':
        return tearProduct(product, product.portions, true, registry, at);
      case 'user': {
        const decision = decideRead(product, readerOf(viewer.actor.user), { at, registry });
        return decision.effect === 'allow' ? (decision.derived ?? undefined) : undefined;
      }
      case 'partner': {
        const consents = await store.consents.list({ productId: record.id, recipient: viewer.partner });
        let best: DerivedProduct | undefined;
        for (const arrangement of arrangements) {
          const decision = decideRelease(
            product,
            compileArrangement(arrangement.document, registry),
            viewer.partner,
            {
              at,
              sender: this.#deps.partner,
              consents: consents.map((c) => ({
                originator: c.originator,
                recipient: c.recipient,
                productId: c.productId,
                grantedAt: c.grantedAt,
                ...(c.expiresAt === null ? {} : { expiresAt: c.expiresAt }),
              })),
            },
          );
          const derived = decision.effect === 'allow' ? decision.derived : null;
          if (derived !== null && (best === undefined || derived.withheldCount < best.withheldCount))
            best = derived;
        }
        return best;
      }
    }
  }

  /**
   * A product version as STIX written here, reusing the ids of what was imported for it (`raw`:
   * its stored report, notes and footprint at least).
   */
  async #generated(
    record: ProductRecord,
    seen: DerivedProduct,
    raw: readonly StixObjectRecord[],
  ): Promise<StixEntry[]> {
    const store = this.#deps.store;
    const first = await store.products.getVersion(record.id, 1);
    const current = await store.products.getVersion(record.id, record.currentVersion);
    if (first === undefined || current === undefined) return [];
    const report = raw.filter((r) => r.type === 'report').at(-1);
    const kept = report === undefined ? undefined : keptIds(report, raw);
    // An imported version keeps its STIX version; a version written here is versioned by its time.
    const imported = report !== undefined && record.currentVersion === 1 ? report : undefined;
    const modified = imported === undefined ? current.createdAt : imported.version;
    const dateAdded = imported === undefined ? current.createdAt : imported.dateAdded;
    const objects = productToStix({
      product: seen,
      created: typeof report?.object.created === 'string' ? report.object.created : first.createdAt,
      modified,
      registry: this.#deps.registry,
      ...(kept === undefined ? {} : { ids: kept }),
      ...(report === undefined
        ? {}
        : { custom: Object.fromEntries(Object.entries(report.object).filter(([k]) => !REPORT_OWN.has(k))) }),
    });
    return objects.map((object) => ({
      object,
      id: object.id,
      type: object.type,
      version: versionOf(object),
      dateAdded,
    }));
  }
}

/**
 * Keeps `entry` unless an entry of the same id and version added earlier is held. An object several
 * products share (a marking definition) was added when the first of them was: keeping the
 * earliest date keeps its TAXII date_added still as later products arrive, so a client resuming
 * with added_after is not sent it again.
 */
function addEarliest(out: Map<string, StixEntry>, entry: StixEntry): void {
  const key = `${entry.id}@${entry.version}`;
  const held = out.get(key);
  if (held === undefined || entry.dateAdded < held.dateAdded) out.set(key, entry);
}

/** A stored object as an entry, parsed only when its object is read. */
export function storedEntry(r: StixObjectRecord): StixEntry {
  return {
    get object() {
      return r.object as StixObject;
    },
    id: r.stixId,
    type: r.type,
    version: r.version,
    dateAdded: r.dateAdded,
  };
}

/** Whether a product is served as its stored objects came: the viewer sees it whole and it was never edited here. */
function servedAsImported(record: ProductRecord, seen: DerivedProduct): boolean {
  return seen.withheldCount === 0 && !seen.titleWithheld && record.currentVersion === 1;
}

function keptIds(report: StixObjectRecord, raw: readonly StixObjectRecord[]): KeptStixIds {
  const notes: Record<string, string> = {};
  for (const r of raw) if (r.type === 'note' && r.portionId !== null) notes[r.portionId] = r.stixId;
  const location = raw.find((r) => r.type === 'location')?.stixId;
  return { report: report.stixId, notes, ...(location === undefined ? {} : { location }) };
}
