import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf } from '../../test/fixtures/errors.js';
import { openStore, type Store } from '../store/index.js';
import { parseStreamEventInput, type StreamEvent, type StreamEventInput } from './event.js';
import { InProcessBus } from './in-process-bus.js';

const dir = mkdtempSync(join(tmpdir(), 'accord-bus-'));
let store: Store;

beforeAll(async () => {
  store = await openStore({ kind: 'sqlite', file: join(dir, 'accord.sqlite') });
});

afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

const event = (id: string): StreamEventInput => ({
  kind: 'product.created',
  product: { id, version: 1, source: 'own' },
});

describe('InProcessBus', () => {
  it('delivers to a resuming subscriber the logged backlog then what comes, in order and once, while publishes race the subscription', async () => {
    const errors: unknown[] = [];
    const bus = new InProcessBus({
      log: store.streamEvents,
      logSize: 10_000,
      onError: (_m, e) => errors.push(e),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 30 }),
        fc.integer({ min: 0, max: 30 }),
        async (before, during) => {
          const start = await store.streamEvents.last();
          for (let i = 0; i < before; i++) await bus.publish(event(`before-${i}`));
          const got: StreamEvent[] = [];
          const subscribing = bus.subscribe((e) => got.push(e), start);
          const racing = Array.from({ length: during }, (_, i) => bus.publish(event(`during-${i}`)));
          const subscription = await subscribing;
          await Promise.all(racing);
          await subscription.close();
          const seqs = got.map((e) => e.seq);
          expect(new Set(seqs).size).toBe(seqs.length);
          expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
          expect(got.map((e) => e.product.id)).toEqual([
            ...Array.from({ length: before }, (_, i) => `before-${i}`),
            ...Array.from({ length: during }, (_, i) => `during-${i}`),
          ]);
        },
      ),
      { numRuns: 25 },
    );
    expect(errors).toEqual([]);
    expect(bus.subscribers).toBe(0);
  });

  it('keeps only the newest logSize events for resuming clients', async () => {
    const bus = new InProcessBus({ log: store.streamEvents, logSize: 10, onError: () => undefined });
    for (let i = 0; i < 100; i++) await bus.publish(event(`pruned-${i}`));
    const got: StreamEvent[] = [];
    const subscription = await bus.subscribe((e) => got.push(e), 0);
    await subscription.close();
    expect(got.map((e) => e.product.id)).toEqual(Array.from({ length: 10 }, (_, i) => `pruned-${90 + i}`));
  });
});

describe('parseStreamEventInput', () => {
  it('accepts an event as published and refuses anything else', () => {
    expect(parseStreamEventInput(event('USA-1'))).toEqual(event('USA-1'));
    const alert = {
      kind: 'alert',
      topic: 'surge.cyber',
      product: { id: 'x', version: 2, source: 'received' },
    };
    expect(parseStreamEventInput(alert)).toEqual(alert);
    for (const bad of [
      null,
      { ...event('a'), kind: 'product.deleted' },
      { kind: 'product.created', product: { id: '', version: 1, source: 'own' } },
      { kind: 'product.created', product: { id: 'a', version: 0, source: 'own' } },
      { kind: 'product.created', product: { id: 'a', version: 1, source: 'theirs' } },
      { kind: 'alert', product: { id: 'a', version: 1, source: 'own' } },
      { ...alert, topic: 'Not A Topic' },
    ]) {
      expect(errorOf(() => parseStreamEventInput(bad)).code).toBe('INPUT_INVALID');
    }
  });
});
