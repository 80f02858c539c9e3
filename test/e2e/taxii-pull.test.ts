import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildNode } from '../../src/app/node.js';
import { type CapturedRun, REPO_ROOT, runCaptured } from '../../src/cli/captured-run.js';
import { loadNodeConfig } from '../../src/cli/local-node.js';
import { TAXII_STATE_FILE } from '../../src/cli/taxii-commands.js';
import { NODE_COLLECTION_ID } from '../../src/interop/taxii/index.js';
import type { Actor } from '../../src/services/actor.js';
import type { TableCounts } from '../../src/store/index.js';
import { sharedData } from '../fixtures/shared-data.js';
import { makeDraft, startTestNode, type TestNode, USERS } from './harness.js';

// `accord taxii pull` from a real TAXII server on loopback: our own node listening on 127.0.0.1,
// and a tiny server over the medallion fixture data. A rerun resumes after the last
// X-TAXII-Date-Added-Last it imported: nothing is missed, nothing imported twice.

const KEY_ENV = { ACCORD_KEY_PASSPHRASE: 'a passphrase for the taxii pull test' } as const;
const MEDALLION = sharedData('taxii', 'medallion-default_data.json');
const root = mkdtempSync(join(tmpdir(), 'accord-taxii-pull-'));
const local = join(root, 'local');
let remote: TestNode;
let apiRoot = '';
let author: Actor;
const env = { ...KEY_ENV, REMOTE_PASSWORD: USERS.analyst.password } as Record<string, string>;

function expectOneLineFailure(run: CapturedRun, pattern: RegExp): void {
  expect(run.code).toBe(2);
  expect(run.stdout).toBe('');
  expect(run.stderrLines).toHaveLength(1);
  expect(run.stderrLines[0]).toMatch(/^accord: /);
  expect(run.stderrLines[0]).toMatch(pattern);
}

async function ok(argv: readonly string[]): Promise<CapturedRun> {
  const run = await runCaptured(argv, { env });
  expect(run.stderr, argv.join(' ')).toBe('');
  expect(run.code).toBe(0);
  return run;
}

async function localCounts(): Promise<TableCounts> {
  const io = { stdout: { write: () => true }, stderr: { write: () => true }, env: {}, cwd: REPO_ROOT };
  const node = await buildNode(await loadNodeConfig(io, local, { log: { level: 'silent' } }));
  try {
    return await node.store.counts();
  } finally {
    await node.close();
  }
}

const pull = (...extra: string[]) => [
  'taxii',
  'pull',
  apiRoot,
  '--collection',
  NODE_COLLECTION_ID,
  '--as',
  'ann',
  '--user',
  USERS.analyst.username,
  '--password-env',
  'REMOTE_PASSWORD',
  '--json',
  '--dir',
  local,
  ...extra,
];

interface Summary {
  readonly pages: number;
  readonly objects: number;
  readonly added: number;
  readonly resumeAfter: string | null;
}

async function addRemoteProducts(from: number, count: number): Promise<void> {
  for (let k = from; k < from + count; k++) {
    const draft = await remote.node.services.products.createDraft(
      author,
      makeDraft({
        title: `Pulled report ${k}`,
        titleMarking: '(U//REL TO USA, FVEY)',
        portions: [{ id: 'p1', marking: '(C//REL TO USA, FVEY)', text: `Portion of pulled report ${k}.` }],
      }),
    );
    await remote.node.services.products.submit(author, draft.id);
  }
}

beforeAll(async () => {
  remote = await startTestNode();
  const user = await remote.store.users.getByUsername(USERS.analyst.username);
  author = { user: user!, via: 'local' };
  await addRemoteProducts(0, 4);
  const address = await remote.server.listen({ host: '127.0.0.1', port: 0 });
  apiRoot = `${address}/taxii2/accord/`;
  await ok(['init', '--dir', local, '--partner', 'USA', '--json']);
  await ok([
    'user',
    'add',
    '--dir',
    local,
    '--username',
    'ann',
    '--nationality',
    'USA',
    '--clearance',
    'TOP SECRET',
    '--role',
    'analyst',
    '--caveats',
    'SI',
  ]);
}, 60_000);

afterAll(async () => {
  await remote?.close();
  rmSync(root, { recursive: true, force: true });
});

describe('accord taxii pull', () => {
  it('imports a remote collection page by page and records where it got to', async () => {
    const run = await ok(pull('--limit', '3'));
    const summary = JSON.parse(run.stdout) as Summary;
    expect(summary.objects).toBeGreaterThan(4);
    expect(summary.pages).toBe(Math.ceil(summary.objects / 3));
    expect(summary.added).toBe(summary.objects);
    const state = JSON.parse(readFileSync(join(local, TAXII_STATE_FILE), 'utf8')) as {
      pulls: Record<string, { addedAfter: string }>;
    };
    expect(Object.values(state.pulls).map((p) => p.addedAfter)).toEqual([summary.resumeAfter]);
    expect((await localCounts()).stix_objects).toBe(summary.objects);
  });

  it('resumes after the last date imported: only what was added since, each once', async () => {
    const before = (await localCounts()).stix_objects;
    const idle = JSON.parse((await ok(pull())).stdout) as Summary;
    expect(idle.objects).toBe(0);
    await addRemoteProducts(10, 3);
    const resumed = JSON.parse((await ok(pull('--limit', '2'))).stdout) as Summary;
    expect(resumed.objects).toBeGreaterThan(0);
    // Nothing repeated: every object pulled is new here (a repeat would count as pulled, not added).
    expect(resumed.added).toBe(resumed.objects);
    const after = (await localCounts()).stix_objects;
    expect(after).toBe(before + resumed.objects);
    // Nothing missed: a full pull from the beginning adds nothing.
    const again = JSON.parse((await ok(pull('--since', '2000-01-01T00:00:00Z'))).stdout) as Summary;
    expect(again.objects).toBe(after);
    expect(again.added).toBe(0);
  });

  it('shows a progress bar when asked', async () => {
    const run = await runCaptured(pull('--since', '2000-01-01T00:00:00Z', '--progress'), { env });
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/pulling TAXII objects .* objects/);
  });

  it('takes a bearer token from the environment', async () => {
    const token = (await remote.tokenFor(USERS.analyst.username)).authorization!.slice('Bearer '.length);
    const args = pull().filter(
      (a) => !['--user', USERS.analyst.username, '--password-env', 'REMOTE_PASSWORD'].includes(a),
    );
    const run = await runCaptured([...args, '--token-env', 'REMOTE_TOKEN'], {
      env: { ...env, REMOTE_TOKEN: token },
    });
    expect(run.code, run.stderr).toBe(0);
  });

  it('fails with one line and changes nothing on bad usage, a refusing or an absent server', async () => {
    const before = await localCounts();
    const state = readFileSync(join(local, TAXII_STATE_FILE), 'utf8');
    expectOneLineFailure(await runCaptured(pull('--since', 'last week'), { env }), /--since/);
    expectOneLineFailure(
      await runCaptured([...pull(), '--token-env', 'REMOTE_TOKEN'], { env }),
      /--token-env, or --user/,
    );
    expectOneLineFailure(
      await runCaptured(pull(), { env: { ...env, REMOTE_PASSWORD: '' } }),
      /REMOTE_PASSWORD/,
    );
    expectOneLineFailure(
      await runCaptured(pull(), { env: { ...env, REMOTE_PASSWORD: 'wrong' } }),
      /answered 401.*wrong username or password/,
    );
    const gone = pull().map((a) => (a === apiRoot ? 'http://127.0.0.1:9/taxii2/accord/' : a));
    expectOneLineFailure(await runCaptured(gone, { env }), /cannot be reached/);
    expectOneLineFailure(
      await runCaptured(
        pull().map((a) => (a === NODE_COLLECTION_ID ? '../../etc' : a)),
        { env },
      ),
      /--collection/,
    );
    expect(await localCounts()).toEqual(before);
    expect(readFileSync(join(local, TAXII_STATE_FILE), 'utf8')).toBe(state);
  });
});

// ---------------------------------------------------------------- medallion fixture

interface MedallionObject {
  readonly id: string;
  readonly [key: string]: unknown;
}

interface MedallionCollection {
  readonly id: string;
  readonly objects: readonly MedallionObject[];
  readonly manifest: readonly { id: string; date_added: string; version: string }[];
}

/** A TAXII 2.1 objects endpoint over one medallion collection: pages by limit and next, sorted by date added. */
function medallionServer(collection: MedallionCollection): Server {
  const added = new Map(collection.manifest.map((m) => [`${m.id}@${m.version}`, m.date_added]));
  const entries = collection.objects
    .map((o) => ({ object: o, added: added.get(`${o.id}@${String(o.modified ?? o.created)}`) ?? '' }))
    .filter((e) => e.added !== '')
    .sort((a, b) => (a.added < b.added ? -1 : a.added > b.added ? 1 : 0));
  return createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://x');
    if (url.pathname !== `/trustgroup1/collections/${collection.id}/objects/`) {
      response.writeHead(404).end();
      return;
    }
    const limit = Number(url.searchParams.get('limit') ?? '100');
    const after = url.searchParams.get('added_after');
    const start = Number(url.searchParams.get('next') ?? '0');
    const spec = url.searchParams.get('match[spec_version]');
    const list = entries.filter(
      (e) =>
        (after === null || Date.parse(e.added) > Date.parse(after)) &&
        // STIX 2.0 objects carry no spec_version.
        (spec === null || spec.split(',').includes(String(e.object.spec_version ?? '2.0'))),
    );
    const page = list.slice(start, start + limit);
    const more = start + limit < list.length;
    response.writeHead(200, {
      'content-type': 'application/taxii+json;version=2.1',
      ...(page.length === 0
        ? {}
        : {
            'x-taxii-date-added-first': page[0]!.added,
            'x-taxii-date-added-last': page.at(-1)!.added,
          }),
    });
    response.end(
      JSON.stringify({
        more,
        ...(more ? { next: String(start + limit) } : {}),
        objects: page.map((e) => e.object),
      }),
    );
  });
}

if (!existsSync(MEDALLION)) console.warn(`[skip] ${MEDALLION} not found; the medallion pull test is skipped`);

describe.skipIf(!existsSync(MEDALLION))('accord taxii pull from a medallion collection', () => {
  it('imports the STIX 2.1 objects of the fixture collection and resumes after them', async () => {
    const data = JSON.parse(readFileSync(MEDALLION, 'utf8')) as {
      trustgroup1: { collections: MedallionCollection[] };
    };
    const collection = data.trustgroup1.collections.find((c) => c.objects.length > 0)!;
    const server = medallionServer(collection);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const args = [
        'taxii',
        'pull',
        `http://127.0.0.1:${port}/trustgroup1/`,
        '--collection',
        collection.id,
        '--as',
        'ann',
        '--limit',
        '2',
        '--json',
        '--dir',
        local,
      ];
      const first = JSON.parse((await ok(args)).stdout) as Summary;
      // Every STIX 2.1 object of the collection (one malware there is STIX 2.0, which is not asked for).
      const v21 = collection.objects.filter((o) => o.spec_version === '2.1');
      expect(first.objects).toBe(v21.length);
      expect(first.added).toBe(v21.length);
      const again = JSON.parse((await ok(args)).stdout) as Summary;
      expect(again.objects).toBe(0);
    } finally {
      server.close();
    }
  });
});
