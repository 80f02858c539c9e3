import type { OutboxMessage, OutboxStatus, Store } from '../store/index.js';
import { type Actor, requirePermission } from './actor.js';

/** One delivery as an operator sees it: who, what, how it stands; never the payload. */
export interface OutboxEntry {
  readonly id: string;
  /** What the message belongs to: exactly one of a release, a consent request or an onward release. */
  readonly releaseId: string | null;
  readonly consentRequestId: string | null;
  readonly onwardReleaseId: string | null;
  readonly recipient: string;
  /** What it carries (`release`, `recall`, as its header says); null for a row whose payload names none. */
  readonly kind: string | null;
  /** The recall a recall envelope carries; null otherwise. */
  readonly recallId: string | null;
  /** The product version it carries; null for a row whose payload names none. */
  readonly product: { readonly id: string; readonly version: number } | null;
  readonly status: OutboxStatus;
  readonly attempts: number;
  readonly nextAttemptAt: string;
  readonly lastError: string | null;
  readonly createdAt: string;
  readonly deliveredAt: string | null;
  /** Whether the recipient's signed receipt (stored, or a refusal) is kept. */
  readonly hasReceipt: boolean;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The product a row's payload carries, read from the clear header (sealed) or the message (unsealed). */
function productOf(payload: unknown): OutboxEntry['product'] {
  if (!isRecord(payload)) return null;
  const header = isRecord(payload.envelope) ? payload.envelope.header : payload.header;
  const named = isRecord(header) ? header.product : payload.product;
  if (!isRecord(named) || typeof named.id !== 'string' || typeof named.version !== 'number') return null;
  return { id: named.id, version: named.version };
}

/** The kind a row's payload carries, read from the clear header (sealed) or the message (unsealed). */
function kindOf(payload: unknown): string | null {
  if (!isRecord(payload)) return null;
  const header = isRecord(payload.envelope) ? payload.envelope.header : payload.header;
  const kind = isRecord(header) ? header.kind : payload.kind;
  return typeof kind === 'string' ? kind : null;
}

/** The row without its payload (which holds the released content) or the receipt's body. */
export function outboxEntryOf(message: OutboxMessage): OutboxEntry {
  return {
    id: message.id,
    releaseId: message.releaseId,
    consentRequestId: message.consentRequestId,
    onwardReleaseId: message.onwardReleaseId,
    recipient: message.recipient,
    kind: kindOf(message.payload),
    recallId: message.recallId,
    product: productOf(message.payload),
    status: message.status,
    attempts: message.attempts,
    nextAttemptAt: message.nextAttemptAt,
    lastError: message.lastError,
    createdAt: message.createdAt,
    deliveredAt: message.deliveredAt,
    hasReceipt: message.receipt !== null,
  };
}

/** The outbox as people see it: what is pending, delivered or given up, and why. */
export class OutboxService {
  readonly #store: Store;

  constructor(deps: { readonly store: Store }) {
    this.#store = deps.store;
  }

  /** Deliveries, newest first, optionally of one status. */
  async list(
    actor: Actor,
    options: { readonly status?: OutboxStatus; readonly limit?: number; readonly offset?: number } = {},
  ): Promise<readonly OutboxEntry[]> {
    requirePermission(actor, 'outbox:read');
    return (await this.#store.outbox.list(options)).map(outboxEntryOf);
  }
}
