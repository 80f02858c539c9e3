import { resolve } from 'node:path';
import type { CliIo } from './cli-io.js';
import { runCli } from './run-cli.js';

/** The repository root, where `examples/` and `bin/` live. */
export const REPO_ROOT = resolve(import.meta.dirname, '../..');

/** What one in-process CLI run produced. */
export interface CapturedRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** stderr split into lines, without the trailing empty one. */
  readonly stderrLines: readonly string[];
}

/**
 * Runs the CLI in-process with buffers for stdout and stderr, an empty environment and the
 * repository root as working directory, for tests. `overrides` replaces any part of the io.
 */
export async function runCaptured(
  argv: readonly string[],
  overrides: Partial<CliIo> = {},
): Promise<CapturedRun> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (chunk: string) => (stdout += chunk) },
    stderr: { write: (chunk: string) => (stderr += chunk) },
    env: {},
    cwd: REPO_ROOT,
    ...overrides,
  };
  const code = await runCli(argv, io);
  return { code, stdout, stderr, stderrLines: stderr === '' ? [] : stderr.replace(/\n$/, '').split('\n') };
}
