import type { ArrangementDocument } from '../../arrangements/index.js';
import { arrangementVersionHash } from '../../arrangements/index.js';
import { AccordError } from '../../errors/index.js';
import type { ArrangementsTable } from '../schema.js';
import type { ArrangementRepository, ArrangementVersion } from '../store.js';
import {
  affectedRows,
  atomic,
  notFound,
  nowIso,
  parseStoredJson,
  type RepositoryContext,
} from './context.js';

function toVersion(row: ArrangementsTable): ArrangementVersion {
  const document = parseStoredJson<ArrangementDocument>(row.document_json);
  return {
    id: row.id,
    version: row.version,
    document,
    status: document.status,
    versionHash: row.version_hash,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function createArrangementRepository(ctx: RepositoryContext): ArrangementRepository {
  const { db } = ctx;

  const getVersion = async (id: string, version: number): Promise<ArrangementVersion | undefined> => {
    const row = await db
      .selectFrom('arrangements')
      .selectAll()
      .where('id', '=', id)
      .where('version', '=', version)
      .executeTakeFirst();
    return row === undefined ? undefined : toVersion(row);
  };

  return {
    async putVersion(document) {
      const versionHash = arrangementVersionHash(document);
      const now = nowIso(ctx);
      const row: ArrangementsTable = {
        id: document.id,
        version: document.version,
        document_json: JSON.stringify(document),
        status: document.status,
        version_hash: versionHash,
        created_at: now,
        updated_at: now,
      };
      // One statement: insert, or refresh the mutable state of a version whose terms (hash) are unchanged.
      const result = await db
        .insertInto('arrangements')
        .values(row)
        .onConflict((oc) =>
          oc
            .columns(['id', 'version'])
            .doUpdateSet({ document_json: row.document_json, status: row.status, updated_at: now })
            .where('arrangements.version_hash', '=', versionHash),
        )
        .executeTakeFirst();
      if (affectedRows(result.numInsertedOrUpdatedRows) === 0) {
        throw new AccordError(
          'STORE_CONFLICT',
          `arrangement ${document.id} version ${document.version} is stored with other terms; amend it as a new version`,
          { id: document.id, version: document.version },
        );
      }
      const stored = await getVersion(document.id, document.version);
      if (stored === undefined)
        throw notFound('arrangement version', { id: document.id, version: document.version });
      return stored;
    },

    getVersion,

    async latest(id) {
      const row = await db
        .selectFrom('arrangements')
        .selectAll()
        .where('id', '=', id)
        .orderBy('version', 'desc')
        .limit(1)
        .executeTakeFirst();
      return row === undefined ? undefined : toVersion(row);
    },

    async history(id) {
      const rows = await db
        .selectFrom('arrangements')
        .selectAll()
        .where('id', '=', id)
        .orderBy('version')
        .execute();
      return rows.map(toVersion);
    },

    async list() {
      const rows = await db
        .selectFrom('arrangements as a')
        .selectAll('a')
        .where('a.version', '=', (eb) =>
          eb
            .selectFrom('arrangements as b')
            .select((b) => b.fn.max('b.version').as('max_version'))
            .whereRef('b.id', '=', 'a.id'),
        )
        .orderBy('a.id')
        .execute();
      return rows.map(toVersion);
    },

    async setStatus(id, version, status) {
      return atomic(db, async (db) => {
        const row = await db
          .selectFrom('arrangements')
          .selectAll()
          .where('id', '=', id)
          .where('version', '=', version)
          .executeTakeFirst();
        if (row === undefined) throw notFound('arrangement version', { id, version });
        const document: ArrangementDocument = {
          ...parseStoredJson<ArrangementDocument>(row.document_json),
          status,
        };
        const updated: ArrangementsTable = {
          ...row,
          status,
          document_json: JSON.stringify(document),
          updated_at: nowIso(ctx),
        };
        await db
          .updateTable('arrangements')
          .set({ status, document_json: updated.document_json, updated_at: updated.updated_at })
          .where('id', '=', id)
          .where('version', '=', version)
          .execute();
        return toVersion(updated);
      });
    },
  };
}
