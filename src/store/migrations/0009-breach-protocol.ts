import { type Kysely, type Migration, sql } from 'kysely';
import type { StoreDialect } from '../store.js';
import {
  atomically,
  CONSENT_SUBJECTS,
  type OutboxSubject,
  outboxSubjectCheck,
  rebuildSqliteOutbox,
} from './sqlite-outbox.js';

// Issue 5, the breach protocol. An incident is no longer only an audit fork gossip found: a user
// reports a breach under an arrangement (reporter, suspected party, products, severity,
// description), and the node that took the report owns it. Every step of it (reported, under
// review, confirmed or resolved, a suspension) is a row of incident_steps and travels to every
// party in an `incident` envelope through the outbox, so an outbox row may now belong to an
// incident. The other parties keep a copy of the incident and its steps as they arrive.

const INCIDENT_COLUMNS = [
  ['origin', 'text'],
  ['arrangement_id', 'text'],
  ['arrangement_version', 'integer'],
  ['reporter', 'text'],
  ['severity', 'text'],
  ['description', 'text'],
  ['products_json', 'text'],
  ['notify_by', 'text'],
  ['updated_at', 'text'],
] as const;

const INCIDENT_SUBJECT: OutboxSubject = {
  column: 'incident_id',
  references: 'incidents',
  constraint: 'outbox_incident_fk',
};

/** Migration 0009: breach incidents, their steps, and outbox rows that carry them to the parties. */
export function breachProtocolMigration(dialect: StoreDialect): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await atomically(db, async (db) => {
        const schema = db.schema;
        for (const [name, type] of INCIDENT_COLUMNS) {
          await schema.alterTable('incidents').addColumn(name, type).execute();
        }
        // The arrangements whose oversight body a user sits on; null: not scoped.
        await schema.alterTable('users').addColumn('oversight_json', 'text').execute();
        await schema
          .createTable('incident_steps')
          .addColumn('incident_id', 'text', (c) => c.notNull().references('incidents.id'))
          .addColumn('seq', 'integer', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('at', 'text', (c) => c.notNull())
          .addColumn('by_partner', 'text', (c) => c.notNull())
          .addColumn('by_user', 'text')
          .addColumn('note', 'text')
          .addColumn('effects_json', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('incident_steps_pk', ['incident_id', 'seq'])
          .execute();

        if (dialect === 'postgres') {
          await schema
            .alterTable('outbox')
            .addColumn('incident_id', 'text', (c) => c.references('incidents.id'))
            .execute();
          await schema.alterTable('outbox').dropConstraint('outbox_subject_check').execute();
          await schema
            .alterTable('outbox')
            .addCheckConstraint(
              'outbox_subject_check',
              sql.raw(outboxSubjectCheck(['consent_request_id', 'onward_release_id', 'incident_id'])),
            )
            .execute();
        } else {
          await rebuildSqliteOutbox(db, [...CONSENT_SUBJECTS, INCIDENT_SUBJECT]);
        }
        await schema.createIndex('outbox_incident_idx').on('outbox').column('incident_id').execute();
      });
    },

    async down(db: Kysely<unknown>): Promise<void> {
      await atomically(db, async (db) => {
        const schema = db.schema;
        await schema.dropIndex('outbox_incident_idx').ifExists().execute();
        if (dialect === 'postgres') {
          await sql`delete from outbox where incident_id is not null`.execute(db);
          await schema.alterTable('outbox').dropConstraint('outbox_subject_check').execute();
          await schema.alterTable('outbox').dropColumn('incident_id').execute();
          await schema
            .alterTable('outbox')
            .addCheckConstraint(
              'outbox_subject_check',
              sql.raw(outboxSubjectCheck(['consent_request_id', 'onward_release_id'])),
            )
            .execute();
        } else {
          await rebuildSqliteOutbox(db, CONSENT_SUBJECTS);
        }
        await schema.dropTable('incident_steps').ifExists().execute();
        await sql`delete from incidents where kind <> 'audit-fork'`.execute(db);
        await schema.alterTable('users').dropColumn('oversight_json').execute();
        for (const [name] of [...INCIDENT_COLUMNS].reverse()) {
          await schema.alterTable('incidents').dropColumn(name).execute();
        }
      });
    },
  };
}
