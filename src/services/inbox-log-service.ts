import type { InboxEntry, InboxOutcome, Store } from '../store/index.js';
import { type Actor, requirePermission } from './actor.js';

/**
 * One envelope the inbox answered, as an operator sees it: who sent what, and whether it was
 * stored or refused and why; never the payload, which only the read policy may show.
 */
export interface InboxSummary {
  readonly envelopeId: string;
  readonly sender: string;
  readonly kind: string;
  readonly product: { readonly id: string; readonly version: number };
  readonly arrangement: { readonly id: string; readonly version: number };
  readonly outcome: InboxOutcome;
  /** The error code of a refusal; null when stored. */
  readonly code: string | null;
  /** Why it was refused, as the refusal said; null when stored. */
  readonly reason: string | null;
  readonly receivedAt: string;
  readonly remoteAddress: string | null;
  /** Whether this node signed a receipt for it (always for a stored envelope). */
  readonly hasReceipt: boolean;
}

/** The entry without its envelope digest or the receipt's body. */
export function inboxSummaryOf(entry: InboxEntry): InboxSummary {
  return {
    envelopeId: entry.envelopeId,
    sender: entry.sender,
    kind: entry.kind,
    product: { id: entry.productId, version: entry.productVersion },
    arrangement: { id: entry.arrangementId, version: entry.arrangementVersion },
    outcome: entry.outcome,
    code: entry.code,
    reason: entry.reason,
    receivedAt: entry.receivedAt,
    remoteAddress: entry.remoteAddress,
    hasReceipt: entry.receipt !== null,
  };
}

/**
 * The inbox as people see it: every authenticated envelope and what this node did with it. The
 * receiving side is InboxService; this reads its record, and needs no keys.
 */
export class InboxLogService {
  readonly #store: Store;

  constructor(deps: { readonly store: Store }) {
    this.#store = deps.store;
  }

  /** Entries, oldest first (the store's order), optionally of one outcome or sender. */
  async list(
    actor: Actor,
    options: {
      readonly outcome?: InboxOutcome;
      readonly sender?: string;
      readonly limit?: number;
      readonly offset?: number;
    } = {},
  ): Promise<readonly InboxSummary[]> {
    requirePermission(actor, 'inbox:read');
    return (await this.#store.inbox.list(options)).map(inboxSummaryOf);
  }
}
