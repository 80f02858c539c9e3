import type { LoggedStreamEvent, StreamEventRepository } from '../store.js';
import { affectedRows, nowIso, parseStoredJson, type RepositoryContext } from './context.js';

function toLogged(row: {
  seq: number | string;
  event_json: string;
  published_at: string;
}): LoggedStreamEvent {
  return {
    seq: Number(row.seq),
    event: parseStoredJson<unknown>(row.event_json),
    publishedAt: row.published_at,
  };
}

export function createStreamEventRepository(ctx: RepositoryContext): StreamEventRepository {
  const { db } = ctx;
  return {
    async append(event) {
      const row = await db
        .insertInto('stream_events')
        .values({ event_json: JSON.stringify(event), published_at: nowIso(ctx) })
        .returning(['seq', 'event_json', 'published_at'])
        .executeTakeFirstOrThrow();
      return toLogged(row);
    },

    async after(seq, limit) {
      const rows = await db
        .selectFrom('stream_events')
        .selectAll()
        .where('seq', '>', seq)
        .orderBy('seq', 'asc')
        .limit(limit)
        .execute();
      return rows.map(toLogged);
    },

    async last() {
      const row = await db
        .selectFrom('stream_events')
        .select((eb) => eb.fn.max('seq').as('seq'))
        .executeTakeFirst();
      return Number(row?.seq ?? 0);
    },

    async prune(keep) {
      const cutoff = await db
        .selectFrom('stream_events')
        .select('seq')
        .orderBy('seq', 'desc')
        .offset(keep)
        .limit(1)
        .executeTakeFirst();
      if (cutoff === undefined) return 0;
      const result = await db.deleteFrom('stream_events').where('seq', '<=', cutoff.seq).executeTakeFirst();
      return affectedRows(result.numDeletedRows);
    },
  };
}
