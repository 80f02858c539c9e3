import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { isTargetMet, type Measurement, maxAsyncOperations, measureAsync } from '../../bench/harness.js';

// The harness's pure helpers: how many inputs a case that uses them up must make, and how a
// target is judged. The figures themselves are the bench's, never a test's.

function figure(median: number, p99?: number): Measurement {
  return {
    name: 'figure',
    runs: [median],
    min: median,
    median,
    max: median,
    ...(p99 === undefined ? {} : { latency: { samples: 1, p50: p99, p99, parts: {} } }),
  };
}

describe('maxAsyncOperations', () => {
  it('adds the warm-up and timed runs at the rate, a last start per client and run, and the latency samples', () => {
    const options = { runs: 5, minMs: 300, warmupMs: 1000, clients: 4, latencySamples: 1000 };
    // 1/ms × (1000 + 5 × 300) + 4 × (5 + 1), then max(1000 samples, 300 ms at 1/ms) + 1.
    expect(maxAsyncOperations(1000, options)).toBe(2500 + 24 + 1000 + 1);
    // Fast enough that the latency phase's least time, not its sample count, decides.
    expect(maxAsyncOperations(10_000, options)).toBe(25_000 + 24 + 3000 + 1);
    // Slow enough that the latency phase's most time (10 × minMs) cuts the samples short.
    expect(maxAsyncOperations(100, options)).toBe(250 + 24 + 300 + 1);
  });

  it('bounds the operations measureAsync starts when they complete no faster than the rate', async () => {
    let started = 0;
    // Each client's operation takes at least 2 ms: 3 clients complete at most 1500 per second.
    const op = async () => {
      started += 1;
      await sleep(2);
    };
    const options = { runs: 2, minMs: 30, warmupMs: 20, clients: 3, latencySamples: 10, latencyMaxMs: 60 };
    await measureAsync('sleep', op, options);
    expect(started).toBeGreaterThan(0);
    expect(started).toBeLessThanOrEqual(maxAsyncOperations(1500, options));
  });
});

describe('measureAsync', () => {
  it('settles each operation of one client before starting the next', async () => {
    const events: string[] = [];
    const op = async (i: number) => {
      events.push(`op ${i}`);
      await sleep(1);
      events.push(`done ${i}`);
    };
    const settle = async (i: number) => {
      events.push(`settle ${i}`);
      await sleep(1);
    };
    await measureAsync('settled', op, { runs: 1, minMs: 10, warmupMs: 5, latencySamples: 3 }, settle);
    const ops = events.filter((e) => e.startsWith('op ')).length;
    expect(ops).toBeGreaterThan(2);
    expect(events).toEqual(
      Array.from({ length: ops }, (_, i) => [`op ${i}`, `done ${i}`, `settle ${i}`]).flat(),
    );
  });
});

describe('isTargetMet', () => {
  it('checks each bound the target sets, and all of them', () => {
    expect(isTargetMet({ opsPerSec: 100 }, figure(100), 0)).toBe(true);
    expect(isTargetMet({ opsPerSec: 100 }, figure(99), 1)).toBe(false);
    expect(isTargetMet({ ratio: 0.5 }, figure(1), 0.5)).toBe(true);
    expect(isTargetMet({ ratio: 0.5 }, figure(1e9), 0.49)).toBe(false);
    expect(isTargetMet({ p99Ms: 50 }, figure(1, 50), 0)).toBe(true);
    expect(isTargetMet({ p99Ms: 50 }, figure(1, 50.1), 0)).toBe(false);
    expect(isTargetMet({ ratio: 0.5, p99Ms: 50 }, figure(1, 10), 0.4)).toBe(false);
    expect(isTargetMet({}, figure(0), 0)).toBe(true);
  });

  it('does not meet a latency bound on a figure that took no latency', () => {
    expect(isTargetMet({ p99Ms: 50 }, figure(1000), 1)).toBe(false);
  });
});
