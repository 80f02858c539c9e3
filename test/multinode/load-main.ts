import { parseArgs } from 'node:util';
import { LOAD_LIMITS, type LoadOptions, runLoad, summaryLines } from './load.js';

// `npm run load -- --nodes N --minutes M [--rate R] [--arrangements A] [--p99-ms T]`: see load.ts.
// Exit 0 when every check holds, 1 with one line per failed check, 2 on bad arguments.

function fail(message: string): never {
  process.stderr.write(`accord load: ${message}\n`);
  process.exit(2);
}

function numberOption(
  values: Record<string, string | undefined>,
  name: keyof typeof LOAD_LIMITS | 'p99-ms',
  fallback: number,
  integer: boolean,
): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const value = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : Number.NaN;
  const limits = name === 'p99-ms' ? { min: 1, max: 60_000 } : LOAD_LIMITS[name];
  if (
    Number.isNaN(value) ||
    (integer && !Number.isInteger(value)) ||
    value < limits.min ||
    value > limits.max
  ) {
    fail(
      `--${name}: '${raw}' is not ${integer ? 'a whole number' : 'a number'} from ${limits.min} to ${limits.max}`,
    );
  }
  return value;
}

let parsed: ReturnType<typeof parseArgs<{ options: Record<string, { type: 'string' }> }>>;
try {
  parsed = parseArgs({
    options: {
      nodes: { type: 'string' },
      minutes: { type: 'string' },
      rate: { type: 'string' },
      arrangements: { type: 'string' },
      'p99-ms': { type: 'string' },
    },
    strict: true,
  });
} catch (error) {
  fail((error as Error).message.split('\n')[0] ?? 'bad arguments');
}
const values = parsed.values as Record<string, string | undefined>;
const nodes = numberOption(values, 'nodes', 5, true);
const options: LoadOptions = {
  nodes,
  minutes: numberOption(values, 'minutes', 1, false),
  rate: numberOption(values, 'rate', nodes >= 32 ? 100 : 20, false),
  arrangements: numberOption(values, 'arrangements', nodes >= 32 ? 5 : 1, true),
  p99TargetMs: numberOption(values, 'p99-ms', 200, false),
  log: (line) => process.stderr.write(`${line}\n`),
};
if (options.arrangements > nodes)
  fail(`--arrangements: ${options.arrangements} is more than the ${nodes} nodes`);

const summary = await runLoad(options);
for (const line of summaryLines(summary)) process.stdout.write(`${line}\n`);
for (const check of summary.checks) {
  if (!check.ok) process.stderr.write(`accord load: FAILED ${check.name}: ${check.detail}\n`);
}
process.exit(summary.ok ? 0 : 1);
