import { randomUUID } from 'node:crypto';
import Type, { type Static } from 'typebox';
import { AccordError, isAccordError } from '../errors/index.js';
import {
  type ArrangementPins,
  type ConsentAnswerPayload,
  type ConsentRequestPayload,
  type EnvelopeArrangement,
  type EnvelopeHeaderFields,
  MAX_CONSENT_REASON,
  policyConsentOf,
  productDigest,
  productOfDerived,
  requireConsent,
  type SignedConsent,
  type Signer,
  signConsent,
} from '../federation/index.js';
import type { MarkingRegistry } from '../markings/index.js';
import {
  type CompiledArrangement,
  compileArrangement,
  type Decision,
  decideRead,
  decideRelease,
  type RuleId,
  type RuleResult,
} from '../policy/index.js';
import { PartnerCode, type Product, parseProduct } from '../products/index.js';
import type {
  ArrangementVersion,
  ConsentRequestDirection,
  ConsentRequestRecord,
  ConsentRequestStatus,
  HeldProduct,
  ReceivedProduct,
  Repositories,
  Store,
} from '../store/index.js';
import { type Actor, readerOf, requirePermission } from './actor.js';
import { pinsOf } from './arrangement-trust.js';
import { consentEvent, onwardReleaseEvent } from './audit-events.js';
import type { AuditRecorder } from './audit-log.js';
import type { InboxKeys } from './inbox-service.js';
import type { OutboxSignal } from './outbox-signal.js';
import { sealForOutbox } from './partner-keys.js';

// Issue 4 and DESIGN.md §2 invariant 2 (third-party rule): a node passes on a product another
// partner originated only with that originator's signed consent naming the new recipient. Here a
// holder's release officer asks the originator for consent, the originator's release officer
// grants it (after the originator's own release policy allows the new recipient) or denies it, and
// the holder passes the received document on as it arrived, with the consent beside it. Requests,
// answers and onward releases go out through the outbox, sealed and signed like releases.

/** What a holder's officer sends to ask for consent. */
export const ConsentRequestInputSchema = Type.Object(
  {
    recipient: PartnerCode,
    arrangementId: Type.String({ minLength: 1, maxLength: 128 }),
    reason: Type.String({ minLength: 1, maxLength: MAX_CONSENT_REASON }),
    version: Type.Optional(
      Type.Integer({ minimum: 1, description: 'the received version; the latest when omitted' }),
    ),
  },
  { additionalProperties: false },
);
export type ConsentRequestInput = Static<typeof ConsentRequestInputSchema>;

/** What an originator's officer sends to grant: an optional end to the consent. */
export const ConsentGrantInputSchema = Type.Object(
  { expiresAt: Type.Optional(Type.String({ format: 'date-time' })) },
  { additionalProperties: false },
);
export type ConsentGrantInput = Static<typeof ConsentGrantInputSchema>;

/** What an originator's officer sends to deny: the reason, which travels to the holder. */
export const ConsentDenyInputSchema = Type.Object(
  { reason: Type.String({ minLength: 1, maxLength: MAX_CONSENT_REASON }) },
  { additionalProperties: false },
);
export type ConsentDenyInput = Static<typeof ConsentDenyInputSchema>;

/** What a holder's officer sends to pass a received product on. */
export const OnwardReleaseInputSchema = Type.Object(
  {
    recipient: PartnerCode,
    arrangementId: Type.String({ minLength: 1, maxLength: 128 }),
    version: Type.Optional(
      Type.Integer({ minimum: 1, description: 'the received version; the latest when omitted' }),
    ),
  },
  { additionalProperties: false },
);
export type OnwardReleaseInput = Static<typeof OnwardReleaseInputSchema>;

/** A consent request as an officer sees it, at either end. */
export interface ConsentRequestView {
  readonly id: string;
  readonly direction: ConsentRequestDirection;
  readonly status: ConsentRequestStatus;
  readonly product: { readonly id: string; readonly version: number; readonly digest: string };
  readonly originator: string;
  readonly holder: string;
  readonly recipient: string;
  readonly arrangement: EnvelopeArrangement;
  readonly reason: string;
  readonly requestedBy: string | null;
  readonly requestedAt: string;
  readonly decidedBy: string | null;
  readonly decidedAt: string | null;
  readonly decisionReason: string | null;
  /** The signed consent, once granted. */
  readonly consent: SignedConsent | null;
}

/** The outcome of an onward release the policy allowed. */
export interface OnwardReleaseOutcome {
  readonly onwardReleaseId: string;
  readonly productId: string;
  readonly version: number;
  readonly originator: string;
  readonly recipient: string;
  /** The consent request whose signed consent went with it; null where the arrangement waives the rule. */
  readonly consentRequestId: string | null;
  readonly rules: readonly RuleResult[];
}

export interface ConsentServiceDeps {
  /** The audit log: each request, answer and onward release decision is logged in its transaction. */
  readonly audit?: AuditRecorder;
  readonly store: Store;
  /** The partner this node belongs to. */
  readonly partner: string;
  readonly registry: MarkingRegistry;
  readonly now: () => number;
  /** The node's keys; without them nothing is signed or sealed and every action is FEDERATION_NOT_CONFIGURED. */
  readonly keys?: InboxKeys;
  /** Told after a message was queued, so delivery starts at once. */
  readonly outboxSignal?: OutboxSignal;
}

// The release-approval rule judges the sender's approval workflow over its own versions; a holder
// has none over a received one. The originator's consent, given by its release officer after its
// own release policy (approvals included) allowed the new recipient, stands in its place.
const HOLDER_SKIPS: ReadonlySet<RuleId> = new Set<RuleId>(['release-approval']);

function notFound(what: string, id: string): AccordError {
  return new AccordError('NOT_FOUND', `no ${what} '${id}'`, { id });
}

function viewOf(record: ConsentRequestRecord): ConsentRequestView {
  return {
    id: record.id,
    direction: record.direction,
    status: record.status,
    product: { id: record.productId, version: record.productVersion, digest: record.productDigest },
    originator: record.originator,
    holder: record.holder,
    recipient: record.recipient,
    arrangement: {
      id: record.arrangementId,
      version: record.arrangementVersion,
      versionHash: record.arrangementHash,
    },
    reason: record.reason,
    requestedBy: record.requestedBy,
    requestedAt: record.requestedAt,
    decidedBy: record.decidedBy,
    decidedAt: record.decidedAt,
    decisionReason: record.decisionReason,
    consent: record.consent,
  };
}

function onWire(arrangement: ArrangementVersion): EnvelopeArrangement {
  return { id: arrangement.id, version: arrangement.version, versionHash: arrangement.versionHash };
}

function sentences(rules: readonly RuleResult[]): string {
  return rules.map((r) => `${r.rule} (${r.reason})`).join('; ');
}

// Requests read from the store at a time while listing what an officer may see.
const LIST_BATCH = 200;

/** Consent requests (both ends), their answers, and onward releases of received products. */
export class ConsentService {
  readonly #deps: ConsentServiceDeps;

  constructor(deps: ConsentServiceDeps) {
    this.#deps = deps;
  }

  #signer(): Signer {
    const keys = this.#deps.keys;
    if (keys === undefined) {
      throw new AccordError(
        'FEDERATION_NOT_CONFIGURED',
        'this node runs without node keys, so it can neither sign a consent nor seal a message to a partner (start it with its keys)',
        {},
      );
    }
    return { privateKey: keys.identity.signing.privateKey, fingerprint: keys.public.signing.fingerprint };
  }

  #iso(ms: number = this.#deps.now()): string {
    return new Date(ms).toISOString();
  }

  // ------------------------------------------------------------ at the holder

  /**
   * Asks the originator of a received product for consent to pass it on to `recipient` under
   * `arrangementId`: records the request (outgoing, pending) and queues it sealed to the originator.
   */
  async request(actor: Actor, productId: string, input: ConsentRequestInput): Promise<ConsentRequestView> {
    requirePermission(actor, 'product:release');
    const signer = this.#signer();
    const self = this.#deps.partner;
    const view = await this.#deps.store.transaction(async (tx) => {
      const received = await this.#receivedFor(tx, actor, productId, input.version);
      const originator = received.originator;
      if (input.recipient === self || input.recipient === originator) {
        throw new AccordError(
          'INPUT_INVALID',
          `recipient ${input.recipient} already holds ${productId}: consent is asked for a new recipient`,
          { path: '/recipient' },
        );
      }
      const arrangement = await this.#arrangementFor(tx, input.arrangementId);
      const missing = [originator, self, input.recipient].filter(
        (p) => !arrangement.document.parties.some((party) => party.partner === p),
      );
      if (missing.length > 0) {
        // The originator must be a party for its consent and signature to verify under a pinned key.
        throw new AccordError(
          'INPUT_INVALID',
          `arrangement ${arrangement.id} v${arrangement.version} does not include ${missing.join(', ')}; an onward release travels under one that includes the originator, the holder and the recipient`,
          { path: '/arrangementId', missing },
        );
      }
      const requestId = randomUUID();
      const digest = productDigest(received.document);
      const requestedAt = this.#iso();
      const payload: ConsentRequestPayload = {
        kind: 'consent-request',
        request: {
          requestId,
          product: { id: received.productId, version: received.productVersion, digest },
          originator,
          holder: self,
          recipient: input.recipient,
          arrangement: onWire(arrangement),
          reason: input.reason,
          requestedAt,
        },
      };
      const sealed = await this.#seal(
        tx,
        signer,
        'consent-request',
        originator,
        arrangement,
        received,
        payload,
      );
      const record = await tx.consentRequests.add({
        id: requestId,
        direction: 'outgoing',
        envelopeId: sealed.id,
        productId: received.productId,
        productVersion: received.productVersion,
        productDigest: digest,
        originator,
        holder: self,
        recipient: input.recipient,
        arrangementId: arrangement.id,
        arrangementVersion: arrangement.version,
        arrangementHash: arrangement.versionHash,
        reason: input.reason,
        requestedBy: actor.user.username,
        requestedAt,
      });
      await this.#deps.audit?.recordIn(tx, consentEvent('consent.requested', actor, record));
      await tx.outbox.enqueue({
        id: sealed.id,
        consentRequestId: requestId,
        recipient: originator,
        payload: { ...sealed.payload, release: { ...sealed.payload.release, digest } },
      });
      return viewOf(record);
    });
    this.#deps.outboxSignal?.notify();
    return view;
  }

  /**
   * Passes a received product on to `recipient` under `arrangementId`, as it arrived (signed by its
   * originator; the holder cannot sign for it), with the originator's signed consent for exactly
   * this when the arrangement does not waive the third-party rule. The decision is recorded either
   * way; a deny throws POLICY_DENIED naming the rules, among them a version that is not wholly
   * releasable to the recipient (the holder cannot tear a document the originator signed).
   */
  async releaseOnward(
    actor: Actor,
    productId: string,
    input: OnwardReleaseInput,
  ): Promise<OnwardReleaseOutcome> {
    requirePermission(actor, 'product:release');
    const signer = this.#signer();
    const self = this.#deps.partner;
    const now = this.#deps.now();
    const outcome = await this.#deps.store.transaction(async (tx) => {
      const received = await this.#receivedFor(tx, actor, productId, input.version);
      const arrangement = await this.#arrangementFor(tx, input.arrangementId);
      const compiled = compileArrangement(arrangement.document, this.#deps.registry);
      const digest = productDigest(received.document);
      const { consent, problems } = await this.#heldConsent(
        tx,
        received,
        digest,
        input.recipient,
        arrangement,
        now,
      );
      const decision = decideRelease(
        productOfDerived(received.document, this.#deps.registry),
        compiled,
        input.recipient,
        { at: now, sender: self, consents: consent === undefined ? [] : [policyConsentOf(consent.consent)] },
      );
      const rules = this.#holderRules(decision, compiled, received.originator, problems);
      const refusing = rules.filter((r) => r.outcome !== 'pass');
      const effect = refusing.length === 0 ? 'allow' : 'deny';
      const id = randomUUID();
      const sealed =
        effect === 'allow'
          ? await this.#seal(tx, signer, 'release', input.recipient, arrangement, received, {
              kind: 'release',
              arrangement: onWire(arrangement),
              product: received.document,
              ...(consent === undefined ? {} : { consent }),
            })
          : undefined;
      await tx.onwardReleases.add({
        id,
        envelopeId: received.envelopeId,
        productId: received.productId,
        productVersion: received.productVersion,
        originator: received.originator,
        recipient: input.recipient,
        arrangementId: arrangement.id,
        arrangementVersion: arrangement.version,
        effect,
        decision: { effect, deniedBy: refusing.map((r) => r.rule), rules, withheld: decision.withheld },
        consentRequestId: consent?.consent.requestId ?? null,
        by: actor.user.username,
      });
      await this.#deps.audit?.recordIn(
        tx,
        onwardReleaseEvent(actor, {
          id,
          productId: received.productId,
          version: received.productVersion,
          recipient: input.recipient,
          arrangement: { id: arrangement.id, version: arrangement.version },
          effect,
          rules,
          banner: received.banner,
        }),
      );
      if (sealed !== undefined) {
        await tx.outbox.enqueue({
          id: sealed.id,
          onwardReleaseId: id,
          recipient: input.recipient,
          payload: sealed.payload,
        });
      }
      return { id, received, rules, refusing, consent };
    });
    const { id, received, rules, refusing, consent } = outcome;
    if (refusing.length > 0) {
      throw new AccordError(
        'POLICY_DENIED',
        `onward release of ${productId} v${received.productVersion} to ${input.recipient} denied: ${sentences(refusing)}`,
        { releaseId: id, deniedBy: refusing.map((r) => r.rule), rules },
      );
    }
    this.#deps.outboxSignal?.notify();
    return {
      onwardReleaseId: id,
      productId: received.productId,
      version: received.productVersion,
      originator: received.originator,
      recipient: input.recipient,
      consentRequestId: consent?.consent.requestId ?? null,
      rules,
    };
  }

  /**
   * The rules of a holder's onward release: decideRelease's, less release-approval (HOLDER_SKIPS),
   * with the originator required to be a party (its signature verifies only under a key the
   * arrangement pins) and the third-party rule's reason saying why a held consent did not count.
   */
  #holderRules(
    decision: Decision,
    compiled: CompiledArrangement,
    originator: string,
    consentProblems: readonly string[],
  ): readonly RuleResult[] {
    const rules: RuleResult[] = [];
    for (const rule of decision.rules) {
      if (HOLDER_SKIPS.has(rule.rule)) continue;
      if (rule.rule === 'third-party-rule' && rule.outcome === 'fail' && consentProblems.length > 0) {
        rules.push({
          ...rule,
          reason: `${rule.reason}; the consent held does not cover it: ${consentProblems.join('; ')}`,
        });
      } else if (rule.rule === 'portion.releasability' && rule.outcome === 'withhold') {
        rules.push({
          ...rule,
          reason: `${rule.reason}; the version held is signed by ${originator} and goes as it is, or not at all`,
        });
      } else rules.push(rule);
    }
    if (!compiled.parties.has(originator)) {
      rules.push({
        rule: 'arrangement.parties',
        outcome: 'fail',
        reason: `the originator ${originator} is not party to ${compiled.id}, so no key it pins verifies the originator's signature`,
      });
    }
    return rules;
  }

  /**
   * The signed consent held for this onward release, verified again now under the originator's key
   * as the arrangement pins it; otherwise why none of those held counts.
   */
  async #heldConsent(
    tx: Repositories,
    received: ReceivedProduct,
    digest: string,
    recipient: string,
    arrangement: ArrangementVersion,
    now: number,
  ): Promise<{ consent?: SignedConsent; problems: readonly string[] }> {
    const self = this.#deps.partner;
    const held = await tx.consents.list({ productId: received.productId, recipient, holder: self });
    const candidates = held.flatMap((c) => (c.consent === null ? [] : [c.consent]));
    if (candidates.length === 0) return { problems: [] };
    const pins = await this.#pins(tx, arrangement);
    const problems: string[] = [];
    for (const candidate of candidates) {
      try {
        requireConsent(
          candidate,
          {
            product: { id: received.productId, version: received.productVersion, digest },
            originator: received.originator,
            holder: self,
            recipient,
            arrangement: onWire(arrangement),
            at: now,
          },
          (originator, fingerprint) =>
            originator === received.originator ? pins.keyFor(originator, fingerprint) : undefined,
        );
        return { consent: candidate, problems: [] };
      } catch (error) {
        if (!isAccordError(error)) throw error;
        const listed = error.details.problems;
        problems.push(Array.isArray(listed) ? listed.join(', ') : `${error.code}: ${error.message}`);
      }
    }
    return { problems };
  }

  // ------------------------------------------------------------ at the originator

  /** Consent requests, newest first: incoming (to decide) and outgoing (asked), by status. */
  async list(
    actor: Actor,
    filter: {
      readonly direction?: ConsentRequestDirection;
      readonly status?: ConsentRequestStatus;
      readonly limit?: number;
      readonly offset?: number;
    } = {},
  ): Promise<readonly ConsentRequestView[]> {
    requirePermission(actor, 'product:release');
    // Only requests about products the officer may read, filtered before paging: a request's
    // product id, version and reason tell of a product, and page sizes would tell of the rest.
    const { limit = 50, offset = 0, ...where } = filter;
    const store = this.#deps.store;
    const visible: ConsentRequestRecord[] = [];
    for (let at = 0; visible.length < offset + limit; at += LIST_BATCH) {
      const batch = await store.consentRequests.list({ ...where, limit: LIST_BATCH, offset: at });
      for (const request of batch)
        if (await this.#mayReadSubject(store, actor, request)) visible.push(request);
      if (batch.length < LIST_BATCH) break;
    }
    return visible.slice(offset, offset + limit).map(viewOf);
  }

  /** Whether the officer may read any of the product a request is about; a request about another is not theirs to see. */
  async #mayReadSubject(tx: Repositories, actor: Actor, request: ConsentRequestRecord): Promise<boolean> {
    const context = { at: this.#deps.now(), registry: this.#deps.registry };
    try {
      if (request.direction === 'outgoing') {
        const received = await tx.receivedProducts.get(request.productId, request.productVersion);
        // A recalled version keeps no content to read.
        if (received === undefined || received.recalledAt !== null) return false;
        const product = productOfDerived(received.document, this.#deps.registry);
        return decideRead(product, readerOf(actor.user), context).effect === 'allow';
      }
      const product = await this.#requestedVersion(tx, request, false);
      return product !== undefined && decideRead(product, readerOf(actor.user), context).effect === 'allow';
    } catch (error) {
      // A document this node can no longer parse is readable by no one (deny by default).
      if (isAccordError(error)) return false;
      throw error;
    }
  }

  /**
   * Grants an incoming request: only when this node's own release policy allows its product
   * version to the new recipient under the arrangement named (POLICY_DENIED naming the rules
   * otherwise, the request left pending for an officer to deny). Signs the consent, records it
   * and queues it to the holder in one transaction.
   */
  async grant(actor: Actor, id: string, input: ConsentGrantInput = {}): Promise<ConsentRequestView> {
    requirePermission(actor, 'product:release');
    const signer = this.#signer();
    const now = this.#deps.now();
    const grantedAt = this.#iso(now);
    let expiresAt: string | undefined;
    if (input.expiresAt !== undefined) {
      const ms = Date.parse(input.expiresAt);
      if (Number.isNaN(ms) || ms <= now) {
        throw new AccordError('INPUT_INVALID', 'expiresAt must be an instant after now', {
          path: '/expiresAt',
        });
      }
      expiresAt = this.#iso(ms);
    }
    const view = await this.#deps.store.transaction(async (tx) => {
      const request = await this.#pending(tx, actor, id);
      const product = await this.#ownVersion(tx, actor, request);
      const arrangement = await this.#askedArrangement(tx, request);
      const compiled = compileArrangement(arrangement.document, this.#deps.registry);
      const decision = decideRelease(product, compiled, request.recipient, {
        at: now,
        sender: this.#deps.partner,
      });
      const failed = decision.rules.filter((r) => r.outcome === 'fail');
      if (!compiled.parties.has(request.holder)) {
        failed.push({
          rule: 'arrangement.parties',
          outcome: 'fail',
          reason: `the holder ${request.holder} is not party to ${compiled.id}`,
        });
      }
      if (failed.length > 0) {
        // The rules that tore portions out say why nothing, or too little, remains.
        const withholding = decision.rules.filter((r) => r.outcome === 'withhold');
        throw new AccordError(
          'POLICY_DENIED',
          `consent for ${request.holder} to pass ${request.productId} v${request.productVersion} on to ${request.recipient} denied by ${this.#deps.partner}'s own policy: ${sentences([...failed, ...withholding])}`,
          { deniedBy: failed.map((r) => r.rule), rules: decision.rules },
        );
      }
      const consent = signConsent(
        {
          requestId: request.id,
          product: { id: request.productId, version: request.productVersion, digest: request.productDigest },
          originator: this.#deps.partner,
          holder: request.holder,
          recipient: request.recipient,
          arrangement: onWire(arrangement),
          grantedAt,
          ...(expiresAt === undefined ? {} : { expiresAt }),
        },
        signer,
      );
      const payload: ConsentAnswerPayload = {
        kind: 'consent-grant',
        requestId: request.id,
        outcome: 'granted',
        decidedAt: grantedAt,
        consent,
      };
      return this.#answer(tx, actor, signer, request, arrangement, payload, {
        status: 'granted',
        decidedAt: grantedAt,
        decidedBy: actor.user.username,
        consent,
      });
    });
    this.#deps.outboxSignal?.notify();
    return view;
  }

  /** Denies an incoming request with a reason, which travels to the holder. */
  async deny(actor: Actor, id: string, input: ConsentDenyInput): Promise<ConsentRequestView> {
    requirePermission(actor, 'product:release');
    const signer = this.#signer();
    const decidedAt = this.#iso();
    const view = await this.#deps.store.transaction(async (tx) => {
      const request = await this.#pending(tx, actor, id);
      const arrangement = await this.#askedArrangement(tx, request);
      const payload: ConsentAnswerPayload = {
        kind: 'consent-grant',
        requestId: request.id,
        outcome: 'denied',
        decidedAt,
        reason: input.reason,
      };
      return this.#answer(tx, actor, signer, request, arrangement, payload, {
        status: 'denied',
        decidedAt,
        decidedBy: actor.user.username,
        reason: input.reason,
      });
    });
    this.#deps.outboxSignal?.notify();
    return view;
  }

  async #answer(
    tx: Repositories,
    actor: Actor,
    signer: Signer,
    request: ConsentRequestRecord,
    arrangement: ArrangementVersion,
    payload: ConsentAnswerPayload,
    decision: Parameters<Repositories['consentRequests']['decide']>[1],
  ): Promise<ConsentRequestView> {
    const product = { productId: request.productId, productVersion: request.productVersion };
    const sealed = await this.#seal(
      tx,
      signer,
      'consent-grant',
      request.holder,
      arrangement,
      product,
      payload,
    );
    const decided = await tx.consentRequests.decide(request.id, decision);
    const action = decided.status === 'granted' ? 'consent.granted' : 'consent.denied';
    await this.#deps.audit?.recordIn(tx, consentEvent(action, actor, decided));
    await tx.outbox.enqueue({
      id: sealed.id,
      consentRequestId: request.id,
      recipient: request.holder,
      payload: { ...sealed.payload, release: { ...sealed.payload.release, digest: request.productDigest } },
    });
    return viewOf(decided);
  }

  /** An incoming request still to be decided: NOT_FOUND or CONSENT_REQUEST_DECIDED otherwise. */
  async #pending(tx: Repositories, actor: Actor, id: string): Promise<ConsentRequestRecord> {
    const request = await tx.consentRequests.get(id);
    // A request about a product the officer may not read answers as one that does not exist.
    if (
      request === undefined ||
      request.direction !== 'incoming' ||
      !(await this.#mayReadSubject(tx, actor, request))
    ) {
      throw notFound('consent request', id);
    }
    if (request.status !== 'pending') {
      throw new AccordError(
        'CONSENT_REQUEST_DECIDED',
        `consent request ${id} was ${request.status} at ${request.decidedAt ?? 'an earlier time'}`,
        { id, status: request.status },
      );
    }
    return request;
  }

  /**
   * The version the request names, of a product this node originated, as the policy sees it; the
   * officer must be able to read all of it to consent to its release.
   */
  async #ownVersion(tx: Repositories, actor: Actor, request: ConsentRequestRecord): Promise<Product> {
    const product = await this.#requestedVersion(tx, request, true);
    if (product === undefined) throw notFound('product', request.productId);
    const read = decideRead(product, readerOf(actor.user), {
      at: this.#deps.now(),
      registry: this.#deps.registry,
    });
    if (read.effect === 'deny') throw notFound('product', request.productId);
    if (read.withheld.length > 0 || read.derived?.titleWithheld) {
      throw new AccordError(
        'FORBIDDEN',
        `${actor.user.username} cannot read all of product ${request.productId} and so cannot consent to its release`,
        { permission: 'product:release' },
      );
    }
    return product;
  }

  /**
   * The version of this node's own product an incoming request names, or undefined when this node
   * did not originate it or holds no such version; with its approvals (which only the release
   * policy reads) when asked.
   */
  async #requestedVersion(
    tx: Repositories,
    request: ConsentRequestRecord,
    withApprovals: boolean,
  ): Promise<Product | undefined> {
    const record = await tx.products.get(request.productId);
    const version =
      record?.originator === this.#deps.partner
        ? await tx.products.getVersion(request.productId, request.productVersion)
        : undefined;
    if (record === undefined || version === undefined) return undefined;
    const approvals = withApprovals ? await tx.approvals.list(record.id, request.productVersion) : [];
    return parseProduct(
      {
        ...version.document,
        approvals: approvals.map((a) => ({ by: a.by, version: a.version, at: a.at, decision: a.decision })),
        recalled: record.state === 'recalled',
      },
      this.#deps.registry,
    );
  }

  /** The arrangement version a request names, as this node holds it with the same terms. */
  async #askedArrangement(tx: Repositories, request: ConsentRequestRecord): Promise<ArrangementVersion> {
    const arrangement = await tx.arrangements.getVersion(request.arrangementId, request.arrangementVersion);
    if (arrangement === undefined || arrangement.versionHash !== request.arrangementHash) {
      throw new AccordError(
        'ARRANGEMENT_MISMATCH',
        `request ${request.id} names arrangement ${request.arrangementId} v${request.arrangementVersion} with hash ${request.arrangementHash}, which ${this.#deps.partner} does not hold with those terms`,
        { arrangementId: request.arrangementId, version: request.arrangementVersion },
      );
    }
    return arrangement;
  }

  // ------------------------------------------------------------ shared

  /**
   * A received version the actor may release: the latest (or the given version), readable in full.
   * Hidden or absent is NOT_FOUND.
   */
  async #receivedFor(
    tx: Repositories,
    actor: Actor,
    productId: string,
    version: number | undefined,
  ): Promise<HeldProduct> {
    const received = await tx.receivedProducts.get(productId, version);
    if (received === undefined) throw notFound('received product', productId);
    // Its originator withdrew it: what is left is a tombstone, to be neither asked for nor passed on.
    if (received.recalledAt !== null) {
      throw new AccordError(
        'PRODUCT_STATE_INVALID',
        `received product ${productId} v${received.productVersion} was recalled by ${received.originator} at ${received.recalledAt}`,
        { state: 'recalled' },
      );
    }
    const product = productOfDerived(received.document, this.#deps.registry);
    const read = decideRead(product, readerOf(actor.user), {
      at: this.#deps.now(),
      registry: this.#deps.registry,
    });
    if (read.effect === 'deny') throw notFound('received product', productId);
    if (read.withheld.length > 0 || read.derived?.titleWithheld) {
      throw new AccordError(
        'FORBIDDEN',
        `${actor.user.username} cannot read all of ${productId} and so cannot pass it on`,
        { permission: 'product:release' },
      );
    }
    return received;
  }

  /** The newest version of the arrangement every party signed into force, else its latest. */
  async #arrangementFor(tx: Repositories, arrangementId: string): Promise<ArrangementVersion> {
    const history = await tx.arrangements.history(arrangementId);
    const governing = [...history].reverse().find((v) => v.status === 'active') ?? history.at(-1);
    if (governing === undefined) throw notFound('arrangement', arrangementId);
    return governing;
  }

  /** The keys the arrangement version pins, this node's own from its identity. */
  async #pins(tx: Repositories, arrangement: ArrangementVersion): Promise<ArrangementPins> {
    return pinsOf(
      arrangement.document,
      await tx.partners.list(),
      this.#deps.partner,
      this.#deps.keys?.public.signing,
    );
  }

  async #seal(
    tx: Repositories,
    signer: Signer,
    kind: EnvelopeHeaderFields['kind'],
    to: string,
    arrangement: ArrangementVersion,
    product: { readonly productId: string; readonly productVersion: number },
    payload: object,
  ) {
    return sealForOutbox(tx.partners, {
      signer,
      from: this.#deps.partner,
      now: this.#deps.now(),
      kind,
      to,
      arrangement,
      product: { id: product.productId, version: product.productVersion },
      payload,
    });
  }
}
