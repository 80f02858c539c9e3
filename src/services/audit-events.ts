import type { ArrangementStatus } from '../arrangements/index.js';
import type { AuditAction, AuditActor, AuditEvent } from '../audit/index.js';
import type { ErrorCode } from '../errors/index.js';
import type { Decision, RuleId } from '../policy/index.js';
import type { Actor } from './actor.js';

// The audit events services log, built in one place so each hook in a service is one call and
// every event carries metadata only (AuditEntrySchema refuses anything else).

// Values that come from a request (an address, a name typed at login) are kept only when they fit
// the entry schema, so a strange one drops that field rather than failing the action it records.
const USERNAME = /^[a-z0-9][a-z0-9._-]{1,63}$/;
const IP_ADDRESS = /^[0-9A-Fa-f:.]{2,45}$/;

/** The audit actor of a signed-in or local user. */
export function userActor(actor: Actor): AuditActor {
  return { kind: 'user', username: actor.user.username, via: actor.via };
}

/** The audit actor of a user acting, or the actor given as the log names it (a partner, this node). */
function auditActorOf(actor: Actor | AuditActor): AuditActor {
  return 'user' in actor ? userActor(actor) : actor;
}

function ip(address: string): { ip?: string } {
  return IP_ADDRESS.test(address) ? { ip: address } : {};
}

/** A successful sign-in. */
export function loginEvent(actor: Actor, address: string): AuditEvent {
  return { action: 'auth.login', actor: userActor(actor), outcome: 'success', ...ip(address) };
}

/** A refused sign-in: the name tried (when it is a possible username) and where from. */
export function loginFailedEvent(username: string, address: string, code: ErrorCode): AuditEvent {
  return {
    action: 'auth.login-failed',
    actor: { kind: 'anonymous' },
    outcome: 'failure',
    code,
    ...(USERNAME.test(username) ? { user: username } : {}),
    ...ip(address),
  };
}

/** Something a user did to or with one product version; `banner` is the label of what they handled. */
export function productEvent(
  action: AuditAction,
  actor: Actor,
  product: { readonly id: string; readonly version: number; readonly banner: string },
): AuditEvent {
  return {
    action,
    actor: userActor(actor),
    product: { id: product.id, version: product.version },
    banner: product.banner,
  };
}

/** A recall of one version (or of every version: `version` absent) of this node's product. */
export function recallEvent(
  actor: Actor | AuditActor,
  recall: { readonly productId: string; readonly version: number | null },
): AuditEvent {
  return {
    action: 'product.recalled',
    actor: auditActorOf(actor),
    product: { id: recall.productId, ...(recall.version === null ? {} : { version: recall.version }) },
  };
}

/**
 * A step of the third-party rule: a consent asked for (by the holder), granted or denied (by the
 * originator). `partner` is the recipient the consent is for; the reason given is not logged.
 */
export function consentEvent(
  action: 'consent.requested' | 'consent.granted' | 'consent.denied',
  actor: Actor,
  request: {
    readonly productId: string;
    readonly productVersion: number;
    readonly recipient: string;
    readonly arrangementId: string;
    readonly arrangementVersion: number;
  },
): AuditEvent {
  return {
    action,
    actor: userActor(actor),
    product: { id: request.productId, version: request.productVersion },
    arrangement: { id: request.arrangementId, version: request.arrangementVersion },
    partner: request.recipient,
  };
}

/** A holder's decision to pass on a product another partner originated, with each rule's outcome. */
export function onwardReleaseEvent(
  actor: Actor,
  release: {
    readonly id: string;
    readonly productId: string;
    readonly version: number;
    readonly recipient: string;
    readonly arrangement: { readonly id: string; readonly version: number };
    readonly effect: 'allow' | 'deny';
    readonly rules: readonly { readonly rule: RuleId; readonly outcome: 'pass' | 'fail' | 'withhold' }[];
    readonly banner: string;
  },
): AuditEvent {
  return {
    action: 'release.onward',
    actor: userActor(actor),
    outcome: release.effect,
    product: { id: release.productId, version: release.version },
    arrangement: { id: release.arrangement.id, version: release.arrangement.version },
    partner: release.recipient,
    release: release.id,
    banner: release.banner,
    rules: release.rules.map((r) => ({ rule: r.rule, outcome: r.outcome })),
  };
}

/** A release decision, with each rule's outcome (never its reason, which describes the content). */
export function releaseEvent(
  actor: Actor,
  release: {
    readonly id: string;
    readonly productId: string;
    readonly version: number;
    readonly recipient: string;
    readonly arrangement: { readonly id: string; readonly version: number };
    readonly decision: Decision;
    readonly banner: string;
  },
): AuditEvent {
  return {
    action: 'release.decided',
    actor: userActor(actor),
    outcome: release.decision.effect,
    product: { id: release.productId, version: release.version },
    arrangement: { id: release.arrangement.id, version: release.arrangement.version },
    partner: release.recipient,
    release: release.id,
    banner: release.banner,
    rules: release.decision.rules.map((r) => ({ rule: r.rule, outcome: r.outcome })),
  };
}

/** What the inbox did with an authenticated envelope from `sender`. */
export function envelopeReceivedEvent(
  envelope: {
    readonly envelopeId: string;
    readonly sender: string;
    readonly productId: string;
    readonly productVersion: number;
    readonly arrangementId: string;
    readonly arrangementVersion: number;
    readonly remoteAddress: string;
  },
  // A release names the banner it was stored under; a consent message or a recall has none.
  outcome: { readonly banner?: string } | { readonly refused: ErrorCode },
): AuditEvent {
  const refused = 'refused' in outcome;
  return {
    action: refused ? 'envelope.refused' : 'envelope.received',
    actor: { kind: 'partner', partner: envelope.sender },
    outcome: refused ? 'failure' : 'success',
    envelope: envelope.envelopeId,
    partner: envelope.sender,
    product: { id: envelope.productId, version: envelope.productVersion },
    arrangement: { id: envelope.arrangementId, version: envelope.arrangementVersion },
    ...('refused' in outcome
      ? { code: outcome.refused }
      : outcome.banner === undefined
        ? {}
        : { banner: outcome.banner }),
    ...ip(envelope.remoteAddress),
  };
}

/** The outbox's last word on one envelope: delivered (the recipient's receipt said stored) or given up. */
export function deliveryEvent(
  message: {
    readonly id: string;
    /** Null for a row of a consent request, a consent answer or an onward release. */
    readonly releaseId: string | null;
    readonly recipient: string;
    readonly product: { readonly id: string; readonly version: number } | null;
  },
  delivered: boolean,
): AuditEvent {
  return {
    action: delivered ? 'envelope.delivered' : 'envelope.delivery-failed',
    actor: { kind: 'node' },
    outcome: delivered ? 'success' : 'failure',
    envelope: message.id,
    ...(message.releaseId === null ? {} : { release: message.releaseId }),
    partner: message.recipient,
    ...(message.product === null ? {} : { product: message.product }),
  };
}

/** A change to one arrangement version; `partner` names the party signed for or suspended. */
export function arrangementEvent(
  action: AuditAction,
  actor: Actor | AuditActor,
  arrangement: { readonly id: string; readonly version: number; readonly status: ArrangementStatus },
  partner?: string,
): AuditEvent {
  return {
    action,
    actor: auditActorOf(actor),
    arrangement: { id: arrangement.id, version: arrangement.version, status: arrangement.status },
    ...(partner === undefined ? {} : { partner }),
  };
}

/**
 * A step of an incident: taken here by a user (or by this node, for a fork gossip found), or
 * received from the partner whose node owns the incident. Its description and notes are not logged.
 */
export function incidentEvent(
  action: Extract<AuditAction, `incident.${string}`>,
  actor: Actor | AuditActor,
  incident: {
    readonly id: string;
    readonly partner: string;
    readonly arrangement: { readonly id: string; readonly version: number } | null;
    readonly severity: 'low' | 'medium' | 'high' | 'critical' | null;
  },
): AuditEvent {
  return {
    action,
    actor: auditActorOf(actor),
    incident: incident.id,
    partner: incident.partner,
    ...(incident.arrangement === null
      ? {}
      : { arrangement: { id: incident.arrangement.id, version: incident.arrangement.version } }),
    ...(incident.severity === null ? {} : { severity: incident.severity }),
  };
}
