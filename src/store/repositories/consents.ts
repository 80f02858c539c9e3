import type { ConsentsTable } from '../schema.js';
import type { ConsentRecord, ConsentRepository } from '../store.js';
import { isoInstant, type RepositoryContext } from './context.js';

function toConsent(row: ConsentsTable): ConsentRecord {
  return {
    productId: row.product_id,
    originator: row.originator,
    recipient: row.recipient,
    grantedAt: row.granted_at,
    expiresAt: row.expires_at,
    signature: row.signature,
  };
}

export function createConsentRepository(ctx: RepositoryContext): ConsentRepository {
  const { db } = ctx;
  return {
    async add(consent) {
      const row: ConsentsTable = {
        product_id: consent.productId,
        originator: consent.originator,
        recipient: consent.recipient,
        granted_at: isoInstant(consent.grantedAt, 'grantedAt'),
        expires_at: consent.expiresAt === undefined ? null : isoInstant(consent.expiresAt, 'expiresAt'),
        signature: consent.signature ?? null,
      };
      await db.insertInto('consents').values(row).execute();
      return toConsent(row);
    },

    async list(filter = {}) {
      let query = db.selectFrom('consents').selectAll();
      if (filter.productId !== undefined) query = query.where('product_id', '=', filter.productId);
      if (filter.recipient !== undefined) query = query.where('recipient', '=', filter.recipient);
      const rows = await query.orderBy('granted_at').orderBy('product_id').orderBy('recipient').execute();
      return rows.map(toConsent);
    },
  };
}
