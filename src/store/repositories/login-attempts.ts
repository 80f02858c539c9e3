import { randomUUID } from 'node:crypto';
import type { LoginAttemptRepository } from '../store.js';
import { isoInstant, nowIso, type RepositoryContext } from './context.js';

export function createLoginAttemptRepository(ctx: RepositoryContext): LoginAttemptRepository {
  const { db } = ctx;
  return {
    async record(attempt) {
      await db
        .insertInto('login_attempts')
        .values({
          id: randomUUID(),
          username: attempt.username,
          ip: attempt.ip,
          ok: attempt.ok ? 1 : 0,
          attempted_at: nowIso(ctx),
        })
        .execute();
    },

    async countRecentFailures(key, since) {
      let query = db
        .selectFrom('login_attempts')
        .select((eb) => eb.fn.countAll<number | string | bigint>().as('n'))
        .where('ok', '=', 0)
        .where('attempted_at', '>=', isoInstant(since, 'since'));
      query = 'username' in key ? query.where('username', '=', key.username) : query.where('ip', '=', key.ip);
      const { n } = await query.executeTakeFirstOrThrow();
      return Number(n);
    },
  };
}
