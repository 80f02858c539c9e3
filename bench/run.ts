// `npm run bench`: runs every registered suite and prints each figure beside its ceiling.
// Usage: npm run bench -- [--only <substring>] [--json] [--runs <n>] [--min-ms <ms>] [--in-process]
// A suite is added by importing it here and listing it in SUITES; nothing registers itself.
// Each case is measured in a child process of its own (this script with `--case <id>`), which
// prints its row as JSON; `--in-process` measures them all here instead, for profiling.
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import {
  type AnyBenchCase,
  type BenchArgs,
  caseId,
  DEFAULT_MIN_MS,
  DEFAULT_RUNS,
  isSelected,
  measureAnyCase,
  parseBenchArgs,
  type Row,
  report,
  type Suite,
} from './harness.js';
import { analyticsSuite } from './suites/analytics.js';
import { auditSuite } from './suites/audit.js';
import { correlationSuite } from './suites/correlation.js';
import { federationSuite } from './suites/federation.js';
import { httpSuite } from './suites/http.js';
import { policySuite } from './suites/policy.js';
import { searchSuite } from './suites/search.js';
import { similaritySuite } from './suites/similarity.js';
import { stixSuite } from './suites/stix.js';
import { streamSuite } from './suites/stream.js';
import { taxiiSuite } from './suites/taxii.js';

const SUITES: readonly Suite[] = [
  policySuite,
  httpSuite,
  federationSuite,
  auditSuite,
  stixSuite,
  taxiiSuite,
  streamSuite,
  analyticsSuite,
  correlationSuite,
  searchSuite,
  similaritySuite,
];

function selected(args: BenchArgs): { suite: Suite; c: AnyBenchCase }[] {
  return SUITES.flatMap((suite) =>
    suite.cases
      .filter((c) =>
        args.caseId === null ? isSelected(suite.name, c, args.only) : caseId(suite.name, c) === args.caseId,
      )
      .map((c) => ({ suite, c })),
  );
}

/** Measures one case in a fresh process with the same runtime flags (the tsx loader among them). */
function measureInChild(id: string, args: BenchArgs): Row {
  const passOn = [
    ...(args.measure.runs === undefined ? [] : ['--runs', String(args.measure.runs)]),
    ...(args.measure.minMs === undefined ? [] : ['--min-ms', String(args.measure.minMs)]),
  ];
  const child = spawnSync(
    process.execPath,
    [...process.execArgv, process.argv[1] ?? '', '--case', id, ...passOn],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  if (child.status !== 0) throw new Error(`benchmark '${id}' exited with ${child.status ?? child.signal}`);
  return JSON.parse(child.stdout) as Row;
}

async function main(): Promise<void> {
  let args: BenchArgs;
  try {
    args = parseBenchArgs(process.argv.slice(2));
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 2;
    return;
  }
  const cases = selected(args);
  if (args.caseId !== null) {
    const only = cases[0];
    if (only === undefined) throw new Error(`no benchmark '${args.caseId}'`);
    process.stdout.write(JSON.stringify(await measureAnyCase(only.suite.name, only.c, args.measure)));
    return;
  }

  const environment = {
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    platform: `${process.platform} ${process.arch}`,
    date: new Date().toISOString(),
  };
  // With --json, stdout carries the JSON document alone; progress goes to stderr.
  const progress = args.json ? (line: string) => process.stderr.write(`${line}\n`) : console.log;
  progress(
    `Accord benchmarks — Node ${environment.node}, ${environment.cpu} (${environment.cores} cores), ${environment.platform}`,
  );
  progress(
    `each figure: ops/s over ${args.measure.runs ?? DEFAULT_RUNS} runs of ≥ ${args.measure.minMs ?? DEFAULT_MIN_MS} ms ` +
      `after a warm-up, ${args.inProcess ? 'all in this process' : 'each case in its own process'}, beside the ` +
      'median of its ceiling measured in the same run; ratio = figure median / ceiling median',
  );
  progress('');

  const rows: Row[] = [];
  for (const { suite, c } of cases) {
    const id = caseId(suite.name, c);
    if (!args.json) process.stderr.write(`  measuring ${id} …\n`);
    rows.push(args.inProcess ? await measureAnyCase(suite.name, c, args.measure) : measureInChild(id, args));
  }
  if (args.json) process.stdout.write(`${JSON.stringify({ environment, rows }, null, 2)}\n`);
  else if (rows.length === 0) progress(`no benchmark matches --only '${args.only ?? ''}'`);
  else report(rows);
}

await main();
