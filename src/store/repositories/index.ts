import { translateDbError } from '../db-errors.js';
import { type Repositories, STORE_TABLES, type TableCounts } from '../store.js';
import { createAlertRepository } from './alerts.js';
import { createApprovalRepository } from './approvals.js';
import { createArrangementRepository } from './arrangements.js';
import { createAttachmentRepository } from './attachments.js';
import { createAuditRepository } from './audit.js';
import { createCommunityRepository } from './communities.js';
import { createConsentRequestRepository } from './consent-requests.js';
import { createConsentRepository } from './consents.js';
import type { RepositoryContext } from './context.js';
import { createEntityIndexRepository, createSearchIndexRepository } from './entities.js';
import { createGossipRepository } from './gossip.js';
import { createInboxRepository } from './inbox.js';
import { createIncidentRepository } from './incidents.js';
import { createLoginAttemptRepository } from './login-attempts.js';
import { createOnwardReleaseRepository } from './onward-releases.js';
import { createOutboxRepository } from './outbox.js';
import { createPartnerRepository } from './partners.js';
import { createProductRepository } from './products.js';
import { createRecallRepository } from './recalls.js';
import { createReceivedProductRepository } from './received-products.js';
import { createReceivedRecallRepository } from './received-recalls.js';
import { createReleaseRepository } from './releases.js';
import { createSessionRepository } from './sessions.js';
import { createStixObjectRepository } from './stix-objects.js';
import { createStreamEventRepository } from './stream-events.js';
import { createTokenRepository } from './tokens.js';
import { createUserRepository } from './users.js';

export type { RepositoryContext } from './context.js';

/** Called before every repository method with its name (`products.search`); throws to refuse the call. */
export type CallGuard = (operation: string) => void;

/**
 * Wraps every method of a repository so that it passes the guard first and fails only with
 * AccordErrors: driver errors become STORE_CONFLICT, STORE_NOT_FOUND and so on, the same on both dialects.
 */
function guarded<T extends object>(name: string, repository: T, guard: CallGuard): T {
  const wrapped: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(repository)) {
    if (typeof value !== 'function') {
      wrapped[key] = value;
      continue;
    }
    const operation = `${name}.${key}`;
    wrapped[key] = async (...args: unknown[]): Promise<unknown> => {
      guard(operation);
      try {
        return await Reflect.apply(value, repository, args);
      } catch (error) {
        throw translateDbError(error, operation);
      }
    };
  }
  return wrapped as T;
}

/** Every repository over one database handle (the pool, or one transaction). */
export function createRepositories(ctx: RepositoryContext, guard: CallGuard): Repositories {
  const counts = async (): Promise<TableCounts> => {
    const entries: [string, number][] = [];
    for (const table of STORE_TABLES) {
      const row = await ctx.db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll<number | string | bigint>().as('n'))
        .executeTakeFirstOrThrow();
      entries.push([table, Number(row.n)]);
    }
    return Object.fromEntries(entries) as Record<(typeof STORE_TABLES)[number], number>;
  };
  return {
    partners: guarded('partners', createPartnerRepository(ctx), guard),
    communities: guarded('communities', createCommunityRepository(ctx), guard),
    arrangements: guarded('arrangements', createArrangementRepository(ctx), guard),
    users: guarded('users', createUserRepository(ctx), guard),
    tokens: guarded('tokens', createTokenRepository(ctx), guard),
    sessions: guarded('sessions', createSessionRepository(ctx), guard),
    loginAttempts: guarded('loginAttempts', createLoginAttemptRepository(ctx), guard),
    products: guarded('products', createProductRepository(ctx), guard),
    approvals: guarded('approvals', createApprovalRepository(ctx), guard),
    attachments: guarded('attachments', createAttachmentRepository(ctx), guard),
    releases: guarded('releases', createReleaseRepository(ctx), guard),
    consents: guarded('consents', createConsentRepository(ctx), guard),
    recalls: guarded('recalls', createRecallRepository(ctx), guard),
    outbox: guarded('outbox', createOutboxRepository(ctx), guard),
    inbox: guarded('inbox', createInboxRepository(ctx), guard),
    receivedRecalls: guarded('receivedRecalls', createReceivedRecallRepository(ctx), guard),
    receivedProducts: guarded('receivedProducts', createReceivedProductRepository(ctx), guard),
    consentRequests: guarded('consentRequests', createConsentRequestRepository(ctx), guard),
    onwardReleases: guarded('onwardReleases', createOnwardReleaseRepository(ctx), guard),
    audit: guarded('audit', createAuditRepository(ctx), guard),
    gossip: guarded('gossip', createGossipRepository(ctx), guard),
    incidents: guarded('incidents', createIncidentRepository(ctx), guard),
    stix: guarded('stix', createStixObjectRepository(ctx), guard),
    streamEvents: guarded('streamEvents', createStreamEventRepository(ctx), guard),
    entities: guarded('entities', createEntityIndexRepository(ctx), guard),
    alerts: guarded('alerts', createAlertRepository(ctx), guard),
    search: guarded('search', createSearchIndexRepository(ctx), guard),
    counts: guarded('store', { counts }, guard).counts,
  };
}
