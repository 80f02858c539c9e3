// The benchmark harness behind `npm run bench` (DESIGN.md §6). Benchmarks report, they never
// fail the run: a missed target is printed, not thrown. Each figure is measured next to the
// ceiling that bounds it, in the same process and the same run, so the ratio between the two
// is comparable across machines even where the absolute numbers are not. Each case runs in a
// process of its own (see run.ts), so one case's garbage and JIT state do not weigh on the next.
import { performance } from 'node:perf_hooks';

/** ops/s of each timed run, and their summary. */
export interface Measurement {
  readonly name: string;
  readonly runs: readonly number[];
  readonly min: number;
  readonly median: number;
  readonly max: number;
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

/** A figure and the ceiling it is judged against. */
export interface BenchCase {
  /** What is counted per second, e.g. `release decisions/s (20 portions, 4 withheld)`. */
  readonly name: string;
  /** What the ceiling is, in a few words, e.g. `bare rank + Set.has loop`. */
  readonly ceiling: string;
  /** A target from an issue, checked on the median and reported; never fatal. */
  readonly target?: { readonly opsPerSec: number; readonly source?: string };
  /** Builds the inputs (only for a case that is measured) and returns the figure's and ceiling's operations. */
  readonly setup: () => { readonly run: Operation; readonly ceiling: Operation };
}

/** A named group of cases, listed without running any set-up. */
export interface Suite {
  readonly name: string;
  readonly cases: readonly BenchCase[];
}

/** A measured case: the figure, its ceiling, their ratio and the target check. */
export interface Row {
  readonly suite: string;
  readonly figure: Measurement;
  readonly ceiling: Measurement & { readonly what: string };
  /** figure median / ceiling median. */
  readonly ratio: number;
  readonly target: { readonly opsPerSec: number; readonly source?: string; readonly met: boolean } | null;
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

/** Sets a case up, then measures it and its ceiling back to back. */
export function measureCase(suite: string, c: BenchCase, options: MeasureOptions = {}): Row {
  const operations = c.setup();
  const figure = measure(c.name, operations.run, options);
  const ceiling = measure(c.ceiling, operations.ceiling, options);
  return {
    suite,
    figure,
    ceiling: { ...ceiling, what: c.ceiling },
    ratio: ceiling.median > 0 ? figure.median / ceiling.median : 0,
    target: c.target === undefined ? null : { ...c.target, met: figure.median >= c.target.opsPerSec },
  };
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
export function caseId(suite: string, c: BenchCase): string {
  return `${suite}: ${c.name}`;
}

/** Whether a case is selected by `--only`: a case-insensitive substring of its id. */
export function isSelected(suite: string, c: BenchCase, only: string | null): boolean {
  return only === null || caseId(suite, c).toLowerCase().includes(only.toLowerCase());
}

const INTEGER = new Intl.NumberFormat('en-GB', { maximumFractionDigits: 0 });

function ops(n: number): string {
  return INTEGER.format(n);
}

function targetNote(row: Row): string {
  if (row.target === null) return '';
  const source = row.target.source === undefined ? '' : ` (${row.target.source})`;
  return `target ≥ ${ops(row.target.opsPerSec)}/s${source}: ${row.target.met ? 'met' : 'not met'}`;
}

/** Prints rows as an aligned table, figures in ops/s, then the target checks. */
export function report(rows: readonly Row[], write: (line: string) => void = console.log): void {
  const header = ['figure', 'min /s', 'median /s', 'max /s', 'ceiling median /s', 'ceiling', 'ratio'];
  const right = [false, true, true, true, true, false, true];
  const body = rows.map((r) => [
    `${r.suite}: ${r.figure.name}`,
    ops(r.figure.min),
    ops(r.figure.median),
    ops(r.figure.max),
    ops(r.ceiling.median),
    r.ceiling.what,
    r.ratio.toFixed(3),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((cells) => cells[i]?.length ?? 0)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => (right[i] ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  write(line(header));
  write(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const cells of body) write(line(cells));
  const targets = rows.filter((r) => r.target !== null);
  if (targets.length > 0) {
    write('');
    for (const r of targets)
      write(`${r.suite}: ${r.figure.name}: ${targetNote(r)}, median ${ops(r.figure.median)}/s`);
  }
}
