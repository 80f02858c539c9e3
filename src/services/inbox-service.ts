import type { EventBus } from '../bus/index.js';
import { digestOf, type NodeIdentity, type PublicIdentity } from '../crypto/index.js';
import { AccordError, ERROR_CODES, type ErrorCode, isAccordError } from '../errors/index.js';
import {
  type ArrangementPins,
  type DerivedDocument,
  type Envelope,
  type EnvelopeArrangement,
  type EnvelopeHeader,
  type KeyOnRecord,
  type KeyRetirement,
  keyRetirement,
  type OpenedEnvelope,
  openEnvelope,
  parseEnvelope,
  parseRecallPayload,
  parseReleasePayload,
  policyConsentOf,
  productDigest,
  productOfDerived,
  type RecallPayload,
  recallDigest,
  releaseConsentOf,
  requireConsent,
  type SignedReceipt,
  type Signer,
  signReceipt,
  verifyProductSignature,
} from '../federation/index.js';
import { COMMON_SCHEME, type MarkingRegistry, renderBanner } from '../markings/index.js';
import { type CompiledArrangement, compileArrangement, decideRelease, rankUnder } from '../policy/index.js';
import type { Consent, Product } from '../products/index.js';
import type { ArrangementVersion, InboxEntry, Store } from '../store/index.js';
import { envelopeReceivedEvent } from './audit-events.js';
import type { AuditRecorder } from './audit-log.js';
import { type AcceptedMessage, acceptConsentAnswer, acceptConsentRequest } from './consent-inbox.js';
import { PINS_REMEMBERED, PinsMemo, remember } from './pins-memo.js';

// DESIGN.md §3 federation: the inbox takes envelopes from peers, re-checks policy on arrival as
// the recipient, stores what passes with its provenance and answers with a signed receipt; §2.5:
// each envelope is stored exactly once, so the same envelope sent again gets the same answer.

/** The node's own keys, as the inbox needs them (the shape of app's NodeKeys). */
export interface InboxKeys {
  readonly identity: NodeIdentity;
  readonly public: PublicIdentity;
  /** The keys the node rotates to, while it rotates: envelopes sealed to them open too. */
  readonly next?: { readonly identity: NodeIdentity; readonly public: PublicIdentity };
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
  /** Takes `incident` envelopes (the breach protocol, IncidentService); without it they are refused. */
  readonly incidents?: {
    accept(
      header: EnvelopeHeader,
      payload: unknown,
      arrangement: ArrangementVersion,
    ): Promise<AcceptedMessage>;
  };
  /** The live stream's bus: told, after commit, of each received version and recall (issue 7). */
  readonly events?: EventBus;
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
  /** The whole stored document as JSON: what the memos of its pins and compiled form are keyed by. */
  readonly documentKey: string | undefined;
  /** Set when the header's sender key is one a later version of the arrangement, in force now, retired. */
  readonly retirement?: KeyRetirement;
}

/** What passed every check: the receipt's product, and the writes that store it beside its inbox row. */
type Accepted = AcceptedMessage;

// The release-approval rule judges the sender's own approval workflow, which the envelope does not
// carry and the recipient cannot see; every other rule is judged again here.
const SENDER_ONLY_RULES: ReadonlySet<string> = new Set(['release-approval']);
// ReceiptSchema: a reason is at most 2000 characters.
const MAX_RECEIPT_REASON = 2000;
const TOP_RANK = COMMON_SCHEME.levels.length - 1;

/**
 * The envelope parsed against its schema (a copy openEnvelope takes without checking the schema
 * again), or undefined when it is malformed: openEnvelope then names the fault itself.
 */
function parsedOrUndefined(body: unknown): Envelope | undefined {
  try {
    return parseEnvelope(body);
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

/** The refusal of an envelope signed with a retired key (issue 10 key compromise drill). */
function retiredKeyError(header: EnvelopeHeader, retirement: KeyRetirement): AccordError {
  return new AccordError(
    'KEY_RETIRED',
    `envelope ${header.envelopeId} from ${header.from} is signed with ${retirement.fingerprint}, which arrangement ${retirement.arrangementId} v${retirement.retiredBy} (signed by every party) retired at ${retirement.since}; only v${retirement.pinnedBy} and earlier pin it`,
    {
      envelopeId: header.envelopeId,
      from: header.from,
      fingerprint: retirement.fingerprint,
      arrangementId: retirement.arrangementId,
      retiredBy: retirement.retiredBy,
      since: retirement.since,
    },
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
  readonly #pins = new PinsMemo();
  readonly #compiled = new Map<string, CompiledArrangement>();

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
    const parsed = parsedOrUndefined(body);
    const header = parsed?.header;
    const digest = parsed === undefined ? '' : digestOf(parsed);
    // Both lookups at once: on PostgreSQL each is a round trip of its own (SQLite queues them).
    const [earlier, trust] =
      header === undefined
        ? [undefined, undefined]
        : await Promise.all([store.inbox.get(header.envelopeId), this.#trustFor(header, now)]);
    // The very envelope answered before (the sender's retry after a lost answer): the same answer,
    // whatever its age now. Identical bytes carry the signature that verified the first time; but
    // once the key that made it is retired, a replay of it is refused like anything else it signs.
    if (earlier !== undefined && earlier.envelopeDigest === digest) {
      const retirement = trust?.retirement;
      if (header !== undefined && retirement !== undefined) {
        throw await this.#refuseRetired(header, digest, remoteAddress, now, retirement, true);
      }
      return this.#again(earlier);
    }

    let authenticated = false;
    let opened: OpenedEnvelope;
    try {
      opened = openEnvelope(parsed ?? body, {
        self: this.#deps.partner,
        recipientPrivateKey: this.#deps.keys.identity.encryption.privateKey,
        ...(this.#deps.keys.next === undefined
          ? {}
          : { nextRecipientPrivateKey: this.#deps.keys.next.identity.encryption.privateKey }),
        resolveSenderKey: (from, fingerprint, arrangement) =>
          this.#senderKey(trust, from, fingerprint, arrangement),
        now,
        ...(this.#deps.maxSkewMs === undefined ? {} : { maxSkewMs: this.#deps.maxSkewMs }),
        // openEnvelope asks only once the envelope signature has verified (its documented order).
        // That signature covers the header and the sealed bytes, so from here on the whole
        // envelope is the sender's, and a refusal is recorded against its id.
        hasSeen: () => {
          authenticated = true;
          // The signature verified under a key an earlier version pinned and a later one, in
          // force now, retired: whoever holds that key may be an attacker now (issue 10).
          const retirement = trust?.retirement;
          if (header !== undefined && retirement !== undefined) throw retiredKeyError(header, retirement);
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
      if (authenticated && header !== undefined && trust?.retirement !== undefined) {
        throw await this.#refuseRetired(
          header,
          digest,
          remoteAddress,
          now,
          trust.retirement,
          earlier !== undefined,
        );
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

    // A recall answers with its own receipt (`recalled`, counting what it erased): its own path.
    if (opened.header.kind === 'recall') return this.#receiveRecall(opened, digest, remoteAddress, now);
    const accepted = await this.#check(opened.header, opened.payload, trust, digest, remoteAddress, now);
    return this.#store(opened.header, accepted, digest, remoteAddress, now);
  }

  /**
   * This node's copy of the envelope's arrangement version and the keys it pins, and whether the
   * sender key is one a later version of the arrangement, in force at `now`, retired.
   */
  async #trustFor(header: EnvelopeHeader, now: number): Promise<Trust> {
    const { store, partner: self } = this.#deps;
    const [arrangement, partners, history] = await Promise.all([
      store.arrangements.getVersion(header.arrangement.id, header.arrangement.version),
      store.partners.list(),
      store.arrangements.history(header.arrangement.id),
    ]);
    const { keys } = this.#deps;
    // While this node rotates, the version pinning its next key is signed with that key.
    const own: readonly KeyOnRecord[] = [
      { use: 'signing', ...keys.public.signing },
      ...(keys.next === undefined ? [] : [{ use: 'signing' as const, ...keys.next.public.signing }]),
    ];
    const keysOf = (code: string): readonly KeyOnRecord[] => {
      const recorded = partners.find((p) => p.code === code)?.keys ?? [];
      // This node's own keys come from its identity, whatever the directory says of it.
      return code === self ? own : recorded;
    };
    // One version only: nothing can have retired a key yet, so no signature is checked for it.
    const retirement =
      history.length < 2
        ? undefined
        : keyRetirement(
            history.map((v) => ({ document: v.document, pins: this.#pins.pinsOf(v.document, keysOf) })),
            header.from,
            header.senderKey,
            now,
          );
    const retired = retirement === undefined ? {} : { retirement };
    if (arrangement === undefined || arrangement.versionHash !== header.arrangement.versionHash) {
      return { arrangement, pins: undefined, documentKey: undefined, ...retired };
    }
    const documentKey = JSON.stringify(arrangement.document);
    return {
      arrangement,
      pins: this.#pins.pinsOf(arrangement.document, keysOf, documentKey),
      documentKey,
      ...retired,
    };
  }

  /**
   * compileArrangement, remembered: it digests the document's terms again (the version hash) and
   * builds its sets, the same for every envelope under one arrangement. Keyed by the whole stored
   * document, mutable state included (status, suspensions, signatures): a suspension or a new
   * signature is a new entry. The registry is this service's, fixed.
   */
  #compiledOf(arrangement: ArrangementVersion, documentKey: string | undefined): CompiledArrangement {
    const { registry } = this.#deps;
    if (documentKey === undefined) return compileArrangement(arrangement.document, registry);
    return remember(this.#compiled, documentKey, PINS_REMEMBERED, () =>
      compileArrangement(arrangement.document, registry),
    );
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
    // A retired key's signature must verify before its refusal is recorded: the key the earlier
    // version pinned checks it, whichever version the envelope names (hasSeen then refuses it).
    if (trust.retirement !== undefined) return trust.retirement.key;
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
   * Everything after decryption, by the envelope's kind: a release (#acceptRelease), or a consent
   * request or answer (consent-inbox.ts). A refusal here is recorded (the header verified) and
   * thrown, with a signed refusal receipt once the payload named the product digest.
   */
  async #check(
    header: EnvelopeHeader,
    payload: unknown,
    trust: Trust | undefined,
    digest: string,
    remoteAddress: string,
    now: number,
  ): Promise<Accepted> {
    let refusedDigest: string | undefined;
    const note = (known: string | undefined): void => {
      refusedDigest = known;
    };
    try {
      const arrangement = trust?.arrangement;
      const pins = trust?.pins;
      // openEnvelope resolved the sender's key through both, so neither can be missing here.
      if (arrangement === undefined || pins === undefined) {
        throw new AccordError('KEY_UNPINNED', `envelope ${header.envelopeId}: no arrangement pins its keys`, {
          envelopeId: header.envelopeId,
        });
      }
      const consentContext = { store: this.#deps.store, self: this.#deps.partner, pins, now, note };
      switch (header.kind) {
        case 'release':
          return await this.#acceptRelease(header, payload, arrangement, trust?.documentKey, pins, now, note);
        case 'consent-request':
          return await acceptConsentRequest(consentContext, header, payload);
        case 'consent-grant':
          return await acceptConsentAnswer(consentContext, header, payload);
        case 'incident': {
          const incidents = this.#deps.incidents;
          if (incidents === undefined) {
            throw new AccordError(
              'ENVELOPE_KIND_UNSUPPORTED',
              `envelope ${header.envelopeId}: this node takes no incident notices`,
              { envelopeId: header.envelopeId, kind: header.kind },
            );
          }
          return await incidents.accept(header, payload, arrangement);
        }
        case 'recall':
          // receive() hands recalls to #receiveRecall before it gets here.
          throw new AccordError(
            'ENVELOPE_KIND_UNSUPPORTED',
            `envelope ${header.envelopeId}: a recall is not accepted through the release path`,
            { envelopeId: header.envelopeId, kind: header.kind },
          );
      }
    } catch (error) {
      if (!isAccordError(error)) throw error;
      throw await this.#refuse(header, digest, remoteAddress, now, error, refusedDigest);
    }
  }

  /**
   * A release: the derived document, the originator's signature on it, the originator's consent
   * when another partner passes it on, and the release policy run again as the recipient.
   */
  async #acceptRelease(
    header: EnvelopeHeader,
    payload: unknown,
    arrangement: ArrangementVersion,
    documentKey: string | undefined,
    pins: ArrangementPins,
    now: number,
    note: (digest: string | undefined) => void,
  ): Promise<Accepted> {
    const document = parseReleasePayload(payload, header);
    const originator = document.originator;
    // DESIGN.md §2.4: what a node stores verifies against its originator's key, pinned by the
    // arrangement (the sender's own key when it originated the product, as a release does).
    let signed: string;
    try {
      signed = verifyProductSignature(document, (fingerprint) => pins.keyFor(originator, fingerprint));
    } catch (error) {
      note(digestIfCanonical(document));
      throw error;
    }
    // The productDigest the signature covers: what a refusal from here on names, digested once.
    note(signed);
    await this.#refuseRecalled(header, document);
    const consents = this.#onwardConsents(header, document, payload, pins, signed, now);
    const compiled = this.#compiledOf(arrangement, documentKey);
    const { banner, rank } = this.#recheck(header, document, arrangement, compiled, consents, now);
    return {
      product: { id: document.id, version: document.version, digest: signed },
      banner,
      persist: async (tx, receivedAt) => {
        await tx.receivedProducts.add({
          envelopeId: header.envelopeId,
          productId: document.id,
          productVersion: document.version,
          originator: document.originator,
          sender: header.from,
          arrangementId: header.arrangement.id,
          arrangementVersion: header.arrangement.version,
          document,
          banner,
          rank,
          receivedAt,
        });
      },
    };
  }

  /**
   * DESIGN.md §2 invariant 2: a partner passing on a product another partner originated must carry
   * that originator's signed consent for exactly this: this document, from this sender, to this
   * node, under this arrangement, in force now. It counts only once it verifies under the
   * originator's key as the arrangement pins it; one that does not is refused naming the
   * third-party rule. Consents stored here are not used: they are this node's to pass things on.
   */
  #onwardConsents(
    header: EnvelopeHeader,
    document: DerivedDocument,
    payload: unknown,
    pins: ArrangementPins,
    digest: string,
    now: number,
  ): readonly Consent[] {
    const self = this.#deps.partner;
    const carried = releaseConsentOf(payload);
    if (header.from === document.originator || carried === undefined) return [];
    try {
      const terms = requireConsent(
        carried,
        {
          product: { id: document.id, version: document.version, digest },
          originator: document.originator,
          holder: header.from,
          recipient: self,
          arrangement: header.arrangement,
          at: now,
        },
        (originator, fingerprint) =>
          originator === document.originator ? pins.keyFor(originator, fingerprint) : undefined,
      );
      return [policyConsentOf(terms)];
    } catch (error) {
      if (!isAccordError(error)) throw error;
      throw new AccordError(
        'FEDERATION_REFUSED',
        `${self} refuses ${document.id} v${document.version} from ${header.from} under ${header.arrangement.id} v${header.arrangement.version}: third-party-rule (the consent it carries does not authorise it: ${error.code}: ${error.message})`,
        { envelopeId: header.envelopeId, deniedBy: ['third-party-rule'], consentCode: error.code },
        { cause: error },
      );
    }
  }

  /** decideRelease again, as the recipient; anything it denies or tears out is refused. */
  #recheck(
    header: EnvelopeHeader,
    document: DerivedDocument,
    arrangement: ArrangementVersion,
    compiled: CompiledArrangement,
    consents: readonly Consent[],
    now: number,
  ): { banner: string; rank: number } {
    const { registry, partner: self } = this.#deps;
    const product: Product = productOfDerived(document, registry);
    const decision = decideRelease(product, compiled, self, {
      at: now,
      sender: header.from,
      consents,
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

  /** Stores what was accepted and its inbox row in one transaction, and answers with the signed receipt. */
  async #store(
    header: EnvelopeHeader,
    accepted: Accepted,
    digest: string,
    remoteAddress: string,
    now: number,
  ): Promise<InboxAnswer> {
    const receivedAt = new Date(now).toISOString();
    const receipt = signReceipt(
      {
        envelopeId: header.envelopeId,
        from: this.#deps.partner,
        to: header.from,
        product: accepted.product,
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
        await accepted.persist(tx, receivedAt);
        await this.#deps.audit?.recordIn(
          tx,
          envelopeReceivedEvent(
            this.#entryOf(header, digest, remoteAddress, receivedAt),
            accepted.banner === undefined ? {} : { banner: accepted.banner },
          ),
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
    accepted.afterCommit?.();
    // Issue 7: a received product reaches the node's subscribed analysts the moment it is stored.
    if (header.kind === 'release') {
      await this.#deps.events?.publish({
        kind: 'product.received',
        product: { id: accepted.product.id, version: accepted.product.version, source: 'received' },
      });
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
   * code and reason, with this node's signed refusal receipt when the payload could be read as
   * far as the product digest (`refusedDigest`).
   */
  async #refuse(
    header: EnvelopeHeader,
    digest: string,
    remoteAddress: string,
    now: number,
    error: AccordError,
    refusedDigest: string | undefined,
  ): Promise<AccordError> {
    const receivedAt = new Date(now).toISOString();
    let receipt: SignedReceipt | null = null;
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

  /**
   * Refuses an envelope signed with a retired key, its signature verified: recorded in the inbox
   * and the audit log as #refuse does, or, when the inbox holds a row for its id already (a replay
   * of an envelope taken before the rotation), in the audit log alone, beside the row that stands.
   */
  async #refuseRetired(
    header: EnvelopeHeader,
    digest: string,
    remoteAddress: string,
    now: number,
    retirement: KeyRetirement,
    recorded: boolean,
  ): Promise<AccordError> {
    const error = retiredKeyError(header, retirement);
    if (!recorded) return this.#refuse(header, digest, remoteAddress, now, error, undefined);
    const entry = this.#entryOf(header, digest, remoteAddress, new Date(now).toISOString());
    await this.#deps.audit?.record(envelopeReceivedEvent(entry, { refused: error.code }));
    return error;
  }

  // ---------------------------------------------------------------- recall (issue 4)

  /**
   * Refuses a release of a version its originator has recalled here: the recall may arrive first
   * (the originator's outbox delivers rows independently, a release retrying with backoff after
   * the recall), or a holder may pass on what its originator recalled.
   */
  async #refuseRecalled(header: EnvelopeHeader, document: DerivedDocument): Promise<void> {
    const recall = await this.#deps.store.receivedRecalls.covering(
      document.originator,
      document.id,
      document.version,
    );
    if (recall === undefined) return;
    throw new AccordError(
      'FEDERATION_REFUSED',
      `${this.#deps.partner} refuses ${document.id} v${document.version} from ${header.from}: ${document.originator} recalled it at ${recall.recalledAt} (recall ${recall.recallId}: ${recall.reason})`,
      { envelopeId: header.envelopeId, deniedBy: ['product.recalled'] },
    );
  }

  /**
   * A recall from an originator. The envelope signature verified under the key the arrangement
   * pins for the sender, so the sender is who it says; the recall must name the sender as the
   * originator (parseRecallPayload), and a product this node holds only as originated by another
   * partner is refused (a node may recall only what it originated), writing nothing. Otherwise,
   * in one transaction: the recall is recorded, the content of every version it names that this
   * node holds from that originator is erased (the tombstone keeps the metadata), and the inbox
   * row keeps the signed `recalled` receipt, which counts what was erased. A recall naming a
   * product never received here is acknowledged all the same, erasing nothing: the originator
   * asks that this node hold none of it, which is true and signed; its allowed release may have
   * been refused here or still be on its way, and the recall kept here refuses it on arrival.
   */
  async #receiveRecall(
    opened: OpenedEnvelope,
    digest: string,
    remoteAddress: string,
    now: number,
  ): Promise<InboxAnswer> {
    const { header } = opened;
    const { store, partner: self } = this.#deps;
    let recall: RecallPayload | undefined;
    try {
      recall = parseRecallPayload(opened.payload, header);
      const { id } = recall.product;
      const version = recall.product.version === 'all' ? null : recall.product.version;
      const originators = await store.receivedProducts.originatorsOf(id, version);
      if (originators.length > 0 && !originators.includes(header.from)) {
        throw new AccordError(
          'FEDERATION_REFUSED',
          `${self} refuses the recall of ${id} from ${header.from}: a node may recall only what it originated, and ${self} holds ${id} as originated by ${originators.join(', ')}`,
          { envelopeId: header.envelopeId, deniedBy: ['recall.originator'] },
        );
      }
    } catch (error) {
      if (!isAccordError(error)) throw error;
      const subject = recall === undefined ? undefined : recallDigest(recall);
      throw await this.#refuse(header, digest, remoteAddress, now, error, subject);
    }
    const accepted = recall;
    const receivedAt = new Date(now).toISOString();
    let erasedVersions: readonly number[] = [];
    try {
      const answer = await store.transaction(async (tx) => {
        await tx.receivedRecalls.add({
          envelopeId: header.envelopeId,
          recallId: accepted.recallId,
          originator: header.from,
          productId: accepted.product.id,
          productVersion: accepted.product.version === 'all' ? null : accepted.product.version,
          reason: accepted.reason,
          recalledAt: accepted.recalledAt,
          receivedAt,
        });
        const erased = await tx.receivedProducts.recall({
          productId: accepted.product.id,
          version: accepted.product.version === 'all' ? null : accepted.product.version,
          originator: header.from,
          recallEnvelopeId: header.envelopeId,
          recalledAt: receivedAt,
        });
        const receipt = signReceipt(
          {
            envelopeId: header.envelopeId,
            from: self,
            to: header.from,
            product: {
              id: header.product.id,
              version: header.product.version,
              digest: recallDigest(accepted),
            },
            receivedAt,
            outcome: 'recalled',
            erased: erased.length,
          },
          this.#signer,
        );
        const entry = this.#entryOf(header, digest, remoteAddress, receivedAt);
        await tx.inbox.record({ ...entry, outcome: 'stored', code: null, reason: null, receipt });
        await this.#deps.audit?.recordIn(tx, envelopeReceivedEvent(entry, {}));
        erasedVersions = erased.map((e) => e.productVersion);
        return { outcome: 'stored' as const, receipt };
      });
      for (const version of erasedVersions) {
        await this.#deps.events?.publish({
          kind: 'product.recalled',
          product: { id: accepted.product.id, version, source: 'received' },
        });
      }
      return answer;
    } catch (error) {
      if (!isAccordError(error) || error.code !== 'STORE_CONFLICT') throw error;
      // Another delivery of this id was recorded first; its transaction erased what there was.
      const winner = await store.inbox.get(header.envelopeId);
      if (winner !== undefined && (winner.envelopeDigest === digest || isRetryOf(winner, header))) {
        return this.#again(winner);
      }
      throw replayed(header.envelopeId);
    }
  }
}
