import type { CommunityMembersTable } from '../schema.js';
import type { CommunityMember, CommunityRepository } from '../store.js';
import { affectedRows, atomic, isoDay, notFound, nowIso, type RepositoryContext } from './context.js';

function toMember(row: CommunityMembersTable): CommunityMember {
  return {
    community: row.community_code,
    partner: row.partner_code,
    from: row.from_day,
    until: row.until_day,
  };
}

export function createCommunityRepository(ctx: RepositoryContext): CommunityRepository {
  const { db } = ctx;
  return {
    async upsert(community) {
      const updatedAt = nowIso(ctx);
      await db
        .insertInto('communities')
        .values({ code: community.code, name: community.name, updated_at: updatedAt })
        .onConflict((oc) => oc.column('code').doUpdateSet({ name: community.name, updated_at: updatedAt }))
        .execute();
      return { code: community.code, name: community.name };
    },

    async get(code) {
      return db
        .selectFrom('communities')
        .select(['code', 'name'])
        .where('code', '=', code)
        .executeTakeFirst();
    },

    async list() {
      return db.selectFrom('communities').select(['code', 'name']).orderBy('code').execute();
    },

    async addMember(member) {
      const row: CommunityMembersTable = {
        community_code: member.community,
        partner_code: member.partner,
        from_day: isoDay(member.from, 'from'),
        until_day: member.until === undefined ? null : isoDay(member.until, 'until'),
      };
      await db.insertInto('community_members').values(row).execute();
      return toMember(row);
    },

    async endMembership(community, partner, until) {
      const day = isoDay(until, 'until');
      return atomic(db, async (db) => {
        const open = await db
          .selectFrom('community_members')
          .selectAll()
          .where('community_code', '=', community)
          .where('partner_code', '=', partner)
          .where('until_day', 'is', null)
          .executeTakeFirst();
        if (open === undefined) throw notFound('open community membership', { community, partner });
        const result = await db
          .updateTable('community_members')
          .set({ until_day: day })
          .where('community_code', '=', community)
          .where('partner_code', '=', partner)
          .where('from_day', '=', open.from_day)
          .executeTakeFirst();
        if (affectedRows(result.numUpdatedRows) === 0)
          throw notFound('open community membership', { community, partner });
        return toMember({ ...open, until_day: day });
      });
    },

    async members(community, on) {
      let query = db.selectFrom('community_members').selectAll().where('community_code', '=', community);
      if (on !== undefined) {
        const day = isoDay(on, 'on');
        query = query
          .where('from_day', '<=', day)
          .where((eb) => eb.or([eb('until_day', 'is', null), eb('until_day', '>', day)]));
      }
      const rows = await query.orderBy('partner_code').orderBy('from_day').execute();
      return rows.map(toMember);
    },
  };
}
