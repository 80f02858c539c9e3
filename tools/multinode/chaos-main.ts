import { parseArgs } from 'node:util';
import { type ChaosReport, formatReport, runChaos } from './chaos.js';

// `npm run chaos -- --minutes N [--rate R] [--drop-rate P] [--kill-every S]`: runs the chaos, prints a
// progress line every few seconds and a summary, and exits 0 only when every check holds; else 1,
// with one line per failed check on stderr (2 for bad usage).

function usage(message: string): never {
  process.stderr.write(
    `chaos: ${message}\nusage: npm run chaos -- --minutes N [--rate RELEASES/S] [--drop-rate 0-1] [--kill-every SECONDS] [--verbose]\n`,
  );
  process.exit(2);
}

function numberOption(
  text: string | undefined,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < min || value > max)
    usage(`--${name} must be a number from ${min} to ${max}, not '${text}'`);
  return value;
}

// Ctrl-C: exit through process.exit, so that the harness's exit hook kills the nodes.
process.once('SIGINT', () => process.exit(130));

let values: Record<string, string | boolean | undefined>;
try {
  ({ values } = parseArgs({
    options: {
      minutes: { type: 'string' },
      rate: { type: 'string' },
      'drop-rate': { type: 'string' },
      'kill-every': { type: 'string' },
      verbose: { type: 'boolean' },
    },
    strict: true,
  }));
} catch (error) {
  usage((error as Error).message);
}

const text = (name: string) => {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
};

let report: ChaosReport;
try {
  report = await runChaos({
    minutes: numberOption(text('minutes'), 'minutes', 1, 0.1, 24 * 60),
    releasesPerSecond: numberOption(text('rate'), 'rate', 4, 0.1, 1000),
    dropRate: numberOption(text('drop-rate'), 'drop-rate', 0.03, 0, 1),
    killEveryMs: numberOption(text('kill-every'), 'kill-every', 6, 1, 3600) * 1000,
    log: (line) => process.stdout.write(`${line}\n`),
  });
} catch (error) {
  // The run could not be made (a node did not start, say): one line, the nodes' output with --verbose.
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(
    `chaos: the run failed: ${values.verbose === true ? message : message.split('\n')[0]}\n`,
  );
  process.exit(1);
}
for (const line of formatReport(report)) process.stdout.write(`${line}\n`);
const failed = report.checks.filter((c) => !c.ok);
for (const c of failed) process.stderr.write(`chaos: FAILED ${c.name}: ${c.detail}\n`);
process.exit(failed.length === 0 ? 0 : 1);
