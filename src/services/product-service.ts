import { randomBytes, randomUUID } from 'node:crypto';
import Type, { type Static } from 'typebox';
import type { AuditAction } from '../audit/index.js';
import type { EventBus, StreamEventKind } from '../bus/index.js';
import { canonicalJson } from '../crypto/index.js';
import { AccordError, isAccordError } from '../errors/index.js';
import {
  type DerivedDocument,
  derivedFromOf,
  type Envelope,
  type EnvelopeArrangement,
  type EnvelopeHeaderFields,
  newEnvelopeHeader,
  parseDerivedDocument,
  type Signer,
  sealEnvelope,
  signProduct,
  type UnsignedDerivedDocument,
} from '../federation/index.js';
import {
  COMMON_SCHEME,
  type MarkingRegistry,
  nominalRank,
  renderBanner,
  renderPortionMark,
} from '../markings/index.js';
import {
  compileArrangement,
  type Decision,
  type DerivedProduct,
  decideRead,
  decideRelease,
} from '../policy/index.js';
import {
  AuthoredFields,
  type Discipline,
  Identifier,
  type Product,
  type ProductDocument,
  parseProduct,
  portionsSchema,
} from '../products/index.js';
import type {
  ArrangementVersion,
  BoundingBox,
  ProductRecord,
  ProductState,
  Repositories,
  Store,
} from '../store/index.js';
import { createValidator } from '../validation/index.js';
import { type Actor, readerOf, requirePermission } from './actor.js';
import { productEvent, releaseEvent } from './audit-events.js';
import type { AuditRecorder } from './audit-log.js';
import { type RecallNotice, readableFieldsOf, recallNoticeOf } from './derived-view.js';
import type { OutboxSignal } from './outbox-signal.js';
import { recipientEncryptionKeyOf } from './partner-keys.js';

/** What an analyst writes; the node fills id, version, originator, author and time. */
export const DraftInputSchema = Type.Object(
  { ...AuthoredFields, portions: portionsSchema(Type.Optional(Identifier)) },
  { additionalProperties: false },
);
export type DraftInput = Static<typeof DraftInputSchema>;

/** A product as one reader may see it: torn to their access, markings rendered. */
export interface ProductView {
  readonly id: string;
  readonly version: number;
  readonly state: ProductState;
  readonly originator: string;
  readonly author: string;
  readonly banner: string;
  readonly title: string;
  readonly titleMarking: string;
  readonly titleWithheld: boolean;
  readonly discipline: Discipline;
  readonly categories: readonly string[];
  readonly portions: readonly { readonly id: string; readonly marking: string; readonly text: string }[];
  /** How many portions this reader may not see; never their content or labels. */
  readonly withheldCount: number;
  readonly reliability: string;
  readonly credibility: number;
  readonly createdAt: string;
  readonly geo: Readonly<Record<string, unknown>> | null;
}

/** What importDrafts did with one draft. */
export interface ImportResult {
  readonly id: string;
  readonly outcome: 'created' | 'updated' | 'unchanged' | 'skipped';
  /** The current version after the import. */
  readonly version: number;
  /** The banner written, for `created` and `updated`. */
  readonly banner?: string;
  /** Why a draft was `skipped`. */
  readonly reason?: string;
}

const validateDraft = createValidator<DraftInput>(DraftInputSchema, 'PRODUCT_INVALID', 'product draft');
const DRAFT_FIELDS = Object.keys(DraftInputSchema.properties);

/** The fields an author writes, to tell whether a re-import changes anything. */
function draftFieldsOf(document: ProductDocument): Record<string, unknown> {
  return Object.fromEntries(Object.entries(document).filter(([key]) => DRAFT_FIELDS.includes(key)));
}

/** A product's current version loaded for reading, before any reader's decision. */
export interface ProductSnapshot {
  readonly record: ProductRecord;
  readonly product: Product;
}

// The id a draft previewed before it is saved goes under; it is never stored.
const DRAFT_PREVIEW_ID = 'draft-preview';

/** What a release to one recipient under one arrangement would do (previewRelease). */
export interface ReleasePreview {
  readonly arrangement: {
    readonly id: string;
    readonly version: number;
    readonly title: string;
    readonly status: string;
  };
  readonly recipient: string;
  readonly effect: Decision['effect'];
  readonly deniedBy: Decision['deniedBy'];
  readonly rules: Decision['rules'];
  /** Ids of the portions that pass the tear line (they go when the release is allowed). */
  readonly released: readonly string[];
  /** The portions held back, each with every rule that holds it. */
  readonly withheld: Decision['withheld'];
  /** The banner of what would go; null when the release would be denied. */
  readonly banner: string | null;
}

/** The outcome of a release request that the policy allowed. */
export interface ReleaseOutcome {
  readonly releaseId: string;
  readonly decision: Decision;
  readonly banner: string;
}

export interface ProductSearchInput {
  readonly discipline?: Discipline;
  readonly category?: string;
  readonly classification?: string;
  readonly originator?: string;
  readonly from?: string;
  readonly until?: string;
  readonly text?: string;
  readonly bbox?: BoundingBox;
  readonly limit?: number;
  readonly offset?: number;
}

/**
 * What a release tells its recipient: the arrangement it was released under and the derived
 * (torn) version. On a node with keys this is the plaintext sealed into the outbox envelope.
 */
export interface ReleaseMessage<Product = DerivedDocument> {
  readonly kind: 'release';
  readonly arrangement: EnvelopeArrangement;
  readonly product: Product;
}

/**
 * The outbox payload of a node without keys: the release message in clear, unsigned, marked
 * `sealed: false`. No delivery may send it to a peer; it records what would have been sent.
 */
export interface UnsealedRelease extends ReleaseMessage<UnsignedDerivedDocument> {
  readonly sealed: false;
}

/**
 * The outbox payload of a node with keys: the sealed envelope to deliver, and what it was sealed
 * from (the header fields and the plaintext release message), so the outbox worker can seal it
 * again under the same envelope id with a fresh createdAt when it has waited longer than the
 * recipient's clock-skew window (DESIGN.md §2.5: a partner offline for hours still gets it).
 */
export interface SealedRelease {
  readonly envelope: Envelope;
  readonly release: { readonly header: EnvelopeHeaderFields; readonly payload: ReleaseMessage };
}

export interface ProductServiceDeps {
  readonly store: Store;
  /** The partner this node belongs to. */
  readonly partner: string;
  readonly registry: MarkingRegistry;
  readonly now: () => number;
  /**
   * The node's Ed25519 signing key. With it every version is signed and every release sealed to
   * its recipient; without it (a node built with no keys: tests, benchmarks) versions stay
   * unsigned and releases are queued unsealed (see release()).
   */
  readonly signer?: Signer;
  /** Told after a release that queued an outbox row has committed, so delivery starts at once. */
  readonly outboxSignal?: OutboxSignal;
  /** The audit log: each change is logged in its own transaction, each read after it. */
  readonly audit?: AuditRecorder;
  /** The live stream's bus: told, after commit, of each new product, version and submission (issue 7). */
  readonly events?: EventBus;
}

const EDITABLE: readonly ProductState[] = ['draft', 'rejected'];
const RELEASABLE: readonly ProductState[] = ['submitted', 'approved', 'released'];
// Search reads candidates in batches and filters each by the read policy before paging.
const SEARCH_BATCH = 200;

function notFound(id: string): AccordError {
  return new AccordError('NOT_FOUND', `no product '${id}'`, { id });
}

/** The bounding box of a GeoJSON value's coordinates, or null when it has none. */
export function bboxOf(geo: unknown): BoundingBox | null {
  const points: [number, number][] = [];
  const walk = (value: unknown): void => {
    if (!Array.isArray(value)) return;
    if (value.length >= 2 && typeof value[0] === 'number' && typeof value[1] === 'number') {
      points.push([value[0], value[1]]);
      return;
    }
    for (const v of value) walk(v);
  };
  const visit = (node: unknown): void => {
    if (typeof node !== 'object' || node === null) return;
    const n = node as Record<string, unknown>;
    walk(n.coordinates);
    if (n.geometry !== undefined) visit(n.geometry);
    if (Array.isArray(n.features)) for (const f of n.features) visit(f);
    if (Array.isArray(n.geometries)) for (const g of n.geometries) visit(g);
  };
  visit(geo);
  if (points.length === 0) return null;
  const lons = points.map((p) => p[0]);
  const lats = points.map((p) => p[1]);
  return {
    minLon: Math.min(...lons),
    minLat: Math.min(...lats),
    maxLon: Math.max(...lons),
    maxLat: Math.max(...lats),
  };
}

/** Whether two boxes overlap (edges touching count). */
export function intersects(a: BoundingBox, b: BoundingBox): boolean {
  return a.minLon <= b.maxLon && b.minLon <= a.maxLon && a.minLat <= b.maxLat && b.minLat <= a.maxLat;
}

/** Products: drafts, versions, the approval workflow, release under an arrangement, and policy-filtered reads. */
export class ProductService {
  readonly #deps: ProductServiceDeps;

  constructor(deps: ProductServiceDeps) {
    this.#deps = deps;
  }

  #rank(product: Product): { rank: number; portionRanks: Record<string, number> } {
    const registry = this.#deps.registry;
    const portionRanks: Record<string, number> = {};
    for (const p of product.portions) portionRanks[p.id] = nominalRank(registry, p.label.classification) ?? 4;
    return { rank: nominalRank(registry, product.banner.classification) ?? 4, portionRanks };
  }

  #parse(actor: Actor, doc: ProductDocument): Product {
    const product = parseProduct(doc, this.#deps.registry);
    // An author may not write above what they may read themselves.
    const decision = decideRead(product, readerOf(actor.user), {
      at: this.#deps.now(),
      registry: this.#deps.registry,
    });
    if (decision.effect === 'deny' || decision.withheld.length > 0 || decision.derived?.titleWithheld) {
      const first = decision.withheld[0];
      const why =
        first?.reasons[0]?.reason ??
        decision.rules.find((r) => r.outcome !== 'pass')?.reason ??
        'not readable';
      throw new AccordError(
        'PRODUCT_INVALID',
        `product: ${actor.user.username} may not write material they could not read (${first ? `portion ${first.portionId}: ` : ''}${why})`,
        { path: first ? `/portions` : '/titleMarking' },
      );
    }
    return product;
  }

  #document(actor: Actor, input: DraftInput, id: string, version: number): ProductDocument {
    const doc: ProductDocument = {
      id,
      version,
      originator: this.#deps.partner,
      author: actor.user.username,
      title: input.title,
      titleMarking: input.titleMarking,
      discipline: input.discipline,
      categories: input.categories,
      portions: input.portions.map((p, i) => ({ id: p.id ?? `p${i + 1}`, marking: p.marking, text: p.text })),
      reliability: input.reliability,
      credibility: input.credibility,
      createdAt: new Date(this.#deps.now()).toISOString(),
    };
    return {
      ...doc,
      ...(input.geo === undefined ? {} : { geo: input.geo }),
      ...(input.needToKnow === undefined ? {} : { needToKnow: input.needToKnow }),
    };
  }

  /**
   * DESIGN.md §2 invariant 4 (Authentic): the originator signs each version it writes, over its
   * productDigest. A node without keys stores the version unsigned.
   */
  #signed(document: ProductDocument): ProductDocument {
    const signer = this.#deps.signer;
    return signer === undefined ? document : signProduct(document, signer);
  }

  #versionInput(product: Product, document: ProductDocument) {
    return {
      document,
      banner: renderBanner(product.banner, { originator: product.originator, registry: this.#deps.registry }),
      ...this.#rank(product),
    };
  }

  /** Creates a draft (version 1) written by the actor. */
  async createDraft(actor: Actor, input: DraftInput): Promise<ProductView> {
    const view = await this.#deps.store.transaction(async (tx) => this.createDraftIn(tx, actor, input));
    return this.#announced('product.created', view);
  }

  /**
   * Creates a draft inside the caller's transaction `tx`, so that several products (a STIX
   * import) are stored, validated and logged all or none. `id` replaces the generated one; an id
   * in use is STORE_CONFLICT.
   */
  async createDraftIn(
    tx: Repositories,
    actor: Actor,
    input: DraftInput,
    options: { readonly id?: string } = {},
  ): Promise<ProductView> {
    requirePermission(actor, 'product:create');
    const id =
      options.id ??
      `${this.#deps.partner}-${new Date(this.#deps.now()).getUTCFullYear()}-${randomBytes(5).toString('hex')}`;
    const document = this.#document(actor, input, id, 1);
    const product = this.#parse(actor, document);
    await tx.products.createDraft(this.#versionInput(product, this.#signed(document)));
    return this.#logged(tx, 'product.created', actor, await this.#view(tx, actor, id));
  }

  /**
   * Writes drafts brought in from another format (MISP events) under ids the importer chose, all
   * in one transaction: any invalid draft (schema, markings, a portion the actor could not read)
   * fails the whole batch and nothing is stored. Each goes through the normal path: validated,
   * parsed, signed, audit-logged. An id already held is `unchanged` when its current version has
   * the same draft fields, `updated` (a new version) when it differs and is still editable, and
   * `skipped` otherwise (the reason says why); `onEach` is told after each draft.
   */
  async importDrafts(
    actor: Actor,
    items: readonly { readonly id: string; readonly draft: DraftInput }[],
    onEach?: (done: number) => void,
  ): Promise<ImportResult[]> {
    requirePermission(actor, 'product:create');
    return this.#deps.store.transaction(async (tx) => {
      const results: ImportResult[] = [];
      for (const [i, { id, draft }] of items.entries()) {
        results.push(await this.#importOne(tx, actor, id, validateDraft(draft)));
        onEach?.(i + 1);
      }
      return results;
    });
  }

  /** Publishes the event of a committed change (never inside the transaction: a rollback announces nothing). */
  async #announced(kind: StreamEventKind, view: ProductView): Promise<ProductView> {
    await this.#deps.events?.publish({
      kind,
      product: { id: view.id, version: view.version, source: 'own' },
    });
    return view;
  }

  async #importOne(tx: Repositories, actor: Actor, id: string, input: DraftInput): Promise<ImportResult> {
    const record = await tx.products.get(id);
    if (record === undefined) {
      const document = this.#document(actor, input, id, 1);
      const product = this.#parse(actor, document);
      await tx.products.createDraft(this.#versionInput(product, this.#signed(document)));
      const view = await this.#logged(tx, 'product.created', actor, await this.#view(tx, actor, id));
      return { id, outcome: 'created', version: 1, banner: view.banner };
    }
    if (record.author !== actor.user.username || record.originator !== this.#deps.partner) {
      return { id, outcome: 'skipped', version: record.currentVersion, reason: 'imported by another user' };
    }
    const next = this.#document(actor, input, id, record.currentVersion + 1);
    const current = (await this.#loadVersion(tx, record)).document;
    if (canonicalJson(draftFieldsOf(current)) === canonicalJson(draftFieldsOf(next))) {
      return { id, outcome: 'unchanged', version: record.currentVersion };
    }
    if (!EDITABLE.includes(record.state)) {
      return {
        id,
        outcome: 'skipped',
        version: record.currentVersion,
        reason: `changed, but the product is ${record.state}; only a draft or rejected product is updated`,
      };
    }
    const product = this.#parse(actor, next);
    await tx.products.addVersion(this.#versionInput(product, this.#signed(next)));
    await tx.products.setState(id, 'draft');
    const view = await this.#logged(tx, 'product.edited', actor, await this.#view(tx, actor, id));
    return { id, outcome: 'updated', version: next.version, banner: view.banner };
  }

  /** Logs `action` on the version as the actor sees it, in `tx` (the change's transaction), and returns the view. */
  async #logged(
    tx: Repositories,
    action: AuditAction,
    actor: Actor,
    view: ProductView,
  ): Promise<ProductView> {
    await this.#deps.audit?.recordIn(tx, productEvent(action, actor, view));
    return view;
  }

  /** Writes a new version of a draft or rejected product; only its author may. */
  async edit(actor: Actor, id: string, input: DraftInput): Promise<ProductView> {
    requirePermission(actor, 'product:edit');
    const view = await this.#deps.store.transaction(async (tx) => {
      const record = await this.#own(tx, actor, id);
      if (!EDITABLE.includes(record.state)) {
        throw new AccordError(
          'PRODUCT_STATE_INVALID',
          `product ${id} is ${record.state}; only a draft or rejected product can be edited`,
          { state: record.state },
        );
      }
      const document = this.#document(actor, input, id, record.currentVersion + 1);
      const product = this.#parse(actor, document);
      await tx.products.addVersion(this.#versionInput(product, this.#signed(document)));
      await tx.products.setState(id, 'draft');
      return this.#logged(tx, 'product.edited', actor, await this.#view(tx, actor, id));
    });
    return this.#announced('product.version', view);
  }

  /** The author submits a draft for release approval. */
  async submit(actor: Actor, id: string): Promise<ProductView> {
    requirePermission(actor, 'product:submit');
    const view = await this.#deps.store.transaction(async (tx) => {
      const record = await this.#own(tx, actor, id);
      if (!EDITABLE.includes(record.state)) {
        throw new AccordError(
          'PRODUCT_STATE_INVALID',
          `product ${id} is ${record.state}; only a draft or rejected product can be submitted`,
          { state: record.state },
        );
      }
      await tx.products.setState(id, 'submitted', { from: record.state });
      return this.#logged(tx, 'product.submitted', actor, await this.#view(tx, actor, id));
    });
    // Submitted is when the product first shows to readers other than its author.
    return this.#announced('product.submitted', view);
  }

  /** A release officer other than the author approves or rejects the submitted version. */
  async decide(
    actor: Actor,
    id: string,
    decision: 'approved' | 'rejected',
    comment?: string,
  ): Promise<ProductView> {
    requirePermission(actor, 'product:approve');
    return this.#deps.store.transaction(async (tx) => {
      const { record, product } = await this.#readable(tx, actor, id);
      if (record.state !== 'submitted') {
        throw new AccordError(
          'PRODUCT_STATE_INVALID',
          `product ${id} is ${record.state}; only a submitted product can be approved or rejected`,
          { state: record.state },
        );
      }
      if (record.author === actor.user.username) {
        throw new AccordError(
          'FORBIDDEN',
          `${actor.user.username} wrote product ${id} and cannot approve or reject it`,
          { permission: 'product:approve' },
        );
      }
      const read = decideRead(product, readerOf(actor.user), {
        at: this.#deps.now(),
        registry: this.#deps.registry,
      });
      if (read.withheld.length > 0 || read.derived?.titleWithheld) {
        throw new AccordError(
          'FORBIDDEN',
          `${actor.user.username} cannot read all of product ${id} and so cannot decide on its release`,
          { permission: 'product:approve' },
        );
      }
      await tx.approvals.add({
        productId: id,
        version: record.currentVersion,
        by: actor.user.username,
        decision,
        ...(comment === undefined ? {} : { comment }),
      });
      await tx.products.setState(id, decision === 'approved' ? 'approved' : 'rejected', {
        from: 'submitted',
      });
      const action = decision === 'approved' ? 'product.approved' : 'product.rejected';
      return this.#logged(tx, action, actor, await this.#view(tx, actor, id));
    });
  }

  /**
   * Releases the current version to `recipient` under `arrangementId`. The decision is stored
   * whatever it says; an allow also queues the derived version in the outbox in the same
   * transaction. A deny throws POLICY_DENIED naming the rules.
   *
   * The derived version names the stored source version it was torn from (derivedFrom: id,
   * version, productDigest). On a node with keys it is signed by this node and sealed, with the
   * arrangement, into an envelope to the recipient's encryption key; the outbox row's id is the
   * envelope id and its payload a SealedRelease (the envelope and what it was sealed from). A recipient with no encryption key on record is
   * PARTNER_KEY_MISSING and nothing is written, the decision included. On a node without keys the
   * message is queued unsigned and in clear as an UnsealedRelease (`sealed: false`).
   */
  async release(actor: Actor, id: string, recipient: string, arrangementId: string): Promise<ReleaseOutcome> {
    requirePermission(actor, 'product:release');
    const outcome = await this.#deps.store.transaction(async (tx) => {
      const { record, product, document, decision: read } = await this.#readable(tx, actor, id);
      if (read.withheld.length > 0 || read.derived?.titleWithheld) {
        throw new AccordError(
          'FORBIDDEN',
          `${actor.user.username} cannot read all of product ${id} and so cannot release it`,
          { permission: 'product:release' },
        );
      }
      if (!RELEASABLE.includes(record.state)) {
        throw new AccordError(
          'PRODUCT_STATE_INVALID',
          `product ${id} is ${record.state}; submit it for approval before release`,
          { state: record.state },
        );
      }
      const arrangement = await this.#arrangementFor(tx, arrangementId);
      const compiled = compileArrangement(arrangement.document, this.#deps.registry);
      const consents = await tx.consents.list({ productId: id, recipient });
      const decision = decideRelease(product, compiled, recipient, {
        at: this.#deps.now(),
        sender: this.#deps.partner,
        consents: consents.map((c) => ({
          originator: c.originator,
          recipient: c.recipient,
          productId: c.productId,
          grantedAt: c.grantedAt,
          ...(c.expiresAt === null ? {} : { expiresAt: c.expiresAt }),
        })),
      });
      // The outbox message is made before anything is written: a release that cannot be signed
      // or sealed (PARTNER_KEY_MISSING) throws here and leaves no trace, its decision included.
      const message =
        decision.effect === 'allow' && decision.derived !== null
          ? await this.#outboxMessage(
              tx,
              arrangement,
              this.#derivedDocument(decision.derived, document),
              recipient,
            )
          : undefined;
      const releaseId = randomUUID();
      await tx.releases.add({
        id: releaseId,
        productId: id,
        version: record.currentVersion,
        recipient,
        arrangementId: arrangement.id,
        arrangementVersion: arrangement.version,
        effect: decision.effect,
        decision,
        by: actor.user.username,
      });
      await this.#deps.audit?.recordIn(
        tx,
        releaseEvent(actor, {
          id: releaseId,
          productId: id,
          version: record.currentVersion,
          recipient,
          arrangement,
          decision,
          // The label of what was released, or of the product when nothing was.
          banner: renderBanner(decision.derived?.banner ?? product.banner, {
            originator: product.originator,
            registry: this.#deps.registry,
          }),
        }),
      );
      if (message !== undefined) {
        await tx.outbox.enqueue({ id: message.id, releaseId, recipient, payload: message.payload });
        await tx.products.setState(id, 'released');
      }
      return { releaseId, decision };
    });
    const { decision, releaseId } = outcome;
    if (decision.effect === 'allow' && decision.derived !== null) this.#deps.outboxSignal?.notify();
    if (decision.effect === 'deny' || decision.derived === null) {
      const failed = decision.rules.filter((r) => r.outcome === 'fail');
      throw new AccordError(
        'POLICY_DENIED',
        `release of ${id} to ${recipient} denied: ${failed.map((r) => `${r.rule} (${r.reason})`).join('; ')}`,
        { releaseId, deniedBy: decision.deniedBy, rules: decision.rules },
      );
    }
    const derived = decision.derived;
    return {
      releaseId,
      decision,
      banner: renderBanner(derived.banner, { originator: derived.originator, registry: this.#deps.registry }),
    };
  }

  /**
   * What a release of the current version would do, to every other party of every arrangement
   * this node is party to, without releasing anything or writing a decision: per recipient the
   * decision (effect, every rule with its reason), the portions that would go and, for the rest,
   * the rules that hold them back. Only a reader of the whole product may ask, as for release:
   * the reasons describe every portion's label.
   */
  async previewRelease(actor: Actor, id: string): Promise<readonly ReleasePreview[]> {
    requirePermission(actor, 'product:read');
    const store = this.#deps.store;
    const { product, decision: read } = await this.#readable(store, actor, id);
    if (read.withheld.length > 0 || read.derived?.titleWithheld) {
      throw new AccordError(
        'FORBIDDEN',
        `${actor.user.username} cannot read all of product ${id} and so cannot preview its release`,
        { permission: 'product:read' },
      );
    }
    return this.#previews(store, product, id);
  }

  /**
   * The release preview of a draft as written, before it is saved: the same answer as
   * previewRelease, for the compose page to show while the analyst edits. Nothing is stored. The
   * draft is checked as a save would check it (schema, markings, the author may read all of it).
   */
  async previewDraft(actor: Actor, input: DraftInput): Promise<readonly ReleasePreview[]> {
    requirePermission(actor, 'product:create');
    const product = this.#parse(actor, this.#document(actor, input, DRAFT_PREVIEW_ID, 1));
    return this.#previews(this.#deps.store, product, null);
  }

  /** decideRelease of `product` to every other party of every arrangement this node is party to. */
  async #previews(store: Repositories, product: Product, storedId: string | null): Promise<ReleasePreview[]> {
    const at = this.#deps.now();
    const previews: ReleasePreview[] = [];
    for (const latest of await store.arrangements.list()) {
      const arrangement = await this.#arrangementFor(store, latest.id);
      const parties = arrangement.document.parties.map((p) => p.partner);
      if (!parties.includes(this.#deps.partner)) continue;
      const compiled = compileArrangement(arrangement.document, this.#deps.registry);
      for (const recipient of parties) {
        if (recipient === this.#deps.partner) continue;
        const consents =
          storedId === null ? [] : await store.consents.list({ productId: storedId, recipient });
        const decision = decideRelease(product, compiled, recipient, {
          at,
          sender: this.#deps.partner,
          consents: consents.map((c) => ({
            originator: c.originator,
            recipient: c.recipient,
            productId: c.productId,
            grantedAt: c.grantedAt,
            ...(c.expiresAt === null ? {} : { expiresAt: c.expiresAt }),
          })),
        });
        const withheldIds = new Set(decision.withheld.map((w) => w.portionId));
        const render = (label: Parameters<typeof renderBanner>[0]) =>
          renderBanner(label, { originator: product.originator, registry: this.#deps.registry });
        previews.push({
          arrangement: {
            id: arrangement.id,
            version: arrangement.version,
            title: arrangement.document.title,
            status: arrangement.status,
          },
          recipient,
          effect: decision.effect,
          deniedBy: decision.deniedBy,
          rules: decision.rules,
          released: product.portions.filter((p) => !withheldIds.has(p.id)).map((p) => p.id),
          withheld: decision.withheld,
          banner: decision.derived === null ? null : render(decision.derived.banner),
        });
      }
    }
    return previews;
  }

  /** The derived version as it travels, naming the stored source version it was torn from. */
  #derivedDocument(derived: DerivedProduct, source: ProductDocument): UnsignedDerivedDocument {
    const registry = this.#deps.registry;
    const render = (label: Parameters<typeof renderPortionMark>[0]) =>
      renderPortionMark(label, { originator: derived.originator, registry });
    return {
      id: derived.id,
      version: derived.version,
      // The digest is over the version as stored (signature aside), so a holder of the source can
      // check the derived version came from exactly it (verifyDerivedFrom).
      derivedFrom: derivedFromOf(source),
      originator: derived.originator,
      title: derived.title,
      titleMarking: render(derived.titleLabel),
      discipline: derived.discipline,
      categories: [...derived.categories],
      portions: derived.portions.map((p) => ({ id: p.id, marking: render(p.label), text: p.text })),
      banner: renderBanner(derived.banner, { originator: derived.originator, registry }),
      withheldCount: derived.withheldCount,
      reliability: derived.reliability,
      credibility: derived.credibility,
      createdAt: derived.createdAt,
      // DerivedProduct holds geo as an opaque record; the source document schema checked it as GeoJSON.
      ...(derived.geo === null ? {} : { geo: derived.geo as NonNullable<DerivedDocument['geo']> }),
    };
  }

  /**
   * The outbox row of an allowed release. On a node with keys: the derived version signed by this
   * node and the release message sealed to the recipient's encryption key, in an envelope whose
   * id is the row's id; both are checked against the schemas a peer parses them with, so a release
   * the recipient would refuse fails here, before it is queued. On a node without keys: the message
   * unsigned and in clear, marked `sealed: false`, under a fresh id.
   */
  async #outboxMessage(
    tx: Repositories,
    governing: ArrangementVersion,
    derived: UnsignedDerivedDocument,
    recipient: string,
  ): Promise<{ readonly id: string; readonly payload: SealedRelease | UnsealedRelease }> {
    const arrangement: EnvelopeArrangement = {
      id: governing.id,
      version: governing.version,
      versionHash: governing.versionHash,
    };
    const signer = this.#deps.signer;
    if (signer === undefined) {
      return { id: randomUUID(), payload: { sealed: false, kind: 'release', arrangement, product: derived } };
    }
    const recipientEncryptionKey = await recipientEncryptionKeyOf(tx.partners, recipient);
    const message: ReleaseMessage = {
      kind: 'release',
      arrangement,
      product: parseDerivedDocument(signProduct(derived, signer)),
    };
    const fields: EnvelopeHeaderFields = {
      kind: 'release',
      from: this.#deps.partner,
      to: recipient,
      arrangement,
      product: { id: derived.id, version: derived.version },
      senderKey: signer.fingerprint,
    };
    const header = newEnvelopeHeader(fields, { now: this.#deps.now(), randomBytes: (n) => randomBytes(n) });
    const envelope = sealEnvelope({ header, payload: message, signer, recipientEncryptionKey });
    return {
      id: envelope.header.envelopeId,
      payload: { envelope, release: { header: fields, payload: message } },
    };
  }

  async #arrangementFor(tx: Repositories, arrangementId: string): Promise<ArrangementVersion> {
    const history = await tx.arrangements.history(arrangementId);
    // The newest version every party signed into force governs; a newer unsigned draft does not,
    // nor an active version whose effective time has not come (a key rotation signed in advance:
    // until its rotation time the partners' inboxes take the keys of the version before it).
    const now = this.#deps.now();
    const newestFirst = [...history].reverse();
    const governing =
      newestFirst.find((v) => v.status === 'active' && Date.parse(v.document.effective) <= now) ??
      newestFirst.find((v) => v.status === 'active') ??
      history.at(-1);
    if (governing === undefined)
      throw new AccordError('NOT_FOUND', `no arrangement '${arrangementId}'`, { id: arrangementId });
    return governing;
  }

  /** The product in the actor's own hands (author only); others get NOT_FOUND, as if it did not exist. */
  async #own(tx: Repositories, actor: Actor, id: string): Promise<ProductRecord> {
    const record = await tx.products.get(id);
    if (
      record === undefined ||
      record.author !== actor.user.username ||
      record.originator !== this.#deps.partner
    ) {
      throw notFound(id);
    }
    return record;
  }

  /** The current version as the policy sees it, with approvals from the store. */
  async #load(tx: Repositories, record: ProductRecord): Promise<Product> {
    return (await this.#loadVersion(tx, record)).product;
  }

  /** The current version as stored (`document`) and as the policy sees it (`product`). */
  async #loadVersion(
    tx: Repositories,
    record: ProductRecord,
  ): Promise<{ product: Product; document: ProductDocument }> {
    const version = await tx.products.getVersion(record.id, record.currentVersion);
    if (version === undefined) throw notFound(record.id);
    const approvals = await tx.approvals.list(record.id, record.currentVersion);
    const product = parseProduct(
      {
        ...version.document,
        approvals: approvals.map((a) => ({ by: a.by, version: a.version, at: a.at, decision: a.decision })),
        recalled: record.state === 'recalled',
      },
      this.#deps.registry,
    );
    return { product, document: version.document };
  }

  /** Drafts are their author's alone; anything else is subject to the read policy. Hidden means NOT_FOUND. */
  async #readable(
    tx: Repositories,
    actor: Actor,
    id: string,
  ): Promise<{ record: ProductRecord; product: Product; document: ProductDocument; decision: Decision }> {
    const record = await tx.products.get(id);
    if (record === undefined) throw notFound(id);
    if (record.state === 'draft' && record.author !== actor.user.username) throw notFound(id);
    const { product, document } = await this.#loadVersion(tx, record);
    const decision = decideRead(product, readerOf(actor.user), {
      at: this.#deps.now(),
      registry: this.#deps.registry,
    });
    if (decision.effect === 'deny') throw notFound(id);
    return { record, product, document, decision };
  }

  async #view(tx: Repositories, actor: Actor, id: string): Promise<ProductView> {
    const { record, decision } = await this.#readable(tx, actor, id);
    return this.#render(record, decision);
  }

  #render(record: ProductRecord, decision: Decision): ProductView {
    const derived = decision.derived;
    if (derived === null) throw notFound(record.id);
    return {
      ...readableFieldsOf(derived, this.#deps.registry),
      id: record.id,
      state: record.state,
      author: record.author,
    };
  }

  /** The current version torn to what the actor may read; NOT_FOUND when they may read none of it. */
  async read(actor: Actor, id: string): Promise<ProductView> {
    requirePermission(actor, 'product:read');
    const store = this.#deps.store;
    return this.#logged(store, 'product.read', actor, await this.#view(store, actor, id));
  }

  /**
   * The current version as stored, loaded once for every reader of one stream event (see
   * viewFrom); undefined when there is no such product.
   */
  async snapshot(id: string): Promise<ProductSnapshot | undefined> {
    const store = this.#deps.store;
    const record = await store.products.get(id);
    if (record === undefined) return undefined;
    try {
      return { record, product: await this.#load(store, record) };
    } catch (error) {
      if (isAccordError(error) && error.code === 'NOT_FOUND') return undefined;
      throw error;
    }
  }

  /**
   * What the actor may read of a snapshot, for the live stream: the rules of read() (drafts are
   * their author's; then decideRead for this actor now), without its NOT_FOUND (undefined instead)
   * and without an audit entry per delivery, as search() has none.
   */
  viewFrom(actor: Actor, snapshot: ProductSnapshot): ProductView | undefined {
    const { record, product } = snapshot;
    if (record.state === 'draft' && record.author !== actor.user.username) return undefined;
    const decision = decideRead(product, readerOf(actor.user), {
      at: this.#deps.now(),
      registry: this.#deps.registry,
    });
    if (decision.effect === 'deny' || decision.derived === null) return undefined;
    return this.#render(record, decision);
  }

  /**
   * The recall notice of `version` for the actor, judged as if it were not recalled (decideRead
   * denies every recalled product): undefined unless they could read some of it before.
   */
  async recallNoticeOf(actor: Actor, id: string, version: number): Promise<RecallNotice | undefined> {
    const store = this.#deps.store;
    const record = await store.products.get(id);
    if (record === undefined || record.originator !== this.#deps.partner) return undefined;
    if (record.state === 'draft' && record.author !== actor.user.username) return undefined;
    const stored = await store.products.getVersion(id, version);
    if (stored === undefined) return undefined;
    const product = parseProduct({ ...stored.document, recalled: false }, this.#deps.registry);
    const decision = decideRead(product, readerOf(actor.user), {
      at: this.#deps.now(),
      registry: this.#deps.registry,
    });
    return decision.effect === 'allow' && decision.derived !== null
      ? recallNoticeOf(decision.derived, this.#deps.registry)
      : undefined;
  }

  /**
   * Release decisions taken on a product the actor may read, without the released content: a
   * stored decision carries the derived product given to the recipient, which may hold portions
   * this reader is not cleared for (a GBR reader below SECRET would see what GBR was sent).
   */
  async releases(actor: Actor, id: string) {
    requirePermission(actor, 'product:read');
    const { decision: read } = await this.#readable(this.#deps.store, actor, id);
    // The decisions' reasons describe every portion's label; only a reader of the whole product
    // may see them. Others learn who received what and whether it was allowed, nothing more.
    const seesAll = read.withheld.length === 0 && read.derived?.titleWithheld === false;
    const records = await this.#deps.store.releases.list({ productId: id });
    return records.map((record) => {
      if (typeof record.decision !== 'object' || record.decision === null) return record;
      const { derived: _content, ...decision } = record.decision as Record<string, unknown>;
      if (seesAll) return { ...record, decision };
      return { ...record, decision: { effect: decision.effect, deniedBy: decision.deniedBy } };
    });
  }

  /**
   * Search: the store narrows candidates by the filters; each is then checked by the read policy,
   * and the text and box filters are applied again to what the reader may see, before counting
   * and paging. So nothing the reader may not read shapes the results.
   */
  async search(
    actor: Actor,
    input: ProductSearchInput,
  ): Promise<{ readonly items: readonly ProductView[]; readonly total: number }> {
    requirePermission(actor, 'product:read');
    const classificationRank =
      input.classification === undefined
        ? undefined
        : COMMON_SCHEME.levels.findIndex((l) => l.name === input.classification);
    if (classificationRank === -1) {
      throw new AccordError('INPUT_INVALID', `unknown classification '${input.classification}'`, {
        path: '/classification',
      });
    }
    // No store filter on rank: a product bannered above the reader's clearance may still hold
    // portions they may read (read() shows it to them, torn), and the classification filter must
    // judge what the reader sees, not the whole banner, which would tell them the level of what is
    // withheld. The read policy below decides each candidate.
    const store = this.#deps.store;
    const visible: ProductView[] = [];
    for (let offset = 0; ; offset += SEARCH_BATCH) {
      const batch = await store.products.search({
        limit: SEARCH_BATCH,
        offset,
        ...(input.discipline === undefined ? {} : { discipline: input.discipline }),
        ...(input.category === undefined ? {} : { category: input.category }),
        ...(input.originator === undefined ? {} : { originator: input.originator }),
        ...(input.from === undefined ? {} : { from: input.from }),
        ...(input.until === undefined ? {} : { until: input.until }),
        ...(input.text === undefined ? {} : { text: input.text }),
        ...(input.bbox === undefined ? {} : { bbox: input.bbox }),
      });
      for (const summary of batch) {
        if (summary.state === 'draft' && summary.author !== actor.user.username) continue;
        const product = await this.#load(store, summary);
        const decision = decideRead(product, readerOf(actor.user), {
          at: this.#deps.now(),
          registry: this.#deps.registry,
        });
        if (decision.effect === 'deny' || decision.derived === null) continue;
        if (
          classificationRank !== undefined &&
          (nominalRank(this.#deps.registry, decision.derived.banner.classification) ?? 4) > classificationRank
        ) {
          continue;
        }
        const view = this.#render(summary, decision);
        if (input.text !== undefined && !this.#mentions(view, input.text)) continue;
        if (input.bbox !== undefined) {
          const box = bboxOf(view.geo);
          if (box === null || !intersects(box, input.bbox)) continue;
        }
        visible.push(view);
      }
      if (batch.length < SEARCH_BATCH) break;
    }
    const offset = input.offset ?? 0;
    const limit = input.limit ?? 50;
    return { items: visible.slice(offset, offset + limit), total: visible.length };
  }

  #mentions(view: ProductView, text: string): boolean {
    const needle = text.toLowerCase();
    return (
      view.title.toLowerCase().includes(needle) ||
      view.portions.some((p) => p.text.toLowerCase().includes(needle))
    );
  }
}
