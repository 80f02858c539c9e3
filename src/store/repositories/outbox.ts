import { AccordError } from '../../errors/index.js';
import type { OutboxTable } from '../schema.js';
import type { OutboxMessage, OutboxRepository, OutboxStatus } from '../store.js';
import {
  affectedRows,
  isoInstant,
  notFound,
  nowIso,
  pageOf,
  parseStoredJson,
  type RepositoryContext,
} from './context.js';

function toMessage(row: OutboxTable): OutboxMessage {
  return {
    id: row.id,
    releaseId: row.release_id,
    consentRequestId: row.consent_request_id,
    onwardReleaseId: row.onward_release_id,
    incidentId: row.incident_id,
    recipient: row.recipient,
    payload: parseStoredJson<unknown>(row.payload_json),
    status: row.status as OutboxStatus,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    lastError: row.last_error,
    createdAt: row.created_at,
    deliveredAt: row.delivered_at,
    receipt: row.receipt_json === null ? null : parseStoredJson<unknown>(row.receipt_json),
    recallId: row.recall_id,
  };
}

export function createOutboxRepository(ctx: RepositoryContext): OutboxRepository {
  const { db } = ctx;

  const getOrThrow = async (id: string): Promise<OutboxMessage> => {
    const row = await db.selectFrom('outbox').selectAll().where('id', '=', id).executeTakeFirst();
    if (row === undefined) throw notFound('outbox message', { id });
    return toMessage(row);
  };

  return {
    async enqueue(message) {
      const subjects = [
        message.releaseId,
        message.consentRequestId,
        message.onwardReleaseId,
        message.incidentId,
      ];
      if (subjects.filter((s) => s !== undefined).length !== 1) {
        throw new AccordError(
          'INPUT_INVALID',
          'an outbox message belongs to exactly one of a release, a consent request, an onward release or an incident',
          { path: 'releaseId', id: message.id },
        );
      }
      const now = nowIso(ctx);
      const row: OutboxTable = {
        id: message.id,
        release_id: message.releaseId ?? null,
        consent_request_id: message.consentRequestId ?? null,
        onward_release_id: message.onwardReleaseId ?? null,
        incident_id: message.incidentId ?? null,
        recipient: message.recipient,
        payload_json: JSON.stringify(message.payload) ?? 'null',
        status: 'pending',
        attempts: 0,
        next_attempt_at:
          message.nextAttemptAt === undefined ? now : isoInstant(message.nextAttemptAt, 'nextAttemptAt'),
        last_error: null,
        created_at: now,
        delivered_at: null,
        receipt_json: null,
        recall_id: message.recallId ?? null,
      };
      await db.insertInto('outbox').values(row).execute();
      return toMessage(row);
    },

    async get(id) {
      const row = await db.selectFrom('outbox').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? undefined : toMessage(row);
    },

    async listPending(options = {}) {
      const { limit } = pageOf({ limit: options.limit ?? 100 });
      const rows = await db
        .selectFrom('outbox')
        .selectAll()
        .where('status', '=', 'pending')
        .where('next_attempt_at', '<=', nowIso(ctx))
        .orderBy('next_attempt_at')
        .orderBy('created_at')
        .orderBy('id')
        .limit(limit)
        .execute();
      return rows.map(toMessage);
    },

    async list(options = {}) {
      const { limit, offset } = pageOf(options);
      let query = db.selectFrom('outbox').selectAll();
      if (options.status !== undefined) query = query.where('status', '=', options.status);
      if (options.releaseId !== undefined) query = query.where('release_id', '=', options.releaseId);
      if (options.recallId !== undefined) query = query.where('recall_id', '=', options.recallId);
      if (options.incidentId !== undefined) query = query.where('incident_id', '=', options.incidentId);
      const rows = await query
        .orderBy('created_at', 'desc')
        .orderBy('id')
        .limit(limit)
        .offset(offset)
        .execute();
      return rows.map(toMessage);
    },

    async markDelivered(id, receipt) {
      // A second receipt for the same message changes nothing: it stays delivered at the first time.
      await db
        .updateTable('outbox')
        .set({
          status: 'delivered',
          delivered_at: nowIso(ctx),
          last_error: null,
          ...(receipt === undefined ? {} : { receipt_json: JSON.stringify(receipt) ?? null }),
        })
        .where('id', '=', id)
        .where('status', '!=', 'delivered')
        .execute();
      return getOrThrow(id);
    },

    async markFailed(id, failure) {
      const result = await db
        .updateTable('outbox')
        .set((eb) => ({
          attempts: eb('attempts', '+', 1),
          last_error: failure.error,
          ...(failure.receipt === undefined ? {} : { receipt_json: JSON.stringify(failure.receipt) ?? null }),
          ...(failure.nextAttemptAt === null
            ? { status: 'failed' }
            : { next_attempt_at: isoInstant(failure.nextAttemptAt, 'nextAttemptAt') }),
        }))
        .where('id', '=', id)
        .where('status', '=', 'pending')
        .executeTakeFirst();
      if (affectedRows(result.numUpdatedRows) === 0) throw notFound('pending outbox message', { id });
      return getOrThrow(id);
    },
  };
}
