import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUsaUser, expectOneLineFailure, initUsaWithGbr, ok } from '../../test/fixtures/cli.js';
import { buildNode } from '../app/node.js';
import type { RecallStatus, SealedRecall } from '../services/recall-service.js';
import type { Store } from '../store/index.js';
import { REPO_ROOT, runCaptured } from './captured-run.js';
import { loadNodeConfig } from './local-node.js';

// `accord product recall` and `accord product recalls` on a USA node that released a product to
// GBR: the recall is sealed to GBR with the node's keys (so it needs the passphrase), queued with
// the state change, and listed per recipient.

const KEY_ENV = { ACCORD_KEY_PASSPHRASE: 'a passphrase for the test node keys' } as const;
const FVEY = 'examples/arrangements/fvey-multilateral.json';
const SIGINT_CT = 'examples/products/usa-sigint-ct.json';
const root = mkdtempSync(join(tmpdir(), 'accord-recall-cli-'));
const usa = join(root, 'usa');
const gbr = join(root, 'gbr');

/** Opens the USA node the way the CLI does, runs `work` on its store, closes it. */
async function onUsa<T>(work: (store: Store) => Promise<T>): Promise<T> {
  const io = { stdout: { write: () => true }, stderr: { write: () => true }, env: {}, cwd: REPO_ROOT };
  const node = await buildNode(await loadNodeConfig(io, usa, { log: { level: 'silent' } }));
  try {
    return await work(node.store);
  } finally {
    await node.close();
  }
}

async function stateOf(id: string): Promise<string | undefined> {
  return onUsa(async (store) => (await store.products.get(id))?.state);
}

/** Writes, approves and releases the example product to GBR; returns its id. */
async function released(): Promise<string> {
  const created = await ok(['product', 'create', SIGINT_CT, '--dir', usa, '--as', 'ann', '--json'], KEY_ENV);
  const { id } = JSON.parse(created.stdout) as { id: string };
  await ok(['product', 'submit', id, '--dir', usa, '--as', 'ann']);
  await ok(['product', 'approve', id, '--dir', usa, '--as', 'olly']);
  await ok(
    ['product', 'release', id, '--to', 'GBR', '--under', 'fvey-multilateral', '--dir', usa, '--as', 'olly'],
    KEY_ENV,
  );
  return id;
}

beforeAll(async () => {
  await initUsaWithGbr(root, usa, gbr, KEY_ENV);
  await addUsaUser(usa, 'ann', 'analyst', 'TOP SECRET', ['--caveats', 'SI']);
  await addUsaUser(usa, 'olly', 'release-officer', 'TOP SECRET', ['--caveats', 'SI']);
  await ok(['arrangement', 'add', FVEY, '--dir', usa, '--as', 'admin']);
}, 60_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('accord product recall', () => {
  it('queues a sealed recall to GBR, withdraws the undelivered release, and lists it per recipient', async () => {
    const id = await released();
    const run = await ok(
      ['product', 'recall', id, '--reason', 'Source withdrawn.', '--dir', usa, '--as', 'olly'],
      KEY_ENV,
    );
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      new RegExp(`^recall [0-9a-f-]{36} of ${id} \\(all versions\\) by olly at \\S+Z: Source withdrawn\\.$`),
    );
    expect(lines[1]).toBe('  GBR under fvey-multilateral v1  pending, attempts 0');
    expect(lines.at(-1)).toBe('1 recall envelope(s) queued for delivery');
    expect(await stateOf(id)).toBe('recalled');

    const listed = await ok(['product', 'recalls', id, '--dir', usa, '--as', 'olly', '--json']);
    const [recall] = JSON.parse(listed.stdout) as RecallStatus[];
    expect(recall).toMatchObject({
      productId: id,
      version: 'all',
      reason: 'Source withdrawn.',
      recalledBy: 'olly',
    });
    expect(recall?.recipients).toMatchObject([{ recipient: 'GBR', status: 'pending', receipt: null }]);
    const queued = await onUsa(
      async (store) => (await store.outbox.get(recall?.recipients[0]?.envelopeId ?? ''))?.payload,
    );
    expect((queued as SealedRecall).envelope.header).toMatchObject({
      kind: 'recall',
      from: 'USA',
      to: 'GBR',
    });
    const text = await ok(['product', 'recalls', id, '--dir', usa, '--as', 'olly']);
    expect(text.stdout.trimEnd().split('\n').at(-1)).toBe('1 recall(s)');

    // The outbox holds the recall sealed to GBR, and the release it withdrew, given up with why.
    const outbox = await ok(['outbox', 'list', '--dir', usa, '--json']);
    const entries = JSON.parse(outbox.stdout) as { kind: string; status: string; lastError: string | null }[];
    expect(entries.find((e) => e.kind === 'recall')).toMatchObject({ status: 'pending', lastError: null });
    expect(entries.find((e) => e.kind === 'release')?.lastError).toMatch(/^recalled before delivery/);
    expect((await ok(['outbox', 'list', '--dir', usa])).stdout).toMatch(
      new RegExp(`GBR  ${id} v1 recall  pending`),
    );
  });

  it('needs the key passphrase to seal the recall, and recalls nothing without it', async () => {
    const id = await released();
    const run = await runCaptured(['product', 'recall', id, '--reason', 'x', '--dir', usa, '--as', 'olly']);
    expectOneLineFailure(run, /set ACCORD_KEY_PASSPHRASE \[KEY_PASSPHRASE_MISSING\]$/);
    expect(await stateOf(id)).toBe('released');
  });

  it.each<[string, readonly string[], RegExp]>([
    ['an analyst', ['--as', 'ann'], /product:recall is not granted to roles analyst \[FORBIDDEN\]$/],
    [
      'a version that is no number',
      ['--as', 'olly', '--version', 'two'],
      /--version: 'two' is not a version number \[INPUT_INVALID\]$/,
    ],
    ['a version it does not have', ['--as', 'olly', '--version', '2'], /has no version 2 \[NOT_FOUND\]$/],
    ['a blank reason', ['--as', 'olly', '--reason', ' '], /reason must be 1 to 2000 characters/],
  ])('refuses a recall by %s in one line, changing nothing', async (_what, extra, pattern) => {
    const id = await released();
    const argv = ['product', 'recall', id, '--reason', 'r', '--dir', usa, ...extra];
    expectOneLineFailure(await runCaptured(argv, { env: KEY_ENV }), pattern);
    expect(await stateOf(id)).toBe('released');
  });
});
