import { randomUUID } from 'node:crypto';
import { authorise } from '../../auth/roles.js';
import { AccordError, isAccordError } from '../../errors/index.js';
import { type Actor, requirePermission } from '../../services/actor.js';
import type { Store } from '../../store/index.js';
import { type StixService, uuidV5 } from '../stix/index.js';
import { pageCollection } from './taxii-pager.js';
import { orderEntries, type TaxiiEntry, type TaxiiFilter, type TaxiiPage } from './taxii-query.js';

/** Namespace of TAXII collection ids (UUIDv5): fixed, so a collection keeps its id across restarts. */
export const TAXII_COLLECTION_NAMESPACE = '0d3a6f52-8c1e-4b7a-9f20-6e5d4c3b2a19';
/** The id of the collection of everything on the node a user may read. */
export const NODE_COLLECTION_ID = uuidV5('taxii-collection:node', TAXII_COLLECTION_NAMESPACE);
export const STIX_MEDIA_TYPE = 'application/stix+json;version=2.1';

/** The collection of an arrangement: a UUIDv5 of its id. */
export function collectionIdOf(arrangementId: string): string {
  return uuidV5(`taxii-collection:arrangement:${arrangementId}`, TAXII_COLLECTION_NAMESPACE);
}

/** TAXII 2.1 §5.2: a collection resource. */
export interface TaxiiCollection {
  readonly id: string;
  readonly title: string;
  readonly description: string;
  readonly can_read: boolean;
  readonly can_write: boolean;
  readonly media_types: readonly string[];
}

/** TAXII 2.1 §4.3.1: a status resource. */
export interface TaxiiStatus {
  readonly id: string;
  readonly status: 'complete' | 'pending';
  readonly request_timestamp: string;
  readonly total_count: number;
  readonly success_count: number;
  readonly successes: readonly StatusDetail[];
  readonly failure_count: number;
  readonly failures: readonly StatusDetail[];
  readonly pending_count: number;
  readonly pendings: readonly StatusDetail[];
}

interface StatusDetail {
  readonly id: string;
  readonly version: string;
  readonly message?: string;
}

export interface TaxiiServiceDeps {
  readonly store: Store;
  readonly stix: StixService;
  readonly now: () => number;
}

// Status resources kept in memory for their poster, the newest this many; an import is finished
// when POST answers, so a status is only ever read back, never waited on.
const MAX_STATUSES = 1000;

type Scope = { readonly kind: 'node' } | { readonly kind: 'arrangement'; readonly arrangementId: string };

function notFound(what: string, id: string): AccordError {
  return new AccordError('NOT_FOUND', `no ${what} '${id}'`, { id });
}

function versionOfObject(object: Readonly<Record<string, unknown>>): string {
  const v = object.modified ?? object.created;
  return typeof v === 'string' ? v : '';
}

/**
 * TAXII 2.1 collections over a node's STIX objects: one collection of everything a user may read,
 * and one per arrangement with what was released under it. Every object comes from
 * StixService.objectsFor as the user (decideRead), so a collection never holds what the user may
 * not read; arrangement collections narrow that further.
 */
export class TaxiiService {
  readonly #deps: TaxiiServiceDeps;
  readonly #statuses = new Map<string, { readonly owner: string; readonly status: TaxiiStatus }>();

  constructor(deps: TaxiiServiceDeps) {
    this.#deps = deps;
  }

  /** The collections the user may know of: none without product:read (they could read nothing in them). */
  async collections(actor: Actor): Promise<TaxiiCollection[]> {
    requirePermission(actor, 'product:read');
    const canWrite = authorise(actor.user.roles, 'product:create').allowed;
    const out: TaxiiCollection[] = [
      {
        id: NODE_COLLECTION_ID,
        title: 'Everything you may read',
        description:
          'Every product on this node the read policy lets you read, as STIX 2.1 (portions you may not read are left out).',
        can_read: true,
        can_write: canWrite,
        media_types: [STIX_MEDIA_TYPE],
      },
    ];
    for (const [id, title] of await this.#arrangements()) {
      out.push({
        id: collectionIdOf(id),
        title,
        description: `Products released under arrangement ${id} that you may read.`,
        can_read: true,
        can_write: canWrite,
        media_types: [STIX_MEDIA_TYPE],
      });
    }
    return out;
  }

  async collection(actor: Actor, id: string): Promise<TaxiiCollection> {
    const found = (await this.collections(actor)).find((c) => c.id === id);
    if (found === undefined) throw notFound('collection', id);
    return found;
  }

  /**
   * One page of the collection as the user may see it: the objects that pass `filter`, after the
   * cursor `next`. Read in SQL where the collection is large (taxii-pager.ts); the answer is the
   * one `entries` gives whole, which the tests hold it to.
   */
  async page(
    actor: Actor,
    collectionId: string,
    filter: TaxiiFilter,
    options: { readonly limit: number; readonly next?: string },
  ): Promise<TaxiiPage> {
    const parts = await this.#deps.stix.collectionParts(
      { kind: 'user', actor },
      await this.#productsOf(actor, collectionId),
    );
    return pageCollection(this.#deps.store.stix, parts, filter, options);
  }

  /**
   * Every object version of the collection the user may see, in collection order, computed whole
   * (StixService.objectsFor): the reference `page` is tested against, linear in the store.
   */
  async entries(actor: Actor, collectionId: string): Promise<TaxiiEntry[]> {
    const scope = await this.#productsOf(actor, collectionId);
    return orderEntries(await this.#deps.stix.objectsFor({ kind: 'user', actor }, scope));
  }

  /** The products a collection holds: all (undefined), or those released under its arrangement. */
  async #productsOf(
    actor: Actor,
    collectionId: string,
  ): Promise<{ readonly productIds?: readonly string[] }> {
    const scope = await this.#scopeOf(actor, collectionId);
    if (scope.kind === 'node') return {};
    const released = new Set<string>();
    for (const r of await this.#deps.store.releases.list()) {
      if (r.arrangementId === scope.arrangementId && r.effect === 'allow') released.add(r.productId);
    }
    return { productIds: [...released] };
  }

  /**
   * §5.4 Add Objects: imports the objects through StixService.import as the user (same checks; a
   * refused envelope stores nothing) and returns a status resource.
   */
  async addObjects(actor: Actor, collectionId: string, objects: readonly unknown[]): Promise<TaxiiStatus> {
    requirePermission(actor, 'product:create');
    const collection = await this.collection(actor, collectionId);
    if (!collection.can_write) throw new AccordError('FORBIDDEN', 'the collection is read-only for you', {});
    const requested = new Date(this.#deps.now()).toISOString();
    const details: StatusDetail[] = objects.map((o) => {
      const object = (typeof o === 'object' && o !== null ? o : {}) as Record<string, unknown>;
      return { id: typeof object.id === 'string' ? object.id : '', version: versionOfObject(object) };
    });
    let status: TaxiiStatus;
    try {
      await this.#deps.stix.import(actor, { type: 'bundle', id: `bundle--${randomUUID()}`, objects });
      status = {
        id: randomUUID(),
        status: 'complete',
        request_timestamp: requested,
        total_count: details.length,
        success_count: details.length,
        successes: details,
        failure_count: 0,
        failures: [],
        pending_count: 0,
        pendings: [],
      };
    } catch (error) {
      if (!isAccordError(error) || error.code !== 'STIX_INVALID') throw error;
      // The import is one transaction: one bad object refuses them all, and the status says so.
      status = {
        id: randomUUID(),
        status: 'complete',
        request_timestamp: requested,
        total_count: details.length,
        success_count: 0,
        successes: [],
        failure_count: details.length,
        failures: details.map((d) => ({ ...d, message: `not stored: ${error.message}` })),
        pending_count: 0,
        pendings: [],
      };
    }
    this.#statuses.set(status.id, { owner: actor.user.id, status });
    while (this.#statuses.size > MAX_STATUSES) {
      const oldest = this.#statuses.keys().next().value as string;
      this.#statuses.delete(oldest);
    }
    return status;
  }

  /** A status resource, for the user who posted it only: anyone else gets NOT_FOUND. */
  status(actor: Actor, id: string): TaxiiStatus {
    const held = this.#statuses.get(id);
    if (held === undefined || held.owner !== actor.user.id) throw notFound('status', id);
    return held.status;
  }

  async #scopeOf(actor: Actor, collectionId: string): Promise<Scope> {
    requirePermission(actor, 'product:read');
    if (collectionId === NODE_COLLECTION_ID) return { kind: 'node' };
    for (const [id] of await this.#arrangements()) {
      if (collectionIdOf(id) === collectionId) return { kind: 'arrangement', arrangementId: id };
    }
    throw notFound('collection', collectionId);
  }

  /** Arrangement ids and titles (of the newest version), in id order. */
  async #arrangements(): Promise<[string, string][]> {
    const titles = new Map<string, { version: number; title: string }>();
    for (const v of await this.#deps.store.arrangements.list()) {
      const held = titles.get(v.id);
      if (held === undefined || v.version > held.version)
        titles.set(v.id, { version: v.version, title: v.document.title });
    }
    return [...titles.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([id, t]) => [id, t.title]);
  }
}
