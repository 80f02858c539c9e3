import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partnerKeysOf, readPublicIdentity } from '../app/node-keys.js';
import type { ArrangementDocument } from '../arrangements/index.js';
import { arrangementPins } from '../federation/index.js';
import { runCaptured } from './captured-run.js';

// Two nodes make the USA-GBR SIGINT example theirs: each pins its keys, then each signs.

const root = mkdtempSync(join(tmpdir(), 'accord-arr-sign-'));
const env = { ACCORD_KEY_PASSPHRASE: 'a passphrase for these tests' };
const usa = join(root, 'usa');
const gbr = join(root, 'gbr');
const example = join(import.meta.dirname, '..', '..', 'examples', 'arrangements', 'usa-gbr-sigint.json');
const doc = (file: string): ArrangementDocument =>
  JSON.parse(readFileSync(join(root, file), 'utf8')) as ArrangementDocument;

beforeAll(async () => {
  for (const [dir, partner] of [
    [usa, 'USA'],
    [gbr, 'GBR'],
  ] as const) {
    const init = await runCaptured(['init', '--dir', dir, '--partner', partner], { env });
    expect(init.code, init.stderr).toBe(0);
  }
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('accord arrangement pin and sign', () => {
  it('pins both nodes, has both sign, and the result pins their real keys', async () => {
    const steps = [
      ['pin', example, '--dir', usa, '--out', join(root, 'a.json')],
      ['pin', join(root, 'a.json'), '--dir', gbr, '--out', join(root, 'b.json')],
      ['sign', join(root, 'b.json'), '--dir', usa, '--out', join(root, 'c.json')],
      ['sign', join(root, 'c.json'), '--dir', gbr, '--out', join(root, 'd.json')],
    ];
    const notes: string[] = [];
    for (const step of steps) {
      const run = await runCaptured(['arrangement', ...step], { env });
      expect(run.code, run.stderr).toBe(0);
      notes.push(run.stderrLines.at(-1) ?? '');
    }
    expect(notes[0]).toMatch(
      /^pinned USA's keys in usa-gbr-sigint v1; 2 signature\(s\) over the old terms dropped$/,
    );
    expect(notes[2]).toBe('USA signed usa-gbr-sigint v1; still to sign: GBR');
    expect(notes[3]).toBe('GBR signed usa-gbr-sigint v1; every party has signed');

    const identities = { USA: await readPublicIdentity(usa), GBR: await readPublicIdentity(gbr) };
    const pins = arrangementPins(doc('d.json'), (code) => {
      const identity = identities[code as keyof typeof identities];
      return identity === undefined ? [] : partnerKeysOf(identity);
    });
    expect(pins.unverified).toEqual([]);
    expect(pins.keyFor('GBR', identities.GBR.signing.fingerprint)).toBeDefined();

    // The node takes the signed document as it is.
    const add = await runCaptured([
      'arrangement',
      'add',
      join(root, 'd.json'),
      '--as',
      'admin',
      '--dir',
      usa,
    ]);
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout).toMatch(/^stored usa-gbr-sigint v1 /);
  });

  it('writes the document to stdout without --out', async () => {
    const run = await runCaptured(['arrangement', 'pin', example, '--dir', usa], { env });
    expect(run.code).toBe(0);
    const printed = JSON.parse(run.stdout) as ArrangementDocument;
    const identity = await readPublicIdentity(usa);
    expect(printed.parties.find((p) => p.partner === 'USA')?.nodeKeys).toEqual([
      { use: 'signing', fingerprint: identity.signing.fingerprint },
      { use: 'encryption', fingerprint: identity.encryption.fingerprint },
    ]);
    expect(printed.signatures).toEqual([]);
  });

  it('refuses to sign terms that do not pin the key, or without the passphrase, writing nothing', async () => {
    const out = join(root, 'never.json');
    const unpinned = await runCaptured(['arrangement', 'sign', example, '--dir', usa, '--out', out], { env });
    expect(unpinned.code).toBe(2);
    expect(unpinned.stderrLines).toHaveLength(1);
    expect(unpinned.stderr).toMatch(
      /does not list sha256:[0-9a-f]{64} as a signing key of USA; its terms must pin the key/,
    );

    await runCaptured(['arrangement', 'pin', example, '--dir', usa, '--out', join(root, 'p.json')], { env });
    const noPassphrase = await runCaptured([
      'arrangement',
      'sign',
      join(root, 'p.json'),
      '--dir',
      usa,
      '--out',
      out,
    ]);
    expect(noPassphrase.code).toBe(2);
    expect(noPassphrase.stderr).toMatch(/ACCORD_KEY_PASSPHRASE/);
    expect(() => readFileSync(out)).toThrow();
  });

  it('refuses a node whose partner is no party', async () => {
    // A GBR node and an arrangement between USA and FRA only.
    const ct = JSON.parse(readFileSync(example, 'utf8')) as ArrangementDocument;
    const { GBR: gbrLevels, ...equivalences } = ct.equivalences;
    const other = {
      ...ct,
      parties: ct.parties.map((p) => (p.partner === 'GBR' ? { ...p, partner: 'FRA' } : p)),
      equivalences: { ...equivalences, FRA: gbrLevels ?? {} },
      signatures: [],
    };
    writeFileSync(join(root, 'usa-fra.json'), JSON.stringify(other));
    const notParty = await runCaptured(['arrangement', 'pin', join(root, 'usa-fra.json'), '--dir', gbr], {
      env,
    });
    expect(notParty.code).toBe(2);
    expect(notParty.stderr).toMatch(
      /this node belongs to GBR, which is not a party to arrangement usa-gbr-sigint/,
    );
  });
});
