import type { ApiTokensTable } from '../schema.js';
import type { ApiToken, TokenRepository } from '../store.js';
import { affectedRows, nowIso, type RepositoryContext, sha256Hex } from './context.js';

function toToken(row: ApiTokensTable): ApiToken {
  return {
    tokenSha256: row.token_sha256,
    userId: row.user_id,
    label: row.label,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
  };
}

export function createTokenRepository(ctx: RepositoryContext): TokenRepository {
  const { db } = ctx;
  return {
    async create(input) {
      // Only the hash is kept: a copy of the database must not let anyone call the API.
      const row: ApiTokensTable = {
        token_sha256: sha256Hex(input.token),
        user_id: input.userId,
        label: input.label,
        created_at: nowIso(ctx),
        last_used_at: null,
      };
      await db.insertInto('api_tokens').values(row).execute();
      return toToken(row);
    },

    async getByToken(token) {
      const row = await db
        .selectFrom('api_tokens')
        .selectAll()
        .where('token_sha256', '=', sha256Hex(token))
        .executeTakeFirst();
      return row === undefined ? undefined : toToken(row);
    },

    async touch(tokenSha256) {
      await db
        .updateTable('api_tokens')
        .set({ last_used_at: nowIso(ctx) })
        .where('token_sha256', '=', tokenSha256)
        .execute();
    },

    async listForUser(userId) {
      const rows = await db
        .selectFrom('api_tokens')
        .selectAll()
        .where('user_id', '=', userId)
        .orderBy('created_at')
        .orderBy('token_sha256')
        .execute();
      return rows.map(toToken);
    },

    async revoke(tokenSha256) {
      const result = await db
        .deleteFrom('api_tokens')
        .where('token_sha256', '=', tokenSha256)
        .executeTakeFirst();
      return affectedRows(result.numDeletedRows) > 0;
    },
  };
}
