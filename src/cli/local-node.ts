import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type AccordNode, buildNode } from '../app/node.js';
import { loadNodeKeys, readPublicIdentity } from '../app/node-keys.js';
import { type Config, loadConfig } from '../config/index.js';
import { KEY_PASSPHRASE_ENV } from '../crypto/index.js';
import { AccordError } from '../errors/index.js';
import type { Actor } from '../services/actor.js';
import type { CliIo } from './cli-io.js';
import { readJsonFile } from './read-json-file.js';

/** The config file `accord init` writes into the data directory. */
export const CONFIG_FILE = 'accord.json';
export const DEFAULT_DATA_DIR = 'accord-data';

/** The data directory: `--dir`, else ACCORD_DATA_DIR, else ./accord-data; absolute. */
export function dataDirOf(io: CliIo, dir: string | undefined): string {
  return resolve(io.cwd, dir ?? io.env.ACCORD_DATA_DIR ?? DEFAULT_DATA_DIR);
}

/**
 * The node key passphrase from ACCORD_KEY_PASSPHRASE. It has no default (STYLE.md, Config):
 * missing or empty is KEY_PASSPHRASE_MISSING naming the variable, never a value.
 */
export function keyPassphraseOf(io: CliIo): string {
  const passphrase = io.env[KEY_PASSPHRASE_ENV];
  if (passphrase === undefined || passphrase === '') {
    throw new AccordError(
      'KEY_PASSPHRASE_MISSING',
      `the node keys need a passphrase: set ${KEY_PASSPHRASE_ENV}`,
      { key: KEY_PASSPHRASE_ENV },
    );
  }
  return passphrase;
}

/** Loads the node config: defaults < <dir>/accord.json < ACCORD_* env < flags. */
export async function loadNodeConfig(
  io: CliIo,
  dir: string | undefined,
  flags: Record<string, unknown> = {},
): Promise<Readonly<Config>> {
  const dataDir = dataDirOf(io, dir);
  const file = join(dataDir, CONFIG_FILE);
  if (!existsSync(file)) {
    throw new AccordError(
      'INPUT_INVALID',
      `no Accord node in ${dataDir}: run 'accord init --dir ${dataDir}' first`,
      {
        path: file,
      },
    );
  }
  const fromFile = await readJsonFile(file, io.cwd, 'config');
  return loadConfig({ file: fromFile, env: io.env, flags: { ...flags, dataDir } });
}

/** Writes a new config file; refuses to overwrite an existing node. */
export async function writeNodeConfig(dataDir: string, config: Record<string, unknown>): Promise<void> {
  const file = join(dataDir, CONFIG_FILE);
  if (existsSync(file)) {
    throw new AccordError(
      'INPUT_INVALID',
      `${dataDir} already holds an Accord node (${CONFIG_FILE} exists)`,
      { path: file },
    );
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await writeFile(file, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
}

/** How a local command opens its node. */
export interface LocalNodeOptions {
  /**
   * Unlock the node keys with ACCORD_KEY_PASSPHRASE, for a command that signs or seals: without
   * them a product version would be stored unsigned and a release queued unsealed, which no
   * delivery can ever send. Read-only commands leave them locked and need no passphrase.
   */
  readonly keys?: boolean;
  /**
   * Read the node's public identity from keys.json (no passphrase, as `keys show` does), for a
   * read-only command that verifies signatures under arrangements this node is party to.
   */
  readonly identity?: boolean;
}

/**
 * Opens the node of a data directory (store migrated, server built but not listening). With
 * `keys`, a missing or wrong passphrase fails before the store is opened, so nothing is written.
 */
export async function openLocalNode(
  io: CliIo,
  dir: string | undefined,
  flags: Record<string, unknown> = {},
  options: LocalNodeOptions = {},
): Promise<AccordNode> {
  // Commands run quietly; `serve` and `demo` raise the log level themselves.
  const config = await loadNodeConfig(io, dir, { log: { level: 'warn' }, ...flags });
  const keys = options.keys === true ? await loadNodeKeys(config.dataDir, keyPassphraseOf(io)) : undefined;
  const identity =
    keys === undefined && options.identity === true ? await readPublicIdentity(config.dataDir) : undefined;
  return buildNode(config, {
    ...(io.now ? { now: io.now } : {}),
    ...(keys === undefined ? {} : { keys }),
    ...(identity === undefined ? {} : { identity }),
  });
}

/** Runs `work` on the node of a data directory and closes it afterwards. */
export async function withLocalNode<T>(
  io: CliIo,
  dir: string | undefined,
  work: (node: AccordNode) => Promise<T>,
  options: LocalNodeOptions = {},
): Promise<T> {
  const node = await openLocalNode(io, dir, {}, options);
  try {
    return await work(node);
  } finally {
    await node.close();
  }
}

// Why a server could not listen: the machine or the configured address, not a bug in Accord.
const LISTEN_FAILURES: Readonly<Record<string, string>> = {
  EADDRINUSE: 'the address is already in use',
  EADDRNOTAVAIL: 'the address is not available on this machine',
  EACCES: 'permission denied',
  ENOTFOUND: 'the host name does not resolve',
};

/**
 * Starts the node's HTTP server on its configured host and port and resolves to its address. A
 * port in use or an unusable host is CONFIG_INVALID (exit 2) naming the address, not an internal error.
 */
export async function listenNode(node: AccordNode): Promise<string> {
  const { host, port } = node.config.http;
  try {
    return await node.server.listen({ host, port });
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    const reason = typeof code === 'string' ? LISTEN_FAILURES[code] : undefined;
    if (reason === undefined) throw error;
    throw new AccordError(
      'CONFIG_INVALID',
      `http: cannot listen on ${host}:${port}: ${reason} (${code})`,
      { path: 'http', host, port },
      { cause: error },
    );
  }
}

/**
 * The user a local command acts as (`--as`). Whoever runs the CLI on the data directory is the
 * node's operator, but the user's roles and clearance still decide what the command may do.
 */
export async function actorFor(node: AccordNode, username: string): Promise<Actor> {
  const user = await node.store.users.getByUsername(username);
  if (user === undefined || user.disabled) {
    throw new AccordError('INPUT_INVALID', `--as: no active user '${username}' on this node`, {
      token: username,
    });
  }
  return { user, via: 'local' };
}
