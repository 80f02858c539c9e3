import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOneLineFailure, initUsaWithGbr, ok } from '../../test/fixtures/cli.js';
import { NEXT_KEYS_FILE, partnerKeysOf, readPublicIdentity } from '../app/node-keys.js';
import type { ArrangementDocument } from '../arrangements/index.js';
import type { PublicIdentity } from '../crypto/index.js';
import { arrangementPins } from '../federation/index.js';
import type { Partner } from '../store/index.js';
import { runCaptured } from './captured-run.js';

// The key compromise drill from the command line (issue 10): GBR makes new keys, pins them in a new
// version of an arrangement both nodes signed, both sign that version, USA records GBR's new keys
// while keeping its old signing key, and GBR finishes the rotation.

const root = mkdtempSync(join(tmpdir(), 'accord-key-rotation-'));
const env = { ACCORD_KEY_PASSPHRASE: 'a passphrase for the rotation tests' };
const usa = join(root, 'usa');
const gbr = join(root, 'gbr');
const example = join(import.meta.dirname, '..', '..', 'examples', 'arrangements', 'usa-gbr-sigint.json');
const at = (file: string) => join(root, file);
const doc = (file: string): ArrangementDocument =>
  JSON.parse(readFileSync(at(file), 'utf8')) as ArrangementDocument;
const run = (argv: readonly string[]) => runCaptured(argv, { env });

let gbrBefore: PublicIdentity;

beforeAll(async () => {
  await initUsaWithGbr(root, usa, gbr, env);
  // v1, pinned and signed by both.
  for (const step of [
    ['pin', example, '--dir', usa, '--out', at('a.json')],
    ['pin', at('a.json'), '--dir', gbr, '--out', at('b.json')],
    ['sign', at('b.json'), '--dir', usa, '--out', at('c.json')],
    ['sign', at('c.json'), '--dir', gbr, '--out', at('v1.json')],
  ]) {
    const r = await run(['arrangement', ...step]);
    expect(r.code, r.stderr).toBe(0);
  }
  gbrBefore = await readPublicIdentity(gbr);
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('accord keys rotate', () => {
  it('makes next keys beside the old ones, which stay in use', async () => {
    const r = await ok(['keys', 'rotate', '--dir', gbr], env);
    expect(r.stdout).toMatch(
      /^new keys for GBR in keys\.next\.json; the old ones stay in use until --finish/,
    );
    const next = await readPublicIdentity(gbr, NEXT_KEYS_FILE);
    expect(await readPublicIdentity(gbr)).toEqual(gbrBefore);
    expect(next.signing.fingerprint).not.toBe(gbrBefore.signing.fingerprint);
    expect(next.encryption.fingerprint).not.toBe(gbrBefore.encryption.fingerprint);
    expect(r.stdout).toContain(next.signing.fingerprint);
    const shown = JSON.parse(
      (await ok(['keys', 'show', '--next', '--json', '--dir', gbr])).stdout,
    ) as unknown;
    expect(shown).toEqual({ partner: 'GBR', ...next });
    writeFileSync(at('gbr-next.json'), JSON.stringify(shown));
  });

  it('refuses a second rotation under way, a wrong passphrase, and --finish or --next where none is', async () => {
    expectOneLineFailure(await run(['keys', 'rotate', '--dir', gbr]), /keys\.next\.json already exists/);
    expectOneLineFailure(
      await runCaptured(['keys', 'rotate', '--dir', usa], { env: { ACCORD_KEY_PASSPHRASE: 'wrong' } }),
      /passphrase/i,
    );
    expect(existsSync(join(usa, NEXT_KEYS_FILE))).toBe(false);
    expectOneLineFailure(await run(['keys', 'rotate', '--finish', '--dir', usa]), /no rotation under way/);
    expectOneLineFailure(await run(['keys', 'show', '--next', '--dir', usa]), /no keys to rotate to/);
    expectOneLineFailure(
      await run(['arrangement', 'sign', at('v1.json'), '--next', '--dir', usa]),
      /--next: USA has no keys to rotate to/,
    );
  });

  it('pins the next keys in a new draft version effective at the rotation time, which both parties sign', async () => {
    const pin = await run([
      'arrangement',
      'pin',
      at('v1.json'),
      '--next',
      '--effective',
      '2027-01-01T00:00:00Z',
      '--dir',
      gbr,
      '--out',
      at('v2-unsigned.json'),
    ]);
    expect(pin.code, pin.stderr).toBe(0);
    expect(pin.stderrLines.at(-1)).toBe(
      "pinned GBR's next keys in usa-gbr-sigint v2, effective 2027-01-01T00:00:00Z; every party signs it again",
    );
    const v2 = doc('v2-unsigned.json');
    const next = await readPublicIdentity(gbr, NEXT_KEYS_FILE);
    expect(v2).toMatchObject({
      version: 2,
      status: 'draft',
      effective: '2027-01-01T00:00:00Z',
      signatures: [],
    });
    expect(v2.parties.find((p) => p.partner === 'GBR')?.nodeKeys).toEqual([
      { use: 'signing', fingerprint: next.signing.fingerprint },
      { use: 'encryption', fingerprint: next.encryption.fingerprint },
    ]);
    // USA's entry is untouched.
    expect(v2.parties.find((p) => p.partner === 'USA')).toEqual(
      doc('v1.json').parties.find((p) => p.partner === 'USA'),
    );

    // GBR cannot sign v2 with its old key: v2 does not list it.
    expectOneLineFailure(
      await run(['arrangement', 'sign', at('v2-unsigned.json'), '--dir', gbr]),
      /does not list .* as a signing key of GBR/,
    );
    for (const step of [
      ['sign', at('v2-unsigned.json'), '--dir', usa, '--out', at('v2-usa.json')],
      ['sign', at('v2-usa.json'), '--next', '--dir', gbr, '--out', at('v2.json')],
    ]) {
      const r = await run(['arrangement', ...step]);
      expect(r.code, r.stderr).toBe(0);
    }
    const identities = { USA: await readPublicIdentity(usa), GBR: next };
    const pins = arrangementPins(doc('v2.json'), (code) =>
      partnerKeysOf(identities[code as keyof typeof identities]),
    );
    expect(pins.unverified).toEqual([]);
  });

  it('refuses an --effective that is no UTC time, after expiry, or without --next', async () => {
    for (const [args, pattern] of [
      [['--next', '--effective', 'tomorrow'], /--effective: 'tomorrow' is not a UTC time/],
      [['--next', '--effective', '2031-01-01T00:00:00Z'], /is not before the arrangement's expiry/],
      [['--effective', '2027-01-01T00:00:00Z'], /--effective goes with --next/],
    ] as const) {
      expectOneLineFailure(await run(['arrangement', 'pin', at('v1.json'), ...args, '--dir', gbr]), pattern);
    }
  });

  it('USA records the new keys and keeps the old signing key with --keep-signing-keys', async () => {
    await ok([
      'partner',
      'add',
      'GBR',
      '--identity',
      at('gbr-next.json'),
      '--endpoint',
      'http://127.0.0.1:9',
      '--keep-signing-keys',
      '--dir',
      usa,
    ]);
    const partners = JSON.parse((await ok(['partner', 'list', '--json', '--dir', usa])).stdout) as Partner[];
    const keys = partners.find((p) => p.code === 'GBR')?.keys ?? [];
    const next = await readPublicIdentity(gbr, NEXT_KEYS_FILE);
    expect(keys.map((k) => `${k.use} ${k.fingerprint}`).sort()).toEqual(
      [
        `signing ${gbrBefore.signing.fingerprint}`,
        `signing ${next.signing.fingerprint}`,
        `encryption ${next.encryption.fingerprint}`,
      ].sort(),
    );
  });

  it('finishes at the rotation time: the next keys become the keys, the old file is kept as retired', async () => {
    const next = await readPublicIdentity(gbr, NEXT_KEYS_FILE);
    const r = await ok(['keys', 'rotate', '--finish', '--dir', gbr], env);
    expect(r.stdout).toContain(`retired signing ${gbrBefore.signing.fingerprint}`);
    expect(await readPublicIdentity(gbr)).toEqual(next);
    expect(existsSync(join(gbr, NEXT_KEYS_FILE))).toBe(false);
    expect(readdirSync(gbr).filter((f) => f.startsWith('keys.retired-'))).toHaveLength(1);
    expectOneLineFailure(await run(['keys', 'rotate', '--finish', '--dir', gbr]), /no rotation under way/);
  });
});
