import canonicalizeModule from 'canonicalize';
import { AccordError } from '../errors/index.js';
import { Frontier } from './frontier.js';
import { hashesEqual, leafHash } from './merkle.js';

// The package is CommonJS (`module.exports = serialize`) but its types declare an ES default.
const canonicalize = canonicalizeModule as unknown as (input: unknown) => string | undefined;

/** What a node signs about its log: size, RFC 9162 root (lowercase hex), when, and whose log. */
export interface TreeHead {
  readonly treeSize: number;
  readonly rootHash: string;
  /** An instant in the form Date#toISOString writes, e.g. 2025-03-01T12:00:00.000Z. */
  readonly timestamp: string;
  readonly nodeId: string;
}

/** A tree head with the node's signature over treeHeadSigningBytes(head), in the signer's own encoding. */
export interface SignedTreeHead extends TreeHead {
  readonly signature: string;
}

/** Checks a signature over `bytes` with the key of the node that signed; injected so audit needs no key code. */
export type SignatureCheck = (bytes: Uint8Array, signature: string) => boolean;

/**
 * Domain separation: the signed object names what it is, so a tree-head signature can never be
 * replayed as a signature over another canonical-JSON document (an arrangement, a receipt).
 */
export const TREE_HEAD_CONTEXT = 'accord/audit/tree-head/v1';

const HEX_HASH = /^[0-9a-f]{64}$/;
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to refuse control characters.
const NODE_ID = /^[^\u0000-\u001f\u007f]{1,256}$/;

function invalidHead(message: string, path: string): AccordError<'AUDIT_TREE_HEAD_INVALID'> {
  return new AccordError('AUDIT_TREE_HEAD_INVALID', `tree head ${message}`, { path });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function readHead(input: Record<string, unknown>): TreeHead {
  const { treeSize, rootHash, timestamp, nodeId } = input;
  if (typeof treeSize !== 'number' || !Number.isSafeInteger(treeSize) || treeSize < 0) {
    throw invalidHead('treeSize must be a non-negative integer', '/treeSize');
  }
  if (typeof rootHash !== 'string' || !HEX_HASH.test(rootHash)) {
    throw invalidHead('rootHash must be 64 lowercase hex digits', '/rootHash');
  }
  if (
    typeof timestamp !== 'string' ||
    !ISO_INSTANT.test(timestamp) ||
    Number.isNaN(Date.parse(timestamp)) ||
    new Date(timestamp).toISOString() !== timestamp
  ) {
    throw invalidHead('timestamp must be an ISO 8601 UTC instant as YYYY-MM-DDTHH:mm:ss.sssZ', '/timestamp');
  }
  if (typeof nodeId !== 'string' || !NODE_ID.test(nodeId)) {
    throw invalidHead('nodeId must be 1 to 256 characters with no control characters', '/nodeId');
  }
  return { treeSize, rootHash, timestamp, nodeId };
}

function checkKeys(input: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(input)) {
    if (!allowed.includes(key)) throw invalidHead(`has an unknown field ${key}`, `/${key}`);
  }
}

const HEAD_KEYS = ['treeSize', 'rootHash', 'timestamp', 'nodeId'] as const;

/** Parses an untrusted tree head; unknown fields and malformed values throw AUDIT_TREE_HEAD_INVALID. */
export function parseTreeHead(input: unknown): TreeHead {
  // attacker-controlled: tree heads arrive from peers (gossip) and from files (audit verify).
  if (!isRecord(input)) throw invalidHead('must be an object', '');
  checkKeys(input, HEAD_KEYS);
  return readHead(input);
}

/** Parses an untrusted signed tree head (a tree head plus a non-empty `signature` string). */
export function parseSignedTreeHead(input: unknown): SignedTreeHead {
  // attacker-controlled: see parseTreeHead.
  if (!isRecord(input)) throw invalidHead('must be an object', '');
  checkKeys(input, [...HEAD_KEYS, 'signature']);
  const head = readHead(input);
  const { signature } = input;
  if (typeof signature !== 'string' || signature.length === 0) {
    throw invalidHead('signature must be a non-empty string', '/signature');
  }
  return { ...head, signature };
}

/** The tree head for a frontier at `timestamp` (time comes in as a value: the core has no clock). */
export function treeHeadOf(frontier: Frontier, nodeId: string, timestamp: Date): TreeHead {
  return parseTreeHead({
    treeSize: frontier.treeSize,
    rootHash: Buffer.from(frontier.root()).toString('hex'),
    timestamp: timestamp.toISOString(),
    nodeId,
  });
}

/**
 * The bytes a node signs for a tree head: the UTF-8 of the RFC 8785 (JCS) canonical JSON of
 * `{context, nodeId, rootHash, timestamp, treeSize}`, where context is TREE_HEAD_CONTEXT. JCS
 * sorts the keys and fixes number and string forms, so every node derives the same bytes; only
 * the four head fields are read, so a signature or any extra field never leaks into them.
 */
export function treeHeadSigningBytes(head: TreeHead): Uint8Array {
  const { treeSize, rootHash, timestamp, nodeId } = parseTreeHead({
    treeSize: head.treeSize,
    rootHash: head.rootHash,
    timestamp: head.timestamp,
    nodeId: head.nodeId,
  });
  const json = canonicalize({ context: TREE_HEAD_CONTEXT, nodeId, rootHash, timestamp, treeSize });
  if (json === undefined) throw invalidHead('did not canonicalize', '');
  return new TextEncoder().encode(json);
}

/** Throws AUDIT_SIGNATURE_INVALID unless `check` accepts the head's signature over its signing bytes. */
export function verifyTreeHeadSignature(head: SignedTreeHead, check: SignatureCheck): void {
  const bytes = treeHeadSigningBytes(head);
  let valid: boolean;
  try {
    valid = check(bytes, head.signature);
  } catch (error) {
    throw new AccordError(
      'AUDIT_SIGNATURE_INVALID',
      `the signature on the tree head of size ${head.treeSize} from ${head.nodeId} could not be checked`,
      { treeSize: head.treeSize, nodeId: head.nodeId },
      { cause: error },
    );
  }
  if (valid !== true) {
    throw new AccordError(
      'AUDIT_SIGNATURE_INVALID',
      `the signature on the tree head of size ${head.treeSize} from ${head.nodeId} does not verify`,
      { treeSize: head.treeSize, nodeId: head.nodeId },
    );
  }
}

/**
 * Two heads of one node at the same size must have the same root; different roots are a signed
 * fork (the node showed two histories) and throw AUDIT_FORK_DETECTED. Heads of different sizes
 * need a consistency proof (verifyConsistency) to compare.
 */
export function checkSameSizeHeads(a: TreeHead, b: TreeHead): void {
  if (a.nodeId === b.nodeId && a.treeSize === b.treeSize && a.rootHash !== b.rootHash) {
    throw new AccordError(
      'AUDIT_FORK_DETECTED',
      `${a.nodeId} signed two different roots for tree size ${a.treeSize}: ${a.rootHash} and ${b.rootHash}`,
      { nodeId: a.nodeId, treeSize: a.treeSize, roots: [a.rootHash, b.rootHash] },
    );
  }
}

/** What a successful verifyLogAgainst proved. */
export interface LogVerification {
  /** Entries [0, verifiedSize) are exactly the ones the largest trusted head committed to. */
  readonly verifiedSize: number;
  /** Entries read; those from verifiedSize on were appended after the newest trusted head. */
  readonly entryCount: number;
  /** The distinct tree sizes checked, ascending. */
  readonly checkedSizes: readonly number[];
}

/**
 * Recomputes the log's root from `entries` (the raw leaf inputs, in log order) at the size of
 * every trusted head, after checking each head's signature (AUDIT_SIGNATURE_INVALID) and that no
 * two heads fork (AUDIT_FORK_DETECTED). Throws AUDIT_LOG_TAMPERED with `details.firstBadIndex`, the
 * first entry that does not verify: a changed, removed, inserted or reordered entry, or a log
 * forked from a head, shows up at the first head that covers it.
 *
 * Localisation is only as fine as the heads. Entries before the largest head size that still
 * matches are proven; the next entry is the first that is not. With a head for every size (one per
 * append) that is exactly the first altered entry; with heads at 100 and 200 and entry 150 altered,
 * it is 100, since nothing trusted says whether 100 to 149 were altered.
 */
export function verifyLogAgainst(
  entries: Iterable<Uint8Array>,
  trusted: SignedTreeHead | readonly SignedTreeHead[],
  check: SignatureCheck,
): LogVerification {
  const heads = (Array.isArray(trusted) ? trusted : [trusted]) as readonly SignedTreeHead[];
  if (heads.length === 0) {
    throw new AccordError(
      'AUDIT_TREE_HEAD_INVALID',
      'verifying a log needs at least one trusted tree head',
      {},
    );
  }
  const parsed = heads.map((head) => parseSignedTreeHead(head));
  const first = parsed[0]!;
  for (const head of parsed) {
    if (head.nodeId !== first.nodeId) {
      throw new AccordError(
        'AUDIT_TREE_HEAD_INVALID',
        `trusted tree heads come from two nodes, ${first.nodeId} and ${head.nodeId}; one log has one node`,
        { path: '/nodeId' },
      );
    }
    verifyTreeHeadSignature(head, check);
  }
  // One root per size; a second signed root for a size is a fork, whatever the entries say.
  const rootBySize = new Map<number, SignedTreeHead>();
  for (const head of parsed) {
    const seen = rootBySize.get(head.treeSize);
    if (seen === undefined) rootBySize.set(head.treeSize, head);
    else checkSameSizeHeads(seen, head);
  }
  const sizes = [...rootBySize.keys()].sort((a, b) => a - b);

  const frontier = Frontier.empty();
  const iterator = entries[Symbol.iterator]();
  let exhausted = false;
  let verifiedSize = 0;
  for (const size of sizes) {
    while (!exhausted && frontier.treeSize < size) {
      const next = iterator.next();
      if (next.done === true) exhausted = true;
      else frontier.append(leafHash(next.value));
    }
    if (frontier.treeSize < size) {
      throw new AccordError(
        'AUDIT_LOG_TAMPERED',
        `audit entry ${verifiedSize} does not verify: the log ends at ${frontier.treeSize} entries, ` +
          `and a trusted head covers ${size}`,
        { firstBadIndex: verifiedSize, treeSize: size, entryCount: frontier.treeSize, reason: 'missing' },
      );
    }
    const expected = Buffer.from(rootBySize.get(size)!.rootHash, 'hex');
    if (!hashesEqual(frontier.root(), expected)) {
      throw new AccordError(
        'AUDIT_LOG_TAMPERED',
        `audit entry ${verifiedSize} does not verify: the first ${size} entries do not hash to ` +
          `the trusted root for that size`,
        { firstBadIndex: verifiedSize, treeSize: size, reason: 'root-mismatch' },
      );
    }
    verifiedSize = size;
  }
  let entryCount = frontier.treeSize;
  if (!exhausted) for (let next = iterator.next(); next.done !== true; next = iterator.next()) entryCount++;
  return { verifiedSize, entryCount, checkedSizes: sizes };
}
