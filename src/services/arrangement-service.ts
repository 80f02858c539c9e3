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
import { AccordError } from '../errors/index.js';
import type { MarkingRegistry } from '../markings/index.js';
import { PartnerCode, Timestamp } from '../products/index.js';
import type { ArrangementVersion, Store } from '../store/index.js';
import { type Actor, requirePermission } from './actor.js';

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

  constructor(deps: { readonly store: Store; readonly registry: MarkingRegistry }) {
    this.#store = deps.store;
    this.#registry = deps.registry;
  }

  async list(actor: Actor): Promise<readonly ArrangementVersion[]> {
    requirePermission(actor, 'arrangement:read');
    return this.#store.arrangements.list();
  }

  async get(actor: Actor, id: string, version?: number): Promise<ArrangementVersion> {
    requirePermission(actor, 'arrangement:read');
    const found =
      version === undefined
        ? await this.#store.arrangements.latest(id)
        : await this.#store.arrangements.getVersion(id, version);
    if (found === undefined)
      throw new AccordError('NOT_FOUND', `no arrangement '${id}'${version ? ` v${version}` : ''}`, { id });
    return found;
  }

  async history(actor: Actor, id: string): Promise<readonly ArrangementVersion[]> {
    requirePermission(actor, 'arrangement:read');
    const versions = await this.#store.arrangements.history(id);
    if (versions.length === 0) throw new AccordError('NOT_FOUND', `no arrangement '${id}'`, { id });
    return versions;
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
      return tx.arrangements.putVersion(doc);
    });
  }

  /** A new version with changed terms: a draft with empty signature slots. */
  async amend(actor: Actor, id: string, changes: Partial<ArrangementTerms>): Promise<ArrangementVersion> {
    requirePermission(actor, 'arrangement:write');
    return this.#store.transaction(async (tx) => {
      const latest = await tx.arrangements.latest(id);
      if (latest === undefined) throw new AccordError('NOT_FOUND', `no arrangement '${id}'`, { id });
      return tx.arrangements.putVersion(amendArrangement(latest.document, changes, this.#registry));
    });
  }

  /** Fills one party's signature slot on a version (the bytes are verified by federation). */
  async sign(
    actor: Actor,
    id: string,
    version: number,
    signature: SignatureInput,
  ): Promise<ArrangementVersion> {
    return this.#change(actor, id, version, (current) => {
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
    return this.#change(actor, id, version, (current) => transitionArrangement(current.document, status));
  }

  /** Suspends (or reinstates) one party of a version, as the breach protocol may require. */
  async suspendParty(
    actor: Actor,
    id: string,
    version: number,
    partner: string,
    suspended: boolean,
  ): Promise<ArrangementVersion> {
    return this.#change(actor, id, version, (current) =>
      setPartySuspended(current.document, partner, suspended),
    );
  }

  /** Reads one version, applies a lifecycle change to its document and stores the result, in one transaction. */
  #change(
    actor: Actor,
    id: string,
    version: number,
    change: (current: ArrangementVersion) => ArrangementDocument,
  ): Promise<ArrangementVersion> {
    requirePermission(actor, 'arrangement:write');
    return this.#store.transaction(async (tx) => {
      const current = await tx.arrangements.getVersion(id, version);
      if (current === undefined) {
        throw new AccordError('NOT_FOUND', `no arrangement '${id}' v${version}`, { id });
      }
      return tx.arrangements.putVersion(change(current));
    });
  }
}
