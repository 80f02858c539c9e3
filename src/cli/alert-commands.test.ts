import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOneLineFailure, ok } from '../../test/fixtures/cli.js';
import { runCaptured } from './captured-run.js';

// `accord alert-rule add|list|remove` and `accord alerts` (issue 9): rules are the user's own;
// a malformed rule is one line on stderr, exit 2, and nothing stored.

const KEY_ENV = { ACCORD_KEY_PASSPHRASE: 'a passphrase for the test node keys' } as const;
const root = mkdtempSync(join(tmpdir(), 'accord-alert-cli-'));
const dir = join(root, 'usa');

beforeAll(async () => {
  await ok(['init', '--dir', dir, '--partner', 'USA', '--json'], KEY_ENV);
  for (const username of ['ann', 'bob']) {
    await ok([
      'user',
      'add',
      '--dir',
      dir,
      '--username',
      username,
      '--nationality',
      'USA',
      '--clearance',
      'SECRET',
      '--role',
      'analyst',
    ]);
  }
}, 60_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('accord alert-rule and accord alerts', () => {
  it('adds, lists and removes a user’s rules, and lists their alerts', async () => {
    const added = await ok([
      'alert-rule',
      'add',
      '--as',
      'ann',
      '--kind',
      'entity-by-partners',
      '--min-partners',
      '2',
      '--window-hours',
      '24',
      '--entity-types',
      'ipv4,domain',
      '--dir',
      dir,
      '--json',
    ]);
    const { id } = JSON.parse(added.stdout) as { id: string };
    const listed = await ok(['alert-rule', 'list', '--as', 'ann', '--dir', dir]);
    expect(listed.stdout).toContain(`${id}  the same entity (ipv4, domain) from 2 partners within 24 h`);
    expect((await ok(['alert-rule', 'list', '--as', 'bob', '--dir', dir])).stdout).toBe('0 rule(s)\n');
    expect((await ok(['alerts', '--as', 'ann', '--dir', dir])).stdout).toBe('0 alert(s)\n');
    // Another user's rule is not found, as if it did not exist.
    expectOneLineFailure(
      await runCaptured(['alert-rule', 'remove', id, '--as', 'bob', '--dir', dir]),
      /no alert rule/,
    );
    await ok(['alert-rule', 'remove', id, '--as', 'ann', '--dir', dir]);
    expect((await ok(['alert-rule', 'list', '--as', 'ann', '--dir', dir])).stdout).toBe('0 rule(s)\n');
  });

  it('refuses a malformed rule with one line and stores nothing', async () => {
    for (const [args, pattern] of [
      [['--kind', 'sometimes'], /--kind/],
      [['--kind', 'entity-by-partners', '--min-partners', '1'], /minPartners|>= 2|min/i],
      [['--kind', 'entity-by-partners', '--window-hours', 'soon'], /--window-hours/],
      [['--kind', 'watched-area'], /--bbox/],
      [['--kind', 'reliable-source', '--partner', 'GBR', '--min-reliability', 'Q'], /alert rule/],
    ] as const) {
      expectOneLineFailure(
        await runCaptured(['alert-rule', 'add', '--as', 'ann', '--dir', dir, ...args]),
        pattern,
      );
    }
    expect((await ok(['alert-rule', 'list', '--as', 'ann', '--dir', dir])).stdout).toBe('0 rule(s)\n');
  });
});
