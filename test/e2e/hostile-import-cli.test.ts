import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildNode } from '../../src/app/node.js';
import { REPO_ROOT, runCaptured } from '../../src/cli/captured-run.js';
import { loadNodeConfig } from '../../src/cli/local-node.js';
import type { TableCounts } from '../../src/store/index.js';
import { addUsaUser, expectOneLineFailure, ok } from '../fixtures/cli.js';
import { changedTables, HOSTILE_STRINGS, hostileValueOf, jsonText, nestedIn } from '../fixtures/hostile.js';

// Issue 10, hostile files at the CLI (SECURITY.md T13, T16): `accord import stix`, `accord import
// misp` and `accord marking parse` given hostile input exit 2 with exactly one `accord: …` line on
// stderr naming the problem (no stack trace), and the node's store is unchanged afterwards. The
// properties over the import rules themselves run in-process: test/e2e/hostile-stix.test.ts and
// test/e2e/hostile-misp.test.ts; these few runs prove the CLI reports them as it should.

const KEY_ENV = { ACCORD_KEY_PASSPHRASE: 'a passphrase for the test node keys' } as const;
const root = mkdtempSync(join(tmpdir(), 'accord-hostile-cli-'));
const usa = join(root, 'usa');
let serial = 0;

async function counts(): Promise<TableCounts> {
  const io = { stdout: { write: () => true }, stderr: { write: () => true }, env: {}, cwd: REPO_ROOT };
  const node = await buildNode(await loadNodeConfig(io, usa, { log: { level: 'silent' } }));
  try {
    return await node.store.counts();
  } finally {
    await node.close();
  }
}

function fileOf(text: string): string {
  serial += 1;
  const file = join(root, `hostile-${serial}.json`);
  writeFileSync(file, text);
  return file;
}

let before: TableCounts;
beforeAll(async () => {
  await ok(['init', '--dir', usa, '--partner', 'USA', '--json'], KEY_ENV);
  await addUsaUser(usa, 'ann', 'analyst', 'TOP SECRET', ['--caveats', 'SI']);
  before = await counts();
}, 60_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

const REPORT = {
  type: 'report',
  spec_version: '2.1',
  id: 'report--6ba7b810-9dad-41d1-80b4-00c04fd430c8',
  created: '2026-11-26T10:00:00Z',
  modified: '2026-11-26T10:00:00Z',
  name: 'r',
  published: '2026-11-26T10:00:00Z',
  object_refs: ['note--6ba7b810-9dad-41d1-80b4-00c04fd430c8'],
};
const EVENT = { uuid: '5e6f2a3b-8c4d-4e1f-9a2b-3c4d5e6f7a8b', info: 'x', Tag: [{ name: 'tlp:green' }] };

/** Hostile file texts for each importer, each with what its one stderr line must name. */
const STIX_FILES: readonly [string, RegExp][] = [
  [
    '{"type":"bundle","id":"bundle--6ba7b810-9dad-41d1-80b4-00c04fd430c8","objects":[',
    /not (valid )?JSON|JSON/i,
  ],
  ['', /JSON|empty/i],
  [jsonText([{ ...REPORT, type: 'Report' }]), /STIX \/0\/type/],
  [jsonText([{ ...REPORT, id: 'report--nope' }]), /STIX \/0\/id/],
  [jsonText([{ ...REPORT, created: '2026-11-26T10:00:00' }]), /STIX \/0\/created/],
  [jsonText([{ ...REPORT, object_marking_refs: ['../../etc/passwd'] }]), /STIX \/0\/object_marking_refs\/0/],
  [
    jsonText([
      {
        ...REPORT,
        granular_markings: [
          {
            marking_ref: 'marking-definition--6ba7b810-9dad-41d1-80b4-00c04fd430c8',
            selectors: ['__proto__'],
          },
        ],
      },
    ]),
    /STIX \/0\/granular_markings\/0\/selectors\/0/,
  ],
  [jsonText([nestedIn('x', 3000)]), /STIX \/0\/type/],
  [jsonText([{ ...REPORT, name: { __proto__: { polluted: true } } }]), /STIX \/0\/name/],
];
const MISP_FILES: readonly [string, RegExp][] = [
  ['{"Event":', /JSON/i],
  [jsonText({ Event: { ...EVENT, uuid: "' OR 1=1 --" } }), /\/Event\/uuid/],
  [jsonText({ Event: { ...EVENT, Tag: [{ name: 'tlp:purple' }] } }), /\/Event\/Tag\/0.*tlp:purple/],
  [jsonText({ Event: { ...EVENT, Tag: [{ name: 'tlp:gr\u0435en' }] } }), /\/Event\/Tag\/0/],
  [jsonText({ Event: { ...EVENT, info: 'x'.repeat(100_001) } }), /\/Event\/info/],
  [jsonText({ Event: nestedIn('x', 3000) }), /\/Event\/uuid/],
  [jsonText({ Event: { ...EVENT, Attribute: 'x' } }), /\/Event\/Attribute/],
  [jsonText({ response: [{ Event: EVENT }, { Event: EVENT }] }), /\/response\/1\/Event\/uuid/],
];

describe('the CLI under hostile import files and markings', () => {
  it.each(STIX_FILES)('import stix refuses %s in one line', async (text, pattern) => {
    const run = await runCaptured(['import', 'stix', fileOf(text), '--as', 'ann', '--dir', usa]);
    expectOneLineFailure(run, pattern);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it.each(MISP_FILES)('import misp refuses %s in one line', async (text, pattern) => {
    const run = await runCaptured(['import', 'misp', fileOf(text), '--as', 'ann', '--dir', usa], {
      env: KEY_ENV,
    });
    expectOneLineFailure(run, pattern);
  });

  it('refuses files of any hostile JSON value in one line, for both importers', async () => {
    const value = hostileValueOf([
      'type',
      'id',
      'objects',
      'Event',
      'uuid',
      'info',
      'Tag',
      'response',
    ]).filter((v) => typeof v !== 'object' || v === null || Object.keys(v).length > 0);
    await fc.assert(
      fc.asyncProperty(value, fc.constantFrom('stix', 'misp'), async (v, kind) => {
        const run = await runCaptured(['import', kind, fileOf(jsonText(v)), '--as', 'ann', '--dir', usa], {
          env: KEY_ENV,
        });
        expectOneLineFailure(run, /./);
      }),
      { numRuns: 6 },
    );
  }, 60_000);

  it('refuses hostile markings in one line naming the token', async () => {
    for (const marking of [
      ...HOSTILE_STRINGS.filter((s) => s !== '\u0000'),
      'S'.repeat(2049),
      '(S//REL TO USA, G\u0412R)',
    ]) {
      const run = await runCaptured(['marking', 'parse', marking]);
      expectOneLineFailure(run, /MARKING_/);
    }
  });

  it('changed nothing in the store', async () => {
    // A node signs a tree head of its audit log when it runs: that is the only row the runs add.
    expect(changedTables(before, await counts(), new Set(['audit_tree_heads']))).toEqual({});
  });
});
