import { EventEmitter } from 'node:events';
import type { StreamEventRepository } from '../store/index.js';
import { parseStreamEventInput, type StreamEvent, type StreamEventInput } from './event.js';
import type { BusErrorSink, BusSubscription, EventBus } from './event-bus.js';

export interface InProcessBusOptions {
  /** The durable log: the store's stream_events table. */
  readonly log: StreamEventRepository;
  /** How many events the log keeps for resuming clients. */
  readonly logSize: number;
  readonly onError: BusErrorSink;
}

// A resuming client is sent the backlog in pages of this many rows.
const BACKLOG_PAGE = 500;
// The log is pruned after every this many appends, not on each one.
const PRUNE_EVERY = 100;

/** One process: events are appended to the store's log, then emitted to this process's subscribers. */
export class InProcessBus implements EventBus {
  readonly kind = 'in-process';
  readonly #options: InProcessBusOptions;
  readonly #emitter = new EventEmitter();
  // Publishes run one at a time, so emission follows the log's order.
  #chain: Promise<void> = Promise.resolve();
  #appends = 0;

  constructor(options: InProcessBusOptions) {
    this.#options = options;
    // One listener per SSE client: hundreds are expected, not a leak.
    this.#emitter.setMaxListeners(0);
  }

  publish(event: StreamEventInput): Promise<void> {
    this.#chain = this.#chain.then(async () => {
      try {
        const logged = await this.#options.log.append(event);
        this.#emitter.emit('event', { ...event, seq: logged.seq, at: logged.publishedAt });
        if (++this.#appends % PRUNE_EVERY === 0) await this.#options.log.prune(this.#options.logSize);
      } catch (error) {
        this.#options.onError('stream event not published', error);
      }
    });
    return this.#chain;
  }

  async subscribe(listener: (event: StreamEvent) => void, after?: number): Promise<BusSubscription> {
    let last = after ?? Number.NEGATIVE_INFINITY;
    let buffered: StreamEvent[] | null = after === undefined ? null : [];
    const onEvent = (event: StreamEvent): void => {
      if (buffered !== null) {
        buffered.push(event);
        return;
      }
      if (event.seq <= last) return;
      last = event.seq;
      listener(event);
    };
    // Listen first, then read the backlog: an event published meanwhile is buffered, not lost,
    // and the seq check drops what the backlog already delivered.
    this.#emitter.on('event', onEvent);
    if (after !== undefined) {
      try {
        for (;;) {
          const page = await this.#options.log.after(last, BACKLOG_PAGE);
          for (const row of page) {
            last = row.seq;
            try {
              listener({ ...parseStreamEventInput(row.event), seq: row.seq, at: row.publishedAt });
            } catch (error) {
              this.#options.onError('stream log row skipped', error);
            }
          }
          if (page.length < BACKLOG_PAGE) break;
        }
      } catch (error) {
        // The log could not be read: no half-made subscription is left listening.
        this.#emitter.off('event', onEvent);
        throw error;
      }
      const pending = buffered ?? [];
      buffered = null;
      for (const event of pending) onEvent(event);
    }
    return {
      close: async () => {
        this.#emitter.off('event', onEvent);
      },
    };
  }

  /** How many subscriptions are open (one per connected SSE client). */
  get subscribers(): number {
    return this.#emitter.listenerCount('event');
  }

  async close(): Promise<void> {
    await this.#chain;
    this.#emitter.removeAllListeners();
  }
}
