import type { Kysely, Migration } from 'kysely';

/**
 * TAXII 2.1 (issue 6): collections are served in the order objects were added (date added, then
 * id and version), so the stored objects are indexed in that order rather than sorted per request.
 */
export function stixDateAddedMigration(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createIndex('stix_objects_date_added')
        .ifNotExists()
        .on('stix_objects')
        .columns(['date_added', 'stix_id', 'version'])
        .execute();
    },

    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropIndex('stix_objects_date_added').ifExists().execute();
    },
  };
}
