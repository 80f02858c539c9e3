import Type, { type Static } from 'typebox';
import {
  type ArrangementDocument,
  type ArrangementStatus,
  type ArrangementTerms,
  amendArrangement,
  parseArrangement,
  setPartySuspended,
  transitionArrangement,
} from '../arrangements/index.js';
import type { AuditAction, AuditActor } from '../audit/index.js';
import { AccordError } from '../errors/index.js';
import type { MarkingRegistry } from '../markings/index.js';
import { PartnerCode, Timestamp } from '../products/index.js';
import type { ArrangementVersion, Repositories, Store } from '../store/index.js';
import { type Actor, oversightScope, requirePermission } from './actor.js';
import { arrangementEvent } from './audit-events.js';
import type { AuditRecorder } from './audit-log.js';

export const SignatureInputSchema = Type.Object(
  {
    partner: PartnerCode,
    fingerprint: Type.String({ pattern: '^sha256:[0-9a-f]{64}$' }),
    signedAt: Timestamp,
    signature: Type.String({ minLength: 1, maxLength: 1024 }),
  },
  { additionalProperties: false },
);
export type SignatureInput = Static<typeof SignatureInputSchema>;

/** Arrangements: create, amend (a new version), sign, change status, suspend a party; every version kept. */
export class ArrangementService {
  readonly #store: Store;
  readonly #registry: MarkingRegistry;
  readonly #audit: AuditRecorder | undefined;

  constructor(deps: {
    readonly store: Store;
    readonly registry: MarkingRegistry;
    /** The audit log: every stored change is logged in its transaction. */
    readonly audit?: AuditRecorder;
  }) {
    this.#store = deps.store;
    this.#registry = deps.registry;
    this.#audit = deps.audit;
  }

  /** The arrangements the actor may see: all, or for an actor scoped to oversee some, only those. */
  async list(actor: Actor): Promise<readonly ArrangementVersion[]> {
    requirePermission(actor, 'arrangement:read');
    const all = await this.#store.arrangements.list();
    const scope = oversightScope(actor);
    return scope === undefined ? all : all.filter((a) => scope.includes(a.id));
  }

  /** One version (the latest by default); NOT_FOUND when absent or outside the actor's oversight scope, alike. */
  async get(actor: Actor, id: string, version?: number): Promise<ArrangementVersion> {
    requirePermission(actor, 'arrangement:read');
    const found = !this.#inScope(actor, id)
      ? undefined
      : version === undefined
        ? await this.#store.arrangements.latest(id)
        : await this.#store.arrangements.getVersion(id, version);
    if (found === undefined)
      throw new AccordError('NOT_FOUND', `no arrangement '${id}'${version ? ` v${version}` : ''}`, { id });
    return found;
  }

  async history(actor: Actor, id: string): Promise<readonly ArrangementVersion[]> {
    requirePermission(actor, 'arrangement:read');
    const versions = this.#inScope(actor, id) ? await this.#store.arrangements.history(id) : [];
    if (versions.length === 0) throw new AccordError('NOT_FOUND', `no arrangement '${id}'`, { id });
    return versions;
  }

  /**
   * SECURITY.md actors: a scoped oversight auditor never reads the metadata of an arrangement it
   * does not oversee; one outside its scope answers as one not held (issue 10, no existence leaks).
   */
  #inScope(actor: Actor, id: string): boolean {
    const scope = oversightScope(actor);
    return scope === undefined || scope.includes(id);
  }

  /** Stores a new arrangement (version 1) from its document (attacker-controlled until parsed). */
  async create(actor: Actor, input: unknown): Promise<ArrangementVersion> {
    requirePermission(actor, 'arrangement:write');
    const doc = parseArrangement(input, this.#registry);
    if (doc.version !== 1) {
      throw new AccordError(
        'ARRANGEMENT_INVALID',
        'arrangement /version: a new arrangement starts at version 1',
        { path: '/version' },
      );
    }
    if (doc.status === 'active') transitionArrangement({ ...doc, status: 'draft' }, 'active');
    return this.#store.transaction(async (tx) => {
      if ((await tx.arrangements.latest(doc.id)) !== undefined) {
        throw new AccordError(
          'STORE_CONFLICT',
          `arrangement '${doc.id}' exists; amend it to make a new version`,
          { id: doc.id },
        );
      }
      const stored = await tx.arrangements.putVersion(doc);
      await this.#audit?.recordIn(tx, arrangementEvent('arrangement.created', actor, stored));
      return stored;
    });
  }

  /** A new version with changed terms: a draft with empty signature slots. */
  async amend(actor: Actor, id: string, changes: Partial<ArrangementTerms>): Promise<ArrangementVersion> {
    requirePermission(actor, 'arrangement:write');
    return this.#store.transaction(async (tx) => {
      const latest = await tx.arrangements.latest(id);
      if (latest === undefined) throw new AccordError('NOT_FOUND', `no arrangement '${id}'`, { id });
      const stored = await tx.arrangements.putVersion(
        amendArrangement(latest.document, changes, this.#registry),
      );
      await this.#audit?.recordIn(tx, arrangementEvent('arrangement.amended', actor, stored));
      return stored;
    });
  }

  /** Fills one party's signature slot on a version (the bytes are verified by federation). */
  async sign(
    actor: Actor,
    id: string,
    version: number,
    signature: SignatureInput,
  ): Promise<ArrangementVersion> {
    const event = { action: 'arrangement.signed', partner: signature.partner } as const;
    return this.#change(actor, id, version, event, (current) => {
      const signatures = [
        ...current.document.signatures.filter((s) => s.partner !== signature.partner),
        { ...signature, versionHash: current.versionHash },
      ];
      return parseArrangement({ ...current.document, signatures }, this.#registry);
    });
  }

  /** Moves a version to another status when the lifecycle allows it. */
  async transition(
    actor: Actor,
    id: string,
    version: number,
    status: ArrangementStatus,
  ): Promise<ArrangementVersion> {
    const event = { action: 'arrangement.status-changed' } as const;
    return this.#change(actor, id, version, event, (current) =>
      transitionArrangement(current.document, status),
    );
  }

  /** Suspends (or reinstates) one party of a version, as the breach protocol may require. */
  async suspendParty(
    actor: Actor,
    id: string,
    version: number,
    partner: string,
    suspended: boolean,
  ): Promise<ArrangementVersion> {
    const event = {
      action: suspended ? 'arrangement.party-suspended' : 'arrangement.party-reinstated',
      partner,
    } as const;
    return this.#change(actor, id, version, event, (current) =>
      setPartySuspended(current.document, partner, suspended),
    );
  }

  /**
   * Suspends `partner` on the latest version of arrangement `id`, inside `tx`, as a breach protocol
   * orders it (issue 5): no user's permission, since the arrangement's protocol decided it. Returns
   * the version changed, or undefined when there is no such arrangement, the partner is not a
   * party, or it is suspended already.
   */
  async suspendForProtocol(
    tx: Repositories,
    id: string,
    partner: string,
    actor: AuditActor,
  ): Promise<ArrangementVersion | undefined> {
    const current = await tx.arrangements.latest(id);
    if (current === undefined) return undefined;
    const parties = current.document.parties.map((p) => p.partner);
    if (!parties.includes(partner) || (current.document.suspendedParties ?? []).includes(partner)) {
      return undefined;
    }
    const stored = await tx.arrangements.putVersion(setPartySuspended(current.document, partner, true));
    await this.#audit?.recordIn(tx, arrangementEvent('arrangement.party-suspended', actor, stored, partner));
    return stored;
  }

  /** Reads one version, applies a lifecycle change to its document and stores the result, in one transaction. */
  #change(
    actor: Actor,
    id: string,
    version: number,
    event: { readonly action: AuditAction; readonly partner?: string },
    change: (current: ArrangementVersion) => ArrangementDocument,
  ): Promise<ArrangementVersion> {
    requirePermission(actor, 'arrangement:write');
    return this.#store.transaction(async (tx) => {
      const current = await tx.arrangements.getVersion(id, version);
      if (current === undefined) {
        throw new AccordError('NOT_FOUND', `no arrangement '${id}' v${version}`, { id });
      }
      const stored = await tx.arrangements.putVersion(change(current));
      await this.#audit?.recordIn(tx, arrangementEvent(event.action, actor, stored, event.partner));
      return stored;
    });
  }
}
