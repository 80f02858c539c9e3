import type { StreamEvent, StreamEventKind } from '../bus/index.js';
import { RELIABILITY } from '../products/index.js';
import type { BoundingBox, Store } from '../store/index.js';
import type { Actor } from './actor.js';
import { type AlertView, alertIdOf } from './alert-service.js';
import type { RecallNotice } from './derived-view.js';
import {
  bboxOf,
  intersects,
  type ProductService,
  type ProductSnapshot,
  type ProductView,
} from './product-service.js';
import type { ReceivedService, ReceivedView } from './received-service.js';

// Issue 7 and DESIGN.md §2 invariant 1 (No leak): an event names a product by id only; each
// subscriber's copy is made here by the same reads the REST routes use (ProductService for own
// products, ReceivedService for received ones), so it passed decideRead for that subscriber and
// is torn as GET /api/v1/products/:id or /api/v1/received/:id would show it — or it is not sent.

/** What a subscriber asks for. Every field narrows; an empty filter passes every event they may read. */
export interface StreamFilter {
  readonly kinds?: readonly StreamEventKind[];
  readonly disciplines?: readonly string[];
  /** Any of these categories. */
  readonly categories?: readonly string[];
  readonly originators?: readonly string[];
  /** At least this reliable: `B` passes A and B. */
  readonly minReliability?: (typeof RELIABILITY)[number];
  /** At least this credible: 2 passes 1 and 2. */
  readonly minCredibility?: number;
  /** The readable geo footprint overlaps this box. */
  readonly bbox?: BoundingBox;
  /** Any of these words in the readable title or portion text (case-insensitive). */
  readonly keywords?: readonly string[];
}

/** One message for one subscriber: the event and what that subscriber may read of its product. */
export type StreamMessage =
  | {
      readonly kind: Exclude<StreamEventKind, 'product.recalled' | 'alert'>;
      readonly seq: number;
      readonly at: string;
      readonly source: 'own' | 'received';
      readonly product: ProductView | ReceivedView;
    }
  | {
      readonly kind: 'alert';
      readonly seq: number;
      readonly at: string;
      readonly topic: string;
      readonly source: 'own' | 'received';
      readonly product: ProductView | ReceivedView;
      /** A rule's alert, as its owner may see it now (the only subscriber it is sent to). */
      readonly alert?: AlertView;
    }
  | {
      readonly kind: 'product.recalled';
      readonly seq: number;
      readonly at: string;
      readonly source: 'own' | 'received';
      readonly recall: RecallNotice;
    };

/** The fields a filter is judged on: always what the subscriber may read, never the whole product. */
interface Judged {
  readonly originator: string;
  readonly discipline: string;
  readonly categories: readonly string[];
  readonly reliability: string;
  readonly credibility: number;
  /** Undefined for a recall notice: its content is gone or withheld, so text and place are not judged. */
  readonly geo?: unknown;
  readonly texts?: readonly string[];
}

/** Whether what the subscriber sees of an event's product passes their filter. */
export function matchesFilter(kind: StreamEventKind, seen: Judged, filter: StreamFilter): boolean {
  if (filter.kinds !== undefined && !filter.kinds.includes(kind)) return false;
  if (filter.disciplines !== undefined && !filter.disciplines.includes(seen.discipline)) return false;
  if (filter.categories !== undefined && !seen.categories.some((c) => filter.categories?.includes(c)))
    return false;
  if (filter.originators !== undefined && !filter.originators.includes(seen.originator)) return false;
  if (filter.minReliability !== undefined) {
    const rank = RELIABILITY.findIndex((r) => r === seen.reliability);
    if (rank < 0 || rank > RELIABILITY.indexOf(filter.minReliability)) return false;
  }
  if (filter.minCredibility !== undefined && seen.credibility > filter.minCredibility) return false;
  if (filter.bbox !== undefined && seen.texts !== undefined) {
    const box = bboxOf(seen.geo);
    if (box === null || !intersects(box, filter.bbox)) return false;
  }
  if (filter.keywords !== undefined && seen.texts !== undefined) {
    const texts = seen.texts.map((t) => t.toLowerCase());
    if (!filter.keywords.some((k) => texts.some((t) => t.includes(k.toLowerCase())))) return false;
  }
  return true;
}

function isDraftEvent(kind: StreamEventKind): boolean {
  return kind === 'product.created' || kind === 'product.version';
}

function judgedOf(view: ProductView | ReceivedView): Judged {
  return { ...view, texts: [view.title, ...view.portions.map((p) => p.text)] };
}

// How many events' loaded products are kept for the subscribers still working through them.
const SNAPSHOTS = 256;

export interface StreamServiceDeps {
  readonly store: Store;
  readonly products: ProductService;
  readonly received: ReceivedService;
  /** Early warning (issue 9): an alert naming a stored alert goes to its rule's owner only. */
  readonly alerts?: { visibleAlert(actor: Actor, id: string): Promise<AlertView | undefined> };
}

/** Decides, per subscriber and event, what (if anything) of the event leaves the node. */
export class StreamService {
  readonly #deps: StreamServiceDeps;
  readonly #snapshots = new Map<number, Promise<ProductSnapshot | undefined>>();

  constructor(deps: StreamServiceDeps) {
    this.#deps = deps;
  }

  /**
   * An own product as the actor may read it. The stored version is loaded once per event for all
   * subscribers (the newest SNAPSHOTS events are kept); each is then judged by decideRead for them.
   */
  async #ownView(actor: Actor, event: StreamEvent): Promise<ProductView | undefined> {
    let snapshot = this.#snapshots.get(event.seq);
    if (snapshot === undefined) {
      snapshot = this.#deps.products.snapshot(event.product.id);
      this.#snapshots.set(event.seq, snapshot);
      // Kept only while the subscribers work through the event; dropped if loading failed.
      snapshot.catch(() => this.#snapshots.delete(event.seq));
      if (this.#snapshots.size > SNAPSHOTS) {
        const oldest = this.#snapshots.keys().next().value;
        if (oldest !== undefined) this.#snapshots.delete(oldest);
      }
    }
    const loaded = await snapshot;
    return loaded === undefined ? undefined : this.#deps.products.viewFrom(actor, loaded);
  }

  /**
   * The subscriber as they are now: a user disabled since the stream opened, or gone, gets
   * undefined and the stream ends. Clearance, caveats and communities are read afresh, so a
   * lowered clearance applies to the very next event.
   */
  async currentActor(actor: Actor): Promise<Actor | undefined> {
    const user = await this.#deps.store.users.getById(actor.user.id);
    return user === undefined || user.disabled ? undefined : { ...actor, user };
  }

  /** The message for `actor`, or undefined when they may read none of the event's product or the filter refuses it. */
  async messageFor(
    actor: Actor,
    event: StreamEvent,
    filter: StreamFilter,
  ): Promise<StreamMessage | undefined> {
    const { id, version, source } = event.product;
    const base = { seq: event.seq, at: event.at, source };
    if (event.kind === 'product.recalled') {
      const recall =
        source === 'own'
          ? await this.#deps.products.recallNoticeOf(actor, id, version)
          : await this.#deps.received.recallNoticeOf(actor, id, version);
      if (recall === undefined || !matchesFilter(event.kind, recall, filter)) return undefined;
      return { ...base, kind: event.kind, recall };
    }
    const product =
      source === 'own'
        ? await this.#ownView(actor, event)
        : await this.#deps.received.viewOf(actor, id, version);
    if (product === undefined || !matchesFilter(event.kind, judgedOf(product), filter)) return undefined;
    // A new product or version is a draft when it is made, and a draft is its author's alone; the
    // product may have been submitted since, but this event is about the draft.
    if (isDraftEvent(event.kind) && 'author' in product && product.author !== actor.user.username) {
      return undefined;
    }
    if (event.kind === 'alert') {
      const alertId = alertIdOf(event.topic);
      if (alertId === undefined) return { ...base, kind: 'alert', topic: event.topic ?? 'alert', product };
      const alert = await this.#deps.alerts?.visibleAlert(actor, alertId);
      if (alert === undefined) return undefined;
      return { ...base, kind: 'alert', topic: event.topic ?? 'alert', product, alert };
    }
    return { ...base, kind: event.kind, product };
  }
}
