import { randomBytes, randomUUID } from 'node:crypto';
import type { AuditActor } from '../audit/index.js';
import { AccordError } from '../errors/index.js';
import {
  type Envelope,
  type EnvelopeArrangement,
  type EnvelopeHeaderFields,
  MAX_RECALL_REASON,
  newEnvelopeHeader,
  parseRecallPayload,
  type RecallPayload,
  type RecallVersion,
  type Signer,
  sealEnvelope,
} from '../federation/index.js';
import type { MarkingRegistry } from '../markings/index.js';
import { decideRead } from '../policy/index.js';
import { parseProduct } from '../products/index.js';
import type {
  OutboxMessage,
  OutboxStatus,
  ProductRecord,
  ProductState,
  RecallRecord,
  ReleaseRecord,
  Repositories,
  Store,
} from '../store/index.js';
import { type Actor, readerOf, requirePermission } from './actor.js';
import { recallEvent } from './audit-events.js';
import type { AuditRecorder } from './audit-log.js';
import type { OutboxSignal } from './outbox-signal.js';
import { recipientEncryptionKeyOf } from './partner-keys.js';

// Issue 4: "The originator can recall a product version: recipients erase its content, keep its
// metadata, acknowledge with a signed receipt; the originator sees the recall status per
// recipient." A recall commits with its outbox rows, one recall envelope per recipient and
// arrangement an allowed release of the version went under (DESIGN.md §2.5, as a release does),
// and the product becomes `recalled`, which decideRelease and decideRead deny from then on.

/**
 * The outbox payload of a recall on a node with keys: the sealed envelope and what it was sealed
 * from, so the outbox worker can seal it again under the same id when it has grown stale.
 */
export interface SealedRecall {
  readonly envelope: Envelope;
  readonly recall: { readonly header: EnvelopeHeaderFields; readonly payload: RecallPayload };
}

/** The outbox payload of a recall on a node without keys: the message in clear; never delivered. */
export interface UnsealedRecall extends RecallPayload {
  readonly sealed: false;
}

/** What a release officer gives: why, and optionally the one version (else every version). */
export interface RecallInput {
  readonly reason: string;
  readonly version?: number;
}

/** How a recall stands at one recipient: pending delivery, acknowledged with a receipt, or failed. */
export type RecallDeliveryStatus = 'pending' | 'acknowledged' | 'failed';

/** One recall envelope to one recipient, as the originator sees it. */
export interface RecallDelivery {
  readonly recipient: string;
  /** The arrangement the recalled release travelled under, which the recall travels under too. */
  readonly arrangement: { readonly id: string; readonly version: number } | null;
  readonly envelopeId: string;
  readonly status: RecallDeliveryStatus;
  readonly attempts: number;
  /** Why the last attempt failed (pending), or why the recall failed for good (failed). */
  readonly lastError: string | null;
  readonly acknowledgedAt: string | null;
  /** How many received versions the recipient erased, as its receipt says; null without one. */
  readonly erased: number | null;
  /** The recipient's signed receipt (verified by the outbox worker before it was stored). */
  readonly receipt: unknown;
}

/** A recall and its deliveries, one per recipient and arrangement. */
export interface RecallStatus {
  readonly recallId: string;
  readonly productId: string;
  readonly version: RecallVersion;
  readonly reason: string;
  readonly recalledBy: string;
  readonly recalledAt: string;
  readonly recipients: readonly RecallDelivery[];
}

export interface RecallServiceDeps {
  /** The audit log: each recall is logged in its own transaction. */
  readonly audit?: AuditRecorder;
  readonly store: Store;
  /** The partner this node belongs to: it recalls only products it originated. */
  readonly partner: string;
  readonly registry: MarkingRegistry;
  readonly now: () => number;
  /** Without it (a node without keys) recall envelopes are queued unsealed and never delivered. */
  readonly signer?: Signer;
  /** Told after a recall that queued outbox rows has committed, so delivery starts at once. */
  readonly outboxSignal?: OutboxSignal;
}

/** A product in one of these states may have been approved or released; a draft never left its author. */
const RECALLABLE: readonly ProductState[] = ['submitted', 'approved', 'released'];
// The store's largest page: a recall has at most one row per recipient and arrangement.
const PAGE = 500;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function notFound(id: string): AccordError {
  return new AccordError('NOT_FOUND', `no product '${id}'`, { id });
}

/** The reason as a recall carries it; INPUT_INVALID for one a peer would refuse. */
function checkedReason(reason: string): string {
  if (reason.trim() === '' || Array.from(reason).length > MAX_RECALL_REASON || LONE_SURROGATE.test(reason)) {
    throw new AccordError(
      'INPUT_INVALID',
      `reason must be 1 to ${MAX_RECALL_REASON} characters of text, not blank`,
      { path: '/reason' },
    );
  }
  return reason;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** One recall envelope to send: to whom, under which arrangement, answering which release. */
interface RecallTargetGroup {
  readonly recipient: string;
  readonly arrangementId: string;
  readonly arrangementVersion: number;
  /** The highest version released to it under that arrangement: the envelope header's version. */
  readonly version: number;
  /** The latest release it answers (the outbox row's release). */
  readonly releaseId: string;
}

/** Allowed releases grouped by recipient and arrangement, in the order they were first released. */
function groupsOf(releases: readonly ReleaseRecord[]): readonly RecallTargetGroup[] {
  const groups = new Map<string, RecallTargetGroup>();
  for (const r of releases) {
    if (r.effect !== 'allow' || r.arrangementId === null || r.arrangementVersion === null) continue;
    const key = JSON.stringify([r.recipient, r.arrangementId, r.arrangementVersion]);
    const earlier = groups.get(key);
    groups.set(key, {
      recipient: r.recipient,
      arrangementId: r.arrangementId,
      arrangementVersion: r.arrangementVersion,
      version: Math.max(earlier?.version ?? 0, r.version),
      // releases.list is oldest first: the last one seen is the latest.
      releaseId: r.id,
    });
  }
  return [...groups.values()];
}

/** The arrangement a row's envelope (or unsealed message) travels under, read from its clear header. */
function arrangementOf(payload: unknown): RecallDelivery['arrangement'] {
  if (!isRecord(payload)) return null;
  const header = isRecord(payload.envelope) ? payload.envelope.header : undefined;
  const named = isRecord(header) ? header.arrangement : payload.arrangement;
  if (!isRecord(named) || typeof named.id !== 'string' || typeof named.version !== 'number') return null;
  return { id: named.id, version: named.version };
}

const STATUS_OF: Readonly<Record<OutboxStatus, RecallDeliveryStatus>> = {
  pending: 'pending',
  delivered: 'acknowledged',
  failed: 'failed',
};

function deliveryOf(message: OutboxMessage): RecallDelivery {
  const body = isRecord(message.receipt) ? message.receipt.receipt : undefined;
  const erased = isRecord(body) && typeof body.erased === 'number' ? body.erased : null;
  return {
    recipient: message.recipient,
    arrangement: arrangementOf(message.payload),
    envelopeId: message.id,
    status: STATUS_OF[message.status],
    attempts: message.attempts,
    lastError: message.lastError,
    acknowledgedAt: message.status === 'delivered' ? message.deliveredAt : null,
    erased,
    receipt: message.receipt,
  };
}

/** Recalls of this node's products, and how each stands at each recipient. */
export class RecallService {
  readonly #deps: RecallServiceDeps;

  constructor(deps: RecallServiceDeps) {
    this.#deps = deps;
  }

  /**
   * Recalls a product (one version, or every version): records the recall, queues one recall
   * envelope per recipient and arrangement an allowed release of it went under, gives up on
   * releases of it still waiting in the outbox, and marks the product `recalled`, in one
   * transaction. A product never released is recalled with no envelope. Throws NOT_FOUND for a
   * product the actor may not read, FORBIDDEN when they may not read all of it,
   * PRODUCT_STATE_INVALID for a draft, a rejected or a recalled product, PARTNER_KEY_MISSING
   * (nothing written) when a recipient's key is not on record.
   */
  async recall(actor: Actor, id: string, input: RecallInput): Promise<RecallStatus> {
    requirePermission(actor, 'product:recall');
    const reason = checkedReason(input.reason);
    const { store } = this.#deps;
    const outcome = await store.transaction(async (tx) => {
      const record = await this.#visible(tx, actor, id, 'recall');
      if (!RECALLABLE.includes(record.state)) {
        throw new AccordError(
          'PRODUCT_STATE_INVALID',
          `product ${id} is ${record.state}; only a submitted, approved or released product can be recalled`,
          { state: record.state },
        );
      }
      const version = input.version;
      if (
        version !== undefined &&
        (!Number.isSafeInteger(version) || version < 1 || version > record.currentVersion)
      ) {
        throw new AccordError('NOT_FOUND', `product ${id} has no version ${version}`, {
          id,
          path: '/version',
        });
      }
      return this.#recallIn(tx, record, { version, reason, by: actor.user.username, actor });
    });
    if (outcome.queued > 0) this.#deps.outboxSignal?.notify();
    return this.#statusOf(store, outcome.recall);
  }

  /**
   * Recalls, inside `tx`, every version of this node's product `id` as a breach protocol orders it
   * (issue 5): no user's permission or read check, since the arrangement's protocol decided it, but
   * only a product this node originated and that may have left it. Returns the recall, or undefined
   * for a product not held, not this node's, never submitted, or already recalled or rejected. The
   * caller tells the outbox signal once `tx` commits.
   */
  async recallForProtocol(
    tx: Repositories,
    id: string,
    order: { readonly reason: string; readonly by: string; readonly actor: AuditActor },
  ): Promise<RecallRecord | undefined> {
    const record = await tx.products.get(id);
    if (
      record === undefined ||
      record.originator !== this.#deps.partner ||
      !RECALLABLE.includes(record.state)
    ) {
      return undefined;
    }
    const { recall } = await this.#recallIn(tx, record, {
      version: undefined,
      reason: checkedReason(order.reason),
      by: order.by,
      actor: order.actor,
    });
    return recall;
  }

  /**
   * The recall's writes, in `tx`: the recall row, one recall envelope per recipient and arrangement
   * an allowed release of it went under, releases still pending given up, the product `recalled`.
   */
  async #recallIn(
    tx: Repositories,
    record: ProductRecord,
    order: {
      readonly version: number | undefined;
      readonly reason: string;
      readonly by: string;
      readonly actor: Actor | AuditActor;
    },
  ): Promise<{ readonly recall: RecallRecord; readonly queued: number }> {
    const { version } = order;
    const id = record.id;
    const releases = (await tx.releases.list({ productId: id })).filter(
      (r) => version === undefined || r.version === version,
    );
    const recall: RecallRecord = {
      id: randomUUID(),
      productId: id,
      version: version ?? null,
      reason: order.reason,
      by: order.by,
      at: new Date(this.#deps.now()).toISOString(),
    };
    // Every envelope is made before anything is written: one that cannot be sealed
    // (PARTNER_KEY_MISSING) throws here and the recall leaves no trace.
    const queued = [];
    for (const group of groupsOf(releases)) {
      queued.push({ group, message: await this.#outboxMessage(tx, recall, group) });
    }
    await tx.recalls.add(recall);
    for (const { group, message } of queued) {
      await tx.outbox.enqueue({
        id: message.id,
        releaseId: group.releaseId,
        recipient: group.recipient,
        payload: message.payload,
        recallId: recall.id,
      });
    }
    await this.#withdrawPending(tx, releases, recall);
    await tx.products.setState(id, 'recalled', { from: record.state });
    await this.#deps.audit?.recordIn(tx, recallEvent(order.actor, recall));
    return { recall, queued: queued.length };
  }

  /** Every recall of a product the actor may read, oldest first, with its deliveries. */
  async list(actor: Actor, id: string): Promise<readonly RecallStatus[]> {
    requirePermission(actor, 'product:read');
    const { store } = this.#deps;
    await this.#visible(store, actor, id, 'read');
    const recalls = await store.recalls.list(id);
    const statuses: RecallStatus[] = [];
    for (const recall of recalls) statuses.push(await this.#statusOf(store, recall));
    return statuses;
  }

  /**
   * The product, if the actor may see it: this node's own, not another author's draft, and
   * readable by the actor as if it were not recalled (a recall shows who holds what, not content,
   * and a recalled product is denied to every reader by decideRead). To recall it the actor must
   * read all of it, as to release it.
   */
  async #visible(
    tx: Repositories,
    actor: Actor,
    id: string,
    purpose: 'read' | 'recall',
  ): Promise<ProductRecord> {
    const record = await tx.products.get(id);
    if (record === undefined || record.originator !== this.#deps.partner) throw notFound(id);
    if (record.state === 'draft' && record.author !== actor.user.username) throw notFound(id);
    const version = await tx.products.getVersion(id, record.currentVersion);
    if (version === undefined) throw notFound(id);
    const product = parseProduct({ ...version.document, recalled: false }, this.#deps.registry);
    const decision = decideRead(product, readerOf(actor.user), {
      at: this.#deps.now(),
      registry: this.#deps.registry,
    });
    if (decision.effect === 'deny') throw notFound(id);
    if (purpose === 'recall' && (decision.withheld.length > 0 || decision.derived?.titleWithheld)) {
      throw new AccordError(
        'FORBIDDEN',
        `${actor.user.username} cannot read all of product ${id} and so cannot recall it`,
        { permission: 'product:recall' },
      );
    }
    return record;
  }

  /**
   * The recall envelope to one recipient under one arrangement. On a node with keys: the recall
   * message checked against the schema the peer parses it with, sealed to the recipient, in an
   * envelope whose id is the row's id. Without keys: the message in clear, marked `sealed: false`.
   */
  async #outboxMessage(
    tx: Repositories,
    recall: RecallRecord,
    group: RecallTargetGroup,
  ): Promise<{ readonly id: string; readonly payload: SealedRecall | UnsealedRecall }> {
    const governing = await tx.arrangements.getVersion(group.arrangementId, group.arrangementVersion);
    if (governing === undefined) {
      throw new AccordError(
        'NOT_FOUND',
        `arrangement ${group.arrangementId} v${group.arrangementVersion}, under which ${recall.productId} went to ${group.recipient}, is not held`,
        { id: group.arrangementId },
      );
    }
    const arrangement: EnvelopeArrangement = {
      id: governing.id,
      version: governing.version,
      versionHash: governing.versionHash,
    };
    const message: RecallPayload = {
      kind: 'recall',
      arrangement,
      recallId: recall.id,
      product: { id: recall.productId, version: recall.version ?? 'all' },
      originator: this.#deps.partner,
      reason: recall.reason,
      recalledAt: recall.at,
    };
    const signer = this.#deps.signer;
    if (signer === undefined) return { id: randomUUID(), payload: { sealed: false, ...message } };
    const fields: EnvelopeHeaderFields = {
      kind: 'recall',
      from: this.#deps.partner,
      to: group.recipient,
      arrangement,
      product: { id: recall.productId, version: recall.version ?? group.version },
      senderKey: signer.fingerprint,
    };
    const header = newEnvelopeHeader(fields, { now: this.#deps.now(), randomBytes: (n) => randomBytes(n) });
    parseRecallPayload(message, header);
    const recipientEncryptionKey = await recipientEncryptionKeyOf(tx.partners, group.recipient);
    const envelope = sealEnvelope({ header, payload: message, signer, recipientEncryptionKey });
    return {
      id: envelope.header.envelopeId,
      payload: { envelope, recall: { header: fields, payload: message } },
    };
  }

  /**
   * Gives up on the recalled releases still waiting in the outbox, so none is delivered after its
   * recall (a release retrying with backoff would otherwise reach the recipient after the recall
   * did, and be stored there). A release in flight when this commits may still arrive; the recall
   * row is queued after it, and the recipient refuses a recalled version arriving after its recall.
   */
  async #withdrawPending(
    tx: Repositories,
    releases: readonly ReleaseRecord[],
    recall: RecallRecord,
  ): Promise<void> {
    for (const release of releases) {
      const pending = await tx.outbox.list({ releaseId: release.id, status: 'pending', limit: PAGE });
      for (const message of pending) {
        if (message.recallId !== null) continue;
        await tx.outbox.markFailed(message.id, {
          error: `recalled before delivery (recall ${recall.id}): ${recall.reason}`,
          nextAttemptAt: null,
        });
      }
    }
  }

  async #statusOf(tx: Repositories, recall: RecallRecord): Promise<RecallStatus> {
    const messages = await tx.outbox.list({ recallId: recall.id, limit: PAGE });
    return {
      recallId: recall.id,
      productId: recall.productId,
      version: recall.version ?? 'all',
      reason: recall.reason,
      recalledBy: recall.by,
      recalledAt: recall.at,
      recipients: messages
        .map(deliveryOf)
        .sort((a, b) => a.recipient.localeCompare(b.recipient) || a.envelopeId.localeCompare(b.envelopeId)),
    };
  }
}
