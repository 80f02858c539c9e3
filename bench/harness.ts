// The benchmark harness behind `npm run bench` (DESIGN.md §6). Benchmarks report, they never
// fail the run: a missed target is printed, not thrown. Each figure is measured next to the
// ceiling that bounds it, in the same process and the same run, so the ratio between the two
// is comparable across machines even where the absolute numbers are not. Each case runs in a
// process of its own (see run.ts), so one case's garbage and JIT state do not weigh on the next.
// A case whose operation is asynchronous (a request over a socket, say) is an AsyncBenchCase: it
// may run several clients at once for the throughput figure, reports latency percentiles taken
// one client at a time, and may be skipped with a reason (a service it needs is not there).
import { performance } from 'node:perf_hooks';

/** ops/s of each timed run, and their summary. */
export interface Measurement {
  readonly name: string;
  readonly runs: readonly number[];
  readonly min: number;
  readonly median: number;
  readonly max: number;
  /** Clients running the operation at once during the timed runs (async cases only). */
  readonly clients?: number;
  /** Latency of one operation, and of the parts it timed, one client at a time (async cases only). */
  readonly latency?: LatencySummary;
}

/** Milliseconds at the 50th and 99th percentile (nearest rank) of `samples` timings. */
export interface Percentiles {
  readonly samples: number;
  readonly p50: number;
  readonly p99: number;
}

/** Latency of a whole operation and of the parts it reported through its `lap`, in milliseconds. */
export interface LatencySummary extends Percentiles {
  readonly parts: Readonly<Record<string, Percentiles>>;
}

export interface MeasureOptions {
  /** Timed runs after the warm-up. */
  readonly runs?: number;
  /** Least wall time of one timed run, milliseconds. */
  readonly minMs?: number;
  /** Least wall time of the warm-up, milliseconds (it also sizes the batches). */
  readonly warmupMs?: number;
}

export const DEFAULT_RUNS = 5;
export const DEFAULT_MIN_MS = 300;

/** One operation; `i` counts calls so a case can rotate through its inputs. */
export type Operation = (i: number) => unknown;

/**
 * A target from an issue, checked on the figure and reported; never fatal. Each bound given must
 * hold: the median at least `opsPerSec`, the ratio to the ceiling at least `ratio`, the p99
 * latency (async cases) at most `p99Ms`.
 */
export interface Target {
  readonly opsPerSec?: number;
  readonly ratio?: number;
  readonly p99Ms?: number;
  readonly source?: string;
}

/** A figure and the ceiling it is judged against. */
export interface BenchCase {
  /** What is counted per second, e.g. `release decisions/s (20 portions, 4 withheld)`. */
  readonly name: string;
  /** What the ceiling is, in a few words, e.g. `bare rank + Set.has loop`. */
  readonly ceiling: string;
  /** A target from an issue, checked and reported; never fatal. */
  readonly target?: Target;
  /** Builds the inputs (only for a case that is measured) and returns the figure's and ceiling's operations. */
  readonly setup: () => { readonly run: Operation; readonly ceiling: Operation };
}

/** Records how long a part of an operation took, e.g. one request of several; milliseconds. */
export type Lap = (part: string, ms: number) => void;

/** One asynchronous operation; `lap` takes the timings of its parts (only heeded while latency is taken). */
export type AsyncOperation = (i: number, lap: Lap) => Promise<unknown>;

/** What an async case's set-up hands back: the two operations and how to tear them down. */
export interface AsyncCaseOperations {
  readonly run: AsyncOperation;
  readonly ceiling: AsyncOperation;
  /**
   * Awaited after each operation of the figure, outside its latency but inside the throughput
   * run's time: for an operation whose after-effects (a receipt being recorded) are to end before
   * the next operation starts, so that each is timed on its own.
   */
  readonly settle?: AsyncOperation;
  /** Closes servers, removes temporary files; called once both are measured, or on failure. */
  readonly close?: () => Promise<void>;
}

/** A figure whose operation is asynchronous, and its ceiling; see measureAsync. */
export interface AsyncBenchCase {
  readonly name: string;
  readonly ceiling: string;
  readonly target?: Target;
  /** Clients running the operation at once while throughput is measured (1 when omitted). */
  readonly clients?: number;
  /** Least warm-up, milliseconds, before the figure and before the ceiling (`minMs` when omitted or less). */
  readonly warmupMs?: number;
  /** Latency timings wanted, and the most time to take them in (AsyncMeasureOptions; harness defaults when omitted). */
  readonly latencySamples?: number;
  readonly latencyMaxMs?: number;
  /**
   * Builds the inputs, or says why the case cannot run here (reported as a skipped row, not a
   * failure). `plan` is what the figure and the ceiling will be measured with, for a case whose
   * inputs are used up as it runs (see maxAsyncOperations).
   */
  readonly setupAsync: (
    plan: AsyncMeasureOptions,
  ) => Promise<AsyncCaseOperations | { readonly skipped: string }>;
}

export type AnyBenchCase = BenchCase | AsyncBenchCase;

/** A named group of cases, listed without running any set-up. */
export interface Suite {
  readonly name: string;
  readonly cases: readonly AnyBenchCase[];
}

/** A measured case: the figure, its ceiling, their ratio and the target check. */
export interface Row {
  readonly suite: string;
  readonly figure: Measurement;
  readonly ceiling: Measurement & { readonly what: string };
  /** figure median / ceiling median. */
  readonly ratio: number;
  readonly target: (Target & { readonly met: boolean }) | null;
  /** Why the case was not measured (its measurements are then empty); absent on a measured row. */
  readonly skipped?: string;
}

// Results go here so the optimiser cannot drop an operation whose value is never used.
let sink: unknown;

/** The value of the last operation run (which keeps every result observable). */
export function lastResult(): unknown {
  return sink;
}

/** Runs `op` `count` times and returns how long it took, milliseconds. */
function timeBatch(op: Operation, start: number, count: number): number {
  const t0 = performance.now();
  for (let i = 0; i < count; i++) sink = op(start + i);
  return performance.now() - t0;
}

function summarise(name: string, opsPerSec: readonly number[]): Measurement {
  const sorted = [...opsPerSec].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return {
    name,
    runs: opsPerSec,
    min: sorted[0] ?? 0,
    median: sorted.length % 2 === 1 ? sorted[mid]! : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2,
    max: sorted[sorted.length - 1] ?? 0,
  };
}

/**
 * Measures `op` in operations per second: a warm-up (which also sizes batches to about a
 * millisecond, so reading the clock does not weigh on fast operations), then `runs` timed runs
 * of at least `minMs` each. Returns the min, median and max of the runs.
 */
export function measure(name: string, op: Operation, options: MeasureOptions = {}): Measurement {
  const runs = options.runs ?? DEFAULT_RUNS;
  const minMs = options.minMs ?? DEFAULT_MIN_MS;
  const warmupMs = options.warmupMs ?? minMs;

  let calls = 0;
  let batch = 1;
  let warm = 0;
  let perMs = 0;
  while (warm < warmupMs) {
    const ms = timeBatch(op, calls, batch);
    calls += batch;
    warm += ms;
    if (ms > 0) perMs = batch / ms;
    if (ms < 1) batch *= 2;
  }
  batch = Math.max(1, Math.round(perMs));

  const opsPerSec: number[] = [];
  for (let r = 0; r < runs; r++) {
    let count = 0;
    let elapsed = 0;
    while (elapsed < minMs) {
      elapsed += timeBatch(op, calls, batch);
      calls += batch;
      count += batch;
    }
    opsPerSec.push((count / elapsed) * 1000);
  }
  return summarise(name, opsPerSec);
}

/** Sets a case up, then measures it and its ceiling back to back. */
export function measureCase(suite: string, c: BenchCase, options: MeasureOptions = {}): Row {
  const operations = c.setup();
  const figure = measure(c.name, operations.run, options);
  const ceiling = measure(c.ceiling, operations.ceiling, options);
  return rowOf(suite, c, figure, ceiling);
}

/** Options of measureAsync: those of measure, plus how many clients and how much latency to take. */
export interface AsyncMeasureOptions extends MeasureOptions {
  /** Clients running the operation at once during the warm-up and the timed runs. */
  readonly clients?: number;
  /** Latency timings wanted, one client at a time (default 1000), taken in at least `minMs`... */
  readonly latencySamples?: number;
  /** ...and at most this long, milliseconds (default 10 × `minMs`). */
  readonly latencyMaxMs?: number;
}

const NO_LAP: Lap = () => undefined;

/** AsyncMeasureOptions with every default filled in, as measureAsync runs them. */
function resolveAsync(options: AsyncMeasureOptions): Required<AsyncMeasureOptions> {
  const minMs = options.minMs ?? DEFAULT_MIN_MS;
  return {
    runs: options.runs ?? DEFAULT_RUNS,
    minMs,
    warmupMs: options.warmupMs ?? minMs,
    clients: Math.max(1, Math.round(options.clients ?? 1)),
    latencySamples: options.latencySamples ?? 1000,
    latencyMaxMs: Math.max(minMs, options.latencyMaxMs ?? 10 * minMs),
  };
}

/**
 * At most how many operations measureAsync starts with `options` when the operation, however many
 * clients run it, completes no faster than `opsPerSec` in all: for a case whose inputs can each be
 * used once (an envelope is ingested once), so that set-up makes enough. Each timed loop starts
 * operations while its time lasts, and each client may start one more as it runs out.
 */
export function maxAsyncOperations(opsPerSec: number, options: AsyncMeasureOptions = {}): number {
  const { runs, minMs, warmupMs, clients, latencySamples, latencyMaxMs } = resolveAsync(options);
  const perMs = opsPerSec / 1000;
  const timed = perMs * (warmupMs + runs * minMs) + clients * (runs + 1);
  const latency = Math.min(perMs * latencyMaxMs, Math.max(latencySamples, perMs * minMs)) + 1;
  return Math.ceil(timed + latency);
}

/**
 * Runs `clients` loops of `op` at once, each starting another operation while `more(elapsed,
 * count)` holds; returns how many finished and the wall time until the last did.
 */
async function drive(
  op: AsyncOperation,
  counter: { next: number },
  clients: number,
  more: (elapsedMs: number, count: number) => boolean,
  lap: Lap,
  settle: AsyncOperation | undefined,
  took?: (ms: number) => void,
): Promise<{ count: number; elapsed: number }> {
  const t0 = performance.now();
  let count = 0;
  const client = async (): Promise<void> => {
    while (more(performance.now() - t0, count)) {
      const i = counter.next++;
      const started = performance.now();
      sink = await op(i, lap);
      took?.(performance.now() - started);
      count++;
      if (settle !== undefined) await settle(i, NO_LAP);
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  return { count, elapsed: performance.now() - t0 };
}

function percentiles(samples: number[]): Percentiles {
  samples.sort((a, b) => a - b);
  const rank = (p: number) => samples[Math.max(0, Math.ceil((p / 100) * samples.length) - 1)] ?? 0;
  return { samples: samples.length, p50: rank(50), p99: rank(99) };
}

/**
 * Measures an async `op` in operations per second: a warm-up of `warmupMs`, then `runs` timed
 * runs of at least `minMs`, each with `clients` loops running the operation at once (a run ends
 * when the last operation started within `minMs` finishes). Then latency: one client at a time,
 * until `latencySamples` operations are timed (and `minMs` has passed) or `latencyMaxMs` has;
 * p50 and p99 of the whole operation and of each part it reported through its `lap`. `settle`, when
 * given, is awaited after each operation (see AsyncCaseOperations).
 */
export async function measureAsync(
  name: string,
  op: AsyncOperation,
  options: AsyncMeasureOptions = {},
  settle?: AsyncOperation,
): Promise<Measurement> {
  const {
    runs,
    minMs,
    warmupMs,
    clients,
    latencySamples: wanted,
    latencyMaxMs: maxMs,
  } = resolveAsync(options);
  const counter = { next: 0 };

  await drive(op, counter, clients, (elapsed) => elapsed < warmupMs, NO_LAP, settle);
  const opsPerSec: number[] = [];
  for (let r = 0; r < runs; r++) {
    const { count, elapsed } = await drive(op, counter, clients, (ms) => ms < minMs, NO_LAP, settle);
    opsPerSec.push((count / elapsed) * 1000);
  }

  const whole: number[] = [];
  const parts = new Map<string, number[]>();
  const lap: Lap = (part, ms) => {
    const list = parts.get(part);
    if (list === undefined) parts.set(part, [ms]);
    else list.push(ms);
  };
  await drive(
    op,
    counter,
    1,
    (elapsed, count) => elapsed < maxMs && (elapsed < minMs || count < wanted),
    lap,
    settle,
    (ms) => whole.push(ms),
  );
  return {
    ...summarise(name, opsPerSec),
    clients,
    latency: {
      ...percentiles(whole),
      parts: Object.fromEntries([...parts].map(([part, samples]) => [part, percentiles(samples)])),
    },
  };
}

/** Whether `figure`, at `ratio` to its ceiling, meets every bound `target` sets. */
export function isTargetMet(target: Target, figure: Measurement, ratio: number): boolean {
  const p99 = figure.latency?.p99;
  return (
    (target.opsPerSec === undefined || figure.median >= target.opsPerSec) &&
    (target.ratio === undefined || ratio >= target.ratio) &&
    (target.p99Ms === undefined || (p99 !== undefined && p99 <= target.p99Ms))
  );
}

function rowOf(suite: string, c: AnyBenchCase, figure: Measurement, ceiling: Measurement): Row {
  const ratio = ceiling.median > 0 ? figure.median / ceiling.median : 0;
  return {
    suite,
    figure,
    ceiling: { ...ceiling, what: c.ceiling },
    ratio,
    target: c.target === undefined ? null : { ...c.target, met: isTargetMet(c.target, figure, ratio) },
  };
}

/** The row of a case that could not run here, saying why. */
export function skippedRow(suite: string, c: AnyBenchCase, reason: string): Row {
  const empty = (name: string): Measurement => ({ name, runs: [], min: 0, median: 0, max: 0 });
  return { ...rowOf(suite, c, empty(c.name), empty(c.ceiling)), target: null, skipped: reason };
}

/** Sets an async case up, measures it and its ceiling back to back, and tears it down. */
export async function measureAsyncCase(
  suite: string,
  c: AsyncBenchCase,
  options: MeasureOptions = {},
): Promise<Row> {
  const minMs = options.minMs ?? DEFAULT_MIN_MS;
  const settings: AsyncMeasureOptions = {
    ...options,
    warmupMs: Math.max(options.warmupMs ?? minMs, c.warmupMs ?? 0),
    ...(c.clients === undefined ? {} : { clients: c.clients }),
    ...(c.latencySamples === undefined ? {} : { latencySamples: c.latencySamples }),
    ...(c.latencyMaxMs === undefined ? {} : { latencyMaxMs: c.latencyMaxMs }),
  };
  const prepared = await c.setupAsync(settings);
  if ('skipped' in prepared) return skippedRow(suite, c, prepared.skipped);
  try {
    const figure = await measureAsync(c.name, prepared.run, settings, prepared.settle);
    const ceiling = await measureAsync(c.ceiling, prepared.ceiling, settings);
    return rowOf(suite, c, figure, ceiling);
  } finally {
    await prepared.close?.();
  }
}

/** Measures a case of either kind. */
export async function measureAnyCase(
  suite: string,
  c: AnyBenchCase,
  options: MeasureOptions = {},
): Promise<Row> {
  return 'setupAsync' in c ? measureAsyncCase(suite, c, options) : measureCase(suite, c, options);
}

/**
 * Command-line options: `--json`, `--only <substring>`, `--runs <n>`, `--min-ms <ms>`, and
 * `--in-process` (every case in this process, e.g. under `node --cpu-prof`). `--case <id>` is
 * how run.ts asks a child process for one case.
 */
export interface BenchArgs {
  readonly json: boolean;
  readonly only: string | null;
  readonly inProcess: boolean;
  readonly caseId: string | null;
  readonly measure: MeasureOptions;
}

const USAGE = 'use --json, --only <substring>, --runs <n>, --min-ms <ms>, --in-process';

function positive(flag: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) {
    throw new RangeError(`${flag} needs a positive number, got '${value ?? ''}'`);
  }
  return n;
}

export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  let json = false;
  let only: string | null = null;
  let inProcess = false;
  let caseId: string | null = null;
  let runs: number | undefined;
  let minMs: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--json') json = true;
    else if (arg === '--only') only = argv[++i] ?? '';
    else if (arg?.startsWith('--only=')) only = arg.slice('--only='.length);
    else if (arg === '--in-process') inProcess = true;
    else if (arg === '--case') caseId = argv[++i] ?? '';
    else if (arg === '--runs') runs = Math.round(positive(arg, argv[++i]));
    else if (arg === '--min-ms') minMs = positive(arg, argv[++i]);
    else throw new RangeError(`unknown argument '${arg}' (${USAGE})`);
  }
  return {
    json,
    only,
    inProcess,
    caseId,
    measure: { ...(runs === undefined ? {} : { runs }), ...(minMs === undefined ? {} : { minMs }) },
  };
}

/** A case's id, `suite: name`, as printed and as matched by `--only` and `--case`. */
export function caseId(suite: string, c: Pick<AnyBenchCase, 'name'>): string {
  return `${suite}: ${c.name}`;
}

/** Whether a case is selected by `--only`: a case-insensitive substring of its id. */
export function isSelected(suite: string, c: Pick<AnyBenchCase, 'name'>, only: string | null): boolean {
  return only === null || caseId(suite, c).toLowerCase().includes(only.toLowerCase());
}

const INTEGER = new Intl.NumberFormat('en-GB', { maximumFractionDigits: 0 });

function ops(n: number): string {
  return INTEGER.format(n);
}

/** The target's bounds and whether they are met, then the measured values they were checked on. */
function targetNote(row: Row): string {
  const target = row.target;
  if (target === null) return '';
  const bounds = [
    target.opsPerSec === undefined ? undefined : `≥ ${ops(target.opsPerSec)}/s`,
    target.ratio === undefined ? undefined : `ratio ≥ ${target.ratio}`,
    target.p99Ms === undefined ? undefined : `p99 ≤ ${target.p99Ms} ms`,
  ].filter((b) => b !== undefined);
  const measured = [
    `median ${ops(row.figure.median)}/s`,
    target.ratio === undefined ? undefined : `ratio ${row.ratio.toFixed(3)}`,
    target.p99Ms === undefined ? undefined : `p99 ${millis(row.figure.latency?.p99 ?? Number.NaN)} ms`,
  ].filter((m) => m !== undefined);
  const source = target.source === undefined ? '' : ` (${target.source})`;
  return `target ${bounds.join(', ')}${source}: ${target.met ? 'met' : 'not met'}, ${measured.join(', ')}`;
}

function millis(n: number): string {
  return n.toFixed(n < 10 ? 2 : 1);
}

function p50p99(p: Percentiles | undefined): string {
  return p === undefined ? '' : `${millis(p.p50)} / ${millis(p.p99)}`;
}

/** The latency of each part a figure timed, beside the same part of its ceiling. */
function latencyNote(row: Row): string {
  const figure = row.figure.latency;
  if (figure === undefined) return '';
  const ceiling = row.ceiling.latency?.parts ?? {};
  const parts = Object.entries(figure.parts).map(([part, p]) => {
    const bare = ceiling[part];
    return `${part} ${p50p99(p)}${bare === undefined ? '' : ` (ceiling ${p50p99(bare)})`}`;
  });
  const whole = `whole ${p50p99(figure)} (ceiling ${p50p99(row.ceiling.latency)}), ${figure.samples} timed`;
  return [whole, ...parts].join('; ');
}

/**
 * Prints rows as an aligned table, figures in ops/s, then the target checks. Rows with latency
 * (async cases) add p50 / p99 columns for the figure and its ceiling, and a line per row with the
 * latency of each part; a skipped row says why in place of its figures.
 */
export function report(rows: readonly Row[], write: (line: string) => void = console.log): void {
  const measured = rows.filter((r) => r.skipped === undefined);
  const timed = measured.some((r) => r.figure.latency !== undefined);
  const header = ['figure', 'min /s', 'median /s', 'max /s', 'ceiling median /s', 'ceiling', 'ratio'];
  const right = [false, true, true, true, true, false, true];
  if (timed) {
    header.push('p50 / p99 ms, 1 client', 'ceiling p50 / p99 ms');
    right.push(true, true);
  }
  const cellsOf = (r: Row): string[] => [
    `${r.suite}: ${r.figure.name}`,
    ops(r.figure.min),
    ops(r.figure.median),
    ops(r.figure.max),
    ops(r.ceiling.median),
    r.ceiling.what,
    r.ratio.toFixed(3),
    ...(timed ? [p50p99(r.figure.latency), p50p99(r.ceiling.latency)] : []),
  ];
  const body = measured.map(cellsOf);
  const names = rows.map((r) => `${r.suite}: ${r.figure.name}`);
  const widths = header.map((h, i) =>
    Math.max(
      h.length,
      ...body.map((cells) => cells[i]?.length ?? 0),
      ...(i === 0 ? names.map((n) => n.length) : []),
    ),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => (right[i] ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  write(line(header));
  write(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) {
    if (r.skipped === undefined) write(line(cellsOf(r)));
    else write(`${`${r.suite}: ${r.figure.name}`.padEnd(widths[0] ?? 0)}  skipped: ${r.skipped}`);
  }
  const latencies = measured.filter((r) => r.figure.latency !== undefined);
  if (latencies.length > 0) {
    write('');
    write(
      'latency p50 / p99 ms, one client at a time (throughput figures use the clients their name gives):',
    );
    for (const r of latencies) write(`${r.suite}: ${r.figure.name}: ${latencyNote(r)}`);
  }
  const targets = measured.filter((r) => r.target !== null);
  if (targets.length > 0) {
    write('');
    for (const r of targets) write(`${r.suite}: ${r.figure.name}: ${targetNote(r)}`);
  }
}
