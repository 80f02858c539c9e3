import { type Kysely, type Migration, sql } from 'kysely';
import type { StoreDialect } from '../store.js';

// Issue 4, the third-party rule by federation. A holder asks the originator for consent to pass a
// received product on (consent_requests, outgoing there and incoming at the originator); the
// originator's signed consent is kept in its signed form (consents gains the columns); a holder's
// onward release of a received product is recorded with its decision (onward_releases). Requests,
// answers and onward releases travel through the outbox like releases, so an outbox row now
// belongs to exactly one of a release, a consent request or an onward release.

/** Exactly one of the three things an outbox row may belong to (portable: no boolean arithmetic). */
const OUTBOX_SUBJECT_CHECK = sql`(case when release_id is null then 0 else 1 end)
  + (case when consent_request_id is null then 0 else 1 end)
  + (case when onward_release_id is null then 0 else 1 end) = 1`;

const CONSENT_COLUMNS = ['holder', 'product_version', 'request_id', 'consent_json'] as const;

/** Runs `work` in one transaction: PostgreSQL's migrations already run in one, SQLite's do not. */
function atomically(db: Kysely<unknown>, work: (db: Kysely<unknown>) => Promise<void>): Promise<void> {
  return db.isTransaction ? work(db) : db.transaction().execute(work);
}

interface SqliteColumn {
  readonly name: string;
  readonly type: string;
  readonly notnull: number;
  readonly dflt_value: string | null;
  readonly pk: number;
}

interface SqliteForeignKey {
  readonly id: number;
  readonly table: string;
  readonly from: string;
  readonly to: string | null;
}

function quoted(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * SQLite cannot drop a NOT NULL or add a CHECK to a table (https://sqlite.org/lang_altertable.html
 * §7): the outbox is made again under a new name, its rows copied over, the old table dropped and
 * the new one renamed. Columns, foreign keys and indexes are read from the table itself, so those
 * an earlier migration added come along; `subjects` says whether the row may belong to a consent
 * request or an onward release instead of a release (up) or to a release only (down).
 */
async function rebuildSqliteOutbox(db: Kysely<unknown>, subjects: boolean): Promise<void> {
  const columns = (await sql<SqliteColumn>`pragma table_info(outbox)`.execute(db)).rows;
  const foreignKeys = (await sql<SqliteForeignKey>`pragma foreign_key_list(outbox)`.execute(db)).rows;
  const indexes = (
    await sql<{ sql: string }>`select sql from sqlite_master
      where type = 'index' and tbl_name = 'outbox' and sql is not null`.execute(db)
  ).rows;
  const added = ['consent_request_id', 'onward_release_id'];
  const kept = columns.filter((c) => !added.includes(c.name));
  // release_id may be null when a row belongs to something else (up), and must not be (down).
  const notNull = (c: SqliteColumn): boolean =>
    c.name === 'release_id' ? !subjects : c.notnull === 1 && c.pk === 0;
  const definitions = kept.map((c) =>
    [
      quoted(c.name),
      c.type,
      c.pk > 0 ? 'primary key' : '',
      notNull(c) ? 'not null' : '',
      c.dflt_value === null ? '' : `default ${c.dflt_value}`,
    ]
      .filter((part) => part !== '')
      .join(' '),
  );
  if (subjects) {
    definitions.push('"consent_request_id" text', '"onward_release_id" text');
  }
  const constraints = foreignKeys
    .filter((fk) => !added.includes(fk.from))
    .map(
      (fk) => `foreign key (${quoted(fk.from)}) references ${quoted(fk.table)} (${quoted(fk.to ?? 'id')})`,
    );
  if (subjects) {
    constraints.push(
      'constraint "outbox_consent_request_fk" foreign key ("consent_request_id") references "consent_requests" ("id")',
      'constraint "outbox_onward_release_fk" foreign key ("onward_release_id") references "onward_releases" ("id")',
      `constraint "outbox_subject_check" check (${OUTBOX_SUBJECT_CHECK.compile(db).sql})`,
    );
  }
  constraints.push(`constraint "outbox_status_check" check (status in ('pending', 'delivered', 'failed'))`);

  const names = kept.map((c) => quoted(c.name)).join(', ');
  await sql.raw(`create table "outbox_next" (${[...definitions, ...constraints].join(', ')})`).execute(db);
  // Going down, rows that belong to no release cannot stay: the old table cannot hold them.
  const where = subjects ? '' : ' where "release_id" is not null';
  await sql.raw(`insert into "outbox_next" (${names}) select ${names} from "outbox"${where}`).execute(db);
  await sql.raw('drop table "outbox"').execute(db);
  await sql.raw('alter table "outbox_next" rename to "outbox"').execute(db);
  for (const index of indexes) await sql.raw(index.sql).execute(db);
}

/** Migration 0005: consent requests, onward releases, signed consents, and outbox rows for both. */
export function consentRequestsMigration(dialect: StoreDialect): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await atomically(db, async (db) => {
        const schema = db.schema;

        // One row per request, at the holder (outgoing) and at the originator (incoming). No
        // foreign key to products or arrangements: the row records what the request named.
        await schema
          .createTable('consent_requests')
          .ifNotExists()
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('direction', 'text', (c) => c.notNull())
          // incoming: the envelope that carried it; outgoing: the outbox message that carries it.
          .addColumn('envelope_id', 'text', (c) => c.notNull().unique())
          .addColumn('product_id', 'text', (c) => c.notNull())
          .addColumn('product_version', 'integer', (c) => c.notNull())
          .addColumn('product_digest', 'text', (c) => c.notNull())
          .addColumn('originator', 'text', (c) => c.notNull())
          .addColumn('holder', 'text', (c) => c.notNull())
          .addColumn('recipient', 'text', (c) => c.notNull())
          .addColumn('arrangement_id', 'text', (c) => c.notNull())
          .addColumn('arrangement_version', 'integer', (c) => c.notNull())
          .addColumn('arrangement_hash', 'text', (c) => c.notNull())
          .addColumn('reason', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('requested_by', 'text')
          .addColumn('requested_at', 'text', (c) => c.notNull())
          .addColumn('decided_by', 'text')
          .addColumn('decided_at', 'text')
          .addColumn('decision_reason', 'text')
          .addColumn('consent_json', 'text')
          .addCheckConstraint('consent_requests_direction_check', sql`direction in ('incoming', 'outgoing')`)
          .addCheckConstraint(
            'consent_requests_status_check',
            sql`status in ('pending', 'granted', 'denied')`,
          )
          // DESIGN.md §2.3: a denial names its reason; a grant keeps the consent it signed or received.
          .addCheckConstraint(
            'consent_requests_decision_check',
            sql`(status = 'pending' and decided_at is null)
              or (status = 'granted' and decided_at is not null and consent_json is not null)
              or (status = 'denied' and decided_at is not null and decision_reason is not null)`,
          )
          .execute();
        await schema
          .createIndex('consent_requests_status_idx')
          .ifNotExists()
          .on('consent_requests')
          .columns(['direction', 'status', 'requested_at'])
          .execute();

        await schema
          .createTable('onward_releases')
          .ifNotExists()
          .addColumn('id', 'text', (c) => c.primaryKey())
          // The received copy passed on, as it arrived.
          .addColumn('envelope_id', 'text', (c) => c.notNull())
          .addColumn('product_id', 'text', (c) => c.notNull())
          .addColumn('product_version', 'integer', (c) => c.notNull())
          .addColumn('originator', 'text', (c) => c.notNull())
          .addColumn('recipient', 'text', (c) => c.notNull())
          .addColumn('arrangement_id', 'text', (c) => c.notNull())
          .addColumn('arrangement_version', 'integer', (c) => c.notNull())
          .addColumn('effect', 'text', (c) => c.notNull())
          .addColumn('decision_json', 'text', (c) => c.notNull())
          .addColumn('consent_request_id', 'text')
          .addColumn('released_by', 'text', (c) => c.notNull())
          .addColumn('released_at', 'text', (c) => c.notNull())
          .addForeignKeyConstraint('onward_releases_received_fk', ['envelope_id'], 'received_products', [
            'envelope_id',
          ])
          .addForeignKeyConstraint(
            'onward_releases_arrangement_fk',
            ['arrangement_id', 'arrangement_version'],
            'arrangements',
            ['id', 'version'],
          )
          .addCheckConstraint('onward_releases_effect_check', sql`effect in ('allow', 'deny')`)
          .execute();
        await schema
          .createIndex('onward_releases_product_idx')
          .ifNotExists()
          .on('onward_releases')
          .columns(['product_id', 'product_version'])
          .execute();

        // The signed form: which holder may pass which version on, and the originator's signature
        // over it as it arrived, so it can be verified again at any time.
        await schema.alterTable('consents').addColumn('holder', 'text').execute();
        await schema.alterTable('consents').addColumn('product_version', 'integer').execute();
        await schema.alterTable('consents').addColumn('request_id', 'text').execute();
        await schema.alterTable('consents').addColumn('consent_json', 'text').execute();

        if (dialect === 'postgres') {
          await schema
            .alterTable('outbox')
            .alterColumn('release_id', (c) => c.dropNotNull())
            .execute();
          await schema
            .alterTable('outbox')
            .addColumn('consent_request_id', 'text', (c) => c.references('consent_requests.id'))
            .execute();
          await schema
            .alterTable('outbox')
            .addColumn('onward_release_id', 'text', (c) => c.references('onward_releases.id'))
            .execute();
          await schema
            .alterTable('outbox')
            .addCheckConstraint('outbox_subject_check', OUTBOX_SUBJECT_CHECK)
            .execute();
        } else {
          await rebuildSqliteOutbox(db, true);
        }
      });
    },

    async down(db: Kysely<unknown>): Promise<void> {
      await atomically(db, async (db) => {
        const schema = db.schema;
        if (dialect === 'postgres') {
          await sql`delete from outbox where release_id is null`.execute(db);
          await schema.alterTable('outbox').dropConstraint('outbox_subject_check').execute();
          await schema.alterTable('outbox').dropColumn('onward_release_id').execute();
          await schema.alterTable('outbox').dropColumn('consent_request_id').execute();
          await schema
            .alterTable('outbox')
            .alterColumn('release_id', (c) => c.setNotNull())
            .execute();
        } else {
          await rebuildSqliteOutbox(db, false);
        }
        for (const column of CONSENT_COLUMNS)
          await schema.alterTable('consents').dropColumn(column).execute();
        await schema.dropTable('onward_releases').ifExists().execute();
        await schema.dropTable('consent_requests').ifExists().execute();
      });
    },
  };
}
