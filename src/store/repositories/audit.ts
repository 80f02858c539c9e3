import { CompiledQuery } from 'kysely';
import type { AuditTreeHeadsTable } from '../schema.js';
import type { AuditEntryRecord, AuditNodeRecord, AuditRepository, StoredTreeHead } from '../store.js';
import { affectedRows, isoInstant, type RepositoryContext } from './context.js';
import { reusableRuns, reusedSql, runReused } from './reused-query.js';

// Rows per INSERT: well under SQLite's 32766 bound parameters and PostgreSQL's 65535.
const CHUNK = 500;

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

/** A Buffer over the same bytes (no copy when it is one already), as both drivers bind blobs. */
function toBuffer(value: Uint8Array): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

function bytesOf(value: Uint8Array): Uint8Array {
  // Both drivers hand back a Buffer; callers get a plain copy they may keep.
  return Uint8Array.from(value);
}

function toHead(row: AuditTreeHeadsTable): StoredTreeHead {
  return {
    treeSize: Number(row.tree_size),
    rootHash: row.root_hash,
    timestamp: row.signed_at,
    nodeId: row.node_id,
    signature: row.signature,
  };
}

export function createAuditRepository(ctx: RepositoryContext): AuditRepository {
  const { db } = ctx;
  return {
    async enqueue(entryJson, queuedAt) {
      // In every audited transaction: compiled once, not built anew per event, and on SQLite run
      // at once on the transaction's connection rather than through Kysely's promise chain.
      const row = { entry_json: entryJson, queued_at: isoInstant(queuedAt, 'queuedAt') };
      const parameters = [row.entry_json, row.queued_at];
      const text = reusedSql(db, 'audit.enqueue', parameters, () => db.insertInto('audit_queue').values(row));
      if (ctx.runNow?.(text, parameters) === true) return;
      await db.executeQuery(CompiledQuery.raw(text, parameters));
    },

    async pending(limit) {
      const rows = await db
        .selectFrom('audit_queue')
        .select(['seq', 'entry_json', 'queued_at'])
        .orderBy('seq')
        .limit(limit)
        .execute();
      return rows.map((r) => ({ seq: Number(r.seq), entryJson: r.entry_json, queuedAt: r.queued_at }));
    },

    async dequeue(seqs) {
      let removed = 0;
      for (const part of chunks(seqs)) {
        const result = await db.deleteFrom('audit_queue').where('seq', 'in', part).executeTakeFirst();
        removed += affectedRows(result.numDeletedRows);
      }
      return removed;
    },

    async claim(limit) {
      // One statement reads and removes the batch, so no other sequencer can take the same rows.
      // RETURNING gives no order: the batch is sorted back into queue order.
      const rows = await db
        .deleteFrom('audit_queue')
        .where('seq', 'in', (eb) => eb.selectFrom('audit_queue').select('seq').orderBy('seq').limit(limit))
        .returning(['seq', 'entry_json', 'queued_at'])
        .execute();
      return rows
        .map((r) => ({ seq: Number(r.seq), entryJson: r.entry_json, queuedAt: r.queued_at }))
        .sort((a, b) => a.seq - b.seq);
    },

    async size() {
      const row = await db
        .selectFrom('audit_entries')
        .select((eb) => eb.fn.max('idx').as('top'))
        .executeTakeFirst();
      const top = row?.top;
      return top === null || top === undefined ? 0 : Number(top) + 1;
    },

    async append(entries, nodes) {
      // A batch of a thousand entries and as many subtree hashes: multi-row inserts of reused
      // texts (runs of 512, 256, …), each row's values in column order.
      for (const run of reusableRuns(entries)) {
        const values: unknown[] = [];
        for (const e of run) values.push(e.index, toBuffer(e.leafHash), e.entryJson, e.recordedAt);
        await runReused(db, `audit.append.entries/${run.length}`, values, () =>
          db.insertInto('audit_entries').values(
            run.map((_, i) => ({
              idx: values[4 * i] as number,
              leaf_hash: values[4 * i + 1] as Buffer,
              entry_json: values[4 * i + 2] as string,
              recorded_at: values[4 * i + 3] as string,
            })),
          ),
        );
      }
      for (const run of reusableRuns(nodes)) {
        const values: unknown[] = [];
        for (const n of run) values.push(n.level, n.index, toBuffer(n.hash));
        await runReused(db, `audit.append.nodes/${run.length}`, values, () =>
          db.insertInto('audit_nodes').values(
            run.map((_, i) => ({
              level: values[3 * i] as number,
              idx: values[3 * i + 1] as number,
              hash: values[3 * i + 2] as Buffer,
            })),
          ),
        );
      }
    },

    async nodes(ids) {
      const leaves = ids.filter((id) => id.level === 0).map((id) => id.index);
      const inner = ids.filter((id) => id.level > 0);
      const out: AuditNodeRecord[] = [];
      for (const part of chunks(leaves)) {
        const rows = await db
          .selectFrom('audit_entries')
          .select(['idx', 'leaf_hash'])
          .where('idx', 'in', part)
          .execute();
        for (const r of rows) out.push({ level: 0, index: Number(r.idx), hash: bytesOf(r.leaf_hash) });
      }
      for (const part of chunks(inner)) {
        const rows = await db
          .selectFrom('audit_nodes')
          .select(['level', 'idx', 'hash'])
          .where((eb) =>
            eb.or(part.map((id) => eb.and([eb('level', '=', id.level), eb('idx', '=', id.index)]))),
          )
          .execute();
        for (const r of rows) out.push({ level: r.level, index: Number(r.idx), hash: bytesOf(r.hash) });
      }
      return out;
    },

    async entries(start, end) {
      const rows = await db
        .selectFrom('audit_entries')
        .selectAll()
        .where('idx', '>=', start)
        .where('idx', '<', end)
        .orderBy('idx')
        .execute();
      return rows.map(
        (r): AuditEntryRecord => ({
          index: Number(r.idx),
          leafHash: bytesOf(r.leaf_hash),
          entryJson: r.entry_json,
          recordedAt: r.recorded_at,
        }),
      );
    },

    async addTreeHead(head) {
      await db
        .insertInto('audit_tree_heads')
        .values({
          tree_size: head.treeSize,
          root_hash: head.rootHash,
          signed_at: isoInstant(head.timestamp, 'timestamp'),
          node_id: head.nodeId,
          signature: head.signature,
        })
        .execute();
    },

    async latestTreeHead() {
      const row = await db
        .selectFrom('audit_tree_heads')
        .selectAll()
        .orderBy('tree_size', 'desc')
        .orderBy('signed_at', 'desc')
        .limit(1)
        .executeTakeFirst();
      return row === undefined ? undefined : toHead(row);
    },

    async treeHeads() {
      const rows = await db
        .selectFrom('audit_tree_heads')
        .selectAll()
        .orderBy('tree_size')
        .orderBy('signed_at')
        .execute();
      return rows.map(toHead);
    },
  };
}
