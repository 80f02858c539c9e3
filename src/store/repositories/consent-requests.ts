import { AccordError } from '../../errors/index.js';
import type { SignedConsent } from '../../federation/index.js';
import type { ConsentRequestsTable } from '../schema.js';
import type {
  ConsentRequestDirection,
  ConsentRequestRecord,
  ConsentRequestRepository,
  ConsentRequestStatus,
} from '../store.js';
import {
  affectedRows,
  isoInstant,
  notFound,
  pageOf,
  parseStoredJson,
  type RepositoryContext,
} from './context.js';

function toRequest(row: ConsentRequestsTable): ConsentRequestRecord {
  return {
    id: row.id,
    direction: row.direction as ConsentRequestDirection,
    envelopeId: row.envelope_id,
    productId: row.product_id,
    productVersion: row.product_version,
    productDigest: row.product_digest,
    originator: row.originator,
    holder: row.holder,
    recipient: row.recipient,
    arrangementId: row.arrangement_id,
    arrangementVersion: row.arrangement_version,
    arrangementHash: row.arrangement_hash,
    reason: row.reason,
    status: row.status as ConsentRequestStatus,
    requestedBy: row.requested_by,
    requestedAt: row.requested_at,
    decidedBy: row.decided_by,
    decidedAt: row.decided_at,
    decisionReason: row.decision_reason,
    consent: row.consent_json === null ? null : parseStoredJson<SignedConsent>(row.consent_json),
  };
}

export function createConsentRequestRepository(ctx: RepositoryContext): ConsentRequestRepository {
  const { db } = ctx;

  const get = async (id: string): Promise<ConsentRequestRecord | undefined> => {
    const row = await db.selectFrom('consent_requests').selectAll().where('id', '=', id).executeTakeFirst();
    return row === undefined ? undefined : toRequest(row);
  };

  return {
    async add(request) {
      const row: ConsentRequestsTable = {
        id: request.id,
        direction: request.direction,
        envelope_id: request.envelopeId,
        product_id: request.productId,
        product_version: request.productVersion,
        product_digest: request.productDigest,
        originator: request.originator,
        holder: request.holder,
        recipient: request.recipient,
        arrangement_id: request.arrangementId,
        arrangement_version: request.arrangementVersion,
        arrangement_hash: request.arrangementHash,
        reason: request.reason,
        status: 'pending',
        requested_by: request.requestedBy,
        requested_at: isoInstant(request.requestedAt, 'requestedAt'),
        decided_by: null,
        decided_at: null,
        decision_reason: null,
        consent_json: null,
      };
      await db.insertInto('consent_requests').values(row).execute();
      return toRequest(row);
    },

    get,

    async list(filter = {}) {
      const { limit, offset } = pageOf(filter);
      let query = db.selectFrom('consent_requests').selectAll();
      if (filter.direction !== undefined) query = query.where('direction', '=', filter.direction);
      if (filter.status !== undefined) query = query.where('status', '=', filter.status);
      if (filter.productId !== undefined) query = query.where('product_id', '=', filter.productId);
      const rows = await query
        .orderBy('requested_at', 'desc')
        .orderBy('id')
        .limit(limit)
        .offset(offset)
        .execute();
      return rows.map(toRequest);
    },

    async decide(id, decision) {
      if ((decision.status === 'granted') !== (decision.consent !== undefined)) {
        throw new AccordError('INPUT_INVALID', 'a grant, and only a grant, keeps a signed consent', {
          path: 'consent',
        });
      }
      // Only a pending request changes: two officers deciding at once cannot both win.
      const result = await db
        .updateTable('consent_requests')
        .set({
          status: decision.status,
          decided_at: isoInstant(decision.decidedAt, 'decidedAt'),
          decided_by: decision.decidedBy,
          decision_reason: decision.reason ?? null,
          consent_json: decision.consent === undefined ? null : JSON.stringify(decision.consent),
        })
        .where('id', '=', id)
        .where('status', '=', 'pending')
        .executeTakeFirst();
      if (affectedRows(result.numUpdatedRows) === 0) {
        const current = await get(id);
        if (current === undefined) throw notFound('consent request', { id });
        throw new AccordError('STORE_CONFLICT', `consent request ${id} is ${current.status} already`, {
          id,
          status: current.status,
        });
      }
      const updated = await get(id);
      if (updated === undefined) throw notFound('consent request', { id });
      return updated;
    },
  };
}
