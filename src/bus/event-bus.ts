import type { StreamEvent, StreamEventInput } from './event.js';

/** A live subscription; close() stops delivery and frees what it holds. */
export interface BusSubscription {
  close(): Promise<void>;
}

/**
 * The event bus port (DESIGN.md §3): in-process by default, NATS JetStream when configured so
 * that several replicas of one node share one stream. Delivery to one subscriber is in `seq`
 * order without duplicates.
 */
export interface EventBus {
  /** Which adapter: for logs and /metrics. */
  readonly kind: 'in-process' | 'nats';
  /**
   * Publishes an event. Call only after the transaction that made the change has committed.
   * Never throws: the change stands whether or not the announcement went out (it is logged).
   */
  publish(event: StreamEventInput): Promise<void>;
  /**
   * Delivers events to `listener`: those after `after` still held in the bounded log first (a
   * resuming client), then every new one. Without `after`, only new ones.
   */
  subscribe(listener: (event: StreamEvent) => void, after?: number): Promise<BusSubscription>;
  close(): Promise<void>;
}

/** Where a bus reports what it cannot deliver or parse (the node's pino logger). */
export type BusErrorSink = (message: string, error: unknown) => void;
