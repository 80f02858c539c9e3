import type { PartnersTable } from '../schema.js';
import type { Partner, PartnerKey, PartnerRepository } from '../store.js';
import { nowIso, parseStoredJson, type RepositoryContext } from './context.js';

function toPartner(row: PartnersTable): Partner {
  return {
    code: row.code,
    name: row.name,
    endpoint: row.endpoint,
    keys: parseStoredJson<PartnerKey[]>(row.keys_json),
    updatedAt: row.updated_at,
  };
}

export function createPartnerRepository(ctx: RepositoryContext): PartnerRepository {
  const { db } = ctx;
  return {
    async upsert(partner) {
      const row: PartnersTable = {
        code: partner.code,
        name: partner.name,
        endpoint: partner.endpoint,
        keys_json: JSON.stringify(partner.keys),
        updated_at: nowIso(ctx),
      };
      await db
        .insertInto('partners')
        .values(row)
        .onConflict((oc) =>
          oc.column('code').doUpdateSet({
            name: row.name,
            endpoint: row.endpoint,
            keys_json: row.keys_json,
            updated_at: row.updated_at,
          }),
        )
        .execute();
      return toPartner(row);
    },

    async get(code) {
      const row = await db.selectFrom('partners').selectAll().where('code', '=', code).executeTakeFirst();
      return row === undefined ? undefined : toPartner(row);
    },

    async list() {
      const rows = await db.selectFrom('partners').selectAll().orderBy('code').execute();
      return rows.map(toPartner);
    },
  };
}
