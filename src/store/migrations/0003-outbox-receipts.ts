import type { Kysely, Migration } from 'kysely';

/**
 * The recipient's signed receipt for an outbox message (DESIGN.md §3 federation: "answers with a
 * signed receipt that the sender stores"): its stored receipt once delivered, or its signed
 * refusal when it gave one. A nullable text column, the same on both dialects.
 */
export function outboxReceiptsMigration(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('outbox').addColumn('receipt_json', 'text').execute();
    },

    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('outbox').dropColumn('receipt_json').execute();
    },
  };
}
