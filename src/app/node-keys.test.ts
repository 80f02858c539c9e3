import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/index.js';
import { fingerprintOf, signDigest, verifySignature } from '../crypto/index.js';
import { AccordError } from '../errors/index.js';
import { buildNode } from './node.js';
import {
  createNodeKeys,
  KEYS_FILE,
  keysFileOf,
  loadNodeKeys,
  type NodeKeys,
  partnerKeysOf,
  readPublicIdentity,
} from './node-keys.js';

const PASSPHRASE = 'correct horse battery staple';
const root = mkdtempSync(join(tmpdir(), 'accord-keys-'));
let count = 0;

function tempDir(): string {
  return join(root, String(++count));
}

async function rejectionOf(promise: Promise<unknown>): Promise<AccordError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof AccordError) return error;
    throw error;
  }
  throw new Error('expected an AccordError');
}

type KeysJson = Record<string, Record<string, Record<string, unknown>>>;

// One scrypt run is ~0.1 s per key, so one node's keys are made once and copied for each variant.
let made: { dir: string; keys: NodeKeys };

/** A data directory holding a copy of the shared keys.json, edited by `change`. */
function variant(change: (json: KeysJson) => void): string {
  const dir = tempDir();
  const json = JSON.parse(readFileSync(keysFileOf(made.dir), 'utf8')) as KeysJson;
  change(json);
  createDirWith(dir, JSON.stringify(json));
  return dir;
}

/** A new data directory holding only a keys.json with this text. */
function createDirWith(dir: string, keysText: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, KEYS_FILE), keysText);
}

beforeAll(async () => {
  const dir = tempDir();
  made = { dir, keys: await createNodeKeys(dir, PASSPHRASE) };
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('createNodeKeys', () => {
  it('writes keys.json with mode 0600, holding the public identity and both keys encrypted', () => {
    const file = keysFileOf(made.dir);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const json = JSON.parse(readFileSync(file, 'utf8')) as KeysJson;
    expect(json.public).toEqual(made.keys.public);
    expect(json.signing).toMatchObject({ format: 'accord-encrypted-key', keyType: 'ed25519' });
    expect(json.encryption).toMatchObject({ format: 'accord-encrypted-key', keyType: 'x25519' });
  });

  it('refuses to overwrite an existing keys.json, leaving it as it was', async () => {
    const before = readFileSync(keysFileOf(made.dir), 'utf8');
    const error = await rejectionOf(createNodeKeys(made.dir, PASSPHRASE));
    expect(error.code).toBe('INPUT_INVALID');
    expect(error.message).toContain(`${keysFileOf(made.dir)} already exists`);
    expect(readFileSync(keysFileOf(made.dir), 'utf8')).toBe(before);
  });

  it('writes nothing without a passphrase, naming ACCORD_KEY_PASSPHRASE', async () => {
    const dir = tempDir();
    for (const passphrase of [undefined, '']) {
      const error = await rejectionOf(createNodeKeys(dir, passphrase));
      expect(error.code).toBe('KEY_PASSPHRASE_MISSING');
      expect(error.message).toContain('ACCORD_KEY_PASSPHRASE');
    }
    expect(existsSync(dir)).toBe(false);
  });
});

describe('loadNodeKeys', () => {
  it('unlocks key pairs whose public halves are the published identity', async () => {
    const loaded = await loadNodeKeys(made.dir, PASSPHRASE);
    expect(loaded.public).toEqual(made.keys.public);
    expect(fingerprintOf(loaded.identity.signing.publicKey)).toBe(made.keys.public.signing.fingerprint);
    expect(fingerprintOf(loaded.identity.encryption.publicKey)).toBe(made.keys.public.encryption.fingerprint);
    const signature = signDigest(loaded.identity.signing.privateKey, 'sha256:00');
    expect(() =>
      verifySignature(Buffer.from(made.keys.public.signing.publicKey, 'base64'), 'sha256:00', signature),
    ).not.toThrow();
  });

  it('throws KEY_PASSPHRASE_WRONG naming the file for another passphrase', async () => {
    const error = await rejectionOf(loadNodeKeys(made.dir, `${PASSPHRASE}!`));
    expect(error.code).toBe('KEY_PASSPHRASE_WRONG');
    expect(error.message).toContain(keysFileOf(made.dir));
  });

  it('throws KEY_PASSPHRASE_MISSING without a passphrase', async () => {
    expect((await rejectionOf(loadNodeKeys(made.dir, undefined))).code).toBe('KEY_PASSPHRASE_MISSING');
  });

  it('names the missing file and the command that makes it', async () => {
    const dir = tempDir();
    const error = await rejectionOf(loadNodeKeys(dir, PASSPHRASE));
    expect(error.code).toBe('INPUT_INVALID');
    expect(error.message).toBe(`no node keys: ${keysFileOf(dir)} does not exist ('accord init' creates it)`);
  });

  it("refuses a public part swapped for another node's, though each key matches its fingerprint", async () => {
    const other = await createNodeKeys(tempDir(), PASSPHRASE);
    const dir = variant((json) => {
      json.public = other.public as unknown as Record<string, Record<string, unknown>>;
    });
    // Without the passphrase the swap cannot be seen; with it, it is refused.
    expect(await readPublicIdentity(dir)).toEqual(other.public);
    const error = await rejectionOf(loadNodeKeys(dir, PASSPHRASE));
    expect(error.code).toBe('KEY_FILE_INVALID');
    expect(error.message).toMatch(/the public signing key is not the one its private key belongs to/);
  });

  it('refuses the signing and encryption keys in each other’s places', async () => {
    const dir = variant((json) => {
      [json.signing, json.encryption] = [json.encryption ?? {}, json.signing ?? {}];
    });
    const error = await rejectionOf(loadNodeKeys(dir, PASSPHRASE));
    expect(error.code).toBe('KEY_FILE_INVALID');
    expect(error.message).toMatch(/the signing key must be ed25519, not x25519/);
  });
});

describe('readPublicIdentity', () => {
  it('reads the public identity without the passphrase', async () => {
    expect(await readPublicIdentity(made.dir)).toEqual(made.keys.public);
  });

  it('refuses a public key that does not match its fingerprint, naming the file', async () => {
    const dir = variant((json) => {
      const signing = json.public?.signing;
      if (signing !== undefined) signing.publicKey = made.keys.public.encryption.publicKey;
    });
    const error = await rejectionOf(readPublicIdentity(dir));
    expect(error.code).toBe('KEY_FILE_INVALID');
    expect(error.message).toContain(keysFileOf(dir));
    expect(error.message).toMatch(/signing\.publicKey does not match its fingerprint/);
  });

  it.each([
    ['not JSON', '{', /not valid JSON/],
    [
      'an unknown field',
      JSON.stringify({ format: 'accord-node-keys', version: 1, extra: 1 }),
      /unknown fields: extra/,
    ],
    ['another format', JSON.stringify({ format: 'x', version: 1 }), /format must be 'accord-node-keys'/],
  ])('refuses a file that is %s', async (_what, text, message) => {
    const dir = tempDir();
    createDirWith(dir, text);
    const error = await rejectionOf(readPublicIdentity(dir));
    expect(error.code).toBe('KEY_FILE_INVALID');
    expect(error.message).toMatch(message);
  });
});

describe('partnerKeysOf', () => {
  it('lists the signing and the encryption key as the partner directory records them', () => {
    expect(partnerKeysOf(made.keys.public)).toEqual([
      { use: 'signing', ...made.keys.public.signing },
      { use: 'encryption', ...made.keys.public.encryption },
    ]);
  });
});

describe('buildNode', () => {
  it('gives the services the keys it was built with, and none otherwise', async () => {
    const config = loadConfig({ flags: { dataDir: tempDir(), partner: 'USA', log: { level: 'silent' } } });
    const withKeys = await buildNode(config, { keys: made.keys });
    try {
      expect(withKeys.services.keys).toBe(made.keys);
    } finally {
      await withKeys.close();
    }
    const without = await buildNode(config);
    try {
      expect(without.services.keys).toBeUndefined();
    } finally {
      await without.close();
    }
  });
});
