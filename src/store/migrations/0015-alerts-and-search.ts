import { type Kysely, type Migration, sql } from 'kysely';
import type { StoreDialect } from '../store.js';

/**
 * Issue 9, early warning: rules per user, and the alerts they raised. An alert's dedupe key makes
 * one condition raise one alert, however many replicas or events evaluate it. And full-text
 * search: one row per portion (and one for the title, portion id '') of each product's current
 * version, so a match counts only in what a reader may read: an FTS5 table on SQLite, a table with
 * a GIN index over its tsvector on PostgreSQL.
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
    },

    async down(db: Kysely<unknown>): Promise<void> {
      if (dialect === 'sqlite') await sql`drop table if exists search_fts`.execute(db);
      await db.schema.dropTable('search_text').ifExists().execute();
      await db.schema.dropTable('alerts').ifExists().execute();
      await db.schema.dropTable('alert_rules').ifExists().execute();
    },
  };
}
