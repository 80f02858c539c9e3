import {
  clusterNearDuplicates,
  queryTermsOf,
  rankBySimilarity,
  shinglesOf,
  termCountsOf,
} from '../analytics/index.js';
import { AccordError } from '../errors/index.js';
import type { EntitySource, IndexedProduct, Store } from '../store/index.js';
import { type Actor, requirePermission } from './actor.js';
import type { CorrelationService, ReadableProduct } from './correlation-service.js';

// Issue 9, related products by text and near-duplicates across partners. Every text here is what
// the caller may read (CorrelationService.readable: the title unless withheld, the portions
// decideRead lets them see); every statistic (term document frequencies, shingle frequencies) is
// computed over those texts alone. The index only proposes candidates, each then read as the
// caller, so an answer is the same whether or not products they cannot read hold the same words.

/** How many of the subject's terms select candidates (its most frequent, from its readable text). */
export const QUERY_TERMS = 64;
/** Word shingles of this many words for near-duplicates. */
export const SHINGLE_WORDS = 3;
export const DEFAULT_DUPLICATE_THRESHOLD = 0.8;

/** A product as the reader sees it, in an answer. */
export interface ProductRef {
  readonly source: EntitySource;
  readonly id: string;
  readonly version: number;
  readonly originator: string;
  readonly title: string;
  readonly banner: string;
}

/** A product similar to the subject by TF-IDF cosine over the text the reader may read. */
export interface SimilarProduct extends ProductRef {
  /** Cosine in (0, 1], to four places. */
  readonly score: number;
  /** The shared terms weighing most, at most five. */
  readonly terms: readonly string[];
}

/** Products from at least two partners whose readable text is nearly the same. */
export interface DuplicateClusterView {
  /** The lowest shingle Jaccard among the pairs that joined the cluster, to four places. */
  readonly similarity: number;
  readonly partners: readonly string[];
  readonly products: readonly ProductRef[];
}

export interface SimilarityServiceDeps {
  readonly store: Store;
  readonly correlation: CorrelationService;
}

const keyOf = (p: { readonly source: EntitySource; readonly id: string }): string => `${p.source}:${p.id}`;
const round4 = (n: number): number => Math.round(n * 10_000) / 10_000;

function refOf(p: ReadableProduct): ProductRef {
  return {
    source: p.source,
    id: p.id,
    version: p.version,
    originator: p.originator,
    title: p.title,
    banner: p.banner,
  };
}

/** The text of a product the reader may read: the title (empty when withheld) and the readable portions. */
function textsOf(p: ReadableProduct): string[] {
  return [p.title, ...p.portionTexts];
}

/** Related products by text and near-duplicate clusters, over what the caller may read. */
export class SimilarityService {
  readonly #deps: SimilarityServiceDeps;

  constructor(deps: SimilarityServiceDeps) {
    this.#deps = deps;
  }

  async #readAll(actor: Actor, refs: readonly IndexedProduct[]): Promise<ReadableProduct[]> {
    const seen: ReadableProduct[] = [];
    for (const ref of refs) {
      const p = await this.#deps.correlation.readable(actor, ref.source, ref.productId);
      if (p !== undefined) seen.push(p);
    }
    return seen;
  }

  /**
   * The products most similar to this one by TF-IDF cosine over the text `actor` may read in each:
   * NOT_FOUND when they may read none of it. The candidates are the products whose readable text
   * holds one of the subject's 64 most frequent readable terms; document frequencies are counted
   * over the subject and those candidates. Highest score first, then source and id.
   */
  async similar(
    actor: Actor,
    source: EntitySource,
    id: string,
    options: { readonly limit?: number } = {},
  ): Promise<readonly SimilarProduct[]> {
    requirePermission(actor, 'product:read');
    const subject = await this.#deps.correlation.readable(actor, source, id);
    if (subject === undefined) throw new AccordError('NOT_FOUND', `no product '${id}'`, { id });
    const counts = termCountsOf(textsOf(subject));
    const query = queryTermsOf(counts, QUERY_TERMS);
    if (query.length === 0) return [];
    const refs = (await this.#deps.store.search.holdingAny(query)).filter(
      (r) => !(r.source === source && r.productId === id),
    );
    const candidates = await this.#readAll(actor, refs);
    const byKey = new Map(candidates.map((c) => [keyOf(c), c]));
    const ranked = rankBySimilarity(
      { key: keyOf(subject), counts },
      candidates.map((c) => ({ key: keyOf(c), counts: termCountsOf(textsOf(c)) })),
      query,
      options.limit ?? 20,
    );
    return ranked.map((r) => ({
      ...refOf(byKey.get(r.key) as ReadableProduct),
      score: round4(r.score),
      terms: r.terms,
    }));
  }

  /**
   * Near-duplicates across partners: the products `actor` may read whose readable portions' text
   * has word-shingle Jaccard ≥ `threshold` with another's, clustered, and only the clusters with
   * products of at least two originators. Reads every indexed product as the caller.
   */
  async duplicates(
    actor: Actor,
    options: { readonly threshold?: number; readonly limit?: number } = {},
  ): Promise<readonly DuplicateClusterView[]> {
    requirePermission(actor, 'product:read');
    const threshold = options.threshold ?? DEFAULT_DUPLICATE_THRESHOLD;
    // Below one half, "near-duplicate" means little and nearly every pair of short reports joins.
    if (!(threshold >= 0.5 && threshold <= 1)) {
      throw new AccordError('INPUT_INVALID', 'duplicates: threshold must be between 0.5 and 1', {
        path: '/threshold',
      });
    }
    const readable = await this.#readAll(actor, await this.#deps.store.search.products());
    const byKey = new Map(readable.map((p) => [keyOf(p), p]));
    const clusters = clusterNearDuplicates(
      readable.map((p) => ({
        key: keyOf(p),
        group: p.originator,
        shingles: shinglesOf(p.portionTexts, SHINGLE_WORDS),
      })),
      threshold,
    );
    return clusters.slice(0, options.limit ?? 100).map((c) => ({
      similarity: round4(c.similarity),
      partners: c.groups,
      products: c.keys.map((k) => refOf(byKey.get(k) as ReadableProduct)),
    }));
  }
}
