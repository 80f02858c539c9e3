import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { AccordError } from '../errors/index.js';
import { parseStreamEventInput, type StreamEvent, type StreamEventInput } from './event.js';
import type { BusErrorSink, BusSubscription, EventBus } from './event-bus.js';

export interface NatsBusOptions {
  /** `nats://host:port`. */
  readonly url: string;
  /** The JetStream stream holding this node's events; every replica of the node names the same one. */
  readonly stream: string;
  /** The subject events are published on (one per node, so nodes may share a NATS server). */
  readonly subject: string;
  /** How many events the stream keeps for resuming clients (JetStream max_msgs, oldest discarded). */
  readonly logSize: number;
  readonly onError: BusErrorSink;
}

/**
 * NATS JetStream: every replica of a node publishes to one stream and each SSE client reads it
 * through its own ordered consumer, so a product created through replica A reaches a client on
 * replica B. The stream sequence is the event's id, so `Last-Event-ID` resumes on any replica.
 */
export class NatsBus implements EventBus {
  readonly kind = 'nats';
  readonly #options: NatsBusOptions;
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #subscriptions = new Set<BusSubscription>();

  private constructor(options: NatsBusOptions, nc: NatsConnection, jsm: JetStreamManager) {
    this.#options = options;
    this.#nc = nc;
    this.#jsm = jsm;
    this.#js = jetstream(nc);
  }

  /** Connects and makes sure the stream exists with this node's subject and size. BUS_UNAVAILABLE when NATS is not there. */
  static async open(options: NatsBusOptions): Promise<NatsBus> {
    let nc: NatsConnection;
    try {
      nc = await connect({ servers: options.url, name: `accord-${options.stream}`, timeout: 5000 });
    } catch (error) {
      throw new AccordError(
        'BUS_UNAVAILABLE',
        `cannot reach NATS at ${options.url}: ${(error as Error).message}`,
        { url: options.url },
        { cause: error },
      );
    }
    try {
      const jsm = await jetstreamManager(nc);
      const config = { subjects: [options.subject], max_msgs: options.logSize };
      try {
        await jsm.streams.info(options.stream);
        await jsm.streams.update(options.stream, config);
      } catch {
        // Not there yet (or made by another replica meanwhile: add then reports it exists, and update has done it).
        await jsm.streams.add({ name: options.stream, ...config }).catch(async (error: unknown) => {
          await jsm.streams.info(options.stream).catch(() => {
            throw error;
          });
        });
      }
      return new NatsBus(options, nc, jsm);
    } catch (error) {
      await nc.close().catch(() => undefined);
      throw new AccordError(
        'BUS_UNAVAILABLE',
        `NATS at ${options.url} has no usable JetStream stream ${options.stream}: ${(error as Error).message}`,
        { url: options.url },
        { cause: error },
      );
    }
  }

  async publish(event: StreamEventInput): Promise<void> {
    try {
      await this.#js.publish(this.#options.subject, JSON.stringify(event));
    } catch (error) {
      this.#options.onError('stream event not published to NATS', error);
    }
  }

  async subscribe(listener: (event: StreamEvent) => void, after?: number): Promise<BusSubscription> {
    // Start at a known sequence, so an event published while the consumer is being made is not missed.
    const start =
      after === undefined ? (await this.#jsm.streams.info(this.#options.stream)).state.last_seq : after;
    const consumer = await this.#js.consumers.get(this.#options.stream, {
      deliver_policy: 'by_start_sequence',
      opt_start_seq: start + 1,
    });
    const messages = await consumer.consume();
    void (async () => {
      try {
        for await (const message of messages) {
          try {
            const event = parseStreamEventInput(message.json<unknown>());
            listener({ ...event, seq: message.seq, at: message.time.toISOString() });
          } catch (error) {
            this.#options.onError('stream message skipped', error);
          }
        }
      } catch (error) {
        this.#options.onError('stream consumer ended', error);
      }
    })();
    const subscription: BusSubscription = {
      close: async () => {
        this.#subscriptions.delete(subscription);
        await messages.close();
      },
    };
    this.#subscriptions.add(subscription);
    return subscription;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#subscriptions].map((s) => s.close().catch(() => undefined)));
    await this.#nc.drain().catch(() => undefined);
  }
}
