import type { SignedConsent } from '../../federation/index.js';
import type { ConsentsTable } from '../schema.js';
import type { ConsentRecord, ConsentRepository } from '../store.js';
import { isoInstant, parseStoredJson, type RepositoryContext } from './context.js';

function toConsent(row: ConsentsTable): ConsentRecord {
  return {
    productId: row.product_id,
    originator: row.originator,
    recipient: row.recipient,
    grantedAt: row.granted_at,
    expiresAt: row.expires_at,
    signature: row.signature,
    holder: row.holder,
    productVersion: row.product_version,
    requestId: row.request_id,
    consent: row.consent_json === null ? null : parseStoredJson<SignedConsent>(row.consent_json),
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
        holder: null,
        product_version: null,
        request_id: null,
        consent_json: null,
      };
      await db.insertInto('consents').values(row).execute();
      return toConsent(row);
    },

    async addSigned(signed) {
      const terms = signed.consent;
      const row: ConsentsTable = {
        product_id: terms.product.id,
        originator: terms.originator,
        recipient: terms.recipient,
        granted_at: isoInstant(terms.grantedAt, 'grantedAt'),
        expires_at: terms.expiresAt === undefined ? null : isoInstant(terms.expiresAt, 'expiresAt'),
        signature: signed.signature,
        holder: terms.holder,
        product_version: terms.product.version,
        request_id: terms.requestId,
        // Kept exactly as it arrived, signature included, so it can be verified again on use.
        consent_json: JSON.stringify(signed),
      };
      await db.insertInto('consents').values(row).execute();
      return toConsent(row);
    },

    async list(filter = {}) {
      let query = db.selectFrom('consents').selectAll();
      if (filter.productId !== undefined) query = query.where('product_id', '=', filter.productId);
      if (filter.recipient !== undefined) query = query.where('recipient', '=', filter.recipient);
      if (filter.holder !== undefined) query = query.where('holder', '=', filter.holder);
      const rows = await query.orderBy('granted_at').orderBy('product_id').orderBy('recipient').execute();
      return rows.map(toConsent);
    },
  };
}
