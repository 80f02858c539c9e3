import type { Command } from 'commander';
import { openConfiguredStore } from '../app/node.js';
import { readPublicIdentity } from '../app/node-keys.js';
import {
  type AuditLogVerified,
  HASH_SIZE,
  hashesEqual,
  LeafHashList,
  leafHash,
  type ProofSource,
  parseSignedTreeHead,
  type SignedTreeHead,
  verifyAuditLog,
} from '../audit/index.js';
import { authorise } from '../auth/roles.js';
import { canonicalJson, type PublicKeyInfo, parsePublicIdentity } from '../crypto/index.js';
import { AccordError, ERROR_CODES, type ErrorCode, isAccordError } from '../errors/index.js';
import { storedProofSource, treeHeadSignatureCheck } from '../services/audit-log.js';
import type { Store } from '../store/index.js';
import { type CliIo, printable, writeJson, writeLine } from './cli-io.js';
import { dataDirOf, loadNodeConfig } from './local-node.js';
import { readJsonFile } from './read-json-file.js';

// `accord audit verify` and `accord audit head` (issue 5). verify reads a node's whole log, from
// its API (a URL) or its store (a data directory), and checks it with verifyAuditLog against the
// heads the node signed and an earlier head kept by the verifier (--since). The node's signing key
// comes from --identity when given (a key obtained out of band), else from the node itself: its
// keys.json, or GET /federation/v1/identity.

/** Rows read per query from a store, entries per request from an API (its largest page). */
const STORE_PAGE = 5000;
const API_PAGE = 1000;
const HEX_HASH = /^[0-9a-f]{64}$/;
const DEFAULT_TOKEN_ENV = 'ACCORD_TOKEN';

/** Everything verify needs from one source. */
interface LogSource {
  /** The log as read: leaf hashes recomputed from each entry, and where it first disagreed with itself. */
  readonly leaves: LeafHashList;
  readonly firstRecordedMismatch: number | undefined;
  /** The first index missing from the entries (a row removed), if any. */
  readonly gapAt: number | undefined;
  /** Entries shown as a leaf hash only (outside a scoped auditor's arrangements). */
  readonly withheld?: number;
  readonly heads: readonly SignedTreeHead[];
  readonly proofs: ProofSource;
  readonly signingKey: PublicKeyInfo;
  /** Where the key came from, for the report. */
  readonly keyFrom: string;
  close(): Promise<void>;
}

function isUrl(target: string): boolean {
  return /^https?:\/\//i.test(target);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function unhex(text: string, what: string): Uint8Array {
  if (!HEX_HASH.test(text)) {
    throw new AccordError('AUDIT_PROOF_INVALID', `${what} is not 64 lowercase hex digits`, { path: what });
  }
  return Uint8Array.from(Buffer.from(text, 'hex'));
}

/** Collects leaf hashes in index order and notes the first row that disagrees with its recorded hash. */
class LeafCollector {
  readonly leaves = new LeafHashList();
  firstRecordedMismatch: number | undefined;
  gapAt: number | undefined;

  /** Entries a scoped auditor was shown only the leaf hash of. */
  withheld = 0;

  /**
   * An entry outside a scoped oversight auditor's arrangements, of which the node showed the leaf
   * hash only: the signed roots authenticate the hash, and nothing can be said of its content.
   */
  addWithheld(index: number, recorded: Uint8Array): void {
    if (this.gapAt !== undefined) return;
    if (index !== this.leaves.length) {
      this.gapAt = this.leaves.length;
      return;
    }
    this.withheld++;
    this.leaves.push(recorded);
  }

  add(index: number, input: Uint8Array, recorded: Uint8Array | undefined): void {
    if (this.gapAt !== undefined) return;
    if (index !== this.leaves.length) {
      this.gapAt = this.leaves.length;
      return;
    }
    const leaf = leafHash(input);
    if (
      this.firstRecordedMismatch === undefined &&
      (recorded === undefined || recorded.length !== HASH_SIZE || !hashesEqual(leaf, recorded))
    ) {
      this.firstRecordedMismatch = index;
    }
    this.leaves.push(leaf);
  }
}

/** A public identity file as `accord keys show --json` prints it; its signing key. */
async function signingKeyFromFile(io: CliIo, file: string): Promise<PublicKeyInfo> {
  const value = await readJsonFile(file, io.cwd, 'identity');
  if (!isRecord(value))
    throw new AccordError('INPUT_INVALID', `--identity: ${file} is not a JSON object`, {});
  const { partner: _partner, nodeName: _nodeName, keys, ...rest } = value;
  // Either `keys show --json` ({partner, signing, encryption}) or the identity route ({partner, keys}).
  return parsePublicIdentity(keys ?? rest).signing;
}

async function readSinceHead(io: CliIo, file: string): Promise<SignedTreeHead> {
  // attacker-controlled as much as any file: parsed like a head from the network.
  return parseSignedTreeHead(await readJsonFile(file, io.cwd, 'tree head'));
}

// ---------------------------------------------------------------- a data directory

async function openDirStore(io: CliIo, dir: string | undefined): Promise<Store> {
  const config = await loadNodeConfig(io, dir, { log: { level: 'warn' } });
  return openConfiguredStore(config);
}

async function checkLocalActor(store: Store, username: string | undefined): Promise<void> {
  if (username === undefined) return;
  const user = await store.users.getByUsername(username);
  if (user === undefined || user.disabled) {
    throw new AccordError('INPUT_INVALID', `--as: no active user '${username}' on this node`, {
      token: username,
    });
  }
  const outcome = authorise(user.roles, 'audit:read');
  if (!outcome.allowed) throw new AccordError('FORBIDDEN', outcome.reason, { permission: 'audit:read' });
}

async function dirSource(io: CliIo, dir: string, options: VerifyOptions): Promise<LogSource> {
  const dataDir = dataDirOf(io, dir);
  const signingKey =
    options.identity === undefined
      ? (await readPublicIdentity(dataDir)).signing
      : await signingKeyFromFile(io, options.identity);
  const store = await openDirStore(io, dir);
  try {
    await checkLocalActor(store, options.as);
    const repo = store.audit;
    const size = await repo.size();
    const collector = new LeafCollector();
    for (let start = 0; start < size && collector.gapAt === undefined; start += STORE_PAGE) {
      const end = Math.min(size, start + STORE_PAGE);
      const rows = await repo.entries(start, end);
      for (const row of rows) collector.add(row.index, Buffer.from(row.entryJson, 'utf8'), row.leafHash);
      // A removed row shows as a short page: the first index not read is missing.
      if (collector.gapAt === undefined && collector.leaves.length < end)
        collector.gapAt = collector.leaves.length;
    }
    return {
      leaves: collector.leaves,
      firstRecordedMismatch: collector.firstRecordedMismatch,
      gapAt: collector.gapAt,
      heads: await repo.treeHeads(),
      proofs: storedProofSource(repo),
      signingKey,
      keyFrom: options.identity === undefined ? `${dataDir}/keys.json` : options.identity,
      close: () => store.close(),
    };
  } catch (error) {
    await store.close();
    throw error;
  }
}

// ---------------------------------------------------------------- a node's API

/** GETs JSON from the node; a problem answer becomes an AccordError with the node's code. */
function apiClient(base: string, token: string | undefined, fetchImpl: typeof globalThis.fetch) {
  const root = base.replace(/\/+$/, '');
  return async (path: string): Promise<unknown> => {
    let response: Response;
    try {
      response = await fetchImpl(`${root}${path}`, {
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(60_000),
      });
    } catch (error) {
      throw new AccordError(
        'SERVICE_UNAVAILABLE',
        `${root} did not answer: ${error instanceof Error ? error.message : String(error)}`,
        { url: root },
        { cause: error },
      );
    }
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (!response.ok) {
      // attacker-controlled: the node's answer.
      const named = isRecord(body) && typeof body.code === 'string' ? body.code : '';
      const code: ErrorCode = Object.hasOwn(ERROR_CODES, named)
        ? (named as ErrorCode)
        : 'SERVICE_UNAVAILABLE';
      const detail =
        isRecord(body) && typeof body.detail === 'string' ? printable(body.detail).slice(0, 300) : '';
      throw new AccordError(
        code,
        `${root}${path.split('?')[0]} answered ${response.status}: ${detail || named}`,
        {
          status: response.status,
        },
      );
    }
    if (body === undefined) {
      throw new AccordError('SERVICE_UNAVAILABLE', `${root}${path.split('?')[0]} did not answer JSON`, {});
    }
    return body;
  };
}

function proofOf(body: unknown): Uint8Array[] {
  // attacker-controlled: a proof is only as good as the roots it leads to.
  const proof = isRecord(body) ? body.proof : undefined;
  if (!Array.isArray(proof)) throw new AccordError('AUDIT_PROOF_INVALID', 'the node answered no proof', {});
  return proof.map((p, i) => unhex(typeof p === 'string' ? p : '', `proof/${i}`));
}

/** The leaf input of an entry as the API serves it: its canonical JSON, or its text when it is not JSON. */
function entryInput(entry: unknown): Uint8Array {
  if (typeof entry === 'string') return new TextEncoder().encode(entry);
  try {
    return new TextEncoder().encode(canonicalJson(entry));
  } catch {
    return new TextEncoder().encode(JSON.stringify(entry) ?? '');
  }
}

async function urlSource(io: CliIo, url: string, options: VerifyOptions): Promise<LogSource> {
  const tokenEnv = options.tokenEnv ?? DEFAULT_TOKEN_ENV;
  const token = io.env[tokenEnv];
  if (options.tokenEnv !== undefined && (token === undefined || token === '')) {
    throw new AccordError('INPUT_INVALID', `--token-env: ${tokenEnv} is not set`, {});
  }
  const get = apiClient(url, token === '' ? undefined : token, options.fetch ?? globalThis.fetch);
  let signingKey: PublicKeyInfo;
  if (options.identity === undefined) {
    const identity = await get('/federation/v1/identity');
    signingKey = parsePublicIdentity(isRecord(identity) ? identity.keys : undefined).signing;
  } else {
    signingKey = await signingKeyFromFile(io, options.identity);
  }
  const head = parseSignedTreeHead(await get('/api/v1/audit/tree-head'));
  const collector = new LeafCollector();
  let size: number | undefined;
  for (let start = 0; ; start += API_PAGE) {
    const page = await get(`/api/v1/audit/entries?start=${start}&end=${start + API_PAGE}`);
    // attacker-controlled: every field of the page is checked before use.
    if (!isRecord(page) || !Array.isArray(page.entries) || typeof page.treeSize !== 'number') {
      throw new AccordError(
        'AUDIT_LOG_TAMPERED',
        `the node answered a malformed page of entries at ${start}`,
        {
          firstBadIndex: start,
        },
      );
    }
    // The log's size when reading began; entries appended meanwhile are left for the next run.
    size ??= page.treeSize;
    for (const item of page.entries) {
      const index = isRecord(item) && typeof item.index === 'number' ? item.index : -1;
      const recorded =
        isRecord(item) && typeof item.leafHash === 'string' && HEX_HASH.test(item.leafHash)
          ? Uint8Array.from(Buffer.from(item.leafHash, 'hex'))
          : undefined;
      if (isRecord(item) && item.withheld === true && item.entry === null && recorded !== undefined) {
        collector.addWithheld(index, recorded);
      } else {
        collector.add(index, entryInput(isRecord(item) ? item.entry : undefined), recorded);
      }
    }
    if (collector.gapAt !== undefined) break;
    const end = Math.min(size, start + API_PAGE);
    // A page short of its end lacks rows the node counts: the first one not read is missing.
    if (collector.leaves.length < end) {
      collector.gapAt = collector.leaves.length;
      break;
    }
    if (end >= size) break;
  }
  const proofs: ProofSource = {
    inclusionProof: async (index, treeSize) =>
      proofOf(await get(`/api/v1/audit/proofs/inclusion?index=${index}&treeSize=${treeSize}`)),
    consistencyProof: async (first, second) =>
      proofOf(await get(`/api/v1/audit/proofs/consistency?first=${first}&second=${second}`)),
  };
  return {
    leaves: collector.leaves,
    firstRecordedMismatch: collector.firstRecordedMismatch,
    withheld: collector.withheld,
    gapAt: collector.gapAt,
    heads: [head],
    proofs,
    signingKey,
    keyFrom:
      options.identity ??
      `${url.replace(/\/+$/, '')}/federation/v1/identity (the node's own word; pin it with --identity)`,
    close: async () => undefined,
  };
}

// ---------------------------------------------------------------- verify

interface VerifyOptions {
  readonly since?: string;
  readonly as?: string;
  readonly tokenEnv?: string;
  readonly identity?: string;
  readonly json?: boolean;
  /** Tests pass their own. */
  readonly fetch?: typeof globalThis.fetch;
}

/** Verifies one source; a removed row is reported as the first entry that does not verify unless an earlier one fails. */
async function verifySource(source: LogSource, since: SignedTreeHead | undefined): Promise<AuditLogVerified> {
  let verified: AuditLogVerified;
  try {
    verified = await verifyAuditLog({
      leaves: source.leaves,
      ...(source.firstRecordedMismatch === undefined
        ? {}
        : { firstRecordedMismatch: source.firstRecordedMismatch }),
      heads: source.heads,
      ...(since === undefined ? {} : { since }),
      check: treeHeadSignatureCheck(source.signingKey),
      proofs: source.proofs,
    });
  } catch (error) {
    const gap = source.gapAt;
    if (
      gap !== undefined &&
      isAccordError(error) &&
      error.code === 'AUDIT_LOG_TAMPERED' &&
      typeof error.details.firstBadIndex === 'number' &&
      error.details.firstBadIndex >= gap
    ) {
      throw missing(gap);
    }
    throw error;
  }
  if (source.gapAt !== undefined) throw missing(source.gapAt);
  return verified;
}

function missing(index: number): AccordError {
  return new AccordError(
    'AUDIT_LOG_TAMPERED',
    `audit entry ${index} does not verify: it is missing from the log`,
    {
      firstBadIndex: index,
      reason: 'missing',
    },
  );
}

/** Registers `audit verify` and `audit head`. */
export function registerAuditCommands(program: Command, io: CliIo): void {
  const audit = program.command('audit').description("check a node's tamper-evident audit log");

  audit
    .command('verify <target>')
    .description(
      'recompute the audit log of a node (a URL, or a data directory) and check it against the tree heads ' +
        'the node signed and an earlier head (--since); prints OK with the tree size, or names the first ' +
        'entry that does not verify and exits 1',
    )
    .option('--since <file>', 'a signed tree head saved earlier (accord audit head): the log must extend it')
    .option('--as <user>', 'data directory: the user reading the log (needs audit:read)')
    .option(
      '--token-env <variable>',
      `URL: the environment variable holding a bearer token (default ${DEFAULT_TOKEN_ENV})`,
    )
    .option(
      '--identity <file>',
      "the node's public identity (accord keys show --json), instead of asking the node",
    )
    .option('--json', 'print the result as JSON')
    .action(async (target: string, options: VerifyOptions) => {
      const since = options.since === undefined ? undefined : await readSinceHead(io, options.since);
      const source = isUrl(target)
        ? await urlSource(io, target, options)
        : await dirSource(io, target, options);
      let verified: AuditLogVerified;
      try {
        verified = await verifySource(source, since);
      } finally {
        await source.close();
      }
      const unsigned = verified.entryCount - verified.treeSize;
      if (options.json === true) {
        writeJson(io.stdout, {
          ok: true,
          treeSize: verified.treeSize,
          rootHash: verified.rootHash,
          head: verified.head,
          entryCount: verified.entryCount,
          unsignedEntries: unsigned,
          withheldEntries: source.withheld ?? 0,
          checkedSizes: verified.checkedSizes.length,
          signingKey: source.signingKey.fingerprint,
          ...(verified.sinceSize === undefined ? {} : { sinceSize: verified.sinceSize }),
        });
        return;
      }
      writeLine(io.stdout, `OK tree size ${verified.treeSize} root ${verified.rootHash}`);
      writeLine(
        io.stdout,
        `  signed by ${printable(verified.head.nodeId)} at ${verified.head.timestamp} with ${source.signingKey.fingerprint}`,
      );
      writeLine(io.stdout, `  key from ${printable(source.keyFrom)}`);
      writeLine(
        io.stdout,
        `  ${verified.entryCount} entries read, ${verified.checkedSizes.length} signed sizes checked` +
          (unsigned > 0 ? `; ${unsigned} newer entries not yet under a signed head` : ''),
      );
      if ((source.withheld ?? 0) > 0) {
        writeLine(
          io.stdout,
          `  ${source.withheld} entries outside your oversight scope: their leaf hashes are in the signed tree, their content was not shown`,
        );
      }
      if (verified.sinceSize !== undefined) {
        writeLine(io.stdout, `  extends the --since head of size ${verified.sinceSize}`);
      }
    });

  audit
    .command('head [target]')
    .description("print the node's latest signed tree head as JSON, to keep for a later verify --since")
    .option('--dir <dir>', 'data directory (when no URL is given)')
    .option(
      '--token-env <variable>',
      `URL: the environment variable holding a bearer token (default ${DEFAULT_TOKEN_ENV})`,
    )
    .action(async (target: string | undefined, options: { dir?: string; tokenEnv?: string }) => {
      let head: SignedTreeHead;
      if (target !== undefined && isUrl(target)) {
        const token = io.env[options.tokenEnv ?? DEFAULT_TOKEN_ENV];
        const get = apiClient(target, token === '' ? undefined : token, globalThis.fetch);
        head = parseSignedTreeHead(await get('/api/v1/audit/tree-head'));
      } else {
        const store = await openDirStore(io, target ?? options.dir);
        try {
          const latest = await store.audit.latestTreeHead();
          if (latest === undefined) {
            throw new AccordError('AUDIT_NO_TREE_HEAD', 'the node has signed no tree head yet', {});
          }
          head = latest;
        } finally {
          await store.close();
        }
      }
      writeJson(io.stdout, head);
    });
}
