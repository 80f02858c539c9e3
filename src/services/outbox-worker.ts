import { randomBytes } from 'node:crypto';
import { AccordError, isAccordError } from '../errors/index.js';
import {
  DEFAULT_MAX_SKEW_MS,
  type Envelope,
  type EnvelopeHeader,
  EnvelopeSchema,
  type KeyOnRecord,
  newEnvelopeHeader,
  productDigest,
  type Receipt,
  type ReceiptKeyResolver,
  recallDigest,
  type Signer,
  sealEnvelope,
  verifyReceipt,
} from '../federation/index.js';
import type { OutboxMessage, Repositories, Store } from '../store/index.js';
import { createValidator } from '../validation/index.js';
import { deliveryEvent } from './audit-events.js';
import type { AuditRecorder } from './audit-log.js';
import type { InboxKeys } from './inbox-service.js';
import { outboxEntryOf } from './outbox-service.js';
import type { OutboxSignal } from './outbox-signal.js';
import { recipientEncryptionKeyOf } from './partner-keys.js';
import { PinsMemo } from './pins-memo.js';
import type { SealedRelease } from './product-service.js';
import type { SealedRecall } from './recall-service.js';

// DESIGN.md §2.5 (nothing lost, nothing twice): a release commits with its outbox row; this worker
// delivers each row to the recipient's POST /federation/v1/inbox until the recipient's signed
// receipt says it is stored (or a refusal says it never will be), retrying with exponential
// backoff. The recipient's inbox is idempotent on the envelope id, so a retry after a lost answer
// stores nothing twice.

/** Exponential backoff: the n-th retry waits about min(maxMs, baseMs · 2^n), jittered. */
export interface Backoff {
  readonly baseMs: number;
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { baseMs: 1000, maxMs: 15 * 60_000 };
/** How long one delivery may take before it counts as a network failure. */
export const DEFAULT_DELIVERY_TIMEOUT_MS = 30_000;

export interface OutboxWorkerDeps {
  readonly store: Store;
  /** This node's keys: to seal a stale envelope again, and to know its own signing key. */
  readonly keys: InboxKeys;
  /** The partner this node belongs to: receipts must be addressed to it. */
  readonly partner: string;
  /** The clock, epoch milliseconds; the store's clock must agree with it (listPending is due by it). */
  readonly now: () => number;
  readonly fetch?: typeof globalThis.fetch;
  readonly backoff?: Backoff;
  /** The recipient's allowed clock skew; an envelope older than half of it is sealed again. */
  readonly skewMs?: number;
  readonly timeoutMs?: number;
  /** Uniform in [0, 1), for jitter. */
  readonly random?: () => number;
  /** How many due messages one round takes. */
  readonly batchSize?: number;
  /** Wakes the running worker when a release queues a row (see wake()). */
  readonly signal?: OutboxSignal;
  /** Told of a round that failed as a whole (the store unreachable); rows' failures are recorded on them. */
  readonly onError?: (error: unknown) => void;
  /** The audit log: a delivery, or giving up on one, is logged with the row's new status. */
  readonly audit?: AuditRecorder;
}

/** What one round did. */
export interface DeliveryRound {
  readonly delivered: number;
  readonly retrying: number;
  readonly failed: number;
}

/** The outcome of one attempt at one message. */
type Attempt =
  | { readonly kind: 'delivered'; readonly receipt: unknown }
  | {
      readonly kind: 'retry';
      readonly reason: string;
      /** The recipient did not answer at all (refused, reset, timed out), rather than answering badly. */
      readonly unreachable?: true;
    }
  | { readonly kind: 'failed'; readonly reason: string; readonly receipt?: unknown };

/**
 * What a row holds: the envelope, and what it was sealed from when the row says (SealedRelease,
 * SealedRecall), so a stale envelope can be sealed again and a receipt matched to its message.
 */
interface Deliverable {
  readonly envelope: Envelope;
  readonly release: SealedRelease['release'] | undefined;
  readonly recall?: SealedRecall['recall'];
}

/** How much longer than one delivery's timeout a claimed row stays away from other replicas. */
const LEASE_MARGIN_MS = 5_000;

const validateEnvelope = createValidator<Envelope>(EnvelopeSchema, 'ENVELOPE_MALFORMED', 'outbox envelope');

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(error: unknown): string {
  if (isAccordError(error)) return `${error.code}: ${error.message}`;
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    const detail = cause instanceof Error ? ` (${cause.message})` : '';
    return `${error.message}${detail}`;
  }
  return String(error);
}

/** A problem+json body's code and detail, read defensively. */
function problemText(body: unknown): string {
  // attacker-controlled: the recipient's answer.
  if (!isRecord(body)) return 'no problem details';
  const code = typeof body.code === 'string' ? body.code.slice(0, 100) : 'UNKNOWN';
  const detail = typeof body.detail === 'string' ? body.detail.slice(0, 2000) : '';
  return detail === '' ? code : `${code}: ${detail}`;
}

/**
 * The product digest the recipient's receipt must name: the one the row states (a consent request
 * or answer, which carries no document), else the productDigest of the document released.
 */
function expectedDigestOf(release: Deliverable['release']): string | undefined {
  if (release === undefined) return undefined;
  const stated = (release as { readonly digest?: unknown }).digest;
  return typeof stated === 'string' ? stated : productDigest(release.payload.product);
}

/**
 * Delivers the outbox: `runOnce()` sends every due pending message once; `start()` runs rounds
 * every interval, never two at once, until `stop()`.
 */
export class OutboxWorker {
  readonly #deps: OutboxWorkerDeps;
  readonly #signer: Signer;
  readonly #fetch: typeof globalThis.fetch;
  readonly #backoff: Backoff;
  readonly #skewMs: number;
  /** The pins of the arrangements receipts are checked under (see #receiptKeys). */
  readonly #pins = new PinsMemo();
  #round: Promise<DeliveryRound> | undefined;
  /** The next round, scheduled: cancels it. */
  #cancel: (() => void) | undefined;
  #running = false;
  #intervalMs = 5000;
  /** A wake-up came during a round: run another as soon as it ends. */
  #again = false;
  #unsubscribe: (() => void) | undefined;
  /** Aborted by stop(): cuts the delivery in flight short and ends the round before the next row. */
  #halt = new AbortController();

  constructor(deps: OutboxWorkerDeps) {
    this.#deps = deps;
    this.#signer = {
      privateKey: deps.keys.identity.signing.privateKey,
      fingerprint: deps.keys.public.signing.fingerprint,
    };
    this.#fetch = deps.fetch ?? globalThis.fetch;
    this.#backoff = deps.backoff ?? DEFAULT_BACKOFF;
    this.#skewMs = deps.skewMs ?? DEFAULT_MAX_SKEW_MS;
  }

  /** One round over the due pending messages; a call during a round joins that round. */
  runOnce(): Promise<DeliveryRound> {
    this.#round ??= this.#deliverDue().finally(() => {
      this.#round = undefined;
    });
    return this.#round;
  }

  /** Runs a round now and then every `intervalMs` after the last one ended. */
  start(intervalMs = 5000): void {
    if (this.#running) return;
    this.#running = true;
    this.#intervalMs = intervalMs;
    this.#unsubscribe = this.#deps.signal?.subscribe(() => this.wake());
    this.#schedule(0);
  }

  /**
   * Runs a round now instead of at the next interval (a release was queued); during a round, runs
   * another right after it, so a row committed while the round read the table is not left waiting.
   */
  wake(): void {
    if (!this.#running) return;
    if (this.#round !== undefined) {
      this.#again = true;
      return;
    }
    this.#schedule(0);
  }

  async #tick(): Promise<void> {
    this.#cancel = undefined;
    this.#again = false;
    try {
      await this.runOnce();
    } catch (error) {
      this.#deps.onError?.(error);
    }
    if (this.#running) this.#schedule(this.#again ? 0 : this.#intervalMs);
  }

  /**
   * Stops the rounds. The round in flight ends at once: its current delivery is aborted and left
   * unrecorded (the inbox is idempotent, so sending it again after a restart is safe), and the rows
   * after it wait for the next start. Without this a node told to stop would first wait out the
   * delivery timeout of every due row to a partner that does not answer.
   */
  async stop(): Promise<void> {
    this.#running = false;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#cancel?.();
    this.#cancel = undefined;
    this.#halt.abort();
    await this.#round?.catch(() => undefined);
    this.#halt = new AbortController();
  }

  #schedule(ms: number): void {
    this.#cancel?.();
    // A round due now runs on the next turn of the event loop: setTimeout(0) waits at least 1 ms
    // (Node clamps it), which a release waiting to be delivered would spend idle.
    if (ms <= 0) {
      const immediate = setImmediate(() => void this.#tick());
      immediate.unref();
      this.#cancel = () => clearImmediate(immediate);
    } else {
      const timer = setTimeout(() => void this.#tick(), ms);
      timer.unref();
      this.#cancel = () => clearTimeout(timer);
    }
  }

  /**
   * The rows due this round. On PostgreSQL, where several API replicas of one node share the
   * outbox (issue 7), each row is claimed just before its attempt (claimPending: SKIP LOCKED and a
   * lease a little longer than one delivery), so two replicas never send the same row, and a
   * replica that dies mid-delivery strands one row for one lease, not its whole batch. SQLite has
   * one process writing: the due rows are read at once.
   */
  async *#due(limit: number): AsyncGenerator<OutboxMessage> {
    const { outbox } = this.#deps.store;
    if (this.#deps.store.dialect !== 'postgres') {
      yield* await outbox.listPending({ limit });
      return;
    }
    const leaseMs = (this.#deps.timeoutMs ?? DEFAULT_DELIVERY_TIMEOUT_MS) + LEASE_MARGIN_MS;
    for (let taken = 0; taken < limit; taken++) {
      const [message] = await outbox.claimPending({ limit: 1, leaseMs });
      if (message === undefined) return;
      yield message;
    }
  }

  async #deliverDue(): Promise<DeliveryRound> {
    const due = this.#due(this.#deps.batchSize ?? 100);
    let delivered = 0;
    let retrying = 0;
    let failed = 0;
    const halt = this.#halt.signal;
    // Recipients that did not answer this round, and why. Their other rows wait for the next try
    // with the same backoff instead of each waiting out the delivery timeout in turn: a partner
    // that hangs would otherwise hold up every delivery behind it, to every other partner too.
    const unreachable = new Map<string, string>();
    for await (const message of due) {
      if (halt.aborted) break;
      const down = unreachable.get(message.recipient);
      let attempt: Attempt;
      if (down !== undefined) {
        attempt = { kind: 'retry', reason: `${down} (not tried again in the same round)` };
      } else {
        try {
          attempt = await this.#attempt(message, halt);
        } catch (error) {
          attempt = { kind: 'retry', reason: describe(error) };
        }
      }
      // Cut short by stop(), not the recipient's doing: the row stays as it was.
      if (halt.aborted && attempt.kind === 'retry') break;
      if (attempt.kind === 'retry' && attempt.unreachable === true) {
        unreachable.set(message.recipient, attempt.reason);
      }
      try {
        await this.#record(message, attempt);
      } catch (error) {
        // Another worker (a replica on the same store) settled it first: its record stands.
        if (isAccordError(error) && error.code === 'STORE_NOT_FOUND') continue;
        throw error;
      }
      if (attempt.kind === 'delivered') delivered += 1;
      else if (attempt.kind === 'retry') retrying += 1;
      else failed += 1;
    }
    return { delivered, retrying, failed };
  }

  async #record(message: OutboxMessage, attempt: Attempt): Promise<void> {
    const audit = this.#deps.audit;
    if (audit === undefined || attempt.kind === 'retry')
      return this.#mark(this.#deps.store, message, attempt);
    await this.#deps.store.transaction(async (tx) => {
      await this.#mark(tx, message, attempt);
      await audit.recordIn(tx, deliveryEvent(outboxEntryOf(message), attempt.kind === 'delivered'));
    });
  }

  async #mark(tx: Repositories, message: OutboxMessage, attempt: Attempt): Promise<void> {
    const outbox = tx.outbox;
    switch (attempt.kind) {
      case 'delivered':
        await outbox.markDelivered(message.id, attempt.receipt);
        return;
      case 'failed':
        await outbox.markFailed(message.id, {
          error: attempt.reason,
          nextAttemptAt: null,
          ...(attempt.receipt === undefined ? {} : { receipt: attempt.receipt }),
        });
        return;
      case 'retry': {
        const { baseMs, maxMs } = this.#backoff;
        const delay = Math.min(maxMs, baseMs * 2 ** message.attempts);
        // "Equal jitter": between half the delay and all of it, so retries of many rows spread out.
        const wait = delay / 2 + (this.#deps.random ?? Math.random)() * (delay / 2);
        await outbox.markFailed(message.id, {
          error: attempt.reason,
          nextAttemptAt: new Date(this.#deps.now() + wait).toISOString(),
        });
        return;
      }
    }
  }

  /** One delivery of one message, and what the recipient's answer means for it. */
  async #attempt(message: OutboxMessage, halt: AbortSignal): Promise<Attempt> {
    let deliverable: Deliverable | undefined;
    try {
      deliverable = this.#deliverableOf(message.payload);
    } catch (error) {
      // No retry will make a row that holds no envelope deliverable.
      if (!isAccordError(error)) throw error;
      return { kind: 'failed', reason: `the queued message holds no envelope to send: ${describe(error)}` };
    }
    if (deliverable === undefined) {
      return {
        kind: 'failed',
        reason: 'the message was queued unsealed by a node without keys and cannot be delivered',
      };
    }
    const partner = await this.#deps.store.partners.get(message.recipient);
    const endpoint = partner?.endpoint ?? null;
    if (endpoint === null || endpoint === '') {
      return {
        kind: 'retry',
        reason: `no endpoint on record for ${message.recipient} (accord partner add ${message.recipient} --identity FILE --endpoint URL)`,
      };
    }
    const envelope = await this.#fresh(deliverable, message.recipient);
    const url = `${endpoint.replace(/\/+$/, '')}/federation/v1/inbox`;

    let status: number;
    let body: unknown;
    try {
      const response = await this.#fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(envelope),
        signal: AbortSignal.any([
          AbortSignal.timeout(this.#deps.timeoutMs ?? DEFAULT_DELIVERY_TIMEOUT_MS),
          halt,
        ]),
      });
      status = response.status;
      const text = await response.text();
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
    } catch (error) {
      return {
        kind: 'retry',
        reason: `${message.recipient} at ${url} did not answer: ${describe(error)}`,
        unreachable: true,
      };
    }

    if (status === 200 || status === 201) {
      let receipt: Receipt;
      try {
        receipt = await this.#checkedReceipt(body, envelope.header, deliverable);
      } catch (error) {
        // The recipient may well have stored it; its retry answer will carry the same receipt.
        return { kind: 'retry', reason: `${message.recipient} answered ${status} with ${describe(error)}` };
      }
      // #checkedReceipt let through the outcome this kind of message is answered with, or a refusal.
      if (receipt.outcome !== 'refused') return { kind: 'delivered', receipt: body };
      return {
        kind: 'failed',
        reason: `${message.recipient} refused it: ${receipt.reason ?? 'no reason given'}`,
        receipt: body,
      };
    }
    if (status === 408 || status === 429 || status >= 500 || status < 400) {
      return { kind: 'retry', reason: `${message.recipient} answered ${status}: ${problemText(body)}` };
    }
    // A 4xx problem is the recipient's final word on this envelope; keep its signed refusal when
    // it gave one that verifies.
    const refusal = isRecord(body) ? body.receipt : undefined;
    let receipt: unknown;
    if (refusal !== undefined) {
      try {
        await this.#checkedReceipt(refusal, envelope.header, deliverable);
        receipt = refusal;
      } catch {
        receipt = undefined;
      }
    }
    return {
      kind: 'failed',
      reason: `${message.recipient} refused it (${status}) ${problemText(body)}`,
      ...(receipt === undefined ? {} : { receipt }),
    };
  }

  /** The row's envelope; undefined for an unsealed release (queued by a node without keys). */
  #deliverableOf(payload: unknown): Deliverable | undefined {
    if (!isRecord(payload) || payload.sealed === false) return undefined;
    if ('envelope' in payload && 'release' in payload) {
      // Written by ProductService.release in this node's own store.
      const release = payload.release as SealedRelease['release'];
      return { envelope: validateEnvelope(payload.envelope), release };
    }
    if ('envelope' in payload && 'recall' in payload) {
      // Written by RecallService.recall in this node's own store.
      const recall = payload.recall as SealedRecall['recall'];
      return { envelope: validateEnvelope(payload.envelope), release: undefined, recall };
    }
    // A row queued before rows kept what they were sealed from: the envelope alone.
    return { envelope: validateEnvelope(payload), release: undefined };
  }

  /**
   * The envelope to send: the stored one while it is younger than half the recipient's skew
   * window, else the same message sealed again under the same envelope id with a fresh createdAt
   * and nonce, so a recipient back after hours still takes it (and its inbox knows the id).
   */
  async #fresh(deliverable: Deliverable, recipient: string): Promise<Envelope> {
    const { envelope } = deliverable;
    const source = deliverable.release ?? deliverable.recall;
    const now = this.#deps.now();
    const age = Math.abs(now - Date.parse(envelope.header.createdAt));
    if (source === undefined || age <= this.#skewMs / 2) return envelope;
    const header: EnvelopeHeader = {
      ...newEnvelopeHeader(source.header, { now, randomBytes: (n) => randomBytes(n) }),
      envelopeId: envelope.header.envelopeId,
    };
    return sealEnvelope({
      header,
      payload: source.payload,
      signer: this.#signer,
      recipientEncryptionKey: await recipientEncryptionKeyOf(this.#deps.store.partners, recipient),
    });
  }

  /**
   * The receipt, verified under the recipient's signing key as the envelope's arrangement pins it,
   * and matched to what was sent: envelope id, parties, product id, version and digest.
   */
  async #checkedReceipt(body: unknown, header: EnvelopeHeader, deliverable: Deliverable): Promise<Receipt> {
    // attacker-controlled: the recipient's answer, until its signature verifies.
    const receipt = verifyReceipt(body, await this.#receiptKeys(header));
    // A release (or a consent message) is answered `stored`, a recall `recalled` (over the recall
    // message's digest); any may be refused.
    const expectedOutcome = header.kind === 'recall' ? 'recalled' : 'stored';
    const expectedDigest =
      deliverable.recall !== undefined
        ? recallDigest(deliverable.recall.payload)
        : expectedDigestOf(deliverable.release);
    const mismatches = [
      receipt.outcome === expectedOutcome || receipt.outcome === 'refused'
        ? undefined
        : `outcome ${receipt.outcome} for a ${header.kind}`,
      receipt.envelopeId === header.envelopeId ? undefined : `envelope ${receipt.envelopeId}`,
      receipt.from === header.to ? undefined : `from ${receipt.from}`,
      receipt.to === this.#deps.partner ? undefined : `to ${receipt.to}`,
      receipt.product.id === header.product.id && receipt.product.version === header.product.version
        ? undefined
        : `product ${receipt.product.id} v${receipt.product.version}`,
      expectedDigest === undefined || receipt.product.digest === expectedDigest
        ? undefined
        : `digest ${receipt.product.digest}`,
    ].filter((m) => m !== undefined);
    if (mismatches.length > 0) {
      throw new AccordError(
        'RECEIPT_INVALID',
        `the receipt does not answer envelope ${header.envelopeId}: ${mismatches.join(', ')}`,
        { envelopeId: header.envelopeId },
      );
    }
    return receipt;
  }

  /** The recipient's signing key as this node's copy of the envelope's arrangement pins it. */
  async #receiptKeys(header: EnvelopeHeader): Promise<ReceiptKeyResolver> {
    const { store, partner: self } = this.#deps;
    const arrangement = await store.arrangements.getVersion(
      header.arrangement.id,
      header.arrangement.version,
    );
    if (arrangement === undefined || arrangement.versionHash !== header.arrangement.versionHash) {
      return () => undefined;
    }
    const partners = await store.partners.list();
    const own: KeyOnRecord = { use: 'signing', ...this.#deps.keys.public.signing };
    // Remembered as the inbox remembers them: one Ed25519 verify per party, per receipt otherwise.
    const pins = this.#pins.pinsOf(arrangement.document, (code) =>
      code === self ? [own] : (partners.find((p) => p.code === code)?.keys ?? []),
    );
    return (from, fingerprint) => (from === header.to ? pins.keyFor(from, fingerprint) : undefined);
  }
}
