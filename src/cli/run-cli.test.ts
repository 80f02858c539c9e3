import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, runCaptured } from './captured-run.js';

const STACK_FRAME = /^\s+at /m;

describe('runCli', () => {
  it('prints the stack and its cause only with --verbose', async () => {
    const quiet = await runCaptured(['marking', 'normalize', 'SECRET//REL TO USA, XYZ']);
    expect(quiet.stderr).not.toMatch(STACK_FRAME);

    const verbose = await runCaptured(['--verbose', 'marking', 'normalize', 'SECRET//REL TO USA, XYZ']);
    expect(verbose.code).toBe(2);
    expect(verbose.stderrLines[0]).toBe(
      "accord: unknown country or community code 'XYZ' at position 21 [MARKING_UNKNOWN_TOKEN]",
    );
    expect(verbose.stderr).toContain('AccordError: unknown country or community code');
    expect(verbose.stderr).toMatch(STACK_FRAME);
  });

  it('accepts --verbose after the subcommand too, and prints the cause chain', async () => {
    const run = await runCaptured([
      'policy',
      'release',
      '--product',
      'examples/products/does-not-exist.json',
      '--arrangement',
      'examples/arrangements/fvey-multilateral.json',
      '--to',
      'GBR',
      '--verbose',
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(STACK_FRAME);
    expect(run.stderr).toMatch(/^caused by: Error: ENOENT/m);
  });

  it('maps an error that is not an AccordError to exit 1 and "internal error", stack only with --verbose', async () => {
    const broken = {
      write: (): never => {
        throw new Error('stdout is gone');
      },
    };
    const quiet = await runCaptured(['marking', 'normalize', 'SECRET'], { stdout: broken });
    expect(quiet.code).toBe(1);
    expect(quiet.stderrLines).toEqual(['accord: internal error: stdout is gone']);

    const verbose = await runCaptured(['marking', 'normalize', 'SECRET', '--verbose'], { stdout: broken });
    expect(verbose.code).toBe(1);
    expect(verbose.stderr).toMatch(STACK_FRAME);
  });

  it.each([
    [['marking', 'normalize', 'SECRET', '--bogus'], "accord: unknown option '--bogus'"],
    [['marking', 'normalize', 'SECRET', '--jsn'], "accord: unknown option '--jsn' (Did you mean --json?)"],
    [['marking', 'normalize'], "accord: missing required argument 'marking'"],
    [
      ['marking', 'normalize', 'SECRET', 'NOFORN'],
      "accord: too many arguments for 'normalize'. Expected 1 argument but got 2.",
    ],
    // Far from every command name, so Commander suggests none ('nonsense' is close to 'consent').
    [['xyzzy'], "accord: unknown command 'xyzzy'"],
  ])('turns the usage error %j into exit 2 and one stderr line', async (argv, line) => {
    const run = await runCaptured(argv);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderrLines).toEqual([line]);
  });

  it('prints help on stdout with exit 0 for --help, and on stderr with exit 2 when no command is given', async () => {
    const help = await runCaptured(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: accord [options] [command]');
    expect(help.stderr).toBe('');

    const bare = await runCaptured([]);
    expect(bare.code).toBe(2);
    expect(bare.stdout).toBe('');
    expect(bare.stderr).toContain('Usage: accord');

    const group = await runCaptured(['policy']);
    expect(group.code).toBe(2);
    expect(group.stderr).toContain('Usage: accord policy');
  });

  it('runs end to end through the real binary (node bin/accord.js)', () => {
    const child = spawnSync(
      process.execPath,
      [
        'bin/accord.js',
        'marking',
        'normalize',
        'TOP SECRET//SI//REL TO USA, GBR, FVEY//ORCON',
        '--originator',
        'GBR',
      ],
      { cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 20_000 },
    );
    expect(child.stderr).toBe('');
    expect(child.stdout).toBe('TOP SECRET//SI//ORCON/REL TO GBR, USA, FVEY\n');
    expect(child.status).toBe(0);
  });
});
