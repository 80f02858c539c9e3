import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../api/server.js';
import { type BusErrorSink, type EventBus, InProcessBus, NatsBus } from '../bus/index.js';
import { CONFIG_DEFAULTS, type Config, STREAM_DEFAULTS } from '../config/index.js';
import type { PublicIdentity } from '../crypto/index.js';
import { TREE_HEAD_INTERVAL_MS } from '../services/audit-log.js';
import { OutboxWorker } from '../services/outbox-worker.js';
import { openStore, type Store } from '../store/index.js';
import type { NodeKeys } from './node-keys.js';
import { createServices, type Services } from './services.js';

/** A running node's parts. */
export interface AccordNode {
  readonly config: Readonly<Config>;
  readonly store: Store;
  readonly services: Services;
  readonly server: FastifyInstance;
  close(): Promise<void>;
}

/** Opens the store named by the config (SQLite file in dataDir, or PostgreSQL), migrates it. */
export async function openConfiguredStore(config: Readonly<Config>): Promise<Store> {
  const url = config.database.url;
  if (url !== undefined) {
    const store = await openStore({ kind: 'postgres', url });
    await store.migrate();
    return store;
  }
  mkdirSync(config.dataDir, { recursive: true });
  const store = await openStore({ kind: 'sqlite', file: join(config.dataDir, 'accord.sqlite') });
  await store.migrate();
  return store;
}

/**
 * The node's event bus (issue 7): NATS JetStream when the config names a server (every replica of
 * the node shares its stream), else in-process over the store's event log. BUS_UNAVAILABLE when
 * the configured NATS cannot be used: a replica must not run cut off from the others.
 */
export async function openEventBus(
  config: Readonly<Config>,
  store: Store,
  onError: BusErrorSink,
): Promise<EventBus> {
  const logSize = config.stream?.logSize ?? STREAM_DEFAULTS.logSize;
  const url = config.stream?.natsUrl;
  if (url === undefined) return new InProcessBus({ log: store.streamEvents, logSize, onError });
  return NatsBus.open({
    url,
    stream: config.stream?.natsStream ?? `ACCORD_EVENTS_${config.partner}`,
    subject: `accord.${config.partner}.events`,
    logSize,
    onError,
  });
}

/**
 * The composition root: store, services and HTTP server, wired from one config. `keys` is the
 * node's unlocked identity (loadNodeKeys); the caller loads it, since only it holds the passphrase.
 */
export async function buildNode(
  config: Readonly<Config>,
  options: {
    readonly store?: Store;
    readonly now?: () => number;
    readonly keys?: NodeKeys;
    /** The public identity of a node whose keys stay locked (see createServices). */
    readonly identity?: PublicIdentity;
    /** Where the built web console is (default dist/web of this checkout). */
    readonly webRoot?: string;
  } = {},
): Promise<AccordNode> {
  const store = options.store ?? (await openConfiguredStore(config));
  // The bus reports to the server's logger, which exists only once the services it serves do.
  let logBusError: BusErrorSink = () => undefined;
  const onError: BusErrorSink = (message, error) => logBusError(message, error);
  const events = await openEventBus(config, store, onError);
  const services = createServices(
    config,
    store,
    options.now,
    options.keys,
    options.identity ?? options.keys?.public,
    events,
  );
  const server = await buildServer(services, {
    bodyLimitBytes: config.http.bodyLimitBytes,
    logLevel: config.log.level,
    secureCookies: config.http.publicUrl?.startsWith('https:') ?? false,
    rateLimits: config.rateLimits,
    nodeName: config.nodeName,
    partner: config.partner,
    streamHeartbeatMs: (config.stream?.heartbeatSeconds ?? STREAM_DEFAULTS.heartbeatSeconds) * 1000,
    ...(options.webRoot === undefined ? {} : { webRoot: options.webRoot }),
  });
  logBusError = (message, error) => server.log.error({ err: error }, message);
  // Issue 9: early-warning rules are judged on each stored version, after its commit.
  const alertWatch = await services.alerts.watch(events, onError);
  return {
    config,
    store,
    services,
    server,
    async close() {
      await services.gossip.stop();
      await server.close();
      await alertWatch.close();
      await services.alerts.settled();
      await services.events.close();
      // Stops the tree-head timer, moves what is queued into the log and signs a last head.
      await services.audit.close();
      await store.close();
    },
  };
}

/** How often a serving node looks for due outbox messages, unless its config says otherwise. */
export const OUTBOX_INTERVAL_MS: number = CONFIG_DEFAULTS.federation.outboxIntervalMs;

/**
 * Starts delivering the node's outbox to its partners (DESIGN.md §2.5) when it has keys; a node
 * without them delivers nothing and gets undefined. The poll interval and retry backoff come from
 * the config's `federation` section. Start it once the server listens, and stop it before closing
 * the node.
 */
export function startOutboxWorker(
  node: AccordNode,
  intervalMs: number = node.config.federation.outboxIntervalMs,
): OutboxWorker | undefined {
  const keys = node.services.keys;
  if (keys === undefined) return undefined;
  const { retryBaseMs, retryMaxMs } = node.config.federation;
  const worker = new OutboxWorker({
    store: node.store,
    keys,
    partner: node.config.partner,
    now: node.services.now,
    signal: node.services.outboxSignal,
    backoff: { baseMs: retryBaseMs, maxMs: retryMaxMs },
    onError: (error) => node.server.log.error({ err: error }, 'outbox delivery round failed'),
    audit: node.services.audit,
  });
  worker.start(intervalMs);
  return worker;
}

/**
 * Starts the audit log's timer (issue 5): every `intervalMs` it moves queued events into the tree
 * and, on a node with keys, signs a tree head when the log grew. node.close() stops it. A node
 * without keys still keeps its log current but signs nothing.
 */
export function startAuditLog(node: AccordNode, intervalMs: number = TREE_HEAD_INTERVAL_MS): void {
  node.services.audit.start(intervalMs, (error) =>
    node.server.log.error({ err: error }, 'audit log round failed'),
  );
}

/**
 * Starts gossip of audit tree heads (issue 5): every `intervalMs` the node fetches each partner's
 * signed head, checks it against the last one kept, and opens an incident on a fork. node.close()
 * stops it.
 */
export function startAuditGossip(
  node: AccordNode,
  intervalMs: number = node.config.federation.gossipIntervalMs,
): void {
  node.services.gossip.start(
    intervalMs,
    (error) => node.server.log.error({ err: error }, 'audit gossip round failed'),
    (line) => node.server.log.warn(line),
  );
}
