import { type Kysely, sql } from 'kysely';
import { findEntities } from '../../analytics/index.js';
import type { Database, EntityOccurrencesTable } from '../schema.js';
import type {
  EntityIndexRepository,
  EntityOccurrence,
  EntitySource,
  IndexedProduct,
  SearchHit,
  SearchIndexRepository,
} from '../store.js';
import type { RepositoryContext } from './context.js';

// Issue 9: the entity index is written by the repositories that store versions, in their own
// statements (so in the caller's transaction), never by a service that might forget to.

function toOccurrence(row: EntityOccurrencesTable): EntityOccurrence {
  return {
    source: row.source as EntitySource,
    productId: row.product_id,
    version: row.version,
    portionId: row.portion_id,
    type: row.entity_type,
    value: row.value,
    originator: row.originator,
    reportedAt: row.reported_at,
  };
}

/** What is indexed of one version: its id, version, originator, time and portions' text. */
export interface IndexedVersion {
  readonly id: string;
  readonly version: number;
  readonly originator: string;
  readonly reportedAt: string;
  readonly title: string;
  readonly portions: readonly { readonly id: string; readonly text: string }[];
}

// Statements bind at most this many (type, value) pairs each, well under SQLite's variable limit.
const LOOKUP_CHUNK = 200;

/** Replaces the entities indexed for a product by those of `version`. */
export async function indexVersion(
  db: Kysely<Database>,
  source: EntitySource,
  version: IndexedVersion,
): Promise<void> {
  await dropIndexed(db, source, version.id);
  const seen = new Set<string>();
  const rows: EntityOccurrencesTable[] = [];
  for (const found of findEntities(version.portions)) {
    const key = `${found.portionId}\u0000${found.type}\u0000${found.value}`;
    if (seen.has(key)) continue;
    seen.add(key);
    rows.push({
      source,
      product_id: version.id,
      version: version.version,
      portion_id: found.portionId,
      entity_type: found.type,
      value: found.value,
      originator: version.originator,
      reported_at: version.reportedAt,
    });
  }
  for (let i = 0; i < rows.length; i += LOOKUP_CHUNK) {
    await db
      .insertInto('entity_occurrences')
      .values(rows.slice(i, i + LOOKUP_CHUNK))
      .execute();
  }
  // Full-text rows: the title under portion id '', then each portion, so a match is judged later
  // against exactly what a reader may read.
  const texts = [{ id: '', text: version.title }, ...version.portions];
  for (let i = 0; i < texts.length; i += LOOKUP_CHUNK) {
    await db
      .insertInto('search_text')
      .values(
        texts.slice(i, i + LOOKUP_CHUNK).map((t) => ({
          source,
          product_id: version.id,
          version: version.version,
          portion_id: t.id,
          body: t.text,
        })),
      )
      .execute();
  }
}

/** Removes every entity indexed for a product (a recall erases what it said). */
export async function dropIndexed(
  db: Kysely<Database>,
  source: EntitySource,
  productId: string,
): Promise<void> {
  await db
    .deleteFrom('search_text')
    .where('source', '=', source)
    .where('product_id', '=', productId)
    .execute();
  await db
    .deleteFrom('entity_occurrences')
    .where('source', '=', source)
    .where('product_id', '=', productId)
    .execute();
}

/** The version indexed for a product, or undefined when none is. */
export async function indexedVersionOf(
  db: Kysely<Database>,
  source: EntitySource,
  productId: string,
): Promise<number | undefined> {
  // Every indexed version has its title row, entities or not.
  const row = await db
    .selectFrom('search_text')
    .select('version')
    .where('source', '=', source)
    .where('product_id', '=', productId)
    .limit(1)
    .executeTakeFirst();
  return row === undefined ? undefined : Number(row.version);
}

export function createEntityIndexRepository(ctx: RepositoryContext): EntityIndexRepository {
  const { db } = ctx;
  return {
    async of(source, productId) {
      const rows = await db
        .selectFrom('entity_occurrences')
        .selectAll()
        .where('source', '=', source)
        .where('product_id', '=', productId)
        .orderBy('portion_id')
        .orderBy('entity_type')
        .orderBy('value')
        .execute();
      return rows.map(toOccurrence);
    },

    async sharing(entities) {
      const found: EntityOccurrence[] = [];
      for (let i = 0; i < entities.length; i += LOOKUP_CHUNK) {
        const chunk = entities.slice(i, i + LOOKUP_CHUNK);
        const rows = await db
          .selectFrom('entity_occurrences')
          .selectAll()
          .where((eb) =>
            eb.or(chunk.map((e) => eb.and([eb('entity_type', '=', e.type), eb('value', '=', e.value)]))),
          )
          .execute();
        found.push(...rows.map(toOccurrence));
      }
      return found;
    },

    async count() {
      const row = await db
        .selectFrom('entity_occurrences')
        .select((eb) => eb.fn.countAll<number | string | bigint>().as('n'))
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },
  };
}

/** The words of a query, each chunk between spaces kept together (`203.0.113.7` is one phrase). */
function phrasesOf(query: string): string[][] {
  return query
    .split(/\s+/)
    .map((chunk) => chunk.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [])
    .filter((words) => words.length > 0)
    .slice(0, 16);
}

type HitRow = { source: string; product_id: string; portion_id: string; score: number | string };

function toHit(r: HitRow): SearchHit {
  return {
    source: r.source as EntitySource,
    productId: r.product_id,
    portionId: r.portion_id,
    score: Number(r.score),
  };
}

export function createSearchIndexRepository(ctx: RepositoryContext): SearchIndexRepository {
  const { db } = ctx;
  return {
    async match(query) {
      const phrases = phrasesOf(query);
      if (phrases.length === 0) return [];
      if (ctx.dialect === 'postgres') {
        // Each chunk through PostgreSQL's own parser (it keeps `203.0.113.7` one lexeme), its
        // words in order, all chunks required; the 'simple' configuration: no stemming.
        const chunks = query
          .split(/\s+/)
          .filter((c) => /[\p{L}\p{N}]/u.test(c))
          .slice(0, 16);
        const tsquery = sql.join(
          chunks.map((c) => sql`phraseto_tsquery('simple', ${c})`),
          sql` && `,
        );
        const result = await sql<HitRow>`
          select source, product_id, portion_id, -ts_rank(to_tsvector('simple', body), q) as score
          from search_text, (select ${tsquery} as q) as query
          where to_tsvector('simple', body) @@ q`.execute(db);
        return result.rows.map(toHit);
      }
      // FTS5 query syntax: each phrase double-quoted (its words are letters and digits only), all required.
      const match = phrases.map((words) => `"${words.join(' ')}"`).join(' ');
      const result = await sql<HitRow>`
        select t.source, t.product_id, t.portion_id, bm25(search_fts) as score
        from search_fts join search_text t on t.id = search_fts.rowid
        where search_fts match ${match}`.execute(db);
      return result.rows.map(toHit);
    },

    async holdingAny(words) {
      const usable = words.filter((w) => /^[\p{L}\p{M}\p{N}]+$/u.test(w));
      if (usable.length === 0) return [];
      const found = new Map<string, IndexedProduct>();
      for (let i = 0; i < usable.length; i += LOOKUP_CHUNK) {
        const chunk = usable.slice(i, i + LOOKUP_CHUNK);
        // PostgreSQL's parser keeps `203.0.113.7` one lexeme, so its tsvector cannot find `113`: a
        // substring scan of the lower-cased text instead (a superset, which the caller narrows).
        // SQLite: FTS5 with each word double-quoted (letters, marks and digits only), any of them;
        // unicode61 folds diacritics in the text and the query alike, which only widens the match.
        const rows =
          ctx.dialect === 'postgres'
            ? (
                await sql<ProductRow>`
                  select distinct source, product_id from search_text
                  where lower(body) like any (${chunk.map((w) => `%${w}%`)}::text[])`.execute(db)
              ).rows
            : (
                await sql<ProductRow>`
                  select distinct t.source, t.product_id
                  from search_fts join search_text t on t.id = search_fts.rowid
                  where search_fts match ${chunk.map((w) => `"${w}"`).join(' OR ')}`.execute(db)
              ).rows;
        for (const r of rows) found.set(`${r.source}\u0000${r.product_id}`, toIndexed(r));
      }
      return [...found.values()].sort(byProduct);
    },

    async products() {
      const rows = await db.selectFrom('search_text').select(['source', 'product_id']).distinct().execute();
      return rows.map(toIndexed).sort(byProduct);
    },
  };
}

type ProductRow = { source: string; product_id: string };

function toIndexed(r: ProductRow): IndexedProduct {
  return { source: r.source as EntitySource, productId: r.product_id };
}

function byProduct(a: IndexedProduct, b: IndexedProduct): number {
  return a.source < b.source
    ? -1
    : a.source > b.source
      ? 1
      : a.productId < b.productId
        ? -1
        : a.productId > b.productId
          ? 1
          : 0;
}
