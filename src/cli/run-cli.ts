import { Command, CommanderError } from 'commander';
import { type ErrorCode, isAccordError } from '../errors/index.js';
import { registerAlertCommands } from './alert-commands.js';
import { registerAnalyticsCommands } from './analytics-commands.js';
import { registerArrangementSigningCommands } from './arrangement-signing-commands.js';
import { registerAuditCommands } from './audit-commands.js';
import { type CliIo, printable, writeLine } from './cli-io.js';
import { registerConsentCommands } from './consent-commands.js';
import { registerDemoCommand } from './demo-command.js';
import { registerGossipCommands } from './gossip-commands.js';
import { registerImportCommands } from './import-commands.js';
import { registerIncidentCommands } from './incident-commands.js';
import { registerKeyCommands } from './key-commands.js';
import { registerMarkingCommands } from './marking-commands.js';
import { registerNodeCommands } from './node-commands.js';
import { registerOutboxCommands } from './outbox-commands.js';
import { registerPolicyCommands } from './policy-commands.js';
import { registerRecallCommands } from './recall-commands.js';
import { registerReceivedCommands } from './received-commands.js';
import { registerReportCommands } from './report-commands.js';
import { registerStixCommands } from './stix-commands.js';
import { registerStreamCommand } from './stream-command.js';
import { registerTaxiiCommands } from './taxii-commands.js';

export type { CliIo, CliStream } from './cli-io.js';

/**
 * Exit codes: 0 done (a deny is a result, not a failure), 1 a bug or a failed integrity check
 * (`audit verify` found tampering), 2 bad usage or bad input.
 */
export const EXIT_OK = 0;
export const EXIT_INTERNAL = 1;
export const EXIT_CHECK_FAILED = 1;
export const EXIT_USAGE = 2;

// What `audit verify` finds wrong with a log: the check ran and the log failed it (exit 1, as the
// issue asks), unlike input the command could not use (exit 2).
const CHECK_FAILURES: ReadonlySet<ErrorCode> = new Set([
  'AUDIT_LOG_TAMPERED',
  'AUDIT_FORK_DETECTED',
  'AUDIT_SIGNATURE_INVALID',
  'AUDIT_PROOF_INVALID',
  'AUDIT_NO_TREE_HEAD',
]);

const MAX_CAUSE_DEPTH = 8;

/** Error text on one line: an error line must stay one line whatever the input put in the message. */
function oneLine(text: string): string {
  return printable(text).replace(/\s+/g, ' ').trim();
}

function buildProgram(io: CliIo): Command {
  // Settings made before .command() are inherited by every subcommand: exit override and output.
  const program = new Command('accord')
    .description('Accord: intelligence-sharing arrangements between allied partners')
    .option('--verbose', 'on error, also print the stack trace and its causes')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      // Commander's messages start "error: " and may add a "(Did you mean …?)" line.
      outputError: (text, write) => write(`accord: ${oneLine(text.replace(/^error: /, ''))}\n`),
      getOutHelpWidth: () => io.stdout.columns ?? 80,
      getErrHelpWidth: () => io.stderr.columns ?? 80,
      getOutHasColors: () => false,
      getErrHasColors: () => false,
    });
  registerMarkingCommands(program, io);
  registerPolicyCommands(program, io);
  registerNodeCommands(program, io);
  registerArrangementSigningCommands(program, io);
  registerRecallCommands(program, io);
  registerKeyCommands(program, io);
  registerOutboxCommands(program, io);
  registerReceivedCommands(program, io);
  registerAlertCommands(program, io);
  registerAnalyticsCommands(program, io);
  registerConsentCommands(program, io);
  registerAuditCommands(program, io);
  registerGossipCommands(program, io);
  registerIncidentCommands(program, io);
  registerReportCommands(program, io);
  registerImportCommands(program, io);
  registerStixCommands(program, io);
  registerStreamCommand(program, io);
  registerTaxiiCommands(program, io);
  registerDemoCommand(program, io);
  return program;
}

function writeStack(io: CliIo, error: unknown): void {
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < MAX_CAUSE_DEPTH; depth++) {
    const text =
      current instanceof Error ? (current.stack ?? `${current.name}: ${current.message}`) : String(current);
    const prefix = depth === 0 ? '' : 'caused by: ';
    for (const [i, line] of text.split('\n').entries())
      writeLine(io.stderr, `${i === 0 ? prefix : ''}${printable(line)}`);
    current = current instanceof Error ? current.cause : undefined;
  }
}

function report(error: unknown, io: CliIo, verbose: boolean): number {
  if (error instanceof CommanderError) {
    // Commander has already written its message or help through configureOutput.
    return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
  }
  if (isAccordError(error)) {
    writeLine(io.stderr, `accord: ${oneLine(error.message)} [${error.code}]`);
    if (verbose) writeStack(io, error);
    return CHECK_FAILURES.has(error.code) ? EXIT_CHECK_FAILED : EXIT_USAGE;
  }
  const message = error instanceof Error ? error.message : String(error);
  writeLine(io.stderr, `accord: internal error: ${oneLine(message)}`);
  if (verbose) writeStack(io, error);
  return EXIT_INTERNAL;
}

/**
 * Runs the `accord` command line in-process and resolves to the exit code; never calls
 * process.exit. Usage errors and AccordErrors print one line `accord: …` on stderr and give 2,
 * anything else `accord: internal error: …` and 1. `--verbose` adds the stack and causes.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT_OK;
  } catch (error) {
    return report(error, io, program.opts<{ verbose?: boolean }>().verbose === true);
  }
}
