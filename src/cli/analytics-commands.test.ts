import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUsaUser, expectOneLineFailure, ok } from '../../test/fixtures/cli.js';
import { runCaptured } from './captured-run.js';

// `accord similar`, `accord duplicates` and `accord alert-rule add --team` (issue 9): answers as
// the named user may read; bad options are one line on stderr, exit 2.

const KEY_ENV = { ACCORD_KEY_PASSPHRASE: 'a passphrase for the test node keys' } as const;
const SIGINT_CT = 'examples/products/usa-sigint-ct.json';
const root = mkdtempSync(join(tmpdir(), 'accord-analytics-cli-'));
const dir = join(root, 'usa');
const ids: string[] = [];

beforeAll(async () => {
  await ok(['init', '--dir', dir, '--partner', 'USA', '--json'], KEY_ENV);
  await addUsaUser(dir, 'ann', 'analyst', 'SECRET', ['--communities', 'ct-cell']);
  await addUsaUser(dir, 'cal', 'analyst', 'CONFIDENTIAL', ['--communities', 'ct-cell']);
  await addUsaUser(dir, 'bob', 'analyst', 'SECRET');
  for (let i = 0; i < 2; i++) {
    const created = await ok(
      ['product', 'create', SIGINT_CT, '--dir', dir, '--as', 'ann', '--json'],
      KEY_ENV,
    );
    ids.push((JSON.parse(created.stdout) as { id: string }).id);
  }
}, 60_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('accord similar and accord duplicates', () => {
  it('lists the products similar by text as the user may read them', async () => {
    const [first, second] = ids as [string, string];
    const listed = await ok(['similar', first, '--as', 'ann', '--dir', dir]);
    expect(listed.stdout).toMatch(new RegExp(`^1\\.0000  own ${second} v1  USA  `));
    expect(listed.stdout).toContain('1 similar product(s)');
    const json = JSON.parse((await ok(['similar', first, '--as', 'ann', '--dir', dir, '--json'])).stdout);
    expect(json).toMatchObject([{ id: second, score: 1 }]);
    // Drafts are their author's alone: to anyone else the product does not exist.
    expectOneLineFailure(await runCaptured(['similar', first, '--as', 'bob', '--dir', dir]), /no product/);
    expectOneLineFailure(
      await runCaptured(['similar', first, '--as', 'ann', '--limit', 'lots', '--dir', dir]),
      /--limit/,
    );
  });

  it('finds no cross-partner cluster in one partner’s own copies, and refuses a bad threshold', async () => {
    expect((await ok(['duplicates', '--as', 'ann', '--dir', dir])).stdout).toBe('0 cluster(s)\n');
    for (const [value, pattern] of [
      ['0.3', /between 0.5 and 1/],
      ['high', /--threshold/],
    ] as const) {
      expectOneLineFailure(
        await runCaptured(['duplicates', '--as', 'ann', '--threshold', value, '--dir', dir]),
        pattern,
      );
    }
  });
});

describe('accord alert-rule add --team', () => {
  it('adds a team rule for a member, shows it to the other members, refuses anyone else', async () => {
    const added = await ok([
      'alert-rule',
      'add',
      '--as',
      'cal',
      '--team',
      'ct-cell',
      '--kind',
      'reliable-source',
      '--partner',
      'GBR',
      '--min-reliability',
      'B',
      '--dir',
      dir,
    ]);
    expect(added.stdout).toMatch(/\(team ct-cell\)\n$/);
    expect((await ok(['alert-rule', 'list', '--as', 'ann', '--dir', dir])).stdout).toMatch(
      /from GBR at reliability B or better \(team ct-cell\)\n1 rule\(s\)\n$/,
    );
    expect((await ok(['alert-rule', 'list', '--as', 'bob', '--dir', dir])).stdout).toBe('0 rule(s)\n');
    expectOneLineFailure(
      await runCaptured([
        'alert-rule',
        'add',
        '--as',
        'bob',
        '--team',
        'ct-cell',
        '--kind',
        'entity-by-partners',
        '--dir',
        dir,
      ]),
      /only a member of team 'ct-cell'/,
    );
    expect((await ok(['alert-rule', 'list', '--as', 'bob', '--dir', dir])).stdout).toBe('0 rule(s)\n');
  });
});
