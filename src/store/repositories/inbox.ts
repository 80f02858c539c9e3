import type { SignedReceipt } from '../../federation/index.js';
import type { InboxTable } from '../schema.js';
import type { InboxEntry, InboxOutcome, InboxRepository } from '../store.js';
import { isoInstant, pageOf, parseStoredJson, type RepositoryContext } from './context.js';

function toEntry(row: InboxTable): InboxEntry {
  return {
    envelopeId: row.envelope_id,
    sender: row.sender,
    kind: row.kind,
    arrangementId: row.arrangement_id,
    arrangementVersion: row.arrangement_version,
    productId: row.product_id,
    productVersion: row.product_version,
    envelopeDigest: row.envelope_digest,
    remoteAddress: row.remote_address,
    outcome: row.outcome as InboxOutcome,
    code: row.code,
    reason: row.reason,
    receipt: row.receipt_json === null ? null : parseStoredJson<SignedReceipt>(row.receipt_json),
    receivedAt: row.received_at,
  };
}

export function createInboxRepository(ctx: RepositoryContext): InboxRepository {
  const { db } = ctx;
  return {
    async record(entry) {
      const row: InboxTable = {
        envelope_id: entry.envelopeId,
        sender: entry.sender,
        kind: entry.kind,
        arrangement_id: entry.arrangementId,
        arrangement_version: entry.arrangementVersion,
        product_id: entry.productId,
        product_version: entry.productVersion,
        envelope_digest: entry.envelopeDigest,
        remote_address: entry.remoteAddress,
        outcome: entry.outcome,
        code: entry.code,
        reason: entry.reason,
        receipt_json: entry.receipt === null ? null : JSON.stringify(entry.receipt),
        received_at: isoInstant(entry.receivedAt, 'receivedAt'),
      };
      await db.insertInto('inbox').values(row).execute();
      return toEntry(row);
    },

    async get(envelopeId) {
      const row = await db
        .selectFrom('inbox')
        .selectAll()
        .where('envelope_id', '=', envelopeId)
        .executeTakeFirst();
      return row === undefined ? undefined : toEntry(row);
    },

    async list(filter = {}) {
      const { limit, offset } = pageOf(filter);
      let query = db.selectFrom('inbox').selectAll();
      if (filter.sender !== undefined) query = query.where('sender', '=', filter.sender);
      if (filter.outcome !== undefined) query = query.where('outcome', '=', filter.outcome);
      if (filter.productId !== undefined) query = query.where('product_id', '=', filter.productId);
      if (filter.arrangementId !== undefined)
        query = query.where('arrangement_id', '=', filter.arrangementId);
      const rows = await query
        .orderBy('received_at')
        .orderBy('envelope_id')
        .limit(limit)
        .offset(offset)
        .execute();
      return rows.map(toEntry);
    },
  };
}
