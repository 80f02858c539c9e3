import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUsaUser, expectOneLineFailure, ok } from '../../test/fixtures/cli.js';
import { buildNode } from '../app/node.js';
import type { StixObject } from '../interop/stix/index.js';
import type { TableCounts } from '../store/index.js';
import { REPO_ROOT, runCaptured } from './captured-run.js';
import { loadNodeConfig } from './local-node.js';
import { PROGRESS_MIN_OBJECTS } from './stix-commands.js';

// `accord export stix` and `accord import stix` on a USA node holding the FVEY arrangement and
// the approved example product (p3 is S//NF and must never reach a partner).

const KEY_ENV = { ACCORD_KEY_PASSPHRASE: 'a passphrase for the test node keys' } as const;
const FVEY = 'examples/arrangements/fvey-multilateral.json';
const SIGINT_CT = 'examples/products/usa-sigint-ct.json';
const NOFORN_TEXT = 'sensitive access that must not be disclosed';
const root = mkdtempSync(join(tmpdir(), 'accord-stix-cli-'));
const usa = join(root, 'usa');
let productId = '';

async function counts(): Promise<TableCounts> {
  const io = { stdout: { write: () => true }, stderr: { write: () => true }, env: {}, cwd: REPO_ROOT };
  const node = await buildNode(await loadNodeConfig(io, usa, { log: { level: 'silent' } }));
  try {
    return await node.store.counts();
  } finally {
    await node.close();
  }
}

beforeAll(async () => {
  await ok(['init', '--dir', usa, '--partner', 'USA', '--json'], KEY_ENV);
  await addUsaUser(usa, 'ann', 'analyst', 'TOP SECRET', ['--caveats', 'SI']);
  await addUsaUser(usa, 'olly', 'release-officer', 'TOP SECRET', ['--caveats', 'SI']);
  await ok(['arrangement', 'add', FVEY, '--dir', usa, '--as', 'admin']);
  const created = await ok(['product', 'create', SIGINT_CT, '--dir', usa, '--as', 'ann', '--json'], KEY_ENV);
  productId = (JSON.parse(created.stdout) as { id: string }).id;
  await ok(['product', 'submit', productId, '--dir', usa, '--as', 'ann']);
  await ok(['product', 'approve', productId, '--dir', usa, '--as', 'olly']);
}, 60_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('accord export stix', () => {
  it('writes the whole product as a bundle for the operator', async () => {
    const run = await ok(['export', 'stix', '--product', productId, '--dir', usa]);
    const bundle = JSON.parse(run.stdout) as { type: string; objects: StixObject[] };
    expect(bundle.type).toBe('bundle');
    expect(bundle.objects.filter((o) => o.type === 'note').map((o) => o.x_accord_portion)).toEqual([
      'p1',
      'p2',
      'p3',
    ]);
  });

  it('--for GBR writes only what GBR would be released, never the NOFORN portion', async () => {
    const out = join(root, 'for-gbr.json');
    const run = await ok(['export', 'stix', '--all', '--for', 'GBR', '--out', out, '--dir', usa]);
    expect(run.stdout).toBe('');
    const text = readFileSync(out, 'utf8');
    expect(text).not.toContain(NOFORN_TEXT);
    const bundle = JSON.parse(text) as { objects: StixObject[] };
    expect(bundle.objects.filter((o) => o.type === 'note').map((o) => o.x_accord_portion)).toEqual([
      'p1',
      'p2',
    ]);
  });

  it('refuses bad usage with one line and exit 2', async () => {
    expectOneLineFailure(
      await runCaptured(['export', 'stix', '--dir', usa]),
      /exactly one of --product <id> and --all/,
    );
    expectOneLineFailure(
      await runCaptured(['export', 'stix', '--all', '--for', 'gbr', '--dir', usa]),
      /--for: 'gbr' is not a partner trigraph/,
    );
    expectOneLineFailure(
      await runCaptured(['export', 'stix', '--product', 'nope', '--dir', usa]),
      /no product 'nope'/,
    );
  });
});

describe('accord import stix', () => {
  it('imports an exported bundle as a draft product keeping its STIX ids', async () => {
    const file = join(root, 'whole.json');
    await ok(['export', 'stix', '--product', productId, '--out', file, '--dir', usa]);
    const run = await ok(['import', 'stix', file, '--as', 'ann', '--dir', usa, '--json']);
    const summary = JSON.parse(run.stdout) as { objects: number; products: string[] };
    expect(summary.products).toHaveLength(1);
    const again = await ok(['export', 'stix', '--product', summary.products[0] as string, '--dir', usa]);
    const report = (JSON.parse(again.stdout) as { objects: StixObject[] }).objects.find(
      (o) => o.type === 'report',
    );
    const original = (JSON.parse(readFileSync(file, 'utf8')) as { objects: StixObject[] }).objects.find(
      (o) => o.type === 'report',
    );
    expect(report?.id).toBe(original?.id);
    expect(report?.modified).toBe(original?.modified);
  });

  it('refuses a bad bundle with the JSON path of its first error and stores nothing', async () => {
    const before = await counts();
    // As stix2.1-examples/invalid/validator-invalid_timestamp.json: modified before created.
    const identity = {
      type: 'identity',
      spec_version: '2.1',
      id: 'identity--8c6af861-7b20-41ef-9b59-6344fd872a8f',
      created: '2016-08-08T15:50:10.983Z',
      modified: '2015-08-08T15:50:10.983Z',
      name: 'Franistan Intelligence',
      identity_class: 'organization',
    };
    const file = join(root, 'bad.json');
    const bundle = {
      type: 'bundle',
      id: 'bundle--0b7f6b8e-7c4a-4b38-9f5e-2f1c7f0f3a11',
      objects: [identity],
    };
    writeFileSync(file, JSON.stringify(bundle));
    expectOneLineFailure(
      await runCaptured(['import', 'stix', file, '--as', 'ann', '--dir', usa]),
      /STIX \/objects\/0\/modified: modified is earlier than created \[STIX_INVALID\]/,
    );
    expect(await counts()).toEqual(before);
  });

  it('shows a progress bar on stderr for a large bundle', async () => {
    const objects = Array.from({ length: PROGRESS_MIN_OBJECTS }, (_, i) => ({
      type: 'ipv4-addr',
      spec_version: '2.1',
      id: `ipv4-addr--${String(i).padStart(8, '0')}-0000-4000-8000-000000000000`,
      value: `10.0.${i >> 8}.${i & 255}`,
    }));
    const file = join(root, 'large.json');
    writeFileSync(
      file,
      JSON.stringify({ type: 'bundle', id: 'bundle--1b7f6b8e-7c4a-4b38-9f5e-2f1c7f0f3a11', objects }),
    );
    const run = await runCaptured(['import', 'stix', file, '--as', 'ann', '--dir', usa]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      `imported ${PROGRESS_MIN_OBJECTS} STIX objects (${PROGRESS_MIN_OBJECTS} new), 0 products\n`,
    );
    expect(run.stderr).toContain('storing STIX objects');
  });
});
