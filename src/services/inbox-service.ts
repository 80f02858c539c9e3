import { digestOf, type NodeIdentity, type PublicIdentity } from '../crypto/index.js';
import { AccordError, ERROR_CODES, type ErrorCode, isAccordError } from '../errors/index.js';
import {
  type ArrangementPins,
  arrangementPins,
  type DerivedDocument,
  type Envelope,
  type EnvelopeArrangement,
  type EnvelopeHeader,
  EnvelopeSchema,
  type KeyOnRecord,
  type OpenedEnvelope,
  openEnvelope,
  parseReleasePayload,
  productDigest,
  type SignedReceipt,
  type Signer,
  signReceipt,
  verifyProductSignature,
} from '../federation/index.js';
import { COMMON_SCHEME, type MarkingRegistry, renderBanner } from '../markings/index.js';
import { type CompiledArrangement, compileArrangement, decideRelease, rankUnder } from '../policy/index.js';
import { type Product, parseProduct } from '../products/index.js';
import type { ArrangementVersion, InboxEntry, Store } from '../store/index.js';
import { createValidator } from '../validation/index.js';
import { envelopeReceivedEvent } from './audit-events.js';
import type { AuditRecorder } from './audit-log.js';

// DESIGN.md §3 federation: the inbox takes envelopes from peers, re-checks policy on arrival as
// the recipient, stores what passes with its provenance and answers with a signed receipt; §2.5:
// each envelope is stored exactly once, so the same envelope sent again gets the same answer.

/** The node's own keys, as the inbox needs them (the shape of app's NodeKeys). */
export interface InboxKeys {
  readonly identity: NodeIdentity;
  readonly public: PublicIdentity;
}

export interface InboxServiceDeps {
  readonly store: Store;
  /** The partner this node belongs to: envelopes to anyone else are refused. */
  readonly partner: string;
  readonly registry: MarkingRegistry;
  readonly keys: InboxKeys;
  /** The clock, epoch milliseconds. */
  readonly now: () => number;
  /** Allowed clock skew of an envelope's createdAt; openEnvelope's default when absent. */
  readonly maxSkewMs?: number;
  /** The audit log: each authenticated envelope stored or refused is logged with its inbox row. */
  readonly audit?: AuditRecorder;
}

/** How the inbox answered an envelope it stored: the first time, or again for a retry of it. */
export interface InboxAnswer {
  readonly outcome: 'stored' | 'duplicate';
  /** This node's signed receipt, the same on every retry. */
  readonly receipt: SignedReceipt;
}

/** What the envelope's arrangement means here: this node's copy of it, and the keys it pins. */
interface Trust {
  readonly arrangement: ArrangementVersion | undefined;
  readonly pins: ArrangementPins | undefined;
}

/** What passed every check and is to be stored. */
interface Accepted {
  readonly document: DerivedDocument;
  readonly digest: string;
  readonly banner: string;
  readonly rank: number;
}

// The release-approval rule judges the sender's own approval workflow, which the envelope does not
// carry and the recipient cannot see; every other rule is judged again here.
const SENDER_ONLY_RULES: ReadonlySet<string> = new Set(['release-approval']);
// ReceiptSchema: a reason is at most 2000 characters.
const MAX_RECEIPT_REASON = 2000;
const TOP_RANK = COMMON_SCHEME.levels.length - 1;

const validateEnvelope = createValidator<Envelope>(EnvelopeSchema, 'ENVELOPE_MALFORMED', 'envelope');

/** The header of a well-formed envelope, or undefined: openEnvelope then names the fault itself. */
function peekHeader(body: unknown): EnvelopeHeader | undefined {
  try {
    return validateEnvelope(body).header;
  } catch (error) {
    if (isAccordError(error)) return undefined;
    throw error;
  }
}

/** A reason that fits a receipt: well-formed UTF-16 (canonical JSON refuses lone surrogates), capped. */
function receiptReason(reason: string): string {
  const wellFormed = reason.replace(
    /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g,
    '\uFFFD',
  );
  const chars = Array.from(wellFormed);
  return chars.length <= MAX_RECEIPT_REASON
    ? wellFormed
    : `${chars.slice(0, MAX_RECEIPT_REASON - 1).join('')}…`;
}

/** productDigest of a received document, or undefined when it has no canonical form to digest. */
function digestIfCanonical(document: DerivedDocument): string | undefined {
  try {
    return productDigest(document);
  } catch (error) {
    if (isAccordError(error) && error.code === 'CANONICAL_JSON_UNSUPPORTED') return undefined;
    throw error;
  }
}

function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}

/**
 * Whether an authenticated envelope is the sender's retry of one stored before: the same id, from
 * the same sender, of the same kind, for the same product version. Its bytes may differ: the
 * sender seals a message again, under the same id, when it has waited longer than the skew window.
 */
function isRetryOf(entry: InboxEntry, header: EnvelopeHeader): boolean {
  return (
    entry.outcome === 'stored' &&
    entry.envelopeId === header.envelopeId &&
    entry.sender === header.from &&
    entry.kind === header.kind &&
    entry.productId === header.product.id &&
    entry.productVersion === header.product.version
  );
}

function replayed(envelopeId: string): AccordError {
  return new AccordError('ENVELOPE_REPLAYED', `envelope ${envelopeId} has been received before`, {
    envelopeId,
  });
}

/**
 * The federation inbox (POST /federation/v1/inbox). Refusals are thrown as AccordErrors naming
 * their reason; those of envelopes whose signature verified are also recorded in the
 * inbox, with a signed refusal receipt once the product could be read. Unauthenticated envelopes
 * leave no row, so a stranger cannot fill the table.
 */
export class InboxService {
  readonly #deps: InboxServiceDeps;
  readonly #signer: Signer;

  constructor(deps: InboxServiceDeps) {
    this.#deps = deps;
    this.#signer = {
      privateKey: deps.keys.identity.signing.privateKey,
      fingerprint: deps.keys.public.signing.fingerprint,
    };
  }

  /**
   * Takes one envelope (the request body, attacker-controlled) from `remoteAddress`. Resolves with
   * the signed receipt when the product is stored, now or by an earlier delivery of the same
   * envelope (byte for byte, or re-sealed by its sender under the same id for the same product
   * version); throws the refusal otherwise, and stores nothing.
   */
  async receive(body: unknown, remoteAddress: string): Promise<InboxAnswer> {
    const { store } = this.#deps;
    const now = this.#deps.now();
    const header = peekHeader(body);
    const digest = header === undefined ? '' : digestOf(body);
    const earlier = header === undefined ? undefined : await store.inbox.get(header.envelopeId);
    // The very envelope answered before (the sender's retry after a lost answer): the same answer,
    // whatever its age now. Identical bytes carry the signature that verified the first time.
    if (earlier !== undefined && earlier.envelopeDigest === digest) return this.#again(earlier);
    const trust = header === undefined ? undefined : await this.#trustFor(header);

    let authenticated = false;
    let opened: OpenedEnvelope;
    try {
      opened = openEnvelope(body, {
        self: this.#deps.partner,
        recipientPrivateKey: this.#deps.keys.identity.encryption.privateKey,
        resolveSenderKey: (from, fingerprint, arrangement) =>
          this.#senderKey(trust, from, fingerprint, arrangement),
        now,
        ...(this.#deps.maxSkewMs === undefined ? {} : { maxSkewMs: this.#deps.maxSkewMs }),
        // openEnvelope asks only once the envelope signature has verified (its documented order).
        // That signature covers the header and the sealed bytes, so from here on the whole
        // envelope is the sender's, and a refusal is recorded against its id.
        hasSeen: () => {
          authenticated = true;
          return earlier !== undefined;
        },
      });
    } catch (error) {
      // DESIGN.md §2.5: a stored envelope sent again, re-sealed, by the sender whose signature on
      // this header verified, is answered with the stored receipt; another envelope reusing the
      // id (another product, another sender) stays ENVELOPE_REPLAYED.
      if (
        authenticated &&
        header !== undefined &&
        earlier !== undefined &&
        isAccordError(error) &&
        error.code === 'ENVELOPE_REPLAYED' &&
        isRetryOf(earlier, header)
      ) {
        return this.#again(earlier);
      }
      if (
        authenticated &&
        header !== undefined &&
        isAccordError(error) &&
        error.code !== 'ENVELOPE_REPLAYED'
      ) {
        throw await this.#refuse(header, digest, remoteAddress, now, error, undefined);
      }
      throw error;
    }

    const accepted = await this.#check(opened.header, opened.payload, trust, digest, remoteAddress, now);
    return this.#store(opened.header, accepted, digest, remoteAddress, now);
  }

  /** This node's copy of the envelope's arrangement version and the keys it pins. */
  async #trustFor(header: EnvelopeHeader): Promise<Trust> {
    const { store, partner: self } = this.#deps;
    const arrangement = await store.arrangements.getVersion(
      header.arrangement.id,
      header.arrangement.version,
    );
    if (arrangement === undefined || arrangement.versionHash !== header.arrangement.versionHash) {
      return { arrangement, pins: undefined };
    }
    const partners = await store.partners.list();
    const own: KeyOnRecord = { use: 'signing', ...this.#deps.keys.public.signing };
    const keysOf = (code: string): readonly KeyOnRecord[] => {
      const recorded = partners.find((p) => p.code === code)?.keys ?? [];
      // This node's own key comes from its identity, whatever the directory says of it.
      return code === self ? [own] : recorded;
    };
    return { arrangement, pins: arrangementPins(arrangement.document, keysOf) };
  }

  /** openEnvelope's SenderKeyResolver over what #trustFor loaded for this very header. */
  #senderKey(
    trust: Trust | undefined,
    from: string,
    fingerprint: string,
    named: EnvelopeArrangement,
  ): Uint8Array | undefined {
    if (trust === undefined) return undefined;
    const local = trust.arrangement;
    if (local === undefined || local.versionHash !== named.versionHash) {
      throw new AccordError(
        'ARRANGEMENT_MISMATCH',
        local === undefined
          ? `the envelope travels under arrangement ${named.id} v${named.version}, which ${this.#deps.partner} does not hold`
          : `the envelope travels under arrangement ${named.id} v${named.version} with hash ${named.versionHash}, but ${this.#deps.partner} holds it with hash ${local.versionHash}`,
        { arrangementId: named.id, version: named.version },
      );
    }
    const pins = trust.pins;
    if (pins === undefined || local.id !== named.id || local.version !== named.version) return undefined;
    if (pins.unverified.length > 0) {
      throw new AccordError(
        'KEY_UNPINNED',
        `arrangement ${named.id} v${named.version} pins no key until every party's signature verifies: ${pins.unverified
          .map((u) => `${u.partner} ${u.reason}`)
          .join('; ')}`,
        { arrangementId: named.id, from, fingerprint, unverified: pins.unverified.map((u) => u.partner) },
      );
    }
    return pins.keyFor(from, fingerprint);
  }

  /**
   * Everything after decryption: the payload, the originator's signature, and the release policy
   * run again as the recipient. A refusal here is recorded (the header verified) and thrown.
   */
  async #check(
    header: EnvelopeHeader,
    payload: unknown,
    trust: Trust | undefined,
    digest: string,
    remoteAddress: string,
    now: number,
  ): Promise<Accepted> {
    let document: DerivedDocument | undefined;
    try {
      if (header.kind !== 'release') {
        throw new AccordError(
          'ENVELOPE_KIND_UNSUPPORTED',
          `envelope ${header.envelopeId} is a ${header.kind}; this inbox takes releases only`,
          { envelopeId: header.envelopeId, kind: header.kind },
        );
      }
      const arrangement = trust?.arrangement;
      const pins = trust?.pins;
      // openEnvelope resolved the sender's key through both, so neither can be missing here.
      if (arrangement === undefined || pins === undefined) {
        throw new AccordError('KEY_UNPINNED', `envelope ${header.envelopeId}: no arrangement pins its keys`, {
          envelopeId: header.envelopeId,
        });
      }
      document = parseReleasePayload(payload, header);
      const originator = document.originator;
      // DESIGN.md §2.4: what a node stores verifies against its originator's key, pinned by the
      // arrangement (the sender's own key when it originated the product, as a release does).
      const signed = verifyProductSignature(document, (fingerprint) => pins.keyFor(originator, fingerprint));
      const consents = await this.#deps.store.consents.list({
        productId: document.id,
        recipient: this.#deps.partner,
      });
      return { ...this.#recheck(header, document, arrangement, consents, now), document, digest: signed };
    } catch (error) {
      if (!isAccordError(error)) throw error;
      throw await this.#refuse(header, digest, remoteAddress, now, error, document);
    }
  }

  /** decideRelease again, as the recipient; anything it denies or tears out is refused. */
  #recheck(
    header: EnvelopeHeader,
    document: DerivedDocument,
    arrangement: ArrangementVersion,
    consents: readonly {
      readonly productId: string;
      readonly originator: string;
      readonly recipient: string;
      readonly grantedAt: string;
      readonly expiresAt: string | null;
    }[],
    now: number,
  ): { banner: string; rank: number } {
    const { registry, partner: self } = this.#deps;
    const product: Product = parseProduct(
      {
        id: document.id,
        version: document.version,
        originator: document.originator,
        // The derived document does not name its author; approvals, the only use, are the sender's.
        author: document.originator,
        title: document.title,
        titleMarking: document.titleMarking,
        discipline: document.discipline,
        categories: document.categories,
        portions: document.portions,
        reliability: document.reliability,
        credibility: document.credibility,
        createdAt: document.createdAt,
        ...(document.geo === undefined ? {} : { geo: document.geo }),
      },
      registry,
    );
    const compiled: CompiledArrangement = compileArrangement(arrangement.document, registry);
    const decision = decideRelease(product, compiled, self, {
      at: now,
      sender: header.from,
      consents: consents.map((c) => ({
        originator: c.originator,
        recipient: c.recipient,
        productId: c.productId,
        grantedAt: c.grantedAt,
        ...(c.expiresAt === null ? {} : { expiresAt: c.expiresAt }),
      })),
    });
    const rules = decision.rules.filter((r) => !SENDER_ONLY_RULES.has(r.rule));
    // A withheld portion or title is one the sender should have torn out: refused as a whole.
    const refusing = rules.filter((r) => r.outcome !== 'pass');
    if (refusing.length > 0) {
      throw new AccordError(
        'FEDERATION_REFUSED',
        `${self} refuses ${document.id} v${document.version} from ${header.from} under ${arrangement.id} v${arrangement.version}: ${refusing
          .map((r) => `${r.rule} (${r.reason})`)
          .join('; ')}`,
        { envelopeId: header.envelopeId, deniedBy: refusing.map((r) => r.rule), rules },
      );
    }
    return {
      banner: renderBanner(product.banner, { originator: product.originator, registry }),
      rank: rankUnder(compiled, product.originator, product.banner.classification, registry) ?? TOP_RANK,
    };
  }

  /** Stores the product and its inbox row in one transaction, and answers with the signed receipt. */
  async #store(
    header: EnvelopeHeader,
    accepted: Accepted,
    digest: string,
    remoteAddress: string,
    now: number,
  ): Promise<InboxAnswer> {
    const receivedAt = new Date(now).toISOString();
    const { document } = accepted;
    const receipt = signReceipt(
      {
        envelopeId: header.envelopeId,
        from: this.#deps.partner,
        to: header.from,
        product: { id: document.id, version: document.version, digest: accepted.digest },
        receivedAt,
        outcome: 'stored',
      },
      this.#signer,
    );
    try {
      await this.#deps.store.transaction(async (tx) => {
        await tx.inbox.record({
          ...this.#entryOf(header, digest, remoteAddress, receivedAt),
          outcome: 'stored',
          code: null,
          reason: null,
          receipt,
        });
        await tx.receivedProducts.add({
          envelopeId: header.envelopeId,
          productId: document.id,
          productVersion: document.version,
          originator: document.originator,
          sender: header.from,
          arrangementId: header.arrangement.id,
          arrangementVersion: header.arrangement.version,
          document,
          banner: accepted.banner,
          rank: accepted.rank,
          receivedAt,
        });
        await this.#deps.audit?.recordIn(
          tx,
          envelopeReceivedEvent(this.#entryOf(header, digest, remoteAddress, receivedAt), {
            banner: accepted.banner,
          }),
        );
      });
    } catch (error) {
      if (!isAccordError(error) || error.code !== 'STORE_CONFLICT') throw error;
      // Another delivery of this id was recorded between the first read and this write.
      const winner = await this.#deps.store.inbox.get(header.envelopeId);
      if (winner !== undefined && (winner.envelopeDigest === digest || isRetryOf(winner, header))) {
        return this.#again(winner);
      }
      throw replayed(header.envelopeId);
    }
    return { outcome: 'stored', receipt };
  }

  /** The recorded answer for an envelope seen before, given again. */
  #again(entry: InboxEntry): InboxAnswer {
    if (entry.outcome === 'stored' && entry.receipt !== null) {
      return { outcome: 'duplicate', receipt: entry.receipt };
    }
    const code = entry.code !== null && isErrorCode(entry.code) ? entry.code : 'FEDERATION_REFUSED';
    throw new AccordError(code, entry.reason ?? `envelope ${entry.envelopeId} was refused`, {
      envelopeId: entry.envelopeId,
      ...(entry.receipt === null ? {} : { receipt: entry.receipt }),
    });
  }

  #entryOf(header: EnvelopeHeader, digest: string, remoteAddress: string, receivedAt: string) {
    return {
      envelopeId: header.envelopeId,
      sender: header.from,
      kind: header.kind,
      arrangementId: header.arrangement.id,
      arrangementVersion: header.arrangement.version,
      productId: header.product.id,
      productVersion: header.product.version,
      envelopeDigest: digest,
      remoteAddress,
      receivedAt,
    };
  }

  /**
   * Records the refusal of an authenticated envelope and returns the error to throw: the same
   * code and reason, with this node's signed refusal receipt when the document could be read.
   */
  async #refuse(
    header: EnvelopeHeader,
    digest: string,
    remoteAddress: string,
    now: number,
    error: AccordError,
    document: DerivedDocument | undefined,
  ): Promise<AccordError> {
    const receivedAt = new Date(now).toISOString();
    let receipt: SignedReceipt | null = null;
    const refusedDigest = document === undefined ? undefined : digestIfCanonical(document);
    if (refusedDigest !== undefined) {
      receipt = signReceipt(
        {
          envelopeId: header.envelopeId,
          from: this.#deps.partner,
          to: header.from,
          product: {
            id: header.product.id,
            version: header.product.version,
            digest: refusedDigest,
          },
          receivedAt,
          outcome: 'refused',
          reason: receiptReason(`${error.code}: ${error.message}`),
        },
        this.#signer,
      );
    }
    try {
      await this.#deps.store.transaction(async (tx) => {
        const entry = this.#entryOf(header, digest, remoteAddress, receivedAt);
        await tx.inbox.record({
          ...entry,
          outcome: 'refused',
          code: error.code,
          reason: error.message,
          receipt,
        });
        await this.#deps.audit?.recordIn(tx, envelopeReceivedEvent(entry, { refused: error.code }));
      });
    } catch (recordError) {
      // A concurrent delivery of the same id recorded first; its row stands, this refusal still answers.
      if (!isAccordError(recordError) || recordError.code !== 'STORE_CONFLICT') throw recordError;
    }
    return new AccordError(
      error.code,
      error.message,
      { ...error.details, envelopeId: header.envelopeId, ...(receipt === null ? {} : { receipt }) },
      { cause: error },
    );
  }
}
