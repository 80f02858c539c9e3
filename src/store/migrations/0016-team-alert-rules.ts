import type { Kysely, Migration } from 'kysely';

/**
 * Issue 9, early warning per team as well as per user: a rule may belong to a community (a team,
 * one of the `communities` users hold), judged for each member as that member. Null: a user's own
 * rule, as every rule before this migration.
 */
export function teamAlertRulesMigration(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('alert_rules').addColumn('team', 'text').execute();
      await db.schema
        .createIndex('alert_rules_team')
        .ifNotExists()
        .on('alert_rules')
        .column('team')
        .execute();
    },

    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropIndex('alert_rules_team').ifExists().execute();
      await db.schema.alterTable('alert_rules').dropColumn('team').execute();
    },
  };
}
