import { type Kysely, type Migration, sql } from 'kysely';
import type { StoreDialect } from '../store.js';
import { atomically, CONSENT_SUBJECTS, outboxSubjectCheck, rebuildSqliteOutbox } from './sqlite-outbox.js';

// Issue 4, the third-party rule by federation. A holder asks the originator for consent to pass a
// received product on (consent_requests, outgoing there and incoming at the originator); the
// originator's signed consent is kept in its signed form (consents gains the columns); a holder's
// onward release of a received product is recorded with its decision (onward_releases). Requests,
// answers and onward releases travel through the outbox like releases, so an outbox row now
// belongs to exactly one of a release, a consent request or an onward release.

/** Exactly one of the three things an outbox row may belong to (portable: no boolean arithmetic). */
const OUTBOX_SUBJECT_CHECK = sql.raw(outboxSubjectCheck(['consent_request_id', 'onward_release_id']));

const CONSENT_COLUMNS = ['holder', 'product_version', 'request_id', 'consent_json'] as const;

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
          await rebuildSqliteOutbox(db, CONSENT_SUBJECTS);
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
          await rebuildSqliteOutbox(db, []);
        }
        for (const column of CONSENT_COLUMNS)
          await schema.alterTable('consents').dropColumn(column).execute();
        await schema.dropTable('onward_releases').ifExists().execute();
        await schema.dropTable('consent_requests').ifExists().execute();
      });
    },
  };
}
