import { AccordError } from '../errors/index.js';
import {
  type ArrangementPins,
  type ConsentKeyResolver,
  consentProblems,
  type EnvelopeHeader,
  parseConsentAnswerPayload,
  parseConsentRequestPayload,
  type SignedConsent,
  verifyConsent,
} from '../federation/index.js';
import type { Repositories, Store } from '../store/index.js';

// Issue 4: consent requests and answers travel by federation. The inbox opens and authenticates
// every envelope the same way (InboxService); these take the two consent kinds from there: the
// originator records a holder's request for its officers to decide, the holder records the
// originator's answer, keeping a granted consent in its signed form once it verifies under the
// originator's key pinned by the arrangement.

/** What the inbox stores for an accepted envelope: the receipt's product, and the writes beside its row. */
export interface AcceptedMessage {
  readonly product: { readonly id: string; readonly version: number; readonly digest: string };
  readonly persist: (tx: Repositories, receivedAt: string) => Promise<void>;
  /** The banner a release is stored under, for the audit log; consent messages carry none. */
  readonly banner?: string;
  /** Called once the inbox's transaction has committed (to wake the outbox for what persist queued). */
  readonly afterCommit?: () => void;
}

/** What the consent handlers read: this node, its store and clock, and the envelope arrangement's pins. */
export interface ConsentInboxContext {
  readonly store: Store;
  /** This node's partner code. */
  readonly self: string;
  readonly pins: ArrangementPins;
  /** Epoch milliseconds. */
  readonly now: number;
  /**
   * Told the product digest a refusal receipt may name, once the payload has been read far
   * enough to know it.
   */
  readonly note: (digest: string) => void;
}

/**
 * A holder's `consent-request`, at the originator: recorded as an incoming pending request for
 * this node's release officers. Refused as NOT_FOUND when it names a product version this node did
 * not originate, STORE_CONFLICT when its request id is taken.
 */
export async function acceptConsentRequest(
  ctx: ConsentInboxContext,
  header: EnvelopeHeader,
  payload: unknown,
): Promise<AcceptedMessage> {
  const request = parseConsentRequestPayload(payload, header);
  ctx.note(request.product.digest);
  const { store, self } = ctx;
  const record = await store.products.get(request.product.id);
  const version =
    record?.originator === self
      ? await store.products.getVersion(request.product.id, request.product.version)
      : undefined;
  if (version === undefined) {
    throw new AccordError(
      'NOT_FOUND',
      `${self} originated no product ${request.product.id} v${request.product.version}, so it has no consent to give for it`,
      { productId: request.product.id, version: request.product.version },
    );
  }
  if ((await store.consentRequests.get(request.requestId)) !== undefined) {
    throw new AccordError('STORE_CONFLICT', `consent request ${request.requestId} is recorded already`, {
      requestId: request.requestId,
    });
  }
  return {
    product: request.product,
    persist: async (tx) => {
      await tx.consentRequests.add({
        id: request.requestId,
        direction: 'incoming',
        envelopeId: header.envelopeId,
        productId: request.product.id,
        productVersion: request.product.version,
        productDigest: request.product.digest,
        originator: request.originator,
        holder: request.holder,
        recipient: request.recipient,
        arrangementId: request.arrangement.id,
        arrangementVersion: request.arrangement.version,
        arrangementHash: request.arrangement.versionHash,
        reason: request.reason,
        // The holder's officer is the holder's business: the request names none.
        requestedBy: null,
        requestedAt: request.requestedAt,
      });
    },
  };
}

/**
 * The originator's `consent-grant` envelope, at the holder: the answer to one of this node's
 * pending requests. A grant's consent must verify under the originator's key as the arrangement
 * pins it (CONSENT_INVALID, KEY_UNPINNED) and be the consent asked for (CONSENT_MISMATCH); it is
 * then kept in its signed form. A denial records its reason. NOT_FOUND when it answers no request
 * this node sent to the sender, CONSENT_REQUEST_DECIDED when that request is answered already.
 */
export async function acceptConsentAnswer(
  ctx: ConsentInboxContext,
  header: EnvelopeHeader,
  payload: unknown,
): Promise<AcceptedMessage> {
  const answer = parseConsentAnswerPayload(payload, header);
  const { store, self } = ctx;
  const request = await store.consentRequests.get(answer.requestId);
  if (
    request === undefined ||
    request.direction !== 'outgoing' ||
    request.originator !== header.from ||
    request.productId !== header.product.id ||
    request.productVersion !== header.product.version
  ) {
    throw new AccordError(
      'NOT_FOUND',
      `${self} sent ${header.from} no consent request ${answer.requestId} for ${header.product.id} v${header.product.version}`,
      { requestId: answer.requestId },
    );
  }
  ctx.note(request.productDigest);
  const asked = {
    id: request.arrangementId,
    version: request.arrangementVersion,
    versionHash: request.arrangementHash,
  };
  const named = header.arrangement;
  // The consent is verified with the keys this envelope's arrangement pins: it must be the one asked about.
  if (named.id !== asked.id || named.version !== asked.version || named.versionHash !== asked.versionHash) {
    throw new AccordError(
      'ARRANGEMENT_MISMATCH',
      `the answer travels under ${named.id} v${named.version}, but request ${request.id} asked about ${asked.id} v${asked.version}`,
      { requestId: request.id, arrangementId: named.id, version: named.version },
    );
  }
  if (request.status !== 'pending') {
    throw new AccordError(
      'CONSENT_REQUEST_DECIDED',
      `consent request ${request.id} was ${request.status} already`,
      {
        requestId: request.id,
        status: request.status,
      },
    );
  }
  const product = { id: request.productId, version: request.productVersion, digest: request.productDigest };

  if (answer.outcome === 'denied') {
    const reason = answer.reason ?? '';
    return {
      product,
      persist: async (tx) => {
        await tx.consentRequests.decide(request.id, {
          status: 'denied',
          decidedAt: answer.decidedAt,
          decidedBy: null,
          reason,
        });
      },
    };
  }

  // attacker-controlled until it verifies: the consent is the originator's word only under its pinned key.
  const resolveKey: ConsentKeyResolver = (originator, fingerprint) =>
    originator === request.originator ? ctx.pins.keyFor(originator, fingerprint) : undefined;
  const terms = verifyConsent(answer.consent, resolveKey);
  // Kept even when granted a moment ahead of this node's clock (clocks differ); whether it is in
  // force is judged again when it is used, by the onward release and by the new recipient.
  // verifyConsent checked grantedAt is a real instant.
  const granted = Date.parse(terms.grantedAt);
  const problems = consentProblems(terms, {
    product,
    originator: request.originator,
    holder: self,
    recipient: request.recipient,
    arrangement: asked,
    at: Math.max(ctx.now, granted),
  });
  const all =
    terms.requestId === request.id ? problems : [`it answers request ${terms.requestId}`, ...problems];
  if (all.length > 0) {
    throw new AccordError(
      'CONSENT_MISMATCH',
      `the consent ${header.from} sent is not the one ${self} asked for in request ${request.id}: ${all.join('; ')}`,
      { requestId: request.id, problems: all },
    );
  }
  const signed = answer.consent as SignedConsent;
  return {
    product,
    persist: async (tx) => {
      await tx.consents.addSigned(signed);
      await tx.consentRequests.decide(request.id, {
        status: 'granted',
        decidedAt: terms.grantedAt,
        decidedBy: null,
        consent: signed,
      });
    },
  };
}
