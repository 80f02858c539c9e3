import { AccordError } from '../errors/index.js';
import type { BoundingBox, EntitySource, SearchHit, Store } from '../store/index.js';
import { type Actor, requirePermission } from './actor.js';
import type { CorrelationService } from './correlation-service.js';
import { bboxOf, intersects } from './product-service.js';

// Issue 9, search. The full-text index finds candidate titles and portions; each candidate product
// is then read as the caller (decideRead, through CorrelationService.readable) and a hit counts
// only in a portion they may read (the title only when it is not withheld from them). Filters are
// judged on what they may read. Only then are results ranked, counted and paged, so the total, the
// order and the pages are the same whether or not products they cannot read match.

export interface SearchInput {
  readonly q: string;
  readonly source?: EntitySource;
  readonly discipline?: string;
  readonly category?: string;
  readonly originator?: string;
  readonly bbox?: BoundingBox;
  /** A point (lat, lon) and a radius: the readable footprint comes within radiusKm of it. */
  readonly near?: { readonly lat: number; readonly lon: number; readonly radiusKm: number };
  readonly limit?: number;
  readonly offset?: number;
}

export interface SearchResult {
  readonly source: EntitySource;
  readonly id: string;
  readonly version: number;
  readonly originator: string;
  readonly title: string;
  readonly banner: string;
  readonly discipline: string;
  /** The readable portions that matched ('' is the title). */
  readonly matched: readonly string[];
}

const EARTH_KM = 6371;

/** Great-circle distance (haversine) in km. */
function distanceKm(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLon = (lon2 - lon1) * rad;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_KM * Math.asin(Math.min(1, Math.sqrt(a)));
}

/** Whether a box comes within `radiusKm` of a point: the distance to the nearest point of the box. */
function isNear(box: BoundingBox, near: NonNullable<SearchInput['near']>): boolean {
  const lat = Math.min(Math.max(near.lat, box.minLat), box.maxLat);
  const lon = Math.min(Math.max(near.lon, box.minLon), box.maxLon);
  return distanceKm(near.lat, near.lon, lat, lon) <= near.radiusKm;
}

export interface SearchServiceDeps {
  readonly store: Store;
  readonly correlation: CorrelationService;
}

/** Full-text and geo search over own and received products, filtered by the read policy first. */
export class SearchService {
  readonly #deps: SearchServiceDeps;

  constructor(deps: SearchServiceDeps) {
    this.#deps = deps;
  }

  async search(
    actor: Actor,
    input: SearchInput,
  ): Promise<{ readonly items: readonly SearchResult[]; readonly total: number }> {
    requirePermission(actor, 'product:read');
    if (input.q.trim() === '') throw new AccordError('INPUT_INVALID', 'search: q is empty', { path: '/q' });
    const byProduct = new Map<string, SearchHit[]>();
    for (const hit of await this.#deps.store.search.match(input.q)) {
      if (input.source !== undefined && hit.source !== input.source) continue;
      const key = `${hit.source}\u0000${hit.productId}`;
      const list = byProduct.get(key) ?? [];
      list.push(hit);
      byProduct.set(key, list);
    }
    const visible: { result: SearchResult; score: number }[] = [];
    for (const hits of byProduct.values()) {
      const first = hits[0] as SearchHit;
      const seen = await this.#deps.correlation.readable(actor, first.source, first.productId);
      if (seen === undefined) continue;
      const readable = hits.filter((h) =>
        h.portionId === '' ? !seen.titleWithheld : seen.portionIds.has(h.portionId),
      );
      if (readable.length === 0) continue;
      if (input.discipline !== undefined && seen.discipline !== input.discipline) continue;
      if (input.category !== undefined && !seen.categories.includes(input.category)) continue;
      if (input.originator !== undefined && seen.originator !== input.originator) continue;
      if (input.bbox !== undefined || input.near !== undefined) {
        const box = bboxOf(seen.geo);
        if (box === null) continue;
        if (input.bbox !== undefined && !intersects(box, input.bbox)) continue;
        if (input.near !== undefined && !isNear(box, input.near)) continue;
      }
      const matched = new Set(readable.map((h) => h.portionId));
      visible.push({
        // A title match first, then more matching readable portions (see the sort below).
        score: -((matched.has('') ? 1000 : 0) + matched.size),
        result: {
          source: seen.source,
          id: seen.id,
          version: seen.version,
          originator: seen.originator,
          title: seen.title,
          banner: seen.banner,
          discipline: seen.discipline,
          matched: [...matched].sort(),
        },
      });
    }
    // Ranked on what the reader may read alone: bm25 (FTS5) weighs a word by how many rows in the
    // whole index hold it, so ranking by it would let products the reader cannot read reorder
    // their results. The index finds candidates; the order is readable matches, then the id.
    visible.sort(
      (a, b) =>
        a.score - b.score ||
        a.result.id.localeCompare(b.result.id) ||
        a.result.source.localeCompare(b.result.source),
    );
    const offset = input.offset ?? 0;
    const limit = input.limit ?? 50;
    return { items: visible.slice(offset, offset + limit).map((v) => v.result), total: visible.length };
  }
}
