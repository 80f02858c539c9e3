import type { Kysely } from 'kysely';
import { findEntities } from '../../analytics/index.js';
import type { Database, EntityOccurrencesTable } from '../schema.js';
import type { EntityIndexRepository, EntityOccurrence, EntitySource } from '../store.js';
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
}

/** Removes every entity indexed for a product (a recall erases what it said). */
export async function dropIndexed(
  db: Kysely<Database>,
  source: EntitySource,
  productId: string,
): Promise<void> {
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
  const row = await db
    .selectFrom('entity_occurrences')
    .select('version')
    .where('source', '=', source)
    .where('product_id', '=', productId)
    .limit(1)
    .executeTakeFirst();
  return row?.version;
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
