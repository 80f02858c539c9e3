import { AccordError } from '../errors/index.js';
import type { EntityOccurrence, EntitySource, Store } from '../store/index.js';
import { type Actor, requirePermission } from './actor.js';
import type { ProductService } from './product-service.js';
import type { ReceivedService } from './received-service.js';

// Issue 9, correlation, label-aware: two products are linked by an entity only where the reader
// may read the portion holding it in both (decideRead per portion, through the read paths of
// ProductService and ReceivedService). A link the reader may not see is not counted, hinted at or
// summarised anywhere: the answer is computed from what they may read and nothing else, so it is
// the same whether or not unreadable products sharing the entity exist.

/** A product as the reader sees it, reduced to what correlation needs. */
export interface ReadableProduct {
  readonly source: EntitySource;
  readonly id: string;
  readonly version: number;
  readonly originator: string;
  /** Empty when the title is withheld from this reader. */
  readonly title: string;
  readonly banner: string;
  readonly discipline: string;
  readonly categories: readonly string[];
  readonly reliability: string;
  readonly titleWithheld: boolean;
  /** The readable geo footprint. */
  readonly geo: Readonly<Record<string, unknown>> | null;
  /** The ids of the portions this reader may read. */
  readonly portionIds: ReadonlySet<string>;
  /** The text of the portions this reader may read, in order. */
  readonly portionTexts: readonly string[];
}

/** One product linked to the subject, with the entities that link them as the reader sees both. */
export interface RelatedProduct {
  readonly source: EntitySource;
  readonly id: string;
  readonly version: number;
  readonly originator: string;
  readonly title: string;
  readonly banner: string;
  /** When the linked version was written (own) or received (from a partner). */
  readonly reportedAt: string;
  readonly shared: readonly { readonly type: string; readonly value: string }[];
}

export interface CorrelationServiceDeps {
  readonly store: Store;
  readonly products: ProductService;
  readonly received: ReceivedService;
}

function notFound(id: string): AccordError {
  return new AccordError('NOT_FOUND', `no product '${id}'`, { id });
}

const keyOf = (type: string, value: string): string => `${type}\u0000${value}`;

/** Label-aware correlation over the entity index. */
export class CorrelationService {
  readonly #deps: CorrelationServiceDeps;

  constructor(deps: CorrelationServiceDeps) {
    this.#deps = deps;
  }

  /** What `actor` may read of a product's current version, or undefined when nothing. */
  async readable(actor: Actor, source: EntitySource, id: string): Promise<ReadableProduct | undefined> {
    let view: Parameters<typeof readableOf>[2] | undefined;
    if (source === 'own') {
      const snapshot = await this.#deps.products.snapshot(id);
      view = snapshot === undefined ? undefined : this.#deps.products.viewFrom(actor, snapshot);
    } else {
      view = await this.#deps.received.viewOf(actor, id);
    }
    return view === undefined ? undefined : readableOf(source, id, view);
  }

  /** The occurrences of a product's entities that `seen` (what the reader may read of it) covers. */
  async #visibleOccurrences(seen: ReadableProduct): Promise<EntityOccurrence[]> {
    const held = await this.#deps.store.entities.of(seen.source, seen.id);
    return held.filter((o) => o.version === seen.version && seen.portionIds.has(o.portionId));
  }

  /**
   * The other products sharing an entity with this one, as `actor` may see them: NOT_FOUND when
   * they may read none of it (as a read would answer), and each link only where they may read the
   * portion holding the entity in both products. Most shared entities first, then by id.
   */
  async related(actor: Actor, source: EntitySource, id: string): Promise<readonly RelatedProduct[]> {
    requirePermission(actor, 'product:read');
    const subject = await this.readable(actor, source, id);
    if (subject === undefined) throw notFound(id);
    return this.relatedTo(actor, subject, await this.#visibleOccurrences(subject));
  }

  /**
   * The products other than `subject` in which `actor` may read a portion holding one of
   * `entities` (entities the caller has already judged the actor may see in the subject).
   */
  async relatedTo(
    actor: Actor,
    subject: { readonly source: EntitySource; readonly id: string },
    entities: readonly { readonly type: string; readonly value: string }[],
  ): Promise<RelatedProduct[]> {
    const wanted = new Map<string, { type: string; value: string }>();
    for (const e of entities) wanted.set(keyOf(e.type, e.value), { type: e.type, value: e.value });
    if (wanted.size === 0) return [];
    const candidates = new Map<string, EntityOccurrence[]>();
    for (const o of await this.#deps.store.entities.sharing([...wanted.values()])) {
      if (o.source === subject.source && o.productId === subject.id) continue;
      const key = `${o.source}\u0000${o.productId}`;
      const list = candidates.get(key) ?? [];
      list.push(o);
      candidates.set(key, list);
    }
    const related: RelatedProduct[] = [];
    for (const occurrences of candidates.values()) {
      const first = occurrences[0] as EntityOccurrence;
      const other = await this.readable(actor, first.source, first.productId);
      if (other === undefined) continue;
      const shared = new Map<string, { type: string; value: string }>();
      for (const o of occurrences) {
        if (o.version !== other.version || !other.portionIds.has(o.portionId)) continue;
        shared.set(keyOf(o.type, o.value), { type: o.type, value: o.value });
      }
      if (shared.size === 0) continue;
      related.push({
        source: other.source,
        id: other.id,
        version: other.version,
        originator: other.originator,
        title: other.title,
        banner: other.banner,
        reportedAt: first.reportedAt,
        shared: [...shared.values()].sort(
          (a, b) => a.type.localeCompare(b.type) || a.value.localeCompare(b.value),
        ),
      });
    }
    return related.sort(
      (a, b) =>
        b.shared.length - a.shared.length || a.id.localeCompare(b.id) || a.source.localeCompare(b.source),
    );
  }

  /** The entities `actor` may see in a product's current version (each once). */
  async entitiesOf(
    actor: Actor,
    subject: ReadableProduct,
  ): Promise<{ readonly type: string; readonly value: string }[]> {
    requirePermission(actor, 'product:read');
    const seen = new Map<string, { type: string; value: string }>();
    for (const o of await this.#visibleOccurrences(subject)) seen.set(keyOf(o.type, o.value), o);
    return [...seen.values()].map(({ type, value }) => ({ type, value }));
  }
}

/** What a reader sees of a product (own or received view alike), as correlation and search judge it. */
function readableOf(
  source: EntitySource,
  id: string,
  view: {
    readonly version: number;
    readonly originator: string;
    readonly title: string;
    readonly titleWithheld: boolean;
    readonly banner: string;
    readonly discipline: ReadableProduct['discipline'];
    readonly categories: ReadableProduct['categories'];
    readonly reliability: ReadableProduct['reliability'];
    readonly geo: ReadableProduct['geo'];
    readonly portions: readonly { readonly id: string; readonly text: string }[];
  },
): ReadableProduct {
  return {
    source,
    id,
    version: view.version,
    originator: view.originator,
    title: view.titleWithheld ? '' : view.title,
    banner: view.banner,
    discipline: view.discipline,
    categories: view.categories,
    reliability: view.reliability,
    titleWithheld: view.titleWithheld,
    geo: view.geo,
    portionIds: new Set(view.portions.map((p) => p.id)),
    portionTexts: view.portions.map((p) => p.text),
  };
}
