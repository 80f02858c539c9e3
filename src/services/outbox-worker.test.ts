import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createNodeIdentity, publicIdentity } from '../crypto/index.js';
import { openStore, type Store } from '../store/index.js';
import { OutboxSignal } from './outbox-signal.js';
import { OutboxWorker } from './outbox-worker.js';

// When the worker wakes: a committed release must reach its round on the next turn of the event
// loop (not after a clamped setTimeout), and a stop must cancel a round scheduled but not begun.

const HOUR = 3_600_000;
const identity = createNodeIdentity();
const keys = { identity, public: publicIdentity(identity) };

/** The next turn of the event loop's check phase, after anything setImmediate queued before. */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('OutboxWorker: waking', () => {
  let dir: string;
  let store: Store;
  let rounds: number;
  let worker: OutboxWorker;
  let signal: OutboxSignal;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'accord-outbox-wake-'));
    const opened = await openStore({ kind: 'sqlite', file: join(dir, 'accord.sqlite') });
    store = opened;
    rounds = 0;
    // Each round starts by listing what is due: counting those calls counts the rounds.
    const outbox = {
      ...opened.outbox,
      listPending: (options?: { readonly limit?: number }) => {
        rounds += 1;
        return opened.outbox.listPending(options);
      },
    };
    signal = new OutboxSignal();
    worker = new OutboxWorker({
      store: { ...opened, outbox },
      keys,
      partner: 'USA',
      now: () => Date.now(),
      signal,
      fetch: () => Promise.reject(new Error('no delivery expected')),
    });
  });

  afterEach(async () => {
    await worker.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs its first round and each woken round on the next turn of the event loop', async () => {
    worker.start(HOUR);
    await nextTurn();
    expect(rounds).toBe(1);
    // Let the first round end (an empty outbox): a wake-up during it would only queue another.
    await new Promise((resolve) => setTimeout(resolve, 50));

    signal.notify();
    await nextTurn();
    expect(rounds).toBe(2);
  });

  it('runs no round once stopped, even one a wake-up had scheduled', async () => {
    worker.start(HOUR);
    await worker.stop();
    signal.notify();
    worker.wake();
    await nextTurn();
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(rounds).toBe(0);
  });
});
