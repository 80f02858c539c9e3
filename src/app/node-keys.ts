import { createPublicKey, type KeyObject } from 'node:crypto';
import { access, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type CurveName,
  createNodeIdentity,
  decryptPrivateKey,
  type EncryptedKey,
  encryptPrivateKey,
  fingerprintOf,
  type NodeIdentity,
  type PublicIdentity,
  parseEncryptedKey,
  parsePublicIdentity,
  publicIdentity,
} from '../crypto/index.js';
import { AccordError, isAccordError } from '../errors/index.js';
import type { Signer } from '../federation/index.js';
import type { PartnerKey } from '../store/index.js';

/** The file in the data directory that holds the node's keys. */
export const KEYS_FILE = 'keys.json';
/** The keys a node rotates to (`accord keys rotate`), kept beside keys.json until the rotation finishes. */
export const NEXT_KEYS_FILE = 'keys.next.json';

const FORMAT = 'accord-node-keys';
const VERSION = 1;

/** One unlocked key file: the key pairs and their public half. */
export interface UnlockedKeys {
  readonly identity: NodeIdentity;
  readonly public: PublicIdentity;
}

/** A node's identity once unlocked: the key pairs to sign and open with, and what peers are given. */
export interface NodeKeys extends UnlockedKeys {
  /**
   * The keys the node rotates to, while keys.next.json exists (issue 10 key compromise drill): the
   * node signs with `identity` until the rotation finishes, and opens envelopes sealed to either.
   */
  readonly next?: UnlockedKeys;
}

/** keys.json: both private keys encrypted (scrypt, AES-256-GCM), the public half in clear. */
interface NodeKeysFile {
  readonly format: typeof FORMAT;
  readonly version: typeof VERSION;
  /** In clear so `accord keys show` needs no passphrase; checked against the private keys on load. */
  readonly public: PublicIdentity;
  readonly signing: EncryptedKey;
  readonly encryption: EncryptedKey;
}

/** Where a data directory keeps its node keys (or, given NEXT_KEYS_FILE, the keys it rotates to). */
export function keysFileOf(dataDir: string, name: string = KEYS_FILE): string {
  return join(dataDir, name);
}

function invalidFile(file: string, message: string, cause?: unknown): never {
  throw new AccordError(
    'KEY_FILE_INVALID',
    `${file}: ${message}`,
    { path: file },
    cause === undefined ? undefined : { cause },
  );
}

/** Re-throws an AccordError with the file named first, so the operator knows which file failed. */
function naming(file: string, error: unknown): never {
  if (!isAccordError(error)) throw error;
  throw new AccordError(
    error.code,
    `${file}: ${error.message}`,
    { ...error.details, path: file },
    { cause: error },
  );
}

/**
 * Creates a fresh identity, writes it to `<dataDir>/keys.json` (mode 0600) with both private keys
 * encrypted under `passphrase`, and returns it. Throws KEY_PASSPHRASE_MISSING before writing
 * anything when there is no passphrase, and refuses to overwrite an existing keys.json: losing a
 * node's keys would cut it off from every partner that pinned them.
 */
export async function createNodeKeys(
  dataDir: string,
  passphrase: string | undefined,
  name: string = KEYS_FILE,
): Promise<NodeKeys> {
  const identity = createNodeIdentity();
  const pub = publicIdentity(identity);
  const [signing, encryption] = await Promise.all([
    encryptPrivateKey(identity.signing.privateKey, passphrase),
    encryptPrivateKey(identity.encryption.privateKey, passphrase),
  ]);
  const content: NodeKeysFile = { format: FORMAT, version: VERSION, public: pub, signing, encryption };
  const file = keysFileOf(dataDir, name);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  try {
    // 'wx': create only, never replace; the mode applies because the file is new.
    await writeFile(file, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as { code?: unknown } | null)?.code !== 'EEXIST') throw error;
    throw new AccordError(
      'INPUT_INVALID',
      `${file} already exists: node keys are never overwritten`,
      { path: file },
      { cause: error },
    );
  }
  return { identity, public: pub };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseSlot(
  file: string,
  value: unknown,
  slot: 'signing' | 'encryption',
  curve: CurveName,
): EncryptedKey {
  let key: EncryptedKey;
  try {
    key = parseEncryptedKey(value);
  } catch (error) {
    return naming(file, error);
  }
  if (key.keyType !== curve) invalidFile(file, `the ${slot} key must be ${curve}, not ${key.keyType}`);
  return key;
}

async function readKeysFile(
  dataDir: string,
  name: string = KEYS_FILE,
): Promise<{ file: string; content: NodeKeysFile }> {
  const file = keysFileOf(dataDir, name);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as { code?: unknown } | null)?.code === 'ENOENT') {
      throw new AccordError(
        'INPUT_INVALID',
        name === KEYS_FILE
          ? `no node keys: ${file} does not exist ('accord init' creates it)`
          : `no keys to rotate to: ${file} does not exist ('accord keys rotate' creates it)`,
        { path: file },
        { cause: error },
      );
    }
    throw error;
  }
  // attacker-controlled: whoever can write the data directory
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    invalidFile(file, 'not valid JSON', error);
  }
  if (!isRecord(value)) invalidFile(file, 'must be a JSON object');
  const extra = Object.keys(value).filter(
    (k) => !['format', 'version', 'public', 'signing', 'encryption'].includes(k),
  );
  if (extra.length > 0) invalidFile(file, `unknown fields: ${extra.join(', ')}`);
  if (value.format !== FORMAT) invalidFile(file, `format must be '${FORMAT}'`);
  if (value.version !== VERSION) invalidFile(file, `version ${String(value.version)} is not supported`);
  let pub: PublicIdentity;
  try {
    pub = parsePublicIdentity(value.public);
  } catch (error) {
    return invalidFile(file, `public ${error instanceof Error ? error.message : String(error)}`, error);
  }
  const content: NodeKeysFile = {
    format: FORMAT,
    version: VERSION,
    public: pub,
    signing: parseSlot(file, value.signing, 'signing', 'ed25519'),
    encryption: parseSlot(file, value.encryption, 'encryption', 'x25519'),
  };
  return { file, content };
}

/**
 * The public identity in `<dataDir>/keys.json`, without the passphrase: each public key is checked
 * against its fingerprint, and the file's shape is checked whole. That the public keys belong to
 * the private ones is checked only by loadNodeKeys, which can decrypt them.
 */
export async function readPublicIdentity(dataDir: string, name: string = KEYS_FILE): Promise<PublicIdentity> {
  return (await readKeysFile(dataDir, name)).content.public;
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

/**
 * Unlocks `<dataDir>/keys.json`. Throws INPUT_INVALID naming the file when it is missing,
 * KEY_PASSPHRASE_MISSING without a passphrase, KEY_PASSPHRASE_WRONG when it does not unlock the
 * keys, and KEY_FILE_INVALID when the file is malformed or its public keys are not the private keys'.
 */
export async function loadNodeKeys(dataDir: string, passphrase: string | undefined): Promise<NodeKeys> {
  const current = await unlockKeys(dataDir, passphrase, KEYS_FILE);
  // While a rotation is under way the next keys are unlocked too, under the same passphrase.
  if (!(await exists(keysFileOf(dataDir, NEXT_KEYS_FILE)))) return current;
  return { ...current, next: await unlockKeys(dataDir, passphrase, NEXT_KEYS_FILE) };
}

async function unlockKeys(
  dataDir: string,
  passphrase: string | undefined,
  name: string,
): Promise<UnlockedKeys> {
  const { file, content } = await readKeysFile(dataDir, name);
  let signing: KeyObject;
  let encryption: KeyObject;
  try {
    [signing, encryption] = await Promise.all([
      decryptPrivateKey(content.signing, passphrase),
      decryptPrivateKey(content.encryption, passphrase),
    ]);
  } catch (error) {
    return naming(file, error);
  }
  // The clear public part is what `keys show` prints and partners pin: it must be these keys.
  for (const [slot, privateKey] of [
    ['signing', signing],
    ['encryption', encryption],
  ] as const) {
    if (fingerprintOf(privateKey) !== content.public[slot].fingerprint) {
      invalidFile(file, `the public ${slot} key is not the one its private key belongs to`);
    }
  }
  return {
    identity: {
      signing: { publicKey: createPublicKey(signing), privateKey: signing },
      encryption: { publicKey: createPublicKey(encryption), privateKey: encryption },
    },
    public: content.public,
  };
}

/**
 * Finishes a rotation at its rotation time: keys.next.json becomes keys.json, and the old keys.json
 * is kept as keys.retired-<time>.json (the node no longer signs or opens anything with it). Both
 * files must unlock with `passphrase` first, so a rotation never leaves a node without usable keys.
 * Returns the public identities before and after.
 */
export async function finishKeyRotation(
  dataDir: string,
  passphrase: string | undefined,
  at: Date,
): Promise<{
  readonly retired: PublicIdentity;
  readonly current: PublicIdentity;
  readonly retiredFile: string;
}> {
  const keys = await loadNodeKeys(dataDir, passphrase);
  if (keys.next === undefined) {
    const file = keysFileOf(dataDir, NEXT_KEYS_FILE);
    throw new AccordError(
      'INPUT_INVALID',
      `no rotation under way: ${file} does not exist ('accord keys rotate' creates it)`,
      { path: file },
    );
  }
  const retiredFile = keysFileOf(dataDir, `keys.retired-${at.toISOString().replaceAll(':', '')}.json`);
  await rename(keysFileOf(dataDir), retiredFile);
  await rename(keysFileOf(dataDir, NEXT_KEYS_FILE), keysFileOf(dataDir));
  return { retired: keys.public, current: keys.next.public, retiredFile };
}

/** The node's signing key as federation signs with it: the private key and its pinned fingerprint. */
export function signerOf(keys: UnlockedKeys): Signer {
  return { privateKey: keys.identity.signing.privateKey, fingerprint: keys.public.signing.fingerprint };
}

/** The partner-directory keys of an identity: what `store.partners` records for a node. */
export function partnerKeysOf(identity: PublicIdentity): PartnerKey[] {
  return [
    { use: 'signing', fingerprint: identity.signing.fingerprint, publicKey: identity.signing.publicKey },
    {
      use: 'encryption',
      fingerprint: identity.encryption.fingerprint,
      publicKey: identity.encryption.publicKey,
    },
  ];
}
