import { type EventBus, InProcessBus } from '../bus/index.js';
import { type Config, STREAM_DEFAULTS } from '../config/index.js';
import type { PublicIdentity } from '../crypto/index.js';
import { StixService } from '../interop/stix/index.js';
import { TaxiiService } from '../interop/taxii/index.js';
import { createRegistry, type MarkingRegistry } from '../markings/index.js';
import { AlertService } from '../services/alert-service.js';
import { ArrangementService } from '../services/arrangement-service.js';
import { AuditGossip } from '../services/audit-gossip.js';
import { AuditLog } from '../services/audit-log.js';
import { AuthService } from '../services/auth-service.js';
import { ComplianceService } from '../services/compliance-service.js';
import { ConsentService } from '../services/consent-service.js';
import { CorrelationService } from '../services/correlation-service.js';
import { DirectoryService } from '../services/directory-service.js';
import { InboxLogService } from '../services/inbox-log-service.js';
import { InboxService } from '../services/inbox-service.js';
import { IncidentService } from '../services/incident-service.js';
import { OutboxService } from '../services/outbox-service.js';
import { OutboxSignal } from '../services/outbox-signal.js';
import { ProductService } from '../services/product-service.js';
import { RecallService } from '../services/recall-service.js';
import { ReceivedService } from '../services/received-service.js';
import { SearchService } from '../services/search-service.js';
import { SimilarityService } from '../services/similarity-service.js';
import { StreamService } from '../services/stream-service.js';
import type { Store } from '../store/index.js';
import { type NodeKeys, signerOf } from './node-keys.js';

/** Every service of a node, wired over one store. */
export interface Services {
  readonly store: Store;
  readonly registry: MarkingRegistry;
  readonly auth: AuthService;
  readonly directory: DirectoryService;
  readonly arrangements: ArrangementService;
  readonly products: ProductService;
  /** STIX 2.1 import and export, filtered by policy (issue 6); TAXII pages its collectionParts(). */
  readonly stix: StixService;
  /** TAXII 2.1 collections over what `stix` lets each user see (issue 6). */
  readonly taxii: TaxiiService;
  /** Recalls of this node's products and their status per recipient. */
  readonly recalls: RecallService;
  /** Consent requests and answers (third-party rule), and onward releases of received products. */
  readonly consents: ConsentService;
  /** The federation inbox; undefined without keys, and POST /federation/v1/inbox then answers 503. */
  readonly inbox: InboxService | undefined;
  /** The node's unlocked identity, for federation; undefined where a node runs without one (tests, benchmarks). */
  readonly keys: NodeKeys | undefined;
  /** Products received from partners, read through the read policy. */
  readonly received: ReceivedService;
  /** What the inbox did with each envelope: stored or refused, and why. */
  readonly inboxLog: InboxLogService;
  /** The pending and past deliveries of releases to partners. */
  readonly outbox: OutboxService;
  /** Raised when outbox rows are queued; the outbox worker listens to it. */
  readonly outboxSignal: OutboxSignal;
  /**
   * The tamper-evident audit log. Every node logs; only a node with keys signs tree heads (a node
   * without them keeps an unsigned log that `audit verify` cannot check until a keyed run signs it).
   */
  readonly audit: AuditLog;
  /** Gossip of partners' signed tree heads and the fork incidents it opens (issue 5). */
  readonly gossip: AuditGossip;
  /** Reported breaches and audit forks, and the breach protocol they set off (issue 5). */
  readonly incidents: IncidentService;
  /** Compliance reports per arrangement and period (issue 5): metadata only. */
  readonly compliance: ComplianceService;
  /** The event bus behind the live stream (issue 7): in-process, or NATS JetStream shared by replicas. */
  readonly events: EventBus;
  /** The live stream: which events each subscriber may be sent, and what of them (issue 7). */
  readonly stream: StreamService;
  /** Label-aware correlation of products by the entities they share (issue 9). */
  readonly correlation: CorrelationService;
  /** Early-warning rules per user and the alerts they raise (issue 9); buildNode starts its watch. */
  readonly alerts: AlertService;
  /** Full-text and geo search, filtered by the read policy before ranking (issue 9). */
  readonly search: SearchService;
  /** Related products by text and near-duplicates across partners, over what the caller may read (issue 9). */
  readonly similarity: SimilarityService;
  /** The clock the services run on, epoch milliseconds. */
  readonly now: () => number;
}

/**
 * Wires the services with plain constructors; `now` is the clock (tests pass a fixed one).
 * `identity` is the node's public identity where its keys stay locked (read-only commands): enough
 * to verify what others signed under arrangements this node is party to, never to sign.
 */
export function createServices(
  config: Readonly<Config>,
  store: Store,
  now: () => number = Date.now,
  keys?: NodeKeys,
  identity: PublicIdentity | undefined = keys?.public,
  events: EventBus = new InProcessBus({
    log: store.streamEvents,
    logSize: config.stream?.logSize ?? STREAM_DEFAULTS.logSize,
    onError: () => undefined,
  }),
): Services {
  const registry = createRegistry(config.markings ?? {});
  const outboxSignal = new OutboxSignal();
  // With keys, every product version is signed and every release sealed; without, neither.
  const signer = keys === undefined ? {} : { signer: signerOf(keys) };
  const audit = new AuditLog({ store, now, nodeId: config.partner, ...signer });
  const arrangements = new ArrangementService({ store, registry, audit });
  // What the services that write and deliver share.
  const writing = { store, audit, partner: config.partner, registry, now, outboxSignal };
  const products = new ProductService({ ...writing, events, ...signer });
  const recalls = new RecallService({ ...writing, events, ...signer });
  const received = new ReceivedService({
    store,
    partner: config.partner,
    registry,
    now,
    ...(identity === undefined ? {} : { ownSigningKey: identity.signing }),
  });
  const incidents = new IncidentService({
    store,
    partner: config.partner,
    now,
    audit,
    outboxSignal,
    recalls,
    arrangements,
    products,
    received,
    ...signer,
  });
  const stix = new StixService({ store, registry, partner: config.partner, now, products, audit });
  const correlation = new CorrelationService({ store, products, received });
  const alerts = new AlertService({ store, correlation, events, now });
  return {
    store,
    registry,
    gossip: new AuditGossip({ store, partner: config.partner, ownSigningKey: identity?.signing, now, audit }),
    auth: new AuthService({ store, settings: config.auth, now, audit }),
    directory: new DirectoryService({ store, registry }),
    arrangements,
    products,
    stix,
    taxii: new TaxiiService({ store, stix, now }),
    recalls,
    incidents,
    consents: new ConsentService({ ...writing, ...(keys === undefined ? {} : { keys }) }),
    inbox:
      keys === undefined
        ? undefined
        : new InboxService({ store, partner: config.partner, registry, keys, now, audit, incidents, events }),
    keys,
    received,
    inboxLog: new InboxLogService({ store }),
    outbox: new OutboxService({ store }),
    outboxSignal,
    audit,
    compliance: new ComplianceService({ store, partner: config.partner, registry }),
    events,
    stream: new StreamService({ store, products, received, alerts }),
    correlation,
    alerts,
    search: new SearchService({ store, correlation }),
    similarity: new SimilarityService({ store, correlation }),
    now,
  };
}
