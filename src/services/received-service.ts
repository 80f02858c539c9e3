import type { PublicKeyInfo } from '../crypto/index.js';
import { AccordError, isAccordError } from '../errors/index.js';
import { type DerivedDocument, productOfDerived, verifyProductSignature } from '../federation/index.js';
import type { MarkingRegistry } from '../markings/index.js';
import {
  type CompiledArrangement,
  compileArrangement,
  type DerivedProduct,
  decideRead,
} from '../policy/index.js';
import type { Discipline, Product } from '../products/index.js';
import type { ArrangementVersion, HeldProduct, Partner, ReceivedProduct, Store } from '../store/index.js';
import { type Actor, readerOf, requirePermission } from './actor.js';
import { pinsOf } from './arrangement-trust.js';
import { type RecallNotice, readableFieldsOf, recallNoticeOf } from './derived-view.js';

// DESIGN.md §2 invariant 1 (No leak) holds inside the recipient node too: a product that arrived
// from a partner is read through decideRead exactly as an own product is, so a user sees only the
// portions their clearance, nationality and caveats allow, and the rest is torn out and counted.

/** Whether the originator's signature on a received version verifies now, and if not, why. */
export interface SignatureCheck {
  /** The fingerprint of the key the signature names. */
  readonly by: string;
  readonly verified: boolean;
  /** The error code of the failure (PRODUCT_SIGNATURE_INVALID, KEY_UNPINNED, …); null when verified. */
  readonly code: string | null;
  readonly reason: string | null;
}

/** Where a received version came from: what the inbox recorded when it stored it. */
export interface ReceivedProvenance {
  readonly originator: string;
  /** The partner whose node sent it (the originator, or a partner passing it on with consent). */
  readonly sender: string;
  readonly arrangement: { readonly id: string; readonly version: number };
  readonly envelopeId: string;
  readonly receivedAt: string;
  /** Portions the sender tore out before it left: they never reached this node. */
  readonly withheldAtRelease: number;
  /** The originator's version this one was torn from, with that version's digest (verifyDerivedFrom). */
  readonly derivedFrom: { readonly id: string; readonly version: number; readonly digest: string };
  readonly signature: SignatureCheck;
}

/**
 * A received version as one reader may see it: torn to their access, markings rendered, with
 * its provenance. A recall adds one field here (recalledAt) and blanks the content.
 */
export interface ReceivedView {
  readonly id: string;
  readonly version: number;
  readonly originator: string;
  /** The banner of what this reader sees, not of the whole version. */
  readonly banner: string;
  readonly title: string;
  readonly titleMarking: string;
  readonly titleWithheld: boolean;
  readonly discipline: Discipline;
  readonly categories: readonly string[];
  readonly portions: readonly { readonly id: string; readonly marking: string; readonly text: string }[];
  /** How many of the received portions this reader may not see; never their content or labels. */
  readonly withheldCount: number;
  readonly reliability: string;
  readonly credibility: number;
  readonly createdAt: string;
  readonly geo: Readonly<Record<string, unknown>> | null;
  readonly provenance: ReceivedProvenance;
}

export interface ReceivedSearchInput {
  readonly originator?: string;
  readonly sender?: string;
  readonly arrangement?: string;
  /** Only versions whose readable title or portion text contains this (case-insensitive). */
  readonly text?: string;
  readonly limit?: number;
  readonly offset?: number;
}

export interface ReceivedServiceDeps {
  readonly store: Store;
  /** The partner this node belongs to. */
  readonly partner: string;
  readonly registry: MarkingRegistry;
  readonly now: () => number;
  /**
   * This node's own signing key, pinned for its own partner code (as the inbox pins it). Without
   * it, no arrangement this node is party to pins any key, and no signature verifies.
   */
  readonly ownSigningKey?: PublicKeyInfo;
}

// The list reads candidates in batches and filters each by the read policy before paging.
const BATCH = 200;

function notFound(id: string): AccordError {
  return new AccordError('NOT_FOUND', `no received product '${id}'`, { id });
}

/**
 * What one read needs beyond the rows, loaded once per request: the arrangements the rows arrived
 * under (compiled for their equivalence tables, and pinning the originators' keys) and the
 * partner directory.
 */
class Lookups {
  readonly #deps: ReceivedServiceDeps;
  readonly #arrangements = new Map<string, Promise<ArrangementVersion | undefined>>();
  readonly #compiled = new Map<string, CompiledArrangement | undefined>();
  #partners: Promise<readonly Partner[]> | undefined;

  constructor(deps: ReceivedServiceDeps) {
    this.#deps = deps;
  }

  #arrangement(id: string, version: number): Promise<ArrangementVersion | undefined> {
    const key = `${id}\u0000${version}`;
    let found = this.#arrangements.get(key);
    if (found === undefined) {
      found = this.#deps.store.arrangements.getVersion(id, version);
      this.#arrangements.set(key, found);
    }
    return found;
  }

  /** The arrangement compiled, for the originator's equivalence table; undefined when not held. */
  async compiled(received: ReceivedProduct): Promise<CompiledArrangement | undefined> {
    const key = `${received.arrangementId}\u0000${received.arrangementVersion}`;
    if (!this.#compiled.has(key)) {
      const arrangement = await this.#arrangement(received.arrangementId, received.arrangementVersion);
      this.#compiled.set(
        key,
        arrangement === undefined ? undefined : compileArrangement(arrangement.document, this.#deps.registry),
      );
    }
    return this.#compiled.get(key);
  }

  /**
   * DESIGN.md §2 invariant 4 (Authentic), checked again now: the originator's signature against
   * the key the arrangement pins for it today. A failure is reported, never hidden: the inbox
   * verified it on arrival, so a failure now means the arrangement or the directory changed since.
   */
  async signature(received: HeldProduct): Promise<SignatureCheck> {
    const { document } = received;
    const by = document.signature.by;
    const arrangement = await this.#arrangement(received.arrangementId, received.arrangementVersion);
    if (arrangement === undefined) {
      return {
        by,
        verified: false,
        code: 'KEY_UNPINNED',
        reason: `arrangement ${received.arrangementId} v${received.arrangementVersion} is not held here, so no key is pinned`,
      };
    }
    this.#partners ??= this.#deps.store.partners.list();
    const pins = pinsOf(
      arrangement.document,
      await this.#partners,
      this.#deps.partner,
      this.#deps.ownSigningKey,
    );
    try {
      verifyProductSignature(document, (fingerprint) => pins.keyFor(document.originator, fingerprint));
      return { by, verified: true, code: null, reason: null };
    } catch (error) {
      if (!isAccordError(error)) throw error;
      return { by, verified: false, code: error.code, reason: error.message };
    }
  }
}

/** Products received from partners, read through the read policy, with their provenance. */
export class ReceivedService {
  readonly #deps: ReceivedServiceDeps;

  constructor(deps: ReceivedServiceDeps) {
    this.#deps = deps;
  }

  /**
   * What the actor may read of one received version, or undefined when they may read none of it.
   * A stored document the node can no longer parse (its marking registry changed since) is
   * unreadable to everyone: deny by default.
   */
  async #readable(
    actor: Actor,
    received: ReceivedProduct,
    context: Lookups,
  ): Promise<{ readonly held: HeldProduct; readonly derived: DerivedProduct } | undefined> {
    // A version its originator recalled keeps no content to read (only its tombstone's metadata).
    if (received.recalledAt !== null) return undefined;
    let product: Product;
    try {
      product = productOfDerived(received.document, this.#deps.registry);
    } catch (error) {
      if (isAccordError(error)) return undefined;
      throw error;
    }
    const arrangement = await context.compiled(received);
    const decision = decideRead(product, readerOf(actor.user), {
      at: this.#deps.now(),
      registry: this.#deps.registry,
      // The arrangement it arrived under maps the originator's national levels onto the common scale.
      ...(arrangement === undefined ? {} : { arrangement }),
    });
    return decision.effect === 'allow' && decision.derived !== null
      ? { held: received, derived: decision.derived }
      : undefined;
  }

  async #render(received: HeldProduct, derived: DerivedProduct, context: Lookups): Promise<ReceivedView> {
    return {
      ...readableFieldsOf(derived, this.#deps.registry),
      provenance: {
        originator: received.originator,
        sender: received.sender,
        arrangement: { id: received.arrangementId, version: received.arrangementVersion },
        envelopeId: received.envelopeId,
        receivedAt: received.receivedAt,
        withheldAtRelease: received.document.withheldCount,
        derivedFrom: received.document.derivedFrom,
        signature: await context.signature(received),
      },
    };
  }

  /**
   * The latest received version of a product (or `version`), torn to what the actor may read.
   * NOT_FOUND when it was never received and when the actor may read none of it, alike.
   */
  async read(actor: Actor, productId: string, version?: number): Promise<ReceivedView> {
    requirePermission(actor, 'product:read');
    const received = await this.#deps.store.receivedProducts.get(productId, version);
    if (received === undefined) throw notFound(productId);
    const context = new Lookups(this.#deps);
    const readable = await this.#readable(actor, received, context);
    if (readable === undefined) throw notFound(productId);
    return this.#render(readable.held, readable.derived, context);
  }

  /** read() for the live stream: undefined where read() answers NOT_FOUND. */
  async viewOf(actor: Actor, productId: string, version?: number): Promise<ReceivedView | undefined> {
    try {
      return await this.read(actor, productId, version);
    } catch (error) {
      if (isAccordError(error) && error.code === 'NOT_FOUND') return undefined;
      throw error;
    }
  }

  /**
   * The recall notice of a received version its originator recalled, for the actor: undefined
   * unless they could read some of it before. Its content is erased, so the markings its tombstone
   * keeps are judged (decideRead over the portions' labels, text blanked), which is what decided
   * what they could read when it was held.
   */
  async recallNoticeOf(actor: Actor, productId: string, version: number): Promise<RecallNotice | undefined> {
    const received = await this.#deps.store.receivedProducts.get(productId, version);
    if (received === undefined || received.recalledAt === null) return undefined;
    const tomb = received.document;
    let product: Product;
    try {
      const blanked: DerivedDocument = {
        id: tomb.id,
        version: tomb.version,
        derivedFrom: tomb.derivedFrom,
        originator: tomb.originator,
        title: '(recalled)',
        titleMarking: tomb.titleMarking,
        discipline: tomb.discipline,
        categories: [...tomb.categories],
        portions: tomb.portions.map((p) => ({ id: p.id, marking: p.marking, text: '(recalled)' })),
        banner: tomb.banner,
        withheldCount: tomb.withheldCount,
        reliability: tomb.reliability,
        credibility: tomb.credibility,
        createdAt: tomb.createdAt,
        signature: tomb.signature,
      };
      product = productOfDerived(blanked, this.#deps.registry);
    } catch (error) {
      if (isAccordError(error)) return undefined;
      throw error;
    }
    const arrangement = await new Lookups(this.#deps).compiled(received);
    const decision = decideRead(product, readerOf(actor.user), {
      at: this.#deps.now(),
      registry: this.#deps.registry,
      ...(arrangement === undefined ? {} : { arrangement }),
    });
    return decision.effect === 'allow' && decision.derived !== null
      ? recallNoticeOf(decision.derived, this.#deps.registry)
      : undefined;
  }

  /**
   * Received versions the actor may read, most recently received first. The store narrows by
   * originator, sender and arrangement; each row is then judged by the read policy, and the text
   * filter applied to what the reader sees, before counting and paging, so nothing the reader may
   * not read shapes the results.
   */
  async list(
    actor: Actor,
    input: ReceivedSearchInput = {},
  ): Promise<{ readonly items: readonly ReceivedView[]; readonly total: number }> {
    requirePermission(actor, 'product:read');
    const context = new Lookups(this.#deps);
    const needle = input.text?.toLowerCase();
    const visible: { received: HeldProduct; derived: DerivedProduct }[] = [];
    for (let offset = 0; ; offset += BATCH) {
      const batch = await this.#deps.store.receivedProducts.list({
        limit: BATCH,
        offset,
        ...(input.originator === undefined ? {} : { originator: input.originator }),
        ...(input.sender === undefined ? {} : { sender: input.sender }),
        ...(input.arrangement === undefined ? {} : { arrangementId: input.arrangement }),
      });
      for (const received of batch) {
        const readable = await this.#readable(actor, received, context);
        if (readable === undefined) continue;
        const { title, portions } = readable.derived;
        if (
          needle !== undefined &&
          !title.toLowerCase().includes(needle) &&
          !portions.some((p) => p.text.toLowerCase().includes(needle))
        ) {
          continue;
        }
        visible.push({ received: readable.held, derived: readable.derived });
      }
      if (batch.length < BATCH) break;
    }
    const offset = input.offset ?? 0;
    const limit = input.limit ?? 50;
    // Only the page is rendered: the signature check costs an Ed25519 verification per item.
    const items: ReceivedView[] = [];
    for (const { received, derived } of visible.slice(offset, offset + limit)) {
      items.push(await this.#render(received, derived, context));
    }
    return { items, total: visible.length };
  }
}
