import { randomUUID } from 'node:crypto';
import Type, { type Static } from 'typebox';
import type { AuditActor } from '../audit/index.js';
import { authorise } from '../auth/roles.js';
import { AccordError } from '../errors/index.js';
import {
  type EnvelopeHeader,
  INCIDENT_SEVERITIES,
  type IncidentNotice,
  type IncidentReport,
  incidentNoticeDigest,
  MAX_INCIDENT_DESCRIPTION,
  MAX_INCIDENT_NOTE,
  MAX_INCIDENT_PRODUCTS,
  parseIncidentNotice,
  type Signer,
  STATE_AFTER,
} from '../federation/index.js';
import { Identifier, PartnerCode } from '../products/index.js';
import type {
  ArrangementVersion,
  IncidentEffects,
  IncidentRecord,
  IncidentState,
  IncidentStep,
  IncidentStepAction,
  OutboxStatus,
  Repositories,
  Store,
} from '../store/index.js';
import { type Actor, oversightScope, requireOversightOf, requirePermission } from './actor.js';
import type { ArrangementService } from './arrangement-service.js';
import { incidentEvent } from './audit-events.js';
import type { AuditRecorder } from './audit-log.js';
import type { AcceptedMessage } from './consent-inbox.js';
import type { OutboxSignal } from './outbox-signal.js';
import { sealForOutbox } from './partner-keys.js';
import type { ProductService } from './product-service.js';
import type { RecallService } from './recall-service.js';
import type { ReceivedService } from './received-service.js';

// Issue 5, the breach protocol. "Report an incident: reporter, arrangement, suspected party,
// products involved, severity, description. The arrangement's protocol runs: notify every party by
// federation within its deadline; suspend releases to the suspected party when the protocol says
// so (automatically, or when the parties decide); recall the products involved; open a review for
// the oversight body. States reported → under review → resolved or confirmed; each step is logged
// and visible to the parties."
//
// The node that takes the report owns the incident: its oversight body reviews it there, and
// every step is numbered and sent to every other party in an `incident` envelope through the
// outbox (retried until delivered; the view shows who was told when, against the deadline). Each
// party carries out its own share of the protocol when a step reaches it, in the transaction that
// stores the step: it recalls the products involved that it originated (breachProtocol.recall),
// and it suspends the suspected party on its copy of the arrangement when the incident is
// confirmed and the protocol says autoSuspendOnConfirmedBreach, or when the origin's
// administrators take the suspension step (the parties' decision when the protocol leaves it to
// them). So every node's own policy refuses releases to a suspended party, not only the origin's.

export const IncidentReportInputSchema = Type.Object(
  {
    arrangement: Identifier,
    suspectedParty: PartnerCode,
    products: Type.Array(Identifier, { maxItems: MAX_INCIDENT_PRODUCTS, uniqueItems: true }),
    severity: Type.Enum(INCIDENT_SEVERITIES),
    description: Type.String({ minLength: 1, maxLength: MAX_INCIDENT_DESCRIPTION }),
  },
  { additionalProperties: false },
);
export type IncidentReportInput = Static<typeof IncidentReportInputSchema>;

export const IncidentStepInputSchema = Type.Object(
  { note: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_INCIDENT_NOTE })) },
  { additionalProperties: false },
);
export type IncidentStepInput = Static<typeof IncidentStepInputSchema>;

/** The steps a person takes on an incident this node owns, after the report. */
export type IncidentDecision = Exclude<IncidentStepAction, 'reported'>;

/** Whether one party has been told of the incident's latest step, against the deadline. */
export interface IncidentNotification {
  readonly partner: string;
  /** The outbox rows of every step to this party, by status; `unsent` when none could be sealed. */
  readonly status: 'delivered' | 'pending' | 'failed' | 'unsent';
  readonly steps: number;
  readonly delivered: number;
  /** When the report itself reached the party; null while it has not. */
  readonly reportDeliveredAt: string | null;
  /** The report reached the party after the deadline, or has not and the deadline has passed. */
  readonly overdue: boolean;
  readonly lastError: string | null;
}

/** An incident with its steps, and at its origin how far each party has been told. */
export interface IncidentView extends IncidentRecord {
  readonly steps: readonly IncidentStep[];
  /** At the origin: one entry per other party. Elsewhere: empty (the origin tells the parties). */
  readonly notifications: readonly IncidentNotification[];
}

export interface IncidentServiceDeps {
  readonly store: Store;
  /** This node's partner code. */
  readonly partner: string;
  readonly now: () => number;
  /** Without keys nothing can be sealed: reports are refused, since no party could be told. */
  readonly signer?: Signer;
  readonly audit?: AuditRecorder;
  readonly outboxSignal?: OutboxSignal;
  readonly recalls: RecallService;
  readonly arrangements: ArrangementService;
  /** To tell whether a reporter may read a product they name (own, then received). */
  readonly products?: Pick<ProductService, 'snapshot' | 'viewFrom'>;
  readonly received?: Pick<ReceivedService, 'viewOf'>;
}

/** What moves an incident on, from which states, and the permission each needs. */
const DECISIONS: Readonly<
  Record<
    IncidentDecision,
    { readonly from: readonly IncidentState[]; readonly permission: 'incident:review' | 'arrangement:write' }
  >
> = {
  'review-opened': { from: ['reported'], permission: 'incident:review' },
  confirmed: { from: ['reported', 'under-review'], permission: 'incident:review' },
  resolved: { from: ['reported', 'under-review'], permission: 'incident:review' },
  'party-suspended': { from: ['reported', 'under-review', 'confirmed'], permission: 'arrangement:write' },
};

const AUDIT_ACTION = {
  reported: 'incident.reported',
  'review-opened': 'incident.review-opened',
  confirmed: 'incident.confirmed',
  resolved: 'incident.resolved',
  'party-suspended': 'incident.party-suspended',
} as const satisfies Record<IncidentStepAction, string>;

const HOUR_MS = 3_600_000;

function notFound(id: string): AccordError {
  return new AccordError('NOT_FOUND', `no incident '${id}'`, { id });
}

function reportOf(incident: IncidentRecord): IncidentReport {
  return {
    id: incident.id,
    origin: incident.origin ?? '',
    reportedAt: incident.detectedAt,
    reporter: incident.reporter ?? '',
    suspectedParty: incident.partner,
    products: [...incident.products],
    severity: incident.severity ?? 'low',
    description: incident.description ?? '',
    notifyBy: incident.notifyBy ?? incident.detectedAt,
  };
}

/** Reported breaches and the audit forks gossip found, and the breach protocol they set off. */
export class IncidentService {
  readonly #deps: IncidentServiceDeps;

  constructor(deps: IncidentServiceDeps) {
    this.#deps = deps;
  }

  /** Every incident the actor may see, oldest first: a scoped auditor sees their arrangements' only. */
  async list(actor: Actor): Promise<readonly IncidentRecord[]> {
    requirePermission(actor, 'incident:read');
    const scope = oversightScope(actor);
    return this.#deps.store.incidents.list(scope === undefined ? {} : { arrangementIds: scope });
  }

  /** One incident with its steps and, at its origin, who has been told. */
  async get(actor: Actor, id: string): Promise<IncidentView> {
    requirePermission(actor, 'incident:read');
    return this.#view(this.#deps.store, actor, id);
  }

  /**
   * Takes a breach report under an arrangement this node is party to, and runs the first step of
   * the arrangement's protocol in the same transaction: the incident and its first step stored and
   * logged, one notice per other party queued, and this node's own products among those involved
   * recalled when the protocol says so. Throws NOT_FOUND for an arrangement not held,
   * INPUT_INVALID for a suspected party that is not a party, or a product not held here or not
   * readable by the reporter (alike); FEDERATION_NOT_CONFIGURED on a node without keys.
   */
  async report(actor: Actor, input: IncidentReportInput): Promise<IncidentView> {
    requirePermission(actor, 'incident:report');
    // A scoped auditor reports under the arrangements they oversee: others do not exist for them.
    requireOversightOf(actor, input.arrangement, `arrangement '${input.arrangement}'`);
    const signer = this.#signer();
    await this.#checkNamed(actor, input.products);
    const { store, partner: self } = this.#deps;
    const now = this.#deps.now();
    const at = new Date(now).toISOString();
    const id = await store.transaction(async (tx) => {
      const arrangement = await tx.arrangements.latest(input.arrangement);
      if (arrangement === undefined) {
        throw new AccordError('NOT_FOUND', `no arrangement '${input.arrangement}'`, {
          id: input.arrangement,
          path: '/arrangement',
        });
      }
      const parties = arrangement.document.parties.map((p) => p.partner);
      if (!parties.includes(self)) {
        throw new AccordError('INPUT_INVALID', `${self} is not a party to ${arrangement.id}`, {
          path: '/arrangement',
        });
      }
      if (!parties.includes(input.suspectedParty)) {
        throw new AccordError(
          'INPUT_INVALID',
          `incident /suspectedParty: ${input.suspectedParty} is not a party to ${arrangement.id} (parties: ${parties.join(', ')})`,
          { path: '/suspectedParty' },
        );
      }
      const incident: IncidentRecord = {
        id: randomUUID(),
        kind: 'breach',
        partner: input.suspectedParty,
        detectedAt: at,
        evidence: null,
        state: 'reported',
        origin: self,
        arrangement: { id: arrangement.id, version: arrangement.version },
        reporter: actor.user.username,
        severity: input.severity,
        description: input.description,
        products: [...input.products],
        notifyBy: new Date(
          now + arrangement.document.breachProtocol.notifyWithinHours * HOUR_MS,
        ).toISOString(),
        updatedAt: at,
      };
      await tx.incidents.open(incident, `breach|${self}|${incident.id}`);
      await this.#takeStep(tx, signer, incident, arrangement, {
        action: 'reported',
        at,
        by: actor.user.username,
        actor,
      });
      return incident.id;
    });
    this.#deps.outboxSignal?.notify();
    return this.#view(store, actor, id);
  }

  /**
   * A reporter who reads products names only products they may read: one they may not read is
   * refused exactly as one not held, so a report tells nobody that a product exists. Those who read
   * no product content (administrators, auditors, who see product ids in the audit log) may name
   * any product held here.
   */
  async #checkNamed(actor: Actor, productIds: readonly string[]): Promise<void> {
    const { products, received } = this.#deps;
    const reads = authorise(actor.user.roles, 'product:read').allowed;
    for (const [i, productId] of productIds.entries()) {
      let known: boolean;
      if (reads && products !== undefined && received !== undefined) {
        const snapshot = await products.snapshot(productId);
        known =
          (snapshot !== undefined && products.viewFrom(actor, snapshot) !== undefined) ||
          (await received.viewOf(actor, productId)) !== undefined;
      } else {
        known =
          (await this.#deps.store.products.get(productId)) !== undefined ||
          (await this.#deps.store.receivedProducts.get(productId)) !== undefined;
      }
      if (!known) {
        throw new AccordError('INPUT_INVALID', `incident /products/${i}: no product '${productId}' here`, {
          path: `/products/${i}`,
        });
      }
    }
  }

  /**
   * A step on an incident this node owns: the oversight body opens the review, confirms the breach
   * or resolves it (incident:review, within its scope), or an administrator suspends the suspected
   * party (the parties' decision). Throws NOT_FOUND for an incident the actor may not see,
   * INCIDENT_STATE_INVALID for a step its state does not allow or one owned by another node.
   */
  async decide(
    actor: Actor,
    id: string,
    action: IncidentDecision,
    input: IncidentStepInput = {},
  ): Promise<IncidentView> {
    const rule = DECISIONS[action];
    requirePermission(actor, rule.permission);
    const signer = this.#signer();
    const { store, partner: self } = this.#deps;
    await store.transaction(async (tx) => {
      const incident = await tx.incidents.get(id);
      if (incident === undefined || incident.kind !== 'breach' || incident.arrangement === null)
        throw notFound(id);
      requireOversightOf(actor, incident.arrangement.id, `incident '${id}'`);
      if (incident.origin !== self) {
        throw new AccordError(
          'INCIDENT_STATE_INVALID',
          `incident ${id} was reported at ${incident.origin}'s node, which runs its protocol: take this step there`,
          { id, origin: incident.origin },
        );
      }
      if (!rule.from.includes(incident.state)) {
        throw new AccordError(
          'INCIDENT_STATE_INVALID',
          `incident ${id} is ${incident.state}; ${action} needs it ${rule.from.join(' or ')}`,
          { id, state: incident.state },
        );
      }
      if (action === 'party-suspended') {
        const latest = await tx.arrangements.latest(incident.arrangement.id);
        if ((latest?.document.suspendedParties ?? []).includes(incident.partner)) {
          throw new AccordError(
            'INCIDENT_STATE_INVALID',
            `${incident.partner} is suspended under ${incident.arrangement.id} already`,
            { id },
          );
        }
      }
      const arrangement = await this.#arrangementOf(tx, incident);
      await this.#takeStep(tx, signer, incident, arrangement, {
        action,
        at: new Date(this.#deps.now()).toISOString(),
        by: actor.user.username,
        actor,
        ...(input.note === undefined ? {} : { note: input.note }),
      });
    });
    this.#deps.outboxSignal?.notify();
    return this.#view(store, actor, id);
  }

  /**
   * An `incident` envelope at the inbox (attacker-controlled until parsed): the step stored, the
   * incident recorded on its first step, and this node's share of the protocol carried out, all in
   * the inbox's transaction. Steps may arrive out of order (each is retried on its own): the state
   * only moves forward, and a step already held is answered as stored.
   */
  async accept(
    header: EnvelopeHeader,
    payload: unknown,
    arrangement: ArrangementVersion,
  ): Promise<AcceptedMessage> {
    const notice = parseIncidentNotice(payload, header);
    const { partner: self } = this.#deps;
    const parties = arrangement.document.parties.map((p) => p.partner);
    if (!parties.includes(notice.incident.suspectedParty)) {
      throw new AccordError(
        'ENVELOPE_MALFORMED',
        `envelope ${header.envelopeId} payload /incident/suspectedParty: ${notice.incident.suspectedParty} is not a party to ${arrangement.id}`,
        { envelopeId: header.envelopeId, path: '/payload/incident/suspectedParty' },
      );
    }
    const digest = incidentNoticeDigest(notice);
    return {
      product: { id: notice.incident.id, version: notice.step.seq, digest },
      persist: async (tx) => {
        const { incident: report, step } = notice;
        const held = await tx.incidents.get(report.id);
        if (held !== undefined && (held.kind !== 'breach' || held.origin !== header.from)) {
          throw new AccordError('STORE_CONFLICT', `incident ${report.id} is held here from another origin`, {
            id: report.id,
          });
        }
        const record: IncidentRecord = held ?? {
          id: report.id,
          kind: 'breach',
          partner: report.suspectedParty,
          detectedAt: report.reportedAt,
          evidence: null,
          state: 'reported',
          origin: report.origin,
          arrangement: { id: arrangement.id, version: arrangement.version },
          reporter: report.reporter,
          severity: report.severity,
          description: report.description,
          products: report.products,
          notifyBy: report.notifyBy,
          updatedAt: report.reportedAt,
        };
        if (held === undefined) await tx.incidents.open(record, `breach|${report.origin}|${report.id}`);
        // A step held already (sent again under another envelope) changes nothing a second time.
        if ((await tx.incidents.steps(report.id)).some((s) => s.seq === step.seq)) return;
        const partnerActor: AuditActor = { kind: 'partner', partner: header.from };
        const effects = await this.#effectsOf(tx, record, step.action, step.seq === 1, partnerActor, self);
        const added = await tx.incidents.addStep({
          incidentId: report.id,
          seq: step.seq,
          action: step.action,
          state: step.state,
          at: step.at,
          byPartner: header.from,
          byUser: step.by,
          note: step.note ?? null,
          effects,
        });
        if (!added) return;
        const steps = await tx.incidents.steps(report.id);
        const latest = steps[steps.length - 1];
        if (latest !== undefined && latest.state !== record.state) {
          await tx.incidents.setState(report.id, latest.state, step.at);
        }
        await this.#deps.audit?.recordIn(tx, incidentEvent(AUDIT_ACTION[step.action], partnerActor, record));
      },
      afterCommit: () => this.#deps.outboxSignal?.notify(),
    };
  }

  /**
   * One step at the origin: its effects here, the step stored and logged, the state moved on,
   * and a notice of it queued to every other party (those with no key on record are named in the
   * step's effects, so the view shows who could not be told).
   */
  async #takeStep(
    tx: Repositories,
    signer: Signer,
    incident: IncidentRecord,
    arrangement: ArrangementVersion,
    step: {
      readonly action: IncidentStepAction;
      readonly at: string;
      readonly by: string;
      readonly actor: Actor;
      readonly note?: string;
    },
  ): Promise<void> {
    const { partner: self } = this.#deps;
    const steps = await tx.incidents.steps(incident.id);
    const seq = steps.length + 1;
    const state = STATE_AFTER[step.action] ?? incident.state;
    const local = await this.#effectsOf(tx, incident, step.action, seq === 1, { kind: 'node' }, self);
    const notice: IncidentNotice = {
      kind: 'incident',
      arrangement: { id: arrangement.id, version: arrangement.version, versionHash: arrangement.versionHash },
      incident: reportOf(incident),
      step: {
        seq,
        action: step.action,
        state,
        at: step.at,
        by: step.by,
        ...(step.note === undefined ? {} : { note: step.note }),
      },
    };
    const notSent: { partner: string; reason: string }[] = [];
    const queued: { id: string; to: string; payload: object }[] = [];
    for (const party of arrangement.document.parties.map((p) => p.partner)) {
      if (party === self) continue;
      try {
        const sealed = await sealForOutbox(tx.partners, {
          signer,
          from: self,
          now: this.#deps.now(),
          kind: 'incident',
          to: party,
          arrangement,
          product: { id: incident.id, version: seq },
          payload: notice,
        });
        queued.push({
          id: sealed.id,
          to: party,
          payload: {
            ...sealed.payload,
            release: { ...sealed.payload.release, digest: incidentNoticeDigest(notice) },
          },
        });
      } catch (error) {
        // A party whose keys are not on record cannot be told by federation; the report stands.
        if (!(error instanceof AccordError) || error.code !== 'PARTNER_KEY_MISSING') throw error;
        notSent.push({ partner: party, reason: error.message });
      }
    }
    await tx.incidents.addStep({
      incidentId: incident.id,
      seq,
      action: step.action,
      state,
      at: step.at,
      byPartner: self,
      byUser: step.by,
      note: step.note ?? null,
      effects: { ...local, ...(notSent.length === 0 ? {} : { notSent }) },
    });
    if (state !== incident.state || seq > 1) await tx.incidents.setState(incident.id, state, step.at);
    for (const message of queued) {
      await tx.outbox.enqueue({
        id: message.id,
        incidentId: incident.id,
        recipient: message.to,
        payload: message.payload,
      });
    }
    await this.#deps.audit?.recordIn(tx, incidentEvent(AUDIT_ACTION[step.action], step.actor, incident));
  }

  /**
   * This node's share of the protocol for one step, as its own copy of the arrangement says: on
   * the report, recall the products involved it originated; on a confirmation with
   * autoSuspendOnConfirmedBreach, or on the suspension step, suspend the suspected party. Only
   * products this node released under the incident's arrangement are recalled.
   */
  async #effectsOf(
    tx: Repositories,
    incident: IncidentRecord,
    action: IncidentStepAction,
    first: boolean,
    actor: AuditActor,
    self: string,
  ): Promise<IncidentEffects> {
    const arrangementId = incident.arrangement?.id;
    if (arrangementId === undefined) return {};
    const latest = await tx.arrangements.latest(arrangementId);
    if (latest === undefined) return {};
    const protocol = latest.document.breachProtocol;
    const recalled: string[] = [];
    if (first && protocol.recall) {
      for (const productId of incident.products) {
        // Only what was shared under this arrangement: a party cannot, by naming any product of
        // ours in an incident, have it recalled from partners under other arrangements.
        const releases = await tx.releases.list({ productId });
        if (!releases.some((r) => r.effect === 'allow' && r.arrangementId === arrangementId)) continue;
        const recall = await this.#deps.recalls.recallForProtocol(tx, productId, {
          reason: `breach protocol of ${arrangementId}: incident ${incident.id} reported by ${incident.origin ?? self}`,
          by: 'breach-protocol',
          actor,
        });
        if (recall !== undefined) recalled.push(productId);
      }
    }
    let suspended: IncidentEffects['suspended'];
    const suspend =
      action === 'party-suspended' || (action === 'confirmed' && protocol.autoSuspendOnConfirmedBreach);
    if (suspend && incident.partner !== self) {
      const changed = await this.#deps.arrangements.suspendForProtocol(
        tx,
        arrangementId,
        incident.partner,
        actor,
      );
      if (changed !== undefined) {
        suspended = { arrangementId, version: changed.version, partner: incident.partner };
      }
    }
    return {
      ...(recalled.length === 0 ? {} : { recalled }),
      ...(suspended === undefined ? {} : { suspended }),
    };
  }

  async #arrangementOf(tx: Repositories, incident: IncidentRecord): Promise<ArrangementVersion> {
    const named = incident.arrangement;
    const version = named === null ? undefined : await tx.arrangements.getVersion(named.id, named.version);
    if (version === undefined) throw notFound(incident.id);
    return version;
  }

  async #view(tx: Repositories, actor: Actor, id: string): Promise<IncidentView> {
    const incident = await tx.incidents.get(id);
    if (incident === undefined) throw notFound(id);
    requireOversightOf(actor, incident.arrangement?.id ?? null, `incident '${id}'`);
    const steps = await tx.incidents.steps(id);
    const notifications =
      incident.origin === this.#deps.partner ? await this.#notifications(tx, incident) : [];
    return { ...incident, steps, notifications };
  }

  /** At the origin: per other party, how far its notices went, against the deadline. */
  async #notifications(tx: Repositories, incident: IncidentRecord): Promise<IncidentNotification[]> {
    const messages = await tx.outbox.list({ incidentId: incident.id, limit: 500 });
    const arrangement = incident.arrangement === null ? undefined : await this.#arrangementOf(tx, incident);
    const parties = (arrangement?.document.parties ?? [])
      .map((p) => p.partner)
      .filter((p) => p !== this.#deps.partner);
    const deadline = Date.parse(incident.notifyBy ?? incident.detectedAt);
    const now = this.#deps.now();
    const reportEnvelopes = new Set(
      messages.filter((m) => isRecord(m.payload) && seqOf(m.payload) === 1).map((m) => m.id),
    );
    return parties.map((partner) => {
      const mine = messages.filter((m) => m.recipient === partner);
      const count = (status: OutboxStatus) => mine.filter((m) => m.status === status).length;
      const report = mine.find((m) => reportEnvelopes.has(m.id));
      const reportDeliveredAt = report?.status === 'delivered' ? report.deliveredAt : null;
      const status: IncidentNotification['status'] =
        mine.length === 0
          ? 'unsent'
          : count('failed') > 0
            ? 'failed'
            : count('pending') > 0
              ? 'pending'
              : 'delivered';
      const overdue = reportDeliveredAt === null ? now > deadline : Date.parse(reportDeliveredAt) > deadline;
      const lastError = mine.find((m) => m.lastError !== null)?.lastError ?? null;
      return {
        partner,
        status,
        steps: mine.length,
        delivered: count('delivered'),
        reportDeliveredAt,
        overdue,
        lastError,
      };
    });
  }

  #signer(): Signer {
    const signer = this.#deps.signer;
    if (signer === undefined) {
      throw new AccordError(
        'FEDERATION_NOT_CONFIGURED',
        'this node has no keys, so no party could be told of an incident; run accord init to make them',
        {},
      );
    }
    return signer;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The step number an incident outbox row's envelope carries in its header's product slot. */
function seqOf(payload: Record<string, unknown>): number | undefined {
  const envelope = payload.envelope;
  if (!isRecord(envelope) || !isRecord(envelope.header) || !isRecord(envelope.header.product))
    return undefined;
  const version = envelope.header.product.version;
  return typeof version === 'number' ? version : undefined;
}
