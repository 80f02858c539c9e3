import type { ArrangementDocument, ArrangementStatus } from '../arrangements/index.js';
import type {
  INCIDENT_SEVERITIES,
  INCIDENT_STATES,
  INCIDENT_STEP_ACTIONS,
} from '../federation/incident-notice.js';
import type { DerivedDocument, RecalledDocument, SignedConsent, SignedReceipt } from '../federation/index.js';
import type { Discipline, ProductDocument } from '../products/index.js';

/** The SQL engines a store can run on. */
export type StoreDialect = 'sqlite' | 'postgres';

/** Every table the store owns, in dependency order (a table only refers to tables before it). */
export const STORE_TABLES = [
  'partners',
  'communities',
  'community_members',
  'arrangements',
  'users',
  'api_tokens',
  'sessions',
  'login_attempts',
  'products',
  'product_versions',
  'portions',
  'approvals',
  'attachments',
  'product_attachments',
  'releases',
  'consents',
  'recalls',
  'inbox',
  'received_recalls',
  'received_products',
  'consent_requests',
  'onward_releases',
  'outbox',
  'audit_queue',
  'audit_entries',
  'audit_nodes',
  'audit_tree_heads',
  'audit_peer_heads',
  'incidents',
  'incident_steps',
  'stix_objects',
  'stix_product_markings',
  'stream_events',
  'entity_occurrences',
  'alert_rules',
  'alerts',
  'search_text',
] as const;
export type StoreTable = (typeof STORE_TABLES)[number];

/** Row count of every table. */
export type TableCounts = Readonly<Record<StoreTable, number>>;

/** ISO 8601 instant in UTC as written by `Date#toISOString()` (`2025-01-02T03:04:05.678Z`). */
export type IsoInstant = string;

// ---------------------------------------------------------------- partners, communities

export interface PartnerKey {
  readonly use: 'signing' | 'encryption';
  /** `sha256:<hex>` of the raw public key, as pinned in arrangements. */
  readonly fingerprint: string;
  readonly publicKey: string;
}

export interface PartnerInput {
  /** ISO 3166-1 alpha-3 trigraph or agency code. */
  readonly code: string;
  readonly name: string;
  /** Base URL of the partner's node, or null when it runs none we reach. */
  readonly endpoint: string | null;
  readonly keys: readonly PartnerKey[];
}

export interface Partner extends PartnerInput {
  readonly updatedAt: IsoInstant;
}

export interface PartnerRepository {
  /** Inserts the partner or replaces its name, endpoint and keys. */
  upsert(partner: PartnerInput): Promise<Partner>;
  get(code: string): Promise<Partner | undefined>;
  list(): Promise<readonly Partner[]>;
}

export interface Community {
  readonly code: string;
  readonly name: string;
}

/** One dated membership; days are ISO 8601 dates (`2024-04-04`), `until` exclusive, as in markings. */
export interface CommunityMember {
  readonly community: string;
  readonly partner: string;
  readonly from: string;
  readonly until: string | null;
}

export interface CommunityRepository {
  upsert(community: Community): Promise<Community>;
  get(code: string): Promise<Community | undefined>;
  list(): Promise<readonly Community[]>;
  /** Records that `partner` joined on `from`; STORE_NOT_FOUND when the community is unknown. */
  addMember(member: {
    readonly community: string;
    readonly partner: string;
    readonly from: string;
    readonly until?: string;
  }): Promise<CommunityMember>;
  /** Closes the partner's open membership on `until`; STORE_NOT_FOUND when it has none. */
  endMembership(community: string, partner: string, until: string): Promise<CommunityMember>;
  /** Every membership of the community, or only those in force on `on` (an ISO day). */
  members(community: string, on?: string): Promise<readonly CommunityMember[]>;
}

// ---------------------------------------------------------------- arrangements

export interface ArrangementVersion {
  readonly id: string;
  readonly version: number;
  readonly document: ArrangementDocument;
  readonly status: ArrangementStatus;
  /** `arrangementVersionHash(document)`: what every party signs. */
  readonly versionHash: string;
  readonly createdAt: IsoInstant;
  readonly updatedAt: IsoInstant;
}

export interface ArrangementRepository {
  /**
   * Stores a version. Storing a version again is allowed only with the same terms (same version hash):
   * it replaces the mutable state (status, suspensions, signatures). Other terms: STORE_CONFLICT.
   */
  putVersion(document: ArrangementDocument): Promise<ArrangementVersion>;
  getVersion(id: string, version: number): Promise<ArrangementVersion | undefined>;
  /** The highest version of the arrangement. */
  latest(id: string): Promise<ArrangementVersion | undefined>;
  /** Every stored version of the arrangement, oldest first. */
  history(id: string): Promise<readonly ArrangementVersion[]>;
  /** The latest version of every arrangement, by id. */
  list(): Promise<readonly ArrangementVersion[]>;
  /** Sets the status of one version, in its column and its document. */
  setStatus(id: string, version: number, status: ArrangementStatus): Promise<ArrangementVersion>;
}

// ---------------------------------------------------------------- users and authentication

export interface UserInput {
  readonly id: string;
  readonly username: string;
  readonly displayName: string;
  /** Trigraph of the user's nationality. */
  readonly nationality: string;
  /** Highest level the user is cleared for, on the common scale. */
  readonly clearance: string;
  readonly caveats: readonly string[];
  readonly communities: readonly string[];
  readonly roles: readonly string[];
  /**
   * The arrangements whose oversight body the user sits on (issue 5): what they read of audit
   * metadata, reports and incidents is scoped to these. Null: not scoped (node-wide).
   */
  readonly oversightOf?: readonly string[] | null;
  /** Password hash (argon2id PHC string), or null for token-only users. */
  readonly passwordHash: string | null;
  readonly disabled?: boolean;
}

export interface User extends Omit<UserInput, 'disabled'> {
  readonly disabled: boolean;
  readonly createdAt: IsoInstant;
}

export interface UserRepository {
  /** STORE_CONFLICT when the id or the username is taken (usernames compare exactly). */
  create(user: UserInput): Promise<User>;
  getById(id: string): Promise<User | undefined>;
  getByUsername(username: string): Promise<User | undefined>;
  list(): Promise<readonly User[]>;
  setDisabled(id: string, disabled: boolean): Promise<User>;
}

/** An API token as stored: only the SHA-256 of the token, never the token itself. */
export interface ApiToken {
  /** Hex SHA-256 of the token; also the token's handle for listing and revoking. */
  readonly tokenSha256: string;
  readonly userId: string;
  readonly label: string;
  readonly createdAt: IsoInstant;
  readonly lastUsedAt: IsoInstant | null;
}

export interface TokenRepository {
  /** Stores the SHA-256 of `token` (a high-entropy secret the caller generated and shows once). */
  create(input: {
    readonly token: string;
    readonly userId: string;
    readonly label: string;
  }): Promise<ApiToken>;
  getByToken(token: string): Promise<ApiToken | undefined>;
  /** Stamps last use now. */
  touch(tokenSha256: string): Promise<void>;
  listForUser(userId: string): Promise<readonly ApiToken[]>;
  /** True when a token was removed. */
  revoke(tokenSha256: string): Promise<boolean>;
}

/** A browser session as stored: only the SHA-256 of the session id. */
export interface Session {
  readonly sessionSha256: string;
  readonly userId: string;
  readonly csrfToken: string;
  readonly expiresAt: IsoInstant;
  readonly createdAt: IsoInstant;
}

export interface SessionRepository {
  create(input: {
    readonly sessionId: string;
    readonly userId: string;
    readonly csrfToken: string;
    readonly expiresAt: IsoInstant;
  }): Promise<Session>;
  /** The session, unless it is unknown or has expired. */
  get(sessionId: string): Promise<Session | undefined>;
  delete(sessionId: string): Promise<void>;
  /** Removes every expired session; returns how many. */
  deleteExpired(): Promise<number>;
}

export interface LoginAttemptRepository {
  record(attempt: { readonly username: string; readonly ip: string; readonly ok: boolean }): Promise<void>;
  /** Failed attempts for the username, or from the address, at or after `since`. */
  countRecentFailures(
    key: { readonly username: string } | { readonly ip: string },
    since: IsoInstant,
  ): Promise<number>;
}

// ---------------------------------------------------------------- products

export const PRODUCT_STATES = ['draft', 'submitted', 'approved', 'rejected', 'released', 'recalled'] as const;
export type ProductState = (typeof PRODUCT_STATES)[number];

export interface ProductRecord {
  readonly id: string;
  readonly originator: string;
  readonly author: string;
  readonly currentVersion: number;
  readonly state: ProductState;
  readonly createdAt: IsoInstant;
  readonly updatedAt: IsoInstant;
}

/** A longitude/latitude box in WGS 84 degrees. */
export interface BoundingBox {
  readonly minLon: number;
  readonly minLat: number;
  readonly maxLon: number;
  readonly maxLat: number;
}

/** A version to store, with what the caller derived from its markings (the store parses none). */
export interface ProductVersionInput {
  readonly document: ProductDocument;
  /** Rendered banner, e.g. `SECRET//REL TO USA, GBR`. */
  readonly banner: string;
  /** Rank of the banner's classification on the common scale (UNCLASSIFIED = 0). */
  readonly rank: number;
  /** Rank of each portion's classification, by portion id; every portion needs one. */
  readonly portionRanks: Readonly<Record<string, number>>;
}

export interface ProductVersion {
  readonly productId: string;
  readonly version: number;
  readonly document: ProductDocument;
  readonly title: string;
  readonly banner: string;
  readonly rank: number;
  readonly discipline: Discipline;
  readonly categories: readonly string[];
  /** The document's `createdAt`, normalised to UTC. */
  readonly createdAt: IsoInstant;
  /** Box around the document's GeoJSON, or null when it has none. */
  readonly bbox: BoundingBox | null;
}

export interface PortionRecord {
  readonly productId: string;
  readonly version: number;
  readonly portionId: string;
  readonly marking: string;
  readonly rank: number;
}

/** A product with what search shows of its current version. */
export interface ProductSummary extends ProductRecord {
  readonly title: string;
  readonly banner: string;
  readonly rank: number;
  readonly discipline: Discipline;
  readonly categories: readonly string[];
  readonly versionCreatedAt: IsoInstant;
  readonly bbox: BoundingBox | null;
}

/** Filters over each product's current version; all given filters must hold. */
export interface ProductSearch {
  readonly discipline?: Discipline;
  readonly category?: string;
  /** Only versions whose banner rank is at most this. */
  readonly maxRank?: number;
  readonly originator?: string;
  readonly states?: readonly ProductState[];
  /** Version `createdAt` at or after this instant. */
  readonly from?: IsoInstant;
  /** Version `createdAt` before this instant. */
  readonly until?: IsoInstant;
  /** Case-insensitive substring of the title or the portion text. */
  readonly text?: string;
  /** Only versions whose box intersects this one. */
  readonly bbox?: BoundingBox;
  /** 1 to 500; 50 when omitted. */
  readonly limit?: number;
  readonly offset?: number;
}

export interface Page {
  readonly limit?: number;
  readonly offset?: number;
}

export interface ProductRepository {
  /** Creates the product in state `draft` with its first stored version; STORE_CONFLICT if the id exists. */
  createDraft(input: ProductVersionInput): Promise<ProductRecord>;
  /** Adds a version above the current one and makes it current; the state is left as it was. */
  addVersion(input: ProductVersionInput): Promise<ProductRecord>;
  get(id: string): Promise<ProductRecord | undefined>;
  /** One version, or the current one when `version` is omitted. */
  getVersion(id: string, version?: number): Promise<ProductVersion | undefined>;
  portions(id: string, version: number): Promise<readonly PortionRecord[]>;
  /** Products, most recently updated first. */
  list(page?: Page): Promise<readonly ProductRecord[]>;
  /** Sets the state; with `from`, only if the product is in that state now (else STORE_CONFLICT). */
  setState(
    id: string,
    state: ProductState,
    options?: { readonly from?: ProductState },
  ): Promise<ProductRecord>;
  /** Current versions matching the filters, newest first. Callers still apply read policy per result. */
  search(filters: ProductSearch): Promise<readonly ProductSummary[]>;
}

export interface ApprovalRecord {
  readonly productId: string;
  readonly version: number;
  readonly by: string;
  readonly decision: 'approved' | 'rejected';
  readonly comment: string | null;
  readonly at: IsoInstant;
}

export interface ApprovalRepository {
  /** One decision per person per version: a second is STORE_CONFLICT. */
  add(
    approval: Omit<ApprovalRecord, 'at' | 'comment'> & { readonly comment?: string },
  ): Promise<ApprovalRecord>;
  /** Decisions on the product (one version, or all), oldest first. */
  list(productId: string, version?: number): Promise<readonly ApprovalRecord[]>;
}

// ---------------------------------------------------------------- attachments

export interface AttachmentMeta {
  /** Hex SHA-256 of the bytes: the attachment's identity. */
  readonly sha256: string;
  readonly size: number;
  readonly mediaType: string;
  readonly createdAt: IsoInstant;
}

export interface Attachment extends AttachmentMeta {
  readonly bytes: Uint8Array;
}

export interface ProductAttachment {
  readonly productId: string;
  readonly version: number;
  readonly sha256: string;
  readonly filename: string;
  readonly size: number;
  readonly mediaType: string;
}

export interface AttachmentRepository {
  /**
   * Stores bytes under their SHA-256; storing the same bytes again returns the existing row
   * (keeping its first media type). ATTACHMENT_TOO_LARGE above the store's limit.
   */
  put(input: { readonly bytes: Uint8Array; readonly mediaType: string }): Promise<AttachmentMeta>;
  get(sha256: string): Promise<Attachment | undefined>;
  /** Attaches stored bytes to a product version under a file name (unique per version). */
  link(input: {
    readonly productId: string;
    readonly version: number;
    readonly sha256: string;
    readonly filename: string;
  }): Promise<ProductAttachment>;
  listForProduct(productId: string, version: number): Promise<readonly ProductAttachment[]>;
}

// ---------------------------------------------------------------- releases, consents, outbox

export interface ReleaseRecord {
  readonly id: string;
  readonly productId: string;
  readonly version: number;
  readonly recipient: string;
  /** The arrangement the decision was taken under, or null when none applied. */
  readonly arrangementId: string | null;
  readonly arrangementVersion: number | null;
  readonly effect: 'allow' | 'deny';
  /** The policy Decision, stored as JSON and returned parsed. */
  readonly decision: unknown;
  readonly by: string;
  readonly at: IsoInstant;
}

export interface ReleaseRepository {
  add(release: Omit<ReleaseRecord, 'at'>): Promise<ReleaseRecord>;
  get(id: string): Promise<ReleaseRecord | undefined>;
  /** Releases, oldest first, optionally of one product and/or to one recipient. */
  list(filter?: {
    readonly productId?: string;
    readonly recipient?: string;
  }): Promise<readonly ReleaseRecord[]>;
}

/** An originator's consent for a product it originated to be passed on to a recipient (third-party rule). */
export interface ConsentRecord {
  readonly productId: string;
  readonly originator: string;
  readonly recipient: string;
  readonly grantedAt: IsoInstant;
  readonly expiresAt: IsoInstant | null;
  readonly signature: string | null;
  /** The partner the signed consent lets pass the product on; null for an unsigned record. */
  readonly holder: string | null;
  /** The product version the signed consent covers; null for an unsigned record. */
  readonly productVersion: number | null;
  /** The consent request the signed consent answers; null for an unsigned record. */
  readonly requestId: string | null;
  /** The originator's signed consent as it arrived, to be verified again on use; null when unsigned. */
  readonly consent: SignedConsent | null;
}

export interface ConsentRepository {
  add(consent: {
    readonly productId: string;
    readonly originator: string;
    readonly recipient: string;
    readonly grantedAt: IsoInstant;
    readonly expiresAt?: IsoInstant;
    readonly signature?: string;
  }): Promise<ConsentRecord>;
  /** Stores an originator's signed consent (verified by the caller) with the columns read from its terms. */
  addSigned(consent: SignedConsent): Promise<ConsentRecord>;
  /** Consents, oldest first, optionally of one product, to one recipient and/or for one holder. */
  list(filter?: {
    readonly productId?: string;
    readonly recipient?: string;
    readonly holder?: string;
  }): Promise<readonly ConsentRecord[]>;
}

/** A recall of one of this node's products (issue 4), as its originator recorded it. */
export interface RecallRecord {
  readonly id: string;
  readonly productId: string;
  /** The version recalled; null for every version of the product. */
  readonly version: number | null;
  readonly reason: string;
  readonly by: string;
  readonly at: IsoInstant;
}

export interface RecallRepository {
  /** Records a recall; STORE_NOT_FOUND when the product does not exist, STORE_CONFLICT for a known id. */
  add(recall: RecallRecord): Promise<RecallRecord>;
  get(id: string): Promise<RecallRecord | undefined>;
  /** Recalls of one product, oldest first. */
  list(productId: string): Promise<readonly RecallRecord[]>;
}

export const OUTBOX_STATUSES = ['pending', 'delivered', 'failed'] as const;
export type OutboxStatus = (typeof OUTBOX_STATUSES)[number];

export interface OutboxMessage {
  readonly id: string;
  /** What the message belongs to: exactly one of a release, a consent request, an onward release or an incident. */
  readonly releaseId: string | null;
  readonly consentRequestId: string | null;
  readonly onwardReleaseId: string | null;
  readonly incidentId: string | null;
  readonly recipient: string;
  /** The envelope to deliver, stored as JSON and returned parsed. */
  readonly payload: unknown;
  readonly status: OutboxStatus;
  readonly attempts: number;
  readonly nextAttemptAt: IsoInstant;
  readonly lastError: string | null;
  readonly createdAt: IsoInstant;
  readonly deliveredAt: IsoInstant | null;
  /** The recipient's signed receipt, as it answered: stored on delivery, or with a refusal. */
  readonly receipt: unknown;
  /** The recall this message carries (a recall envelope); null for a release. */
  readonly recallId: string | null;
}

export interface OutboxRepository {
  /**
   * Queues a message as pending, due at `nextAttemptAt` (now when omitted). Write it in the
   * transaction of what it belongs to: exactly one of releaseId, consentRequestId, onwardReleaseId
   * or incidentId (INPUT_INVALID otherwise; STORE_NOT_FOUND when that row does not exist).
   */
  enqueue(message: {
    readonly id: string;
    readonly releaseId?: string;
    readonly consentRequestId?: string;
    readonly onwardReleaseId?: string;
    readonly incidentId?: string;
    readonly recipient: string;
    readonly payload: unknown;
    readonly nextAttemptAt?: IsoInstant;
    /** The recall it carries, for a recall envelope. */
    readonly recallId?: string;
  }): Promise<OutboxMessage>;
  get(id: string): Promise<OutboxMessage | undefined>;
  /** Pending messages due now, earliest first. */
  listPending(options?: { readonly limit?: number }): Promise<readonly OutboxMessage[]>;
  /**
   * Takes up to `limit` pending messages due now, earliest first, for one delivery attempt, and
   * moves them `leaseMs` into the future so that no other worker on the same store (an API
   * replica) takes them meanwhile; the attempt's outcome then sets their next time. On
   * PostgreSQL the due rows are locked with SKIP LOCKED, so two workers claiming at once never
   * take the same row. A worker that dies holding a claim leaves the row due again when the
   * lease ends (the recipient's inbox answers a repeated envelope as a duplicate).
   */
  claimPending(options: {
    readonly limit: number;
    readonly leaseMs: number;
  }): Promise<readonly OutboxMessage[]>;
  /** Every message, newest first, optionally of one status, one release, one recall and/or one incident. */
  list(
    options?: {
      readonly status?: OutboxStatus;
      readonly releaseId?: string;
      readonly recallId?: string;
      readonly incidentId?: string;
    } & Page,
  ): Promise<readonly OutboxMessage[]>;
  /** Marks it delivered, keeping the recipient's signed receipt when given; a second call changes nothing. */
  markDelivered(id: string, receipt?: unknown): Promise<OutboxMessage>;
  /**
   * Counts a failed attempt; retries at `nextAttemptAt`, or gives up (status `failed`) when it is
   * null. `receipt` keeps the recipient's signed refusal when it gave one.
   */
  markFailed(
    id: string,
    failure: {
      readonly error: string;
      readonly nextAttemptAt: IsoInstant | null;
      readonly receipt?: unknown;
    },
  ): Promise<OutboxMessage>;
}

// ---------------------------------------------------------------- inbox, received products

/** `stored`: the envelope was accepted (a release stored, or a recall carried out); `refused`: not. */
export const INBOX_OUTCOMES = ['stored', 'refused'] as const;
export type InboxOutcome = (typeof INBOX_OUTCOMES)[number];

/**
 * What this node did with one envelope whose signature (over header and sealed bytes) verified: the first answer for its
 * id, kept so that the same envelope sent again gets the same answer (the inbox is idempotent).
 */
export interface InboxEntry {
  readonly envelopeId: string;
  /** The partner that sent the envelope (its header's `from`). */
  readonly sender: string;
  readonly kind: string;
  readonly arrangementId: string;
  readonly arrangementVersion: number;
  readonly productId: string;
  readonly productVersion: number;
  /** digestOf the envelope as received: tells a retry of this envelope from another reusing its id. */
  readonly envelopeDigest: string;
  readonly remoteAddress: string | null;
  readonly outcome: InboxOutcome;
  /** The error code of a refusal; null when stored. */
  readonly code: string | null;
  /** Why it was refused, as the refusal said; null when stored. */
  readonly reason: string | null;
  /** The receipt this node signed for the envelope, or null when it signed none. */
  readonly receipt: SignedReceipt | null;
  readonly receivedAt: IsoInstant;
}

export interface InboxFilter extends Page {
  readonly sender?: string;
  readonly outcome?: InboxOutcome;
  readonly productId?: string;
  readonly arrangementId?: string;
}

export interface InboxRepository {
  /** Records the answer for an envelope; STORE_CONFLICT when its id is recorded already. */
  record(entry: InboxEntry): Promise<InboxEntry>;
  get(envelopeId: string): Promise<InboxEntry | undefined>;
  /** Entries matching every given filter, oldest first. */
  list(filter?: InboxFilter): Promise<readonly InboxEntry[]>;
}

/** What every received version records, held or recalled: where it came from and how it was marked. */
interface ReceivedProductFields {
  /** The envelope it came in; its inbox entry must be recorded first. */
  readonly envelopeId: string;
  readonly productId: string;
  readonly productVersion: number;
  readonly originator: string;
  readonly sender: string;
  readonly arrangementId: string;
  readonly arrangementVersion: number;
  /** Banner of the document as this node renders it. */
  readonly banner: string;
  /** Rank of the banner's classification on the common scale (UNCLASSIFIED = 0). */
  readonly rank: number;
  readonly receivedAt: IsoInstant;
}

/** A derived version received from a partner and held, as it arrived (with the originator's signature). */
export interface HeldProduct extends ReceivedProductFields {
  readonly document: DerivedDocument;
  readonly recalledAt: null;
  readonly recallEnvelopeId: null;
}

/**
 * A received version its originator recalled: the content is erased from the store, the document
 * is its tombstone (metadata, digest and signature only; see recalledDocumentOf).
 */
export interface RecalledProduct extends ReceivedProductFields {
  readonly document: RecalledDocument;
  /** When this node erased it (its clock on receiving the recall). */
  readonly recalledAt: IsoInstant;
  /** The recall envelope that erased it (a ReceivedRecall). */
  readonly recallEnvelopeId: string;
}

/** A received version: held, or recalled. Narrow on `recalledAt` before reading any content. */
export type ReceivedProduct = HeldProduct | RecalledProduct;

/** A version to store as it arrives. */
export type NewReceivedProduct = Omit<HeldProduct, 'recalledAt' | 'recallEnvelopeId'>;

export interface ReceivedProductFilter extends Page {
  readonly originator?: string;
  readonly sender?: string;
  readonly arrangementId?: string;
  readonly productId?: string;
}

/** Which received versions a recall erases: those of one originator's product, one version or all. */
export interface RecallTarget {
  readonly productId: string;
  /** One version, or null for every version. */
  readonly version: number | null;
  readonly originator: string;
  /** The ReceivedRecall erasing them, recorded first. */
  readonly recallEnvelopeId: string;
  readonly recalledAt: IsoInstant;
}

export interface ReceivedProductRepository {
  /** Stores a received version; STORE_CONFLICT when its envelope was stored already. */
  add(product: NewReceivedProduct): Promise<ReceivedProduct>;
  /** The highest version received of the product (the latest arrival of it), or one given version. */
  get(productId: string, version?: number): Promise<ReceivedProduct | undefined>;
  /** Received versions, most recently received first. */
  list(filter?: ReceivedProductFilter): Promise<readonly ReceivedProduct[]>;
  /** The originators named by the received versions of a product (one version, or all when null). */
  originatorsOf(productId: string, version: number | null): Promise<readonly string[]>;
  /**
   * Erases the content of every held version the target names: the document becomes its
   * tombstone, recalledAt and the recall are set. Versions recalled already stay as they are.
   * Returns the versions it erased, as they now stand.
   */
  recall(target: RecallTarget): Promise<readonly RecalledProduct[]>;
}

/** A recall accepted from an originator: which of its products' versions no longer to hold. */
export interface ReceivedRecall {
  /** The recall envelope; its inbox entry is written in the same transaction. */
  readonly envelopeId: string;
  /** The originator's id of the recall (shared by its envelopes to every recipient). */
  readonly recallId: string;
  readonly originator: string;
  readonly productId: string;
  /** One version, or null for every version. */
  readonly productVersion: number | null;
  readonly reason: string;
  /** When the originator recalled it, as it said. */
  readonly recalledAt: IsoInstant;
  readonly receivedAt: IsoInstant;
}

export interface ReceivedRecallRepository {
  /** Records an accepted recall; STORE_CONFLICT when its envelope was recorded already. */
  add(recall: ReceivedRecall): Promise<ReceivedRecall>;
  get(envelopeId: string): Promise<ReceivedRecall | undefined>;
  /** The earliest recall by `originator` that covers this version of its product, if any. */
  covering(originator: string, productId: string, version: number): Promise<ReceivedRecall | undefined>;
}

// ---------------------------------------------------------------- consent requests, onward releases

export const CONSENT_REQUEST_DIRECTIONS = ['incoming', 'outgoing'] as const;
/** `outgoing` at the holder that asked, `incoming` at the originator asked. */
export type ConsentRequestDirection = (typeof CONSENT_REQUEST_DIRECTIONS)[number];
export const CONSENT_REQUEST_STATUSES = ['pending', 'granted', 'denied'] as const;
export type ConsentRequestStatus = (typeof CONSENT_REQUEST_STATUSES)[number];

/** A holder's request for an originator's consent to pass one received version on (third-party rule). */
export interface ConsentRequestRecord {
  /** The id the holder gave it; the same at both ends. */
  readonly id: string;
  readonly direction: ConsentRequestDirection;
  /** incoming: the envelope that carried it; outgoing: the outbox message that carries it. */
  readonly envelopeId: string;
  readonly productId: string;
  readonly productVersion: number;
  /** productDigest of the derived document the holder holds and would pass on. */
  readonly productDigest: string;
  readonly originator: string;
  readonly holder: string;
  readonly recipient: string;
  readonly arrangementId: string;
  readonly arrangementVersion: number;
  readonly arrangementHash: string;
  readonly reason: string;
  readonly status: ConsentRequestStatus;
  /** The holder's officer who asked; null at the originator, which is not told. */
  readonly requestedBy: string | null;
  readonly requestedAt: IsoInstant;
  /** The originator's officer who decided; null at the holder, which is not told. */
  readonly decidedBy: string | null;
  readonly decidedAt: IsoInstant | null;
  /** Why it was denied; null unless denied. */
  readonly decisionReason: string | null;
  /** The signed consent, once granted. */
  readonly consent: SignedConsent | null;
}

export interface ConsentRequestFilter extends Page {
  readonly direction?: ConsentRequestDirection;
  readonly status?: ConsentRequestStatus;
  readonly productId?: string;
}

export interface ConsentRequestRepository {
  /** Records a pending request; STORE_CONFLICT when its id or envelope id is recorded already. */
  add(
    request: Omit<ConsentRequestRecord, 'status' | 'decidedBy' | 'decidedAt' | 'decisionReason' | 'consent'>,
  ): Promise<ConsentRequestRecord>;
  get(id: string): Promise<ConsentRequestRecord | undefined>;
  /** Requests matching every given filter, newest first. */
  list(filter?: ConsentRequestFilter): Promise<readonly ConsentRequestRecord[]>;
  /**
   * Records the answer to a pending request: a grant with its signed consent, a denial with its
   * reason. STORE_CONFLICT when it is no longer pending, STORE_NOT_FOUND when there is none.
   */
  decide(
    id: string,
    decision: {
      readonly status: 'granted' | 'denied';
      readonly decidedAt: IsoInstant;
      readonly decidedBy: string | null;
      readonly reason?: string;
      readonly consent?: SignedConsent;
    },
  ): Promise<ConsentRequestRecord>;
}

/** A holder's decision on passing a received product on to another partner. */
export interface OnwardReleaseRecord {
  readonly id: string;
  /** The received copy passed on: its envelope id in received_products. */
  readonly envelopeId: string;
  readonly productId: string;
  readonly productVersion: number;
  readonly originator: string;
  readonly recipient: string;
  readonly arrangementId: string;
  readonly arrangementVersion: number;
  readonly effect: 'allow' | 'deny';
  /** The policy Decision, stored as JSON and returned parsed. */
  readonly decision: unknown;
  /** The consent request whose signed consent went with it, or null. */
  readonly consentRequestId: string | null;
  readonly by: string;
  readonly at: IsoInstant;
}

export interface OnwardReleaseRepository {
  add(release: Omit<OnwardReleaseRecord, 'at'>): Promise<OnwardReleaseRecord>;
  get(id: string): Promise<OnwardReleaseRecord | undefined>;
  /** Onward releases, oldest first, optionally of one product and/or to one recipient. */
  list(filter?: {
    readonly productId?: string;
    readonly recipient?: string;
  }): Promise<readonly OnwardReleaseRecord[]>;
}

// ---------------------------------------------------------------- audit log

/** An event waiting to be appended to the audit log: its canonical JSON, queued in its change's transaction. */
export interface AuditQueued {
  readonly seq: number;
  readonly entryJson: string;
  readonly queuedAt: IsoInstant;
}

/** One entry of the audit log: its position, RFC 9162 leaf hash and canonical JSON. */
export interface AuditEntryRecord {
  readonly index: number;
  readonly leafHash: Uint8Array;
  readonly entryJson: string;
  /** When the event happened (the entry's own time). */
  readonly recordedAt: IsoInstant;
}

/** A stored hash of a perfect subtree above the leaves (level >= 1; level 0 is the entries' leaf hash). */
export interface AuditNodeRecord {
  readonly level: number;
  readonly index: number;
  readonly hash: Uint8Array;
}

/** A signed tree head as stored (the audit module's SignedTreeHead). */
export interface StoredTreeHead {
  readonly treeSize: number;
  readonly rootHash: string;
  readonly timestamp: IsoInstant;
  readonly nodeId: string;
  readonly signature: string;
}

/**
 * The audit log's rows. Services queue events in their own transaction; one sequencer per node
 * moves them into the log (entries, subtree hashes) in batches, and signs tree heads.
 */
export interface AuditRepository {
  /** Queues an event's canonical JSON; write it in the transaction of the change it records. */
  enqueue(entryJson: string, queuedAt: IsoInstant): Promise<void>;
  /** The oldest queued events, by queue order. */
  pending(limit: number): Promise<readonly AuditQueued[]>;
  /** Removes queued events; returns how many it removed (fewer when another sequencer took some). */
  dequeue(seqs: readonly number[]): Promise<number>;
  /**
   * Removes the oldest queued events (at most `limit`) and returns them in queue order: the
   * sequencer's claim, in its transaction, so a rollback puts them back.
   */
  claim(limit: number): Promise<readonly AuditQueued[]>;
  /** The number of entries in the log (one more than the highest index). */
  size(): Promise<number>;
  /** Appends entries (their indices follow the log's end) and the subtree hashes they complete. */
  append(entries: readonly AuditEntryRecord[], nodes: readonly AuditNodeRecord[]): Promise<void>;
  /** The stored hashes of the given subtrees (level 0 from the entries); absent ones are left out. */
  nodes(
    ids: readonly { readonly level: number; readonly index: number }[],
  ): Promise<readonly AuditNodeRecord[]>;
  /** Entries with start <= index < end, by index. */
  entries(start: number, end: number): Promise<readonly AuditEntryRecord[]>;
  addTreeHead(head: StoredTreeHead): Promise<void>;
  /** The head of the largest tree, newest first among equal sizes. */
  latestTreeHead(): Promise<StoredTreeHead | undefined>;
  /** Every stored head, by size then time. */
  treeHeads(): Promise<readonly StoredTreeHead[]>;
}

/** A partner's signed tree head as gossip fetched and verified it. */
export interface PeerTreeHead extends StoredTreeHead {
  readonly partner: string;
  readonly fetchedAt: IsoInstant;
}

export const INCIDENT_KINDS = ['audit-fork', 'breach'] as const;
export type IncidentKind = (typeof INCIDENT_KINDS)[number];
/** reported → under-review → confirmed or resolved (issue 5); the last two are final. */
export type IncidentState = (typeof INCIDENT_STATES)[number];
export type IncidentSeverity = (typeof INCIDENT_SEVERITIES)[number];

/**
 * An incident: an audit fork gossip found ('audit-fork', with both signed heads as evidence), or a
 * breach a user reported under an arrangement ('breach'). `origin` is the partner whose node took
 * the report and owns its steps (null for a fork, which stays on the node that saw it).
 */
export interface IncidentRecord {
  readonly id: string;
  readonly kind: IncidentKind;
  /** The suspected party of a breach; the partner that showed two histories for a fork. */
  readonly partner: string;
  readonly detectedAt: IsoInstant;
  readonly evidence: unknown;
  readonly state: IncidentState;
  readonly origin: string | null;
  readonly arrangement: { readonly id: string; readonly version: number } | null;
  readonly reporter: string | null;
  readonly severity: IncidentSeverity | null;
  readonly description: string | null;
  readonly products: readonly string[];
  /** When every party must have been told: the report's time plus the protocol's notifyWithinHours. */
  readonly notifyBy: IsoInstant | null;
  readonly updatedAt: IsoInstant | null;
}

export type IncidentStepAction = (typeof INCIDENT_STEP_ACTIONS)[number];

/** What this node did when it recorded a step: the products it recalled, the suspension it made. */
export interface IncidentEffects {
  readonly recalled?: readonly string[];
  readonly suspended?: { readonly arrangementId: string; readonly version: number; readonly partner: string };
  /** Parties the step could not be sent to, and why (no key on record, for one). */
  readonly notSent?: readonly { readonly partner: string; readonly reason: string }[];
}

/** One step of an incident, numbered from 1 at its origin, as the origin's node took it. */
export interface IncidentStep {
  readonly incidentId: string;
  readonly seq: number;
  readonly action: IncidentStepAction;
  /** The incident's state once this step was taken. */
  readonly state: IncidentState;
  readonly at: IsoInstant;
  readonly byPartner: string;
  readonly byUser: string | null;
  readonly note: string | null;
  readonly effects: IncidentEffects;
}

/** Incidents and their steps. */
export interface IncidentRepository {
  /** Opens the incident unless one with the same dedupe key exists; returns whether it opened it. */
  open(incident: IncidentRecord, dedupeKey: string): Promise<boolean>;
  get(id: string): Promise<IncidentRecord | undefined>;
  /** Every incident, oldest first; only those under the named arrangements when given. */
  list(options?: { readonly arrangementIds?: readonly string[] }): Promise<readonly IncidentRecord[]>;
  setState(id: string, state: IncidentState, updatedAt: IsoInstant): Promise<void>;
  /** Adds a step unless one with its number exists; returns whether it added it. */
  addStep(step: IncidentStep): Promise<boolean>;
  /** The incident's steps, in order. */
  steps(id: string): Promise<readonly IncidentStep[]>;
}

/** Gossip's rows: partners' verified heads. */
export interface GossipRepository {
  addPeerHead(head: PeerTreeHead): Promise<void>;
  /** The partner's head of the largest tree, newest first among equal sizes. */
  latestPeerHead(partner: string): Promise<PeerTreeHead | undefined>;
  /** The partner's stored heads of one size. */
  peerHeadsOfSize(partner: string, treeSize: number): Promise<readonly PeerTreeHead[]>;
}

// ---------------------------------------------------------------- STIX interop

/** An imported STIX object, kept as it came (STIX 2.1 interop, issue 6). */
export interface StixObjectRecord {
  readonly stixId: string;
  /** `modified`, else `created`, else '' (observables), as an ISO instant. */
  readonly version: string;
  readonly type: string;
  /** The product a report (or its note, or footprint) became, if any. */
  readonly productId: string | null;
  readonly portionId: string | null;
  /** The object as imported, parsed from the stored JSON. */
  readonly object: Readonly<Record<string, unknown>>;
  readonly dateAdded: IsoInstant;
}

export type StixObjectInput = Omit<StixObjectRecord, 'object' | 'dateAdded'> & {
  /** The object's JSON text as it will be stored. */
  readonly json: string;
  /** The marking definitions the object names, when the caller has them (else read from `json`). */
  readonly markingRefs?: readonly string[];
};

/** Imported STIX objects by id and version. */
export interface StixObjectRepository {
  /** Stores the objects; a version already held is kept as it is. Returns how many were new. */
  addMany(objects: readonly StixObjectInput[]): Promise<number>;
  /**
   * Stored objects in import order: all, those of one product, or (`productId: null`) those of
   * none; of the given types only, when `types` is given.
   */
  list(filter?: {
    readonly productId?: string | null;
    readonly types?: readonly string[];
  }): Promise<readonly StixObjectRecord[]>;
  /**
   * A TAXII collection's stored objects (issue 6): those of `productIds`, in collection order
   * (date added, id, version), strictly after the key `after` (date added as stored), at most
   * `limit`, of the given types and ids only when those are given.
   */
  collectionPage(query: {
    readonly productIds: readonly string[];
    readonly after: readonly [dateAdded: string, stixId: string, version: string];
    readonly limit: number;
    readonly types?: readonly string[];
    readonly ids?: readonly string[];
  }): Promise<readonly StixObjectRecord[]>;
  /** Id and version of the objects of `productIds` added at exactly `dateAdded`, in id-version order. */
  keysAddedAt(
    dateAdded: string,
    productIds: readonly string[],
  ): Promise<readonly { readonly stixId: string; readonly version: string }[]>;
  /**
   * Every stored version of these ids among the objects of `productIds`; without `objects`, the
   * records' `object` is not read (an empty object stands in for it).
   */
  versionsOf(
    stixIds: readonly string[],
    productIds: readonly string[],
    options?: { readonly objects?: boolean },
  ): Promise<readonly StixObjectRecord[]>;
  /** Those of `productIds` that have stored objects. */
  productsWithObjects(productIds: readonly string[]): Promise<ReadonlySet<string>>;
  /** The marking-definition ids the stored objects of `productIds` name. */
  markingRefsOf(productIds: readonly string[]): Promise<ReadonlySet<string>>;
}

// ---------------------------------------------------------------- the store

/** Every repository; what a transaction callback receives. */
// ---------------------------------------------------------------- live stream event log

/** One logged stream event: its sequence number and the event as the bus published it (ids only). */
export interface LoggedStreamEvent {
  readonly seq: number;
  readonly event: unknown;
  readonly publishedAt: IsoInstant;
}

export interface StreamEventRepository {
  /** Appends an event; returns its sequence number, higher than every earlier one. */
  append(event: unknown): Promise<LoggedStreamEvent>;
  /** Events after `seq`, oldest first, at most `limit`. */
  after(seq: number, limit: number): Promise<readonly LoggedStreamEvent[]>;
  /** The highest sequence number logged, 0 when none. */
  last(): Promise<number>;
  /** Deletes all but the newest `keep` events; returns how many it deleted. */
  prune(keep: number): Promise<number>;
}

/** Whether an indexed product is this node's own or one received from a partner. */
export type EntitySource = 'own' | 'received';

/** One entity found in one portion of the current version of a product (issue 9). */
export interface EntityOccurrence {
  readonly source: EntitySource;
  readonly productId: string;
  readonly version: number;
  readonly portionId: string;
  readonly type: string;
  readonly value: string;
  readonly originator: string;
  readonly reportedAt: IsoInstant;
}

/**
 * The entity index. Products and received products write it themselves, in the transaction that
 * stores a version (replacing the entities of the version it supersedes) or erases one.
 */
export interface EntityIndexRepository {
  /** The occurrences in one product's indexed version. */
  of(source: EntitySource, productId: string): Promise<readonly EntityOccurrence[]>;
  /** Every occurrence of any of `entities`, in any product. */
  sharing(
    entities: readonly { readonly type: string; readonly value: string }[],
  ): Promise<readonly EntityOccurrence[]>;
  /** How many occurrences are held (for benchmarks and tests). */
  count(): Promise<number>;
}

/**
 * An early-warning rule (issue 9) of one user, or of a team (a community users hold) when `team`
 * is set, `ownerId` then naming who added it; `params` are checked by the alert service.
 */
export interface AlertRuleRecord {
  readonly id: string;
  readonly ownerId: string;
  readonly team: string | null;
  readonly kind: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly createdAt: IsoInstant;
}

/** An alert a rule raised, about the product whose arrival raised it. */
export interface AlertRecord {
  readonly id: string;
  readonly ruleId: string;
  readonly ownerId: string;
  /** One condition, one alert: a second alert with the same key is not stored. */
  readonly dedupeKey: string;
  readonly product: { readonly source: EntitySource; readonly id: string; readonly version: number };
  readonly detail: Readonly<Record<string, unknown>>;
  readonly firedAt: IsoInstant;
}

/** Whose rules: one user's own (team null) and those of the teams they belong to. */
export interface RuleHolder {
  readonly userId: string;
  readonly teams: readonly string[];
}

export interface AlertRepository {
  addRule(rule: AlertRuleRecord): Promise<AlertRuleRecord>;
  /** Every rule, or those of one user (their own, and their teams'), oldest first. */
  rules(holder?: RuleHolder): Promise<readonly AlertRuleRecord[]>;
  /** Deletes one of the holder's rules (their own or a team's); false when they hold none with that id. */
  deleteRule(id: string, holder: RuleHolder): Promise<boolean>;
  /** Stores an alert; undefined when one with its dedupe key is already held. */
  add(alert: AlertRecord): Promise<AlertRecord | undefined>;
  get(id: string): Promise<AlertRecord | undefined>;
  /** One user's alerts, newest first. */
  list(ownerId: string, page?: Page): Promise<readonly AlertRecord[]>;
}

/** One portion (or the title: portion id '') of a product's current version matching a query. */
export interface SearchHit {
  readonly source: EntitySource;
  readonly productId: string;
  readonly portionId: string;
  /** Lower is better (SQLite bm25; PostgreSQL minus ts_rank). */
  readonly score: number;
}

/** Full-text search over the current versions' titles and portions (issue 9), written with the entity index. */
export interface SearchIndexRepository {
  /** Every title or portion matching all the words of `query`; empty for a query with no words. */
  match(query: string): Promise<readonly SearchHit[]>;
  /**
   * The products with a title or portion that may hold any of `words` (lower-case letters and
   * digits each): a superset the caller narrows by reading the text; empty for no words.
   */
  holdingAny(words: readonly string[]): Promise<readonly IndexedProduct[]>;
  /** Every product whose current version is indexed, by source then id. */
  products(): Promise<readonly IndexedProduct[]>;
}

/** A product in the search index. */
export interface IndexedProduct {
  readonly source: EntitySource;
  readonly productId: string;
}

export interface Repositories {
  readonly partners: PartnerRepository;
  readonly communities: CommunityRepository;
  readonly arrangements: ArrangementRepository;
  readonly users: UserRepository;
  readonly tokens: TokenRepository;
  readonly sessions: SessionRepository;
  readonly loginAttempts: LoginAttemptRepository;
  readonly products: ProductRepository;
  readonly approvals: ApprovalRepository;
  readonly attachments: AttachmentRepository;
  readonly releases: ReleaseRepository;
  readonly consents: ConsentRepository;
  readonly recalls: RecallRepository;
  readonly outbox: OutboxRepository;
  readonly inbox: InboxRepository;
  readonly receivedRecalls: ReceivedRecallRepository;
  readonly receivedProducts: ReceivedProductRepository;
  readonly consentRequests: ConsentRequestRepository;
  readonly onwardReleases: OnwardReleaseRepository;
  readonly audit: AuditRepository;
  readonly gossip: GossipRepository;
  readonly incidents: IncidentRepository;
  readonly stix: StixObjectRepository;
  readonly streamEvents: StreamEventRepository;
  readonly entities: EntityIndexRepository;
  readonly alerts: AlertRepository;
  readonly search: SearchIndexRepository;
  counts(): Promise<TableCounts>;
}

/** Accord's persistence port: typed repositories over one database, plus transactions. */
export interface Store extends Repositories {
  readonly dialect: StoreDialect;
  /**
   * Runs `work` in one database transaction: committed when it resolves, rolled back when it throws.
   * Inside, use only `tx`: touching the outer store there throws STORE_TRANSACTION_MISUSE
   * (on SQLite it would wait for the transaction forever; on PostgreSQL it would escape the rollback).
   */
  transaction<T>(work: (tx: Repositories) => Promise<T>): Promise<T>;
  /** Applies pending migrations; returns the names applied (none when up to date). */
  migrate(): Promise<readonly string[]>;
  close(): Promise<void>;
}
