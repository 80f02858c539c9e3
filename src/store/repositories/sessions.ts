import type { SessionsTable } from '../schema.js';
import type { Session, SessionRepository } from '../store.js';
import { affectedRows, isoInstant, nowIso, type RepositoryContext, sha256Hex } from './context.js';

function toSession(row: SessionsTable): Session {
  return {
    sessionSha256: row.session_sha256,
    userId: row.user_id,
    csrfToken: row.csrf_token,
    expiresAt: row.expires_at,
    createdAt: row.created_at,
  };
}

export function createSessionRepository(ctx: RepositoryContext): SessionRepository {
  const { db } = ctx;
  return {
    async create(input) {
      // The session id is a bearer secret: store its hash, look it up by hashing the cookie.
      const row: SessionsTable = {
        session_sha256: sha256Hex(input.sessionId),
        user_id: input.userId,
        csrf_token: input.csrfToken,
        expires_at: isoInstant(input.expiresAt, 'expiresAt'),
        created_at: nowIso(ctx),
      };
      await db.insertInto('sessions').values(row).execute();
      return toSession(row);
    },

    async get(sessionId) {
      const row = await db
        .selectFrom('sessions')
        .selectAll()
        .where('session_sha256', '=', sha256Hex(sessionId))
        .where('expires_at', '>', nowIso(ctx))
        .executeTakeFirst();
      return row === undefined ? undefined : toSession(row);
    },

    async delete(sessionId) {
      await db.deleteFrom('sessions').where('session_sha256', '=', sha256Hex(sessionId)).execute();
    },

    async deleteExpired() {
      const result = await db
        .deleteFrom('sessions')
        .where('expires_at', '<=', nowIso(ctx))
        .executeTakeFirst();
      return affectedRows(result.numDeletedRows);
    },
  };
}
