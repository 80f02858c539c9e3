import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { expectOneLineFailure } from '../../test/fixtures/cli.js';
import { type AccordNode, buildNode } from '../app/node.js';
import { loadNodeKeys } from '../app/node-keys.js';
import { createNodeIdentity, type PublicIdentity, publicIdentity } from '../crypto/index.js';
import { type Envelope, verifyProductSignature } from '../federation/index.js';
import type { SealedRelease } from '../services/product-service.js';
import { REPO_ROOT, runCaptured } from './captured-run.js';
import type { CliIo } from './cli-io.js';
import { loadNodeConfig } from './local-node.js';

const FVEY = 'examples/arrangements/fvey-multilateral.json';
const SIGINT_CT = 'examples/products/usa-sigint-ct.json';
// The NOFORN portion p3 of examples/products/usa-sigint-ct.json: it must never reach GBR.
const NOFORN_TEXT = 'Collection was enabled by a sensitive access';

// Every init and serve here runs with a node key passphrase, as a real node must.
const KEY_ENV = { ACCORD_KEY_PASSPHRASE: 'a passphrase for the test node keys' } as const;

const dirs: string[] = [];

/** A fresh temp directory for one test, removed after it. */
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'accord-cli-'));
  dirs.push(dir);
  return dir;
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const quietIo: CliIo = {
  stdout: { write: () => true },
  stderr: { write: () => true },
  env: {},
  cwd: REPO_ROOT,
};

/** Opens the node of a data directory the way the CLI does, runs `work`, closes it. */
async function onNode<T>(dir: string, work: (node: AccordNode) => Promise<T>): Promise<T> {
  const node = await buildNode(await loadNodeConfig(quietIo, dir, { log: { level: 'silent' } }));
  try {
    return await work(node);
  } finally {
    await node.close();
  }
}

function sha256Of(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** Expects a failed run: exit 2, nothing on stdout, exactly one `accord: …` line on stderr. */

/** `accord init` on a new directory; resolves to the administrator's one-time password. */
async function initNode(dir: string, partner = 'USA'): Promise<string> {
  const run = await runCaptured(['init', '--dir', dir, '--partner', partner, '--json'], { env: KEY_ENV });
  expect(run.code).toBe(0);
  return (JSON.parse(run.stdout) as { admin: { password: string } }).admin.password;
}

interface UserSpec {
  readonly username: string;
  readonly nationality: string;
  readonly clearance: string;
  readonly roles: readonly string[];
  readonly caveats?: string;
  readonly communities?: string;
}

async function addUser(dir: string, user: UserSpec): Promise<void> {
  const run = await runCaptured([
    'user',
    'add',
    '--dir',
    dir,
    '--username',
    user.username,
    '--nationality',
    user.nationality,
    '--clearance',
    user.clearance,
    '--role',
    ...user.roles,
    '--caveats',
    user.caveats ?? '',
    '--communities',
    user.communities ?? '',
  ]);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
}

const ANALYST = {
  username: 'ann',
  nationality: 'USA',
  clearance: 'TOP SECRET',
  roles: ['analyst'],
  caveats: 'SI',
} as const;
const OFFICER = {
  username: 'olly',
  nationality: 'USA',
  clearance: 'TOP SECRET',
  roles: ['release-officer'],
  caveats: 'SI',
} as const;
// A release officer who also writes: the four-eyes rule must stop them approving their own product.
const DUAL = {
  username: 'dana',
  nationality: 'USA',
  clearance: 'TOP SECRET',
  roles: ['analyst', 'release-officer'],
  caveats: 'SI',
} as const;
const LIAISON = {
  username: 'gwen',
  nationality: 'GBR',
  clearance: 'SECRET',
  roles: ['analyst'],
  communities: 'FVEY',
} as const;

/** GBR's node as USA's directory records it: its public keys (a release is sealed to them). */
const GBR_IDENTITY = { partner: 'GBR', ...publicIdentity(createNodeIdentity()) };

/**
 * A USA node with an analyst, an officer, a dual-role user, a GBR liaison, the FVEY arrangement
 * and GBR's node keys on record.
 */
async function allianceNode(): Promise<string> {
  const dir = tempDir();
  await initNode(dir);
  for (const user of [ANALYST, OFFICER, DUAL, LIAISON]) await addUser(dir, user);
  expect((await runCaptured(['arrangement', 'add', FVEY, '--dir', dir, '--as', 'admin'])).code).toBe(0);
  const identity = join(dir, 'gbr-identity.json');
  writeFileSync(identity, JSON.stringify(GBR_IDENTITY));
  const partner = await runCaptured([
    'partner',
    'add',
    'GBR',
    '--identity',
    identity,
    '--endpoint',
    'http://127.0.0.1:7402',
    '--dir',
    dir,
  ]);
  expect(partner.stderr).toBe('');
  return dir;
}

async function createProduct(dir: string, as: string): Promise<string> {
  const run = await runCaptured(['product', 'create', SIGINT_CT, '--dir', dir, '--as', as, '--json'], {
    env: KEY_ENV,
  });
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  return (JSON.parse(run.stdout) as { id: string }).id;
}

/** A product written by ann, submitted and approved by olly: ready for release. */
async function approvedProduct(dir: string): Promise<string> {
  const id = await createProduct(dir, 'ann');
  expect((await runCaptured(['product', 'submit', id, '--dir', dir, '--as', 'ann'])).code).toBe(0);
  expect((await runCaptured(['product', 'approve', id, '--dir', dir, '--as', 'olly'])).code).toBe(0);
  return id;
}

describe('accord init', () => {
  it('creates the config (mode 0600) and the database, and prints an admin password that logs in', async () => {
    const dir = join(tempDir(), 'node');
    const run = await runCaptured(['init', '--dir', dir, '--partner', 'gbr'], { env: KEY_ENV });
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');

    const config = join(dir, 'accord.json');
    expect(statSync(config).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(config, 'utf8'))).toEqual({ partner: 'GBR', nodeName: 'accord' });
    expect(existsSync(join(dir, 'accord.sqlite'))).toBe(true);

    // The two fingerprints printed are those of the keys in keys.json.
    const { public: pub } = JSON.parse(readFileSync(join(dir, 'keys.json'), 'utf8')) as {
      public: PublicIdentity;
    };
    expect(run.stdout).toContain(
      `node keys in ${join(dir, 'keys.json')}, encrypted under ACCORD_KEY_PASSPHRASE:\n` +
        `  signing     ${pub.signing.fingerprint}\n  encryption  ${pub.encryption.fingerprint}\n`,
    );

    const password = /password: (\S+)/.exec(run.stdout)?.[1];
    expect(password).toBeDefined();
    expect(run.stdout.split(password ?? '').length - 1).toBe(1);

    await onNode(dir, async (node) => {
      expect(node.config.partner).toBe('GBR');
      const session = await node.services.auth.login('admin', password ?? '', '127.0.0.1');
      expect(session.user).toMatchObject({ username: 'admin', nationality: 'GBR', roles: ['administrator'] });
      await expect(node.services.auth.login('admin', `${password}x`, '127.0.0.1')).rejects.toMatchObject({
        code: 'AUTH_INVALID',
      });
      // The node's own partner entry carries its public keys and where it listens.
      expect(await node.store.partners.get('GBR')).toMatchObject({
        endpoint: 'http://127.0.0.1:7401',
        keys: [
          { use: 'signing', ...pub.signing },
          { use: 'encryption', ...pub.encryption },
        ],
      });
    });
  });

  it.each([
    ['unset', {}],
    ['empty', { ACCORD_KEY_PASSPHRASE: '' }],
  ])(
    'refuses to start without ACCORD_KEY_PASSPHRASE (%s), naming it, and creates nothing',
    async (_how, env) => {
      const dir = join(tempDir(), 'node');
      const run = await runCaptured(['init', '--dir', dir, '--partner', 'GBR'], { env });
      expectOneLineFailure(
        run,
        /^accord: the node keys need a passphrase: set ACCORD_KEY_PASSPHRASE \[KEY_PASSPHRASE_MISSING\]$/,
      );
      expect(existsSync(dir)).toBe(false);
    },
  );

  it('keeps keys.json at mode 0600 with no private key or passphrase in clear', async () => {
    const dir = tempDir();
    await initNode(dir);
    const file = join(dir, 'keys.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const text = readFileSync(file, 'utf8');
    const { identity } = await loadNodeKeys(dir, KEY_ENV.ACCORD_KEY_PASSPHRASE);
    for (const { privateKey } of [identity.signing, identity.encryption]) {
      const raw = Buffer.from(String(privateKey.export({ format: 'jwk' }).d), 'base64url');
      expect(raw).toHaveLength(32);
      const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
      const pem = String(privateKey.export({ format: 'pem', type: 'pkcs8' }));
      for (const secret of [
        raw.toString('base64'),
        raw.toString('base64url'),
        raw.toString('hex'),
        pkcs8.toString('base64'),
        pem.split('\n')[1] ?? pem,
      ]) {
        expect(text).not.toContain(secret);
      }
    }
    expect(text).not.toContain('PRIVATE KEY');
    expect(text).not.toContain(KEY_ENV.ACCORD_KEY_PASSPHRASE);
  });

  it('refuses a second init on the same directory with one line, leaving its files unchanged', async () => {
    const dir = tempDir();
    await initNode(dir, 'GBR');
    const files = ['accord.json', 'accord.sqlite', 'keys.json'].map((f) => join(dir, f));
    const before = files.map((f) => ({ hash: sha256Of(f), mtime: statSync(f).mtimeMs }));

    const again = await runCaptured(['init', '--dir', dir, '--partner', 'USA'], { env: KEY_ENV });
    expectOneLineFailure(again, /already holds an Accord node \(accord\.json exists\) \[INPUT_INVALID\]$/);
    expect(files.map((f) => ({ hash: sha256Of(f), mtime: statSync(f).mtimeMs }))).toEqual(before);
  });

  it('refuses a directory that holds node keys without a config, leaving the keys as they were', async () => {
    const dir = tempDir();
    const file = join(dir, 'keys.json');
    writeFileSync(file, '{"format":"accord-node-keys"}');
    const run = await runCaptured(['init', '--dir', dir], { env: KEY_ENV });
    expectOneLineFailure(run, /already holds an Accord node \(keys\.json exists\) \[INPUT_INVALID\]$/);
    expect(readFileSync(file, 'utf8')).toBe('{"format":"accord-node-keys"}');
    expect(existsSync(join(dir, 'accord.json'))).toBe(false);
  });

  it('refuses an unknown partner code and creates nothing', async () => {
    const dir = join(tempDir(), 'node');
    const run = await runCaptured(['init', '--dir', dir, '--partner', 'XYZ'], { env: KEY_ENV });
    expectOneLineFailure(run, /--partner: 'XYZ' is not a known partner code/);
    expect(existsSync(dir)).toBe(false);
  });

  it('keeps a PostgreSQL URL in the config, and refuses one that is not postgres:// without creating anything', async () => {
    const bad = join(tempDir(), 'node');
    const run = await runCaptured(['init', '--dir', bad, '--database-url', 'mysql://db/accord'], {
      env: KEY_ENV,
    });
    expectOneLineFailure(run, /config \/database\/url: must match pattern .* \[CONFIG_INVALID\]$/);
    expect(existsSync(bad)).toBe(false);
  });
});

describe('accord user add', () => {
  it('stores the user and prints a generated password once, which logs in', async () => {
    const dir = tempDir();
    await initNode(dir);
    const run = await runCaptured([
      'user',
      'add',
      '--dir',
      dir,
      '--username',
      'ann',
      '--nationality',
      'usa',
      '--clearance',
      'top secret',
      '--role',
      'analyst',
      'release-officer',
      '--caveats',
      'SI, TK',
      '--communities',
      'FVEY',
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^added ann \(analyst, release-officer, USA, TOP SECRET\)$/m);
    const password = /^password: (\S+) {2}\(shown this once\)$/m.exec(run.stdout)?.[1];
    expect(password).toBeDefined();

    await onNode(dir, async (node) => {
      const { user } = await node.services.auth.login('ann', password ?? '', '127.0.0.1');
      expect(user).toMatchObject({
        nationality: 'USA',
        clearance: 'TOP SECRET',
        caveats: ['SI', 'TK'],
        communities: ['FVEY'],
        roles: ['analyst', 'release-officer'],
      });
    });
  });

  it('reads the password from the variable --password-env names, and never prints it', async () => {
    const dir = tempDir();
    await initNode(dir);
    const password = 'correct horse battery staple';
    const argv = ['user', 'add', '--dir', dir, '--nationality', 'GBR', '--clearance', 'SECRET'];
    const run = await runCaptured(
      [...argv, '--username', 'gwen', '--role', 'analyst', '--password-env', 'GWEN_PASSWORD'],
      { env: { GWEN_PASSWORD: password } },
    );
    expect(run.code).toBe(0);
    expect(run.stdout).not.toContain('password');

    const unset = await runCaptured([
      ...argv,
      '--username',
      'hal',
      '--role',
      'analyst',
      '--password-env',
      'HAL_PASSWORD',
    ]);
    expectOneLineFailure(unset, /--password-env: HAL_PASSWORD is not set/);

    await onNode(dir, async (node) => {
      await expect(node.services.auth.login('gwen', password, '127.0.0.1')).resolves.toMatchObject({
        user: { username: 'gwen' },
      });
      expect(await node.store.users.getByUsername('hal')).toBeUndefined();
    });
  });

  it.each([
    ['role', ['--role', 'wizard'], /user \/roles\/0: must be equal to one of the allowed values/],
    ['clearance', ['--clearance', 'COSMIC'], /user \/clearance: must be equal to one of the allowed values/],
    ['nationality', ['--nationality', 'XYZ'], /user \/nationality: unknown country 'XYZ'/],
    ['caveat', ['--caveats', 'SI,ZZ'], /user \/caveats\/1: unknown caveat 'ZZ'/],
  ])('refuses an unknown %s with one line and writes no user', async (_what, override, message) => {
    const dir = tempDir();
    await initNode(dir);
    const options: Record<string, string[]> = {
      '--username': ['hal'],
      '--nationality': ['GBR'],
      '--clearance': ['SECRET'],
      '--role': ['analyst'],
    };
    options[override[0] ?? ''] = override.slice(1);
    const run = await runCaptured([
      'user',
      'add',
      '--dir',
      dir,
      ...Object.entries(options).flatMap(([flag, values]) => [flag, ...values]),
    ]);
    expectOneLineFailure(run, message);
    await onNode(dir, async (node) => {
      expect((await node.store.counts()).users).toBe(1);
      expect(await node.store.users.getByUsername('hal')).toBeUndefined();
    });
  });

  it('refuses a username that exists, naming the conflict, and keeps the first user', async () => {
    const dir = tempDir();
    await initNode(dir);
    await addUser(dir, ANALYST);
    const run = await runCaptured([
      'user',
      'add',
      '--dir',
      dir,
      '--username',
      'ann',
      '--nationality',
      'GBR',
      '--clearance',
      'SECRET',
      '--role',
      'analyst',
    ]);
    expectOneLineFailure(run, /users\.username.*\[STORE_CONFLICT\]$/);
    await onNode(dir, async (node) => {
      expect((await node.store.counts()).users).toBe(2);
      expect(await node.store.users.getByUsername('ann')).toMatchObject({ nationality: 'USA' });
    });
  });
});

describe('accord arrangement', () => {
  it('stores an arrangement as an administrator and lists it', async () => {
    const dir = tempDir();
    await initNode(dir);
    const add = await runCaptured(['arrangement', 'add', FVEY, '--dir', dir, '--as', 'admin']);
    expect(add.code).toBe(0);
    expect(add.stdout).toMatch(/^stored fvey-multilateral v1 \(active\) sha256:[0-9a-f]{64}\n$/);

    const list = await runCaptured(['arrangement', 'list', '--dir', dir, '--as', 'admin']);
    expect(list.code).toBe(0);
    expect(list.stdout).toBe(
      'fvey-multilateral v1  active  Five Eyes multilateral intelligence-sharing arrangement\n',
    );
    const json = await runCaptured(['arrangement', 'list', '--dir', dir, '--as', 'admin', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject([{ id: 'fvey-multilateral', version: 1 }]);
  });

  it('refuses an invalid arrangement file, naming the field, and stores nothing', async () => {
    const dir = tempDir();
    await initNode(dir);
    const doc = JSON.parse(readFileSync(join(REPO_ROOT, FVEY), 'utf8')) as Record<string, unknown>;
    delete doc.legalBasis;
    const file = join(dir, 'broken.json');
    writeFileSync(file, JSON.stringify(doc));

    const run = await runCaptured(['arrangement', 'add', file, '--dir', dir, '--as', 'admin']);
    expectOneLineFailure(run, /arrangement \/legalBasis: .*legalBasis.*\[ARRANGEMENT_INVALID\]$/);
    await onNode(dir, async (node) => expect((await node.store.counts()).arrangements).toBe(0));
  });

  it('refuses an analyst acting as --as with FORBIDDEN', async () => {
    const dir = tempDir();
    await initNode(dir);
    await addUser(dir, ANALYST);
    const run = await runCaptured(['arrangement', 'add', FVEY, '--dir', dir, '--as', 'ann']);
    expectOneLineFailure(run, /arrangement:write is not granted to roles analyst \[FORBIDDEN\]$/);
    await onNode(dir, async (node) => expect((await node.store.counts()).arrangements).toBe(0));
  });
});

describe('accord product', () => {
  it('takes a whole product document through create, submit, approve and release to GBR', async () => {
    const dir = await allianceNode();
    const created = await runCaptured(
      ['product', 'create', SIGINT_CT, '--dir', dir, '--as', 'ann', '--json'],
      { env: KEY_ENV },
    );
    expect(created.code).toBe(0);
    // Only the draft fields of the example are used: the node assigns id, author and originator.
    const view = JSON.parse(created.stdout) as Record<string, unknown>;
    expect(view).toMatchObject({ version: 1, state: 'draft', author: 'ann', originator: 'USA' });
    expect(view.id).toMatch(/^USA-\d{4}-[0-9a-f]{10}$/);
    expect(view.id).not.toBe('usa-2026-0417');
    const id = String(view.id);

    const submit = await runCaptured(['product', 'submit', id, '--dir', dir, '--as', 'ann']);
    expect(submit.stdout).toBe(`${id} v1 is submitted\n`);
    const approve = await runCaptured(['product', 'approve', id, '--dir', dir, '--as', 'olly']);
    expect(approve.stdout).toBe(`${id} v1 is approved\n`);

    const release = await runCaptured(
      ['product', 'release', id, '--to', 'gbr', '--under', 'fvey-multilateral', '--dir', dir, '--as', 'olly'],
      { env: KEY_ENV },
    );
    expect(release.stderr).toBe('');
    expect(release.code).toBe(0);
    const lines = release.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`released ${id} to GBR under fvey-multilateral: SECRET//REL TO USA, GBR`);
    expect(lines[1]).toBe('  withheld p3: portion.releasability (marked NOFORN)');
    expect(lines[2]).toMatch(/^release [0-9a-f-]{36} queued for delivery$/);
    expect(release.stdout).not.toContain(NOFORN_TEXT);

    await onNode(dir, async (node) => {
      expect((await node.store.products.get(id))?.state).toBe('released');
      expect((await node.store.counts()).outbox).toBe(1);
    });

    // Pending deliveries are visible: what, to whom, how it stands; never the content.
    const listed = await runCaptured(['outbox', 'list', '--dir', dir, '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    const entries = JSON.parse(listed.stdout) as Record<string, unknown>[];
    expect(entries).toEqual([
      expect.objectContaining({
        recipient: 'GBR',
        product: { id, version: 1 },
        status: 'pending',
        attempts: 0,
        lastError: null,
        deliveredAt: null,
      }),
    ]);
    expect(listed.stdout).not.toContain(NOFORN_TEXT);
    expect(listed.stdout).not.toContain('ciphertext');
    const text = await runCaptured(['outbox', 'list', '--dir', dir]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`GBR  ${id} v1  pending`));
    expect(text.stdout.trimEnd().split('\n').at(-1)).toBe('1 deliveries, 1 pending');
  });

  it('signs the version it creates and seals the release it queues, with the node keys', async () => {
    const dir = await allianceNode();
    const id = await approvedProduct(dir);
    const argv = ['product', 'release', id, '--to', 'GBR', '--under', 'fvey-multilateral', '--dir', dir];
    const release = await runCaptured([...argv, '--as', 'olly'], { env: KEY_ENV });
    expect(release.stderr).toBe('');
    expect(release.code).toBe(0);

    const { public: pub, identity } = await loadNodeKeys(dir, KEY_ENV.ACCORD_KEY_PASSPHRASE);
    const usaKey = (fingerprint: string) =>
      fingerprint === pub.signing.fingerprint ? identity.signing.publicKey : undefined;
    await onNode(dir, async (node) => {
      const version = await node.store.products.getVersion(id, 1);
      expect(() => verifyProductSignature(version?.document ?? {}, usaKey)).not.toThrow();
      const [row] = await node.store.outbox.list();
      // A sealed envelope to GBR's key under its own id, not the clear `sealed: false` message
      // a node without keys queues and the outbox worker can never deliver.
      const payload = row?.payload as SealedRelease & { sealed?: unknown };
      expect(payload.sealed).toBeUndefined();
      const envelope: Envelope = payload.envelope;
      expect(envelope.header).toMatchObject({
        envelopeId: row?.id,
        kind: 'release',
        from: 'USA',
        to: 'GBR',
        product: { id, version: 1 },
        senderKey: pub.signing.fingerprint,
      });
      expect(typeof envelope.ciphertext).toBe('string');
      expect(JSON.stringify(envelope)).not.toContain('Intercepted communications');
      expect(() => verifyProductSignature(payload.release.payload.product, usaKey)).not.toThrow();
    });
  });

  it.each([
    ['unset', {}, /set ACCORD_KEY_PASSPHRASE \[KEY_PASSPHRASE_MISSING\]$/],
    ['empty', { ACCORD_KEY_PASSPHRASE: '' }, /set ACCORD_KEY_PASSPHRASE \[KEY_PASSPHRASE_MISSING\]$/],
    ['wrong', { ACCORD_KEY_PASSPHRASE: 'not the passphrase' }, /does not unlock .*\[KEY_PASSPHRASE_WRONG\]$/],
  ])(
    'refuses create and release when ACCORD_KEY_PASSPHRASE is %s, with one line, writing nothing',
    async (_how, env, message) => {
      const dir = await allianceNode();
      const id = await approvedProduct(dir);
      const before = await onNode(dir, (node) => node.store.counts());

      const create = await runCaptured(['product', 'create', SIGINT_CT, '--dir', dir, '--as', 'ann'], {
        env,
      });
      expectOneLineFailure(create, message);
      const argv = ['product', 'release', id, '--to', 'GBR', '--under', 'fvey-multilateral', '--dir', dir];
      const release = await runCaptured([...argv, '--as', 'olly'], { env });
      expectOneLineFailure(release, message);
      expect(release.stderr).not.toContain('not the passphrase');

      await onNode(dir, async (node) => {
        expect(await node.store.counts()).toEqual(before);
        expect((await node.store.products.get(id))?.state).toBe('approved');
      });
    },
  );

  it('reads, submits and approves without the passphrase: only signing and sealing need the keys', async () => {
    const dir = await allianceNode();
    // approvedProduct submits and approves with an empty environment.
    const id = await approvedProduct(dir);
    for (const argv of [
      ['product', 'show', id, '--as', 'ann'],
      ['product', 'list', '--as', 'ann'],
      ['outbox', 'list'],
      ['inbox', 'list'],
      ['received', 'list', '--as', 'ann'],
    ]) {
      const run = await runCaptured([...argv, '--dir', dir]);
      expect(run.stderr, argv.join(' ')).toBe('');
      expect(run.code).toBe(0);
    }
  });

  it('refuses an author approving their own product', async () => {
    const dir = await allianceNode();
    const id = await createProduct(dir, 'dana');
    expect((await runCaptured(['product', 'submit', id, '--dir', dir, '--as', 'dana'])).code).toBe(0);
    const run = await runCaptured(['product', 'approve', id, '--dir', dir, '--as', 'dana']);
    expectOneLineFailure(
      run,
      new RegExp(`dana wrote product ${id} and cannot approve or reject it \\[FORBIDDEN\\]$`),
    );
    await onNode(dir, async (node) => expect((await node.store.products.get(id))?.state).toBe('submitted'));
  });

  it('denies a release to a partner outside the arrangement, naming arrangement.parties', async () => {
    const dir = await allianceNode();
    const id = await approvedProduct(dir);
    const argv = ['product', 'release', id, '--under', 'fvey-multilateral', '--dir', dir, '--as', 'olly'];
    const run = await runCaptured([...argv, '--to', 'FRA'], { env: KEY_ENV });
    expectOneLineFailure(
      run,
      /denied: .*arrangement\.parties \(FRA is not party to fvey-multilateral\).*\[POLICY_DENIED\]$/,
    );

    // The deny is a stored decision, and nothing was queued for FRA.
    await onNode(dir, async (node) => {
      const releases = await node.store.releases.list({ productId: id });
      expect(releases).toMatchObject([{ recipient: 'FRA', effect: 'deny' }]);
      expect((await node.store.counts()).outbox).toBe(0);
      expect((await node.store.products.get(id))?.state).toBe('approved');
    });
  });

  it('shows a GBR SECRET reader the product torn to their access, never the withheld text', async () => {
    const dir = await allianceNode();
    const id = await approvedProduct(dir);
    const show = await runCaptured(['product', 'show', id, '--dir', dir, '--as', 'gwen']);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain('(S//REL TO USA, GBR) Intercepted communications');
    expect(show.stdout).toContain('  [1 portion(s) withheld from you]');
    expect(show.stdout).not.toContain(NOFORN_TEXT);
    expect(show.stdout).not.toContain('NOFORN');
    expect(show.stdout).not.toContain('(S//NF)');

    const json = await runCaptured(['product', 'show', id, '--dir', dir, '--as', 'gwen', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({
      id,
      withheldCount: 1,
      banner: 'SECRET//REL TO USA, GBR',
    });
    expect(json.stdout).not.toContain(NOFORN_TEXT);

    // The author reads it whole.
    const whole = await runCaptured(['product', 'show', id, '--dir', dir, '--as', 'ann']);
    expect(whole.stdout).toContain(NOFORN_TEXT);
    expect(whole.stdout).not.toContain('withheld');
  });

  it('lists the products each reader may see: drafts only to their author', async () => {
    const dir = await allianceNode();
    await approvedProduct(dir);
    await createProduct(dir, 'ann');
    const count = async (as: string) => {
      const run = await runCaptured(['product', 'list', '--dir', dir, '--as', as]);
      expect(run.code).toBe(0);
      return /^(\d+) product\(s\)$/m.exec(run.stdout)?.[1];
    };
    expect(await count('ann')).toBe('2');
    expect(await count('olly')).toBe('1');
    expect(await count('gwen')).toBe('1');

    const gwen = await runCaptured(['product', 'list', '--dir', dir, '--as', 'gwen', '--json']);
    const listed = JSON.parse(gwen.stdout) as { total: number; items: { withheldCount: number }[] };
    expect(listed.total).toBe(1);
    expect(listed.items[0]?.withheldCount).toBe(1);
    expect(gwen.stdout).not.toContain(NOFORN_TEXT);
  });
});

describe('accord inbox and accord received', () => {
  it('lists an empty inbox and no received products, and refuses bad options with one line', async () => {
    const dir = await allianceNode();
    const inbox = await runCaptured(['inbox', 'list', '--dir', dir]);
    expect(inbox.stdout).toBe('0 envelope(s), 0 refused\n');
    const json = await runCaptured(['inbox', 'list', '--status', 'refused', '--dir', dir, '--json']);
    expect(JSON.parse(json.stdout)).toEqual([]);
    const received = await runCaptured(['received', 'list', '--as', 'gwen', '--dir', dir]);
    expect(received.stdout).toBe('0 received product(s)\n');

    expectOneLineFailure(
      await runCaptured(['inbox', 'list', '--status', 'lost', '--dir', dir]),
      /'lost' is invalid\. Allowed choices are stored, refused/,
    );
    expectOneLineFailure(
      await runCaptured(['received', 'show', 'USA-2026-0000000000', '--as', 'gwen', '--dir', dir]),
      /no received product 'USA-2026-0000000000' \[NOT_FOUND\]$/,
    );
    expectOneLineFailure(
      await runCaptured(['received', 'show', 'x', '--version', 'latest', '--as', 'gwen', '--dir', dir]),
      /--version: 'latest' is not a version number \[INPUT_INVALID\]$/,
    );
    expectOneLineFailure(
      await runCaptured(['received', 'list', '--sender', 'XYZ', '--as', 'gwen', '--dir', dir]),
      /--sender: 'XYZ' is not a known partner code/,
    );
    // Administrators run the node but read no product content, received or own.
    expectOneLineFailure(
      await runCaptured(['received', 'list', '--as', 'admin', '--dir', dir]),
      /product:read is not granted to roles administrator \[FORBIDDEN\]$/,
    );
  });
});

describe('commands on a directory without a node', () => {
  it.each([
    [
      [
        'user',
        'add',
        '--username',
        'ann',
        '--nationality',
        'USA',
        '--clearance',
        'SECRET',
        '--role',
        'analyst',
      ],
    ],
    [['arrangement', 'add', FVEY, '--as', 'admin']],
    [['arrangement', 'list', '--as', 'admin']],
    [['product', 'create', SIGINT_CT, '--as', 'ann']],
    [['product', 'list', '--as', 'ann']],
    [['product', 'show', 'USA-2026-0000000000', '--as', 'ann']],
    [['inbox', 'list']],
    [['received', 'list', '--as', 'ann']],
    [['serve', '--port', '0']],
  ])('%j exits 2 telling to run init, and creates nothing', async (argv) => {
    const dir = join(tempDir(), 'missing');
    const run = await runCaptured([...argv, '--dir', dir]);
    expectOneLineFailure(
      run,
      new RegExp(`no Accord node in ${dir}: run 'accord init --dir ${dir}' first \\[INPUT_INVALID\\]$`),
    );
    expect(existsSync(dir)).toBe(false);
  });
});

describe('accord serve', () => {
  it('serves /healthz over HTTP until SIGTERM, then exits 0 and closes the port', async () => {
    const dir = tempDir();
    await initNode(dir);
    let stdout = '';
    const running = runCaptured(['serve', '--dir', dir, '--port', '0'], {
      stdout: { write: (chunk: string) => (stdout += chunk) },
      env: { ACCORD_LOG_LEVEL: 'silent', ...KEY_ENV },
    });
    const address = await vi.waitFor(
      () => {
        const found = /listening on (http:\/\/127\.0\.0\.1:\d+) /.exec(stdout)?.[1];
        expect(found).toBeDefined();
        return found ?? '';
      },
      { timeout: 10_000, interval: 20 },
    );
    expect(stdout).toContain(`accord USA node listening on ${address}  (API docs: ${address}/api/v1/docs)`);

    const health = await fetch(`${address}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });

    process.emit('SIGTERM');
    const run = await running;
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    expect(stdout).toMatch(/stopping…\n$/);
    await expect(fetch(`${address}/healthz`)).rejects.toThrow();
  });

  it('refuses a port in use with one line naming the address (exit 2, not an internal error)', async () => {
    const dir = tempDir();
    await initNode(dir);
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = blocker.address() as { port: number };
      const run = await runCaptured(['serve', '--dir', dir, '--port', String(port)], {
        env: { ACCORD_LOG_LEVEL: 'silent', ...KEY_ENV },
      });
      expectOneLineFailure(
        run,
        new RegExp(
          `cannot listen on 127\\.0\\.0\\.1:${port}: the address is already in use .*\\[CONFIG_INVALID\\]$`,
        ),
      );
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('refuses to start without ACCORD_KEY_PASSPHRASE, naming it', async () => {
    const dir = tempDir();
    await initNode(dir);
    const run = await runCaptured(['serve', '--dir', dir, '--port', '0'], {
      env: { ACCORD_LOG_LEVEL: 'silent' },
    });
    expectOneLineFailure(run, /set ACCORD_KEY_PASSPHRASE \[KEY_PASSPHRASE_MISSING\]$/);
  });

  it('refuses to start when ACCORD_KEY_PASSPHRASE does not unlock the keys', async () => {
    const dir = tempDir();
    await initNode(dir);
    const run = await runCaptured(['serve', '--dir', dir, '--port', '0'], {
      env: { ACCORD_LOG_LEVEL: 'silent', ACCORD_KEY_PASSPHRASE: 'not the passphrase' },
    });
    expectOneLineFailure(
      run,
      new RegExp(
        `^accord: ${join(dir, 'keys.json')}: the key passphrase does not unlock .*\\[KEY_PASSPHRASE_WRONG\\]$`,
      ),
    );
    expect(run.stderr).not.toContain('not the passphrase');
  });

  it('refuses a --port that is not a number', async () => {
    const dir = tempDir();
    await initNode(dir);
    const run = await runCaptured(['serve', '--dir', dir, '--port', 'http']);
    expectOneLineFailure(run, /--port: 'http' is not a port number \[INPUT_INVALID\]$/);
  });
});
