import type { Kysely, Migration } from 'kysely';
import type { StoreDialect } from '../store.js';

/**
 * The live stream's event log (issue 7): the last events published on the in-process bus, ids
 * only, so that a client reconnecting with `Last-Event-ID` is sent what it missed (filtered and
 * policy-checked again). Bounded: the bus prunes the oldest rows past its configured size.
 */
export function streamEventsMigration(dialect: StoreDialect): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      // The order of the log is the order of events; SQLite's AUTOINCREMENT never reuses a number.
      await (dialect === 'postgres'
        ? db.schema
            .createTable('stream_events')
            .ifNotExists()
            .addColumn('seq', 'bigserial', (c) => c.primaryKey())
        : db.schema
            .createTable('stream_events')
            .ifNotExists()
            .addColumn('seq', 'integer', (c) => c.primaryKey().autoIncrement())
      )
        .addColumn('event_json', 'text', (c) => c.notNull())
        .addColumn('published_at', 'text', (c) => c.notNull())
        .execute();
    },

    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('stream_events').ifExists().execute();
    },
  };
}
