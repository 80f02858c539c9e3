import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type AccordNode, buildNode } from '../app/node.js';
import { type CapturedRun, REPO_ROOT, runCaptured } from './captured-run.js';
import type { CliIo } from './cli-io.js';
import { PROGRESS_THRESHOLD } from './import-commands.js';
import { loadNodeConfig } from './local-node.js';

const KEY_ENV = { ACCORD_KEY_PASSPHRASE: 'a passphrase for the test node keys' } as const;
const OSINT = 'test/fixtures/misp/osint-event.json';
const REST = 'test/fixtures/misp/rest-response.json';
const OSINT_ID = 'GBR-MISP-5e6f2a3b-8c4d-4e1f-9a2b-3c4d5e6f7a8b';

const dirs: string[] = [];
let dir: string;

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'accord-misp-'));
  dirs.push(d);
  return d;
}

afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const quietIo: CliIo = {
  stdout: { write: () => true },
  stderr: { write: () => true },
  env: {},
  cwd: REPO_ROOT,
};

async function onNode<T>(work: (node: AccordNode) => Promise<T>): Promise<T> {
  const node = await buildNode(await loadNodeConfig(quietIo, dir, { log: { level: 'silent' } }));
  try {
    return await work(node);
  } finally {
    await node.close();
  }
}

async function run(argv: readonly string[]): Promise<CapturedRun> {
  return runCaptured(argv, { env: KEY_ENV });
}

async function importMisp(file: string, ...extra: string[]): Promise<CapturedRun> {
  return run(['import', 'misp', file, '--dir', dir, '--as', 'ann', ...extra]);
}

async function addUser(username: string, clearance: string, role = 'analyst'): Promise<void> {
  const added = await run([
    'user',
    'add',
    '--dir',
    dir,
    '--username',
    username,
    '--nationality',
    'GBR',
    '--clearance',
    clearance,
    '--role',
    role,
  ]);
  expect(added.stderr).toBe('');
}

async function productIds(): Promise<string[]> {
  return onNode(async (node) => (await node.store.products.list()).map((p) => p.id).sort());
}

function expectOneLineFailure(result: CapturedRun, ...fragments: string[]): void {
  expect(result.code).toBe(2);
  expect(result.stdout).toBe('');
  expect(result.stderrLines).toHaveLength(1);
  expect(result.stderrLines[0]).toMatch(/^accord: /);
  for (const fragment of fragments) expect(result.stderrLines[0]).toContain(fragment);
}

function writeTemp(name: string, content: string): string {
  const file = join(tempDir(), name);
  writeFileSync(file, content);
  return file;
}

function event(uuid: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    Event: {
      uuid,
      info: `event ${uuid}`,
      Tag: [{ name: 'tlp:green' }],
      Attribute: [{ type: 'domain', value: `${uuid.slice(0, 8)}.example`, to_ids: true }],
      ...extra,
    },
  };
}

beforeEach(async () => {
  dir = tempDir();
  const init = await run(['init', '--dir', dir, '--partner', 'GBR', '--json']);
  expect(init.code).toBe(0);
  await addUser('ann', 'SECRET');
}, 60_000);

describe('accord import misp', () => {
  it('imports one event as a signed draft, with its labels, grades and audit entry', async () => {
    const result = await importMisp(OSINT);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`created ${OSINT_ID} v1  UNCLASSIFIED//NOFORN//TLP:AMBER//PAP:GREEN`);
    expect(result.stdout).toContain('1 event(s): 1 created, 0 updated, 0 unchanged, 0 skipped');
    await onNode(async (node) => {
      const record = await node.store.products.get(OSINT_ID);
      expect(record?.state).toBe('draft');
      expect(record?.author).toBe('ann');
      const version = await node.store.products.getVersion(OSINT_ID);
      const doc = version!.document;
      expect(doc.reliability).toBe('B');
      expect(doc.credibility).toBe(2);
      expect(doc.portions).toHaveLength(6);
      expect(doc.portions[5]!.marking).toBe('(U//NF//TLP:AMBER//PAP:GREEN)');
      // Signed by the node key like any product version it writes.
      expect(doc.signature?.by).toMatch(/^sha256:[0-9a-f]{64}$/);
      // The audit event is queued in the import's transaction, or already moved into the log.
      const queued = (await node.store.audit.pending(1000)).map((q) => q.entryJson);
      const logged = (await node.store.audit.entries(0, await node.store.audit.size())).map((e) =>
        JSON.stringify(e),
      );
      const created = [...queued, ...logged].filter((e) => e.includes('product.created'));
      expect(created.some((e) => e.includes(OSINT_ID))).toBe(true);
    });
  });

  it('imports a REST response and says unchanged on a re-import of the same events', async () => {
    const first = await importMisp(REST, '--json');
    expect(first.code).toBe(0);
    const parsed = JSON.parse(first.stdout) as {
      created: number;
      events: { outcome: string; banner: string }[];
    };
    expect(parsed.created).toBe(3);
    expect(parsed.events.map((e) => e.banner)).toEqual([
      'UNCLASSIFIED//ORCON/NOFORN//TLP:RED//PAP:RED',
      'UNCLASSIFIED//TLP:CLEAR',
      'UNCLASSIFIED//NOFORN//TLP:AMBER+STRICT',
    ]);
    const again = await importMisp(REST);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('3 event(s): 0 created, 0 updated, 3 unchanged, 0 skipped');
    expect(again.stdout).toMatch(/^unchanged \(already imported, same content\) GBR-MISP-a1b2c3d4-/m);
    expect(await productIds()).toHaveLength(3);
  });

  it('updates a changed event that is still a draft, and skips one already submitted', async () => {
    const uuidA = 'aaaaaaaa-0000-4000-8000-000000000001';
    const uuidB = 'bbbbbbbb-0000-4000-8000-000000000002';
    const file = writeTemp('two.json', JSON.stringify([event(uuidA), event(uuidB)]));
    expect((await importMisp(file)).code).toBe(0);
    const submit = await run(['product', 'submit', `GBR-MISP-${uuidB}`, '--dir', dir, '--as', 'ann']);
    expect(submit.code).toBe(0);
    const changed = [
      event(uuidA, { Attribute: [{ type: 'domain', value: 'moved.example' }] }),
      event(uuidB, { Attribute: [{ type: 'domain', value: 'moved.example' }] }),
    ];
    writeFileSync(file, JSON.stringify(changed));
    const result = await importMisp(file);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`updated GBR-MISP-${uuidA} v2`);
    expect(result.stdout).toContain(`skipped GBR-MISP-${uuidB} v1  changed, but the product is submitted`);
    await onNode(async (node) => {
      const doc = (await node.store.products.getVersion(`GBR-MISP-${uuidA}`))!.document;
      expect(doc.version).toBe(2);
      expect(doc.portions[1]!.text).toContain('domain: moved.example');
    });
  });

  it('refuses malformed JSON in one line and stores nothing', async () => {
    const file = writeTemp(
      'bad.json',
      '{"Event": {"uuid": "11111111-2222-4333-8444-555555555557", "info": "tr',
    );
    expectOneLineFailure(await importMisp(file), 'bad.json', 'not valid JSON');
    expect(await productIds()).toEqual([]);
  });

  it('refuses a wrong shape naming the JSON path', async () => {
    expectOneLineFailure(await importMisp('test/fixtures/misp/wrong-shape.json'), '/Event/Attribute/1/value');
    const notEvents = writeTemp(
      'not-events.json',
      JSON.stringify({ response: [event('cccccccc-0000-4000-8000-000000000003'), { Events: {} }] }),
    );
    expectOneLineFailure(await importMisp(notEvents), '/response/1', '"Event"');
    expect(await productIds()).toEqual([]);
  });

  it('refuses an unknown taxonomy value naming the tag and path, storing none of the file', async () => {
    const file = writeTemp(
      'mixed.json',
      JSON.stringify([
        event('dddddddd-0000-4000-8000-000000000004'),
        event('eeeeeeee-0000-4000-8000-000000000005', { Tag: [{ name: 'PAP:PURPLE' }] }),
      ]),
    );
    expectOneLineFailure(await importMisp(file), "tag 'PAP:PURPLE'", '/1/Event/Tag/0');
    expectOneLineFailure(
      await importMisp('test/fixtures/misp/unknown-tlp.json'),
      "tag 'tlp:purple'",
      '/Event/Attribute/0/Tag/0',
    );
    expect(await productIds()).toEqual([]);
  });

  it('rolls the whole file back when a later event fails while storing', async () => {
    await addUser('cid', 'CONFIDENTIAL');
    // The second event is NATO SECRET: cid may not write what they could not read.
    const file = writeTemp(
      'rollback.json',
      JSON.stringify([
        event('ffffffff-0000-4000-8000-000000000006'),
        event('ffffffff-0000-4000-8000-000000000007', { Tag: [{ name: 'nato:classification="NS"' }] }),
      ]),
    );
    const result = await run(['import', 'misp', file, '--dir', dir, '--as', 'cid']);
    expectOneLineFailure(result, 'PRODUCT_INVALID', 'could not read');
    expect(await productIds()).toEqual([]);
  });

  it('applies --marking as a floor and refuses a bad one', async () => {
    const file = writeTemp('floor.json', JSON.stringify(event('abababab-0000-4000-8000-000000000008')));
    const result = await importMisp(
      file,
      '--marking',
      'RESTRICTED//REL TO GBR, USA',
      '--category',
      'cyber',
      '--category',
      'organised-crime',
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('RESTRICTED//REL TO GBR, USA//TLP:GREEN');
    await onNode(async (node) => {
      const doc = (await node.store.products.getVersion('GBR-MISP-abababab-0000-4000-8000-000000000008'))!
        .document;
      expect(doc.categories).toEqual(['cyber', 'organised-crime']);
    });
    expectOneLineFailure(await importMisp(file, '--marking', 'SECRET//REL TO XXX'), '--marking', 'XXX');
  });

  it('validates against another taxonomy checkout with --taxonomies, and refuses an unusable one', async () => {
    const result = await importMisp(OSINT, '--taxonomies', 'data/misp-taxonomies');
    expect(result.code).toBe(0);
    expectOneLineFailure(await importMisp(OSINT, '--taxonomies', 'test/fixtures/misp'), 'no taxonomy');
    expect(await productIds()).toEqual([OSINT_ID]);
  });

  it(`shows a progress bar from ${PROGRESS_THRESHOLD} events on`, async () => {
    const events = Array.from({ length: PROGRESS_THRESHOLD }, (_, i) =>
      event(`12345678-0000-4000-8000-${String(i).padStart(12, '0')}`),
    );
    const file = writeTemp('many.json', JSON.stringify({ response: events }));
    const result = await importMisp(file);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('importing MISP events');
    expect(result.stderr).toContain(`${PROGRESS_THRESHOLD}/${PROGRESS_THRESHOLD}`);
    expect(result.stdout).toContain(`${PROGRESS_THRESHOLD} event(s): ${PROGRESS_THRESHOLD} created`);
  }, 60_000);
});
