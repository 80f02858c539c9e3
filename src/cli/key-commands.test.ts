import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOneLineFailure } from '../../test/fixtures/cli.js';
import { fingerprintOf, type PublicIdentity } from '../crypto/index.js';
import { runCaptured } from './captured-run.js';

const KEY_ENV = { ACCORD_KEY_PASSPHRASE: 'a passphrase for the test node keys' } as const;
const root = mkdtempSync(join(tmpdir(), 'accord-key-cli-'));
let count = 0;

function tempDir(): string {
  return join(root, String(++count));
}

async function initNode(partner: string): Promise<string> {
  const dir = tempDir();
  const run = await runCaptured(['init', '--dir', dir, '--partner', partner, '--json'], { env: KEY_ENV });
  expect(run.code).toBe(0);
  return dir;
}

function storedPublic(dir: string): PublicIdentity {
  return (JSON.parse(readFileSync(join(dir, 'keys.json'), 'utf8')) as { public: PublicIdentity }).public;
}

/** A USA node and a GBR node, made once: each init runs scrypt twice. */
let usa: string;
let gbr: string;
/** GBR's `keys show --json`, written to a file as it would be sent to USA. */
let gbrIdentityFile: string;

beforeAll(async () => {
  [usa, gbr] = await Promise.all([initNode('USA'), initNode('GBR')]);
  const shown = await runCaptured(['keys', 'show', '--dir', gbr, '--json']);
  expect(shown.code).toBe(0);
  gbrIdentityFile = join(root, 'gbr-identity.json');
  writeFileSync(gbrIdentityFile, shown.stdout);
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('accord keys show', () => {
  it('prints fingerprints that are those of the stored public keys, without the passphrase', async () => {
    const run = await runCaptured(['keys', 'show', '--dir', usa]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const pub = storedPublic(usa);
    const signing = fingerprintOf(Buffer.from(pub.signing.publicKey, 'base64'));
    const encryption = fingerprintOf(Buffer.from(pub.encryption.publicKey, 'base64'));
    expect(run.stdout).toBe(
      [
        'partner     USA',
        `signing     ${signing}  Ed25519 public key ${pub.signing.publicKey}`,
        `encryption  ${encryption}  X25519 public key ${pub.encryption.publicKey}`,
        '',
      ].join('\n'),
    );

    const json = await runCaptured(['keys', 'show', '--dir', usa, '--json']);
    expect(JSON.parse(json.stdout)).toEqual({
      partner: 'USA',
      signing: { publicKey: pub.signing.publicKey, fingerprint: signing },
      encryption: { publicKey: pub.encryption.publicKey, fingerprint: encryption },
    });
  });

  it('refuses a keys.json whose public key no longer matches its fingerprint', async () => {
    const dir = await initNode('CAN');
    const file = join(dir, 'keys.json');
    const json = JSON.parse(readFileSync(file, 'utf8')) as { public: PublicIdentity };
    const tampered = { ...json, public: { ...json.public, encryption: storedPublic(usa).encryption } };
    tampered.public.encryption = {
      ...tampered.public.encryption,
      fingerprint: json.public.encryption.fingerprint,
    };
    writeFileSync(file, JSON.stringify(tampered));
    const run = await runCaptured(['keys', 'show', '--dir', dir]);
    expectOneLineFailure(
      run,
      /keys\.json: public encryption\.publicKey does not match its fingerprint .*\[KEY_FILE_INVALID\]$/,
    );
  });
});

describe('accord partner add and list', () => {
  it("records a partner's keys from its keys show --json, and lists them beside the node's own", async () => {
    const add = await runCaptured([
      'partner',
      'add',
      'gbr',
      '--identity',
      gbrIdentityFile,
      '--endpoint',
      'http://127.0.0.1:7402',
      '--name',
      'United Kingdom',
      '--dir',
      usa,
    ]);
    expect(add.stderr).toBe('');
    expect(add.code).toBe(0);
    const gbrKeys = storedPublic(gbr);
    expect(add.stdout).toBe(
      [
        'added partner GBR (United Kingdom) at http://127.0.0.1:7402',
        `  signing     ${gbrKeys.signing.fingerprint}`,
        `  encryption  ${gbrKeys.encryption.fingerprint}`,
        '',
      ].join('\n'),
    );

    const list = await runCaptured(['partner', 'list', '--dir', usa]);
    expect(list.code).toBe(0);
    const usaKeys = storedPublic(usa);
    expect(list.stdout).toBe(
      [
        'GBR  United Kingdom  http://127.0.0.1:7402',
        `  signing     ${gbrKeys.signing.fingerprint}`,
        `  encryption  ${gbrKeys.encryption.fingerprint}`,
        'USA  USA  http://127.0.0.1:7401  (this node)',
        `  signing     ${usaKeys.signing.fingerprint}`,
        `  encryption  ${usaKeys.encryption.fingerprint}`,
        '2 partner(s)',
        '',
      ].join('\n'),
    );
    const json = await runCaptured(['partner', 'list', '--dir', usa, '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject([
      {
        code: 'GBR',
        keys: [
          { use: 'signing', ...gbrKeys.signing },
          { use: 'encryption', ...gbrKeys.encryption },
        ],
      },
      { code: 'USA' },
    ]);

    // Adding again with the same keys updates the entry and keeps its name.
    const again = await runCaptured([
      'partner',
      'add',
      'GBR',
      '--identity',
      gbrIdentityFile,
      '--endpoint',
      'https://gbr.example',
      '--dir',
      usa,
    ]);
    expect(again.stdout.split('\n')[0]).toBe('updated partner GBR (United Kingdom) at https://gbr.example');
    expect(again.stdout).not.toContain('replace');
  });

  it('refuses an identity whose public key does not match its fingerprint, storing nothing', async () => {
    const dir = await initNode('NZL');
    const identity = JSON.parse(readFileSync(gbrIdentityFile, 'utf8')) as PublicIdentity;
    // Someone in the middle puts their own key under GBR's published fingerprint.
    const mallory = storedPublic(usa).signing.publicKey;
    const file = join(root, 'tampered.json');
    writeFileSync(
      file,
      JSON.stringify({ ...identity, signing: { ...identity.signing, publicKey: mallory } }),
    );
    const argv = ['partner', 'add', 'GBR', '--identity', file, '--endpoint', 'http://127.0.0.1:7402'];
    const run = await runCaptured([...argv, '--dir', dir]);
    expectOneLineFailure(
      run,
      new RegExp(
        `tampered\\.json: signing\\.publicKey does not match its fingerprint ${identity.signing.fingerprint} \\[KEY_INVALID\\]$`,
      ),
    );
    const list = await runCaptured(['partner', 'list', '--dir', dir]);
    expect(list.stdout).not.toContain('GBR');
    expect(list.stdout).toMatch(/^1 partner\(s\)$/m);
  });

  it.each([
    [
      'an identity for another partner',
      ['CAN', '--endpoint', 'http://127.0.0.1:7403'],
      /the identity is for 'GBR', not CAN \[INPUT_INVALID\]$/,
    ],
    [
      "the node's own partner",
      ['USA', '--endpoint', 'http://127.0.0.1:7401'],
      /USA is this node's own partner: its keys are the ones in keys\.json \[INPUT_INVALID\]$/,
    ],
    [
      'an endpoint that is not an http(s) URL',
      ['GBR', '--endpoint', 'ftp://gbr.example'],
      /--endpoint: 'ftp:\/\/gbr\.example' is not an http\(s\) base URL/,
    ],
    [
      'an unknown partner code',
      ['XYZ', '--endpoint', 'http://x.example'],
      /'XYZ' is not a known partner code/,
    ],
  ])('refuses %s', async (_what, args, message) => {
    const [code = '', ...rest] = args;
    const identity = code === 'USA' ? join(root, 'usa-identity.json') : gbrIdentityFile;
    if (code === 'USA') {
      writeFileSync(identity, (await runCaptured(['keys', 'show', '--dir', usa, '--json'])).stdout);
    }
    const run = await runCaptured(['partner', 'add', code, '--identity', identity, ...rest, '--dir', usa]);
    expectOneLineFailure(run, message);
  });
});
