import { type Kysely, sql } from 'kysely';
import { AccordError } from '../../errors/index.js';
import type { Discipline, ProductDocument } from '../../products/index.js';
import type { Database, ProductsTable, ProductVersionsTable } from '../schema.js';
import type {
  BoundingBox,
  PortionRecord,
  ProductRecord,
  ProductRepository,
  ProductState,
  ProductSummary,
  ProductVersion,
  ProductVersionInput,
} from '../store.js';
import {
  affectedRows,
  atomic,
  isoInstant,
  notFound,
  nowIso,
  pageOf,
  parseStoredJson,
  type RepositoryContext,
} from './context.js';
import { dropIndexed, indexVersion } from './entities.js';
import { boundingBoxOf } from './geo-bounds.js';

function toProduct(row: ProductsTable): ProductRecord {
  return {
    id: row.id,
    originator: row.originator,
    author: row.author,
    currentVersion: row.current_version,
    state: row.state as ProductState,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

type BoxColumns = Pick<ProductVersionsTable, 'min_lon' | 'min_lat' | 'max_lon' | 'max_lat'>;

function toBox(row: BoxColumns): BoundingBox | null {
  const { min_lon, min_lat, max_lon, max_lat } = row;
  return min_lon === null || min_lat === null || max_lon === null || max_lat === null
    ? null
    : { minLon: min_lon, minLat: min_lat, maxLon: max_lon, maxLat: max_lat };
}

function toVersion(row: ProductVersionsTable): ProductVersion {
  return {
    productId: row.product_id,
    version: row.version,
    document: parseStoredJson<ProductDocument>(row.document_json),
    title: row.title,
    banner: row.banner,
    rank: row.classification_rank,
    discipline: row.discipline as Discipline,
    categories: parseStoredJson<string[]>(row.categories_json),
    createdAt: row.created_at,
    bbox: toBox(row),
  };
}

/** LIKE pattern matching `text` anywhere, with LIKE's own wildcards taken literally (ESCAPE '\'). */
function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

async function insertVersion(db: Kysely<Database>, input: ProductVersionInput): Promise<void> {
  const doc = input.document;
  for (const portion of doc.portions) {
    if (input.portionRanks[portion.id] === undefined) {
      throw new AccordError('INPUT_INVALID', `no classification rank given for portion ${portion.id}`, {
        path: `portionRanks/${portion.id}`,
      });
    }
  }
  const box = boundingBoxOf(doc.geo);
  await db
    .insertInto('product_versions')
    .values({
      product_id: doc.id,
      version: doc.version,
      document_json: JSON.stringify(doc),
      title: doc.title,
      banner: input.banner,
      classification_rank: input.rank,
      discipline: doc.discipline,
      categories_json: JSON.stringify(doc.categories),
      search_text: doc.portions.map((p) => p.text).join('\n'),
      created_at: isoInstant(doc.createdAt, 'document.createdAt'),
      min_lon: box?.minLon ?? null,
      min_lat: box?.minLat ?? null,
      max_lon: box?.maxLon ?? null,
      max_lat: box?.maxLat ?? null,
    })
    .execute();
  await db
    .insertInto('portions')
    .values(
      doc.portions.map((p) => ({
        product_id: doc.id,
        version: doc.version,
        portion_id: p.id,
        marking: p.marking,
        classification_rank: input.portionRanks[p.id] ?? 0,
      })),
    )
    .execute();
  // Issue 9: the new version's entities replace the superseded version's, in this transaction.
  await indexVersion(db, 'own', {
    id: doc.id,
    version: doc.version,
    originator: doc.originator,
    reportedAt: isoInstant(doc.createdAt, 'document.createdAt'),
    title: doc.title,
    portions: doc.portions,
  });
}

export function createProductRepository(ctx: RepositoryContext): ProductRepository {
  const { db } = ctx;

  const get = async (id: string): Promise<ProductRecord | undefined> => {
    const row = await db.selectFrom('products').selectAll().where('id', '=', id).executeTakeFirst();
    return row === undefined ? undefined : toProduct(row);
  };

  const getOrThrow = async (id: string): Promise<ProductRecord> => {
    const product = await get(id);
    if (product === undefined) throw notFound('product', { id });
    return product;
  };

  return {
    async createDraft(input) {
      const doc = input.document;
      const now = nowIso(ctx);
      const row: ProductsTable = {
        id: doc.id,
        originator: doc.originator,
        author: doc.author,
        current_version: doc.version,
        state: 'draft',
        created_at: now,
        updated_at: now,
      };
      await atomic(db, async (db) => {
        await db.insertInto('products').values(row).execute();
        await insertVersion(db, input);
      });
      return toProduct(row);
    },

    async addVersion(input) {
      const doc = input.document;
      return atomic(db, async (db) => {
        const row = await db.selectFrom('products').selectAll().where('id', '=', doc.id).executeTakeFirst();
        if (row === undefined) throw notFound('product', { id: doc.id });
        if (doc.originator !== row.originator) {
          throw new AccordError('STORE_CONFLICT', `product ${doc.id} is originated by ${row.originator}`, {
            id: doc.id,
            originator: doc.originator,
          });
        }
        if (doc.version <= row.current_version) {
          throw new AccordError(
            'STORE_CONFLICT',
            `product ${doc.id} is at version ${row.current_version}; a new version must be higher than that`,
            { id: doc.id, version: doc.version, currentVersion: row.current_version },
          );
        }
        await insertVersion(db, input);
        const updatedAt = nowIso(ctx);
        // Guarded on the version read above, so a concurrent addVersion cannot be overwritten.
        const result = await db
          .updateTable('products')
          .set({ current_version: doc.version, updated_at: updatedAt })
          .where('id', '=', doc.id)
          .where('current_version', '=', row.current_version)
          .executeTakeFirst();
        if (affectedRows(result.numUpdatedRows) === 0) {
          throw new AccordError(
            'STORE_CONFLICT',
            `product ${doc.id} changed while adding version ${doc.version}`,
            {
              id: doc.id,
            },
          );
        }
        return toProduct({ ...row, current_version: doc.version, updated_at: updatedAt });
      });
    },

    get,

    async getVersion(id, version) {
      let query = db.selectFrom('product_versions as v').selectAll('v').where('v.product_id', '=', id);
      query =
        version === undefined
          ? query.innerJoin('products as p', (join) =>
              join.onRef('p.id', '=', 'v.product_id').onRef('p.current_version', '=', 'v.version'),
            )
          : query.where('v.version', '=', version);
      const row = await query.executeTakeFirst();
      return row === undefined ? undefined : toVersion(row);
    },

    async portions(id, version) {
      const rows = await db
        .selectFrom('portions')
        .selectAll()
        .where('product_id', '=', id)
        .where('version', '=', version)
        .orderBy('portion_id')
        .execute();
      return rows.map(
        (r): PortionRecord => ({
          productId: r.product_id,
          version: r.version,
          portionId: r.portion_id,
          marking: r.marking,
          rank: r.classification_rank,
        }),
      );
    },

    async list(page = {}) {
      const { limit, offset } = pageOf(page);
      const rows = await db
        .selectFrom('products')
        .selectAll()
        .orderBy('updated_at', 'desc')
        .orderBy('id')
        .limit(limit)
        .offset(offset)
        .execute();
      return rows.map(toProduct);
    },

    async setState(id, state, options = {}) {
      let update = db
        .updateTable('products')
        .set({ state, updated_at: nowIso(ctx) })
        .where('id', '=', id);
      if (options.from !== undefined) update = update.where('state', '=', options.from);
      const result = await update.executeTakeFirst();
      // A recalled product is read by no one: what it said no longer links it to anything.
      if (state === 'recalled' && affectedRows(result.numUpdatedRows) > 0) await dropIndexed(db, 'own', id);
      if (affectedRows(result.numUpdatedRows) === 0) {
        const current = await getOrThrow(id);
        throw new AccordError(
          'STORE_CONFLICT',
          `product ${id} is ${current.state}, not ${options.from ?? current.state}; cannot make it ${state}`,
          { id, state: current.state },
        );
      }
      return getOrThrow(id);
    },

    async search(filters) {
      const { limit, offset } = pageOf(filters);
      let query = db
        .selectFrom('products as p')
        .innerJoin('product_versions as v', (join) =>
          join.onRef('v.product_id', '=', 'p.id').onRef('v.version', '=', 'p.current_version'),
        )
        .selectAll('p')
        .select([
          'v.title',
          'v.banner',
          'v.classification_rank',
          'v.discipline',
          'v.categories_json',
          'v.created_at as version_created_at',
          'v.min_lon',
          'v.min_lat',
          'v.max_lon',
          'v.max_lat',
        ]);
      if (filters.discipline !== undefined) query = query.where('v.discipline', '=', filters.discipline);
      if (filters.category !== undefined) {
        // Categories are a JSON array of strings; match the element exactly as JSON.stringify wrote it.
        const pattern = containsPattern(JSON.stringify(filters.category));
        query = query.where(sql<boolean>`${sql.ref('v.categories_json')} like ${pattern} escape '\\'`);
      }
      if (filters.maxRank !== undefined) query = query.where('v.classification_rank', '<=', filters.maxRank);
      if (filters.originator !== undefined) query = query.where('p.originator', '=', filters.originator);
      if (filters.states !== undefined) {
        if (filters.states.length === 0) return [];
        query = query.where('p.state', 'in', [...filters.states]);
      }
      if (filters.from !== undefined)
        query = query.where('v.created_at', '>=', isoInstant(filters.from, 'from'));
      if (filters.until !== undefined)
        query = query.where('v.created_at', '<', isoInstant(filters.until, 'until'));
      if (filters.text !== undefined && filters.text !== '') {
        // lower() on both sides: LIKE is case-insensitive on SQLite (ASCII) but not on PostgreSQL.
        const pattern = containsPattern(filters.text.toLowerCase());
        query = query.where((eb) =>
          eb.or([
            sql<boolean>`lower(${sql.ref('v.title')}) like ${pattern} escape '\\'`,
            sql<boolean>`lower(${sql.ref('v.search_text')}) like ${pattern} escape '\\'`,
          ]),
        );
      }
      if (filters.bbox !== undefined) {
        const box = filters.bbox;
        query = query
          .where('v.min_lon', '<=', box.maxLon)
          .where('v.max_lon', '>=', box.minLon)
          .where('v.min_lat', '<=', box.maxLat)
          .where('v.max_lat', '>=', box.minLat);
      }
      const rows = await query
        .orderBy('v.created_at', 'desc')
        .orderBy('p.id')
        .limit(limit)
        .offset(offset)
        .execute();
      return rows.map(
        (r): ProductSummary => ({
          ...toProduct(r),
          title: r.title,
          banner: r.banner,
          rank: r.classification_rank,
          discipline: r.discipline as Discipline,
          categories: parseStoredJson<string[]>(r.categories_json),
          versionCreatedAt: r.version_created_at,
          bbox: toBox(r),
        }),
      );
    },
  };
}
