import { type Kysely, type Migration, sql } from 'kysely';
import { indexVersion } from '../repositories/entities.js';
import type { Database } from '../schema.js';
import type { StoreDialect } from '../store.js';

interface HeldVersion {
  readonly id: string;
  readonly version: number | string;
  readonly originator: string;
  readonly at: string;
  readonly document_json: string;
}

/**
 * Indexes what a node held before the entity and search indexes existed: the current version of
 * each own product not recalled, and the latest version received of each product not recalled.
 */
async function backfill(db: Kysely<Database>): Promise<void> {
  const own = await sql<HeldVersion>`
    select p.id, v.version, p.originator, v.created_at as at, v.document_json
    from products p join product_versions v on v.product_id = p.id and v.version = p.current_version
    where p.state <> 'recalled'`.execute(db);
  const received = await sql<HeldVersion & { readonly recalled_at: string | null }>`
    select product_id as id, product_version as version, originator, received_at as at, document_json, recalled_at
    from received_products
    order by product_id, product_version desc, received_at desc, envelope_id desc`.execute(db);
  const index = async (source: 'own' | 'received', row: HeldVersion) => {
    const doc = JSON.parse(row.document_json) as { title?: unknown; portions?: unknown };
    // A stored document without the shape every version is written in is left unindexed: no read
    // of it succeeds either.
    if (typeof doc.title !== 'string' || !Array.isArray(doc.portions)) return;
    const portions = doc.portions.filter(
      (p): p is { id: string; text: string } =>
        typeof p === 'object' && p !== null && typeof p.id === 'string' && typeof p.text === 'string',
    );
    await indexVersion(db, source, {
      id: row.id,
      version: Number(row.version),
      originator: row.originator,
      reportedAt: row.at,
      title: doc.title,
      portions,
    });
  };
  for (const row of own.rows) await index('own', row);
  // The first row of each product is what a read shows (ReceivedProductRepository.get).
  let previous: string | undefined;
  for (const row of received.rows) {
    if (row.id === previous) continue;
    previous = row.id;
    if (row.recalled_at === null) await index('received', row);
  }
}

/**
 * Issue 9, early warning: rules per user, and the alerts they raised. An alert's dedupe key makes
 * one condition raise one alert, however many replicas or events evaluate it. And full-text
 * search: one row per portion (and one for the title, portion id '') of each product's current
 * version, so a match counts only in what a reader may read: an FTS5 table on SQLite, a table with
 * a GIN index over its tsvector on PostgreSQL. What the node held before is indexed here (the
 * entity index of 0014 included), so an upgraded node correlates and finds its earlier products.
 */
export function alertsAndSearchMigration(dialect: StoreDialect): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('alert_rules')
        .ifNotExists()
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('owner_id', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('params_json', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('alerts')
        .ifNotExists()
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('rule_id', 'text', (c) => c.notNull())
        .addColumn('owner_id', 'text', (c) => c.notNull())
        .addColumn('dedupe_key', 'text', (c) => c.notNull().unique())
        .addColumn('product_source', 'text', (c) => c.notNull())
        .addColumn('product_id', 'text', (c) => c.notNull())
        .addColumn('product_version', 'integer', (c) => c.notNull())
        .addColumn('detail_json', 'text', (c) => c.notNull())
        .addColumn('fired_at', 'text', (c) => c.notNull())
        .execute();
      await (dialect === 'postgres'
        ? db.schema
            .createTable('search_text')
            .ifNotExists()
            .addColumn('id', 'bigserial', (c) => c.primaryKey())
        : db.schema
            .createTable('search_text')
            .ifNotExists()
            .addColumn('id', 'integer', (c) => c.primaryKey())
      )
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('product_id', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('portion_id', 'text', (c) => c.notNull())
        .addColumn('body', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('search_text_product')
        .ifNotExists()
        .on('search_text')
        .columns(['source', 'product_id'])
        .execute();
      if (dialect === 'postgres') {
        await sql`create index if not exists search_text_tsv on search_text using gin (to_tsvector('simple', body))`.execute(
          db,
        );
      } else {
        // An external-content FTS5 index over search_text, kept in step by triggers (SQLite FTS5 §4.4.3).
        await sql`create virtual table if not exists search_fts using fts5(body, content = 'search_text', content_rowid = 'id', tokenize = 'unicode61')`.execute(
          db,
        );
        // FTS5 secure-delete (SQLite 3.44): a deleted row's tokens leave the index at once rather
        // than wait under a delete marker for a merge, so a recall erases its words from the file
        // too (with the connection's secure_delete pragma zeroing the freed pages).
        await sql`insert into search_fts(search_fts, rank) values ('secure-delete', 1)`.execute(db);
        await sql`create trigger if not exists search_text_ai after insert on search_text begin insert into search_fts(rowid, body) values (new.id, new.body); end`.execute(
          db,
        );
        await sql`create trigger if not exists search_text_ad after delete on search_text begin insert into search_fts(search_fts, rowid, body) values ('delete', old.id, old.body); end`.execute(
          db,
        );
      }
      await db.schema
        .createIndex('alerts_owner')
        .ifNotExists()
        .on('alerts')
        .columns(['owner_id', 'fired_at'])
        .execute();
      await backfill(db as Kysely<Database>);
    },

    async down(db: Kysely<unknown>): Promise<void> {
      if (dialect === 'sqlite') await sql`drop table if exists search_fts`.execute(db);
      await db.schema.dropTable('search_text').ifExists().execute();
      await db.schema.dropTable('alerts').ifExists().execute();
      await db.schema.dropTable('alert_rules').ifExists().execute();
    },
  };
}
