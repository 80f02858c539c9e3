import type { UsersTable } from '../schema.js';
import type { User, UserRepository } from '../store.js';
import { affectedRows, notFound, nowIso, parseStoredJson, type RepositoryContext } from './context.js';

function toUser(row: UsersTable): User {
  return {
    id: row.id,
    username: row.username,
    displayName: row.display_name,
    nationality: row.nationality,
    clearance: row.clearance,
    caveats: parseStoredJson<string[]>(row.caveats_json),
    communities: parseStoredJson<string[]>(row.communities_json),
    roles: parseStoredJson<string[]>(row.roles_json),
    ...(row.oversight_json === null ? {} : { oversightOf: parseStoredJson<string[]>(row.oversight_json) }),
    passwordHash: row.password_hash,
    disabled: row.disabled !== 0,
    createdAt: row.created_at,
  };
}

export function createUserRepository(ctx: RepositoryContext): UserRepository {
  const { db } = ctx;

  const getById = async (id: string): Promise<User | undefined> => {
    const row = await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return row === undefined ? undefined : toUser(row);
  };

  return {
    async create(user) {
      const row: UsersTable = {
        id: user.id,
        username: user.username,
        display_name: user.displayName,
        nationality: user.nationality,
        clearance: user.clearance,
        caveats_json: JSON.stringify(user.caveats),
        communities_json: JSON.stringify(user.communities),
        roles_json: JSON.stringify(user.roles),
        oversight_json:
          user.oversightOf === undefined || user.oversightOf === null
            ? null
            : JSON.stringify(user.oversightOf),
        password_hash: user.passwordHash,
        disabled: user.disabled === true ? 1 : 0,
        created_at: nowIso(ctx),
      };
      await db.insertInto('users').values(row).execute();
      return toUser(row);
    },

    getById,

    async getByUsername(username) {
      const row = await db
        .selectFrom('users')
        .selectAll()
        .where('username', '=', username)
        .executeTakeFirst();
      return row === undefined ? undefined : toUser(row);
    },

    async list() {
      const rows = await db.selectFrom('users').selectAll().orderBy('username').execute();
      return rows.map(toUser);
    },

    async setDisabled(id, disabled) {
      const result = await db
        .updateTable('users')
        .set({ disabled: disabled ? 1 : 0 })
        .where('id', '=', id)
        .executeTakeFirst();
      if (affectedRows(result.numUpdatedRows) === 0) throw notFound('user', { id });
      const user = await getById(id);
      if (user === undefined) throw notFound('user', { id });
      return user;
    },
  };
}
