import type { ApprovalsTable } from '../schema.js';
import type { ApprovalRecord, ApprovalRepository } from '../store.js';
import { nowIso, type RepositoryContext } from './context.js';

function toApproval(row: ApprovalsTable): ApprovalRecord {
  return {
    productId: row.product_id,
    version: row.version,
    by: row.approver,
    decision: row.decision === 'approved' ? 'approved' : 'rejected',
    comment: row.comment,
    at: row.decided_at,
  };
}

export function createApprovalRepository(ctx: RepositoryContext): ApprovalRepository {
  const { db } = ctx;
  return {
    async add(approval) {
      const row: ApprovalsTable = {
        product_id: approval.productId,
        version: approval.version,
        approver: approval.by,
        decision: approval.decision,
        comment: approval.comment ?? null,
        decided_at: nowIso(ctx),
      };
      // The primary key (product, version, approver) keeps one person from counting twice.
      await db.insertInto('approvals').values(row).execute();
      return toApproval(row);
    },

    async list(productId, version) {
      let query = db.selectFrom('approvals').selectAll().where('product_id', '=', productId);
      if (version !== undefined) query = query.where('version', '=', version);
      const rows = await query.orderBy('version').orderBy('decided_at').orderBy('approver').execute();
      return rows.map(toApproval);
    },
  };
}
