import { AccordError } from '../errors/index.js';
import { Frontier, foldSubtrees, inclusionProofPlan, MemorySubtreeStore, type NodeId } from './frontier.js';
import { HASH_SIZE, hashesEqual, isValidInclusion, verifyConsistency } from './merkle.js';
import {
  checkSameSizeHeads,
  parseSignedTreeHead,
  type SignatureCheck,
  type SignedTreeHead,
  verifyTreeHeadSignature,
} from './tree-head.js';

// `accord audit verify` (issue 5): recompute a node's log from its entries and check it against
// the tree heads the node signed, and against a head saved earlier (--since). The entries and the
// proofs come from wherever the verifier reads them (the node's API, or its store); everything
// here treats them as attacker-controlled, and only the node's signature is trusted.

/** Leaf hashes packed 32 bytes apiece, so a million entries cost 32 MB rather than a million objects. */
export class LeafHashList {
  #bytes = new Uint8Array(HASH_SIZE * 1024);
  #length = 0;

  get length(): number {
    return this.#length;
  }

  push(hash: Uint8Array): void {
    if (hash.length !== HASH_SIZE) {
      throw new AccordError('AUDIT_INPUT_INVALID', `a leaf hash is ${hash.length} bytes, not ${HASH_SIZE}`);
    }
    if ((this.#length + 1) * HASH_SIZE > this.#bytes.length) {
      const grown = new Uint8Array(this.#bytes.length * 2);
      grown.set(this.#bytes);
      this.#bytes = grown;
    }
    this.#bytes.set(hash, this.#length * HASH_SIZE);
    this.#length++;
  }

  /** A view of hash `i` (valid until the next push). */
  at(i: number): Uint8Array {
    return this.#bytes.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE);
  }
}

/** Where the verifier gets proofs: the node's API, or the subtree hashes in its store. */
export interface ProofSource {
  inclusionProof(index: number, treeSize: number): Promise<readonly Uint8Array[]>;
  consistencyProof(size1: number, size2: number): Promise<readonly Uint8Array[]>;
}

/** The log as the verifier read it. */
export interface AuditLogReading {
  /** SHA-256(0x00 || entry) recomputed by the verifier for entry i, at i; entries 0..n-1, no gaps. */
  readonly leaves: LeafHashList;
  /** The first index whose recorded leaf hash differs from the one recomputed from its content, if any. */
  readonly firstRecordedMismatch?: number;
  /** The heads the node signed (its latest, and any older ones it keeps). */
  readonly heads: readonly SignedTreeHead[];
  /** A head saved earlier by whoever verifies (`--since`): the log must extend it. */
  readonly since?: SignedTreeHead;
  readonly check: SignatureCheck;
  readonly proofs: ProofSource;
}

/** What a log that verifies proved. */
export interface AuditLogVerified {
  /** The largest signed tree: entries 0..treeSize-1 are exactly what the node signed. */
  readonly treeSize: number;
  readonly rootHash: string;
  readonly head: SignedTreeHead;
  /** Entries read; those from treeSize on are newer than the newest head and not yet signed. */
  readonly entryCount: number;
  /** The distinct signed sizes checked, ascending. */
  readonly checkedSizes: readonly number[];
  /** The --since head's size when one was given (the log extends it). */
  readonly sinceSize?: number;
}

function tampered(index: number, message: string, details: Record<string, unknown>): AccordError {
  return new AccordError('AUDIT_LOG_TAMPERED', `audit entry ${index} does not verify: ${message}`, {
    firstBadIndex: index,
    ...details,
  });
}

function rangeOf(nodes: readonly NodeId[]): { start: number; end: number } {
  const first = nodes[0]!;
  const last = nodes.at(-1)!;
  return { start: first.index * 2 ** first.level, end: (last.index + 1) * 2 ** last.level };
}

/** Every perfect subtree of the recomputed leaves, for the search below (built only on failure). */
function recomputedStore(leaves: LeafHashList): MemorySubtreeStore {
  const store = new MemorySubtreeStore();
  const frontier = Frontier.empty();
  for (let i = 0; i < leaves.length; i++) frontier.append(leaves.at(i), store);
  return store;
}

type Located = { readonly kind: 'entry'; readonly index: number } | { readonly kind: 'fork' };

/**
 * The first entry of [lo, size) that the signed tree of `size` leaves does not authenticate, given
 * that entries below `lo` are proven. Each step fetches one inclusion proof for the first unproven
 * entry: if it fails, that entry does not verify; if it holds, its siblings are authentic hashes,
 * and the leftmost one to the right that differs from the recomputed hash of its range holds the
 * first bad entry, so the search continues there. O(log n) proofs.
 *
 * The answer is exact while the hashes proofs are built from are intact (an entry's text edited in
 * place). An attacker who also rewrote recorded leaf or subtree hashes spoils the proofs of
 * neighbouring entries, and an earlier one may be named, but never one before `from`.
 */
async function locate(
  leaves: LeafHashList,
  head: { readonly size: number; readonly root: Uint8Array },
  from: number,
  proofs: ProofSource,
): Promise<Located> {
  const mine = recomputedStore(leaves);
  const hashOf = ({ level, index }: NodeId): Uint8Array | undefined => mine.get(level, index);
  let lo = from;
  let hi = head.size;
  for (;;) {
    if (lo >= leaves.length) return { kind: 'entry', index: lo };
    let proof: readonly Uint8Array[];
    try {
      proof = await proofs.inclusionProof(lo, head.size);
    } catch {
      // No proof to be had for it: it does not verify.
      return { kind: 'entry', index: lo };
    }
    if (!isValidInclusion(leaves.at(lo), lo, head.size, proof, head.root))
      return { kind: 'entry', index: lo };
    const plan = inclusionProofPlan(lo, head.size);
    let next: { start: number; end: number } | undefined;
    for (const [k, nodes] of plan.entries()) {
      const range = rangeOf(nodes);
      if (range.start <= lo || range.end > hi) continue;
      const ours = range.end <= leaves.length ? nodes.map(hashOf) : [];
      const recomputed =
        ours.length === nodes.length && ours.every((h) => h !== undefined) ? foldSubtrees(ours) : undefined;
      if (recomputed === undefined || !hashesEqual(recomputed, proof[k]!)) {
        next = range;
        break;
      }
    }
    // Every entry of [lo, hi) is authentic under this head, yet the root differed: the head's
    // history of the entries before `from` is not the one the smaller heads signed.
    if (next === undefined) return { kind: 'fork' };
    lo = next.start;
    hi = next.end;
  }
}

/**
 * Verifies a log read from a node: every head's signature; no two heads of one size with two
 * roots; the root recomputed from the entries at every signed size; that the --since head is a
 * prefix of the log; and that the node's consistency proof from it holds. On a mismatch, finds
 * the first entry that does not verify. Throws AUDIT_SIGNATURE_INVALID, AUDIT_FORK_DETECTED,
 * AUDIT_LOG_TAMPERED (details.firstBadIndex), AUDIT_PROOF_INVALID or AUDIT_NO_TREE_HEAD.
 */
export async function verifyAuditLog(reading: AuditLogReading): Promise<AuditLogVerified> {
  const { leaves, check, proofs } = reading;
  const heads = reading.heads.map((head) => parseSignedTreeHead(head));
  const since = reading.since === undefined ? undefined : parseSignedTreeHead(reading.since);
  if (heads.length === 0) {
    throw new AccordError(
      'AUDIT_NO_TREE_HEAD',
      `the node has signed no tree head, so its ${leaves.length} entries cannot be verified`,
      { entryCount: leaves.length },
    );
  }
  const nodeId = heads[0]!.nodeId;
  for (const head of [...heads, ...(since === undefined ? [] : [since])]) {
    if (head.nodeId !== nodeId) {
      throw new AccordError(
        'AUDIT_TREE_HEAD_INVALID',
        `tree heads name two nodes, ${nodeId} and ${head.nodeId}; one log has one node`,
        { path: '/nodeId' },
      );
    }
    verifyTreeHeadSignature(head, check);
  }

  // One signed root per size: a second root for a size is a fork, whatever the entries say.
  const bySize = new Map<number, SignedTreeHead>();
  for (const head of heads) {
    const seen = bySize.get(head.treeSize);
    if (seen === undefined) bySize.set(head.treeSize, head);
    else checkSameSizeHeads(seen, head);
  }
  if (since !== undefined) {
    const same = bySize.get(since.treeSize);
    if (same !== undefined) checkSameSizeHeads(same, since);
  }
  const sizes = [...bySize.keys()].sort((a, b) => a - b);
  const top = bySize.get(sizes.at(-1)!)!;

  // Recompute the root at every signed size (the node's and --since's) in one pass.
  const wanted = new Set(sizes);
  if (since !== undefined) wanted.add(since.treeSize);
  const roots = new Map<number, Uint8Array>();
  const frontier = Frontier.empty();
  const ordered = [...wanted].sort((a, b) => a - b);
  for (const size of ordered) {
    if (size > leaves.length) break;
    while (frontier.treeSize < size) frontier.append(leaves.at(frontier.treeSize));
    roots.set(size, frontier.root());
  }

  const firstRecorded = reading.firstRecordedMismatch;
  let verified = 0;
  for (const size of sizes) {
    const head = bySize.get(size)!;
    const expected = Buffer.from(head.rootHash, 'hex');
    const root = roots.get(size);
    if (root !== undefined && hashesEqual(root, expected)) {
      verified = size;
      continue;
    }
    const located = await locate(leaves, { size, root: expected }, verified, proofs);
    if (located.kind === 'fork') {
      throw new AccordError(
        'AUDIT_FORK_DETECTED',
        `${nodeId} signed a tree of size ${size} whose first ${verified} entries differ from those of its own head of size ${verified}`,
        { nodeId, treeSize: size, verifiedSize: verified },
      );
    }
    const index =
      firstRecorded !== undefined && firstRecorded < located.index ? firstRecorded : located.index;
    if (index >= leaves.length) {
      throw tampered(
        index,
        `the log ends at ${leaves.length} entries, and the node signed a head of size ${size}`,
        {
          treeSize: size,
          entryCount: leaves.length,
          reason: 'missing',
        },
      );
    }
    throw tampered(
      index,
      index === firstRecorded
        ? 'its content does not match its recorded leaf hash'
        : `it is not the entry the node signed at tree size ${size}`,
      { treeSize: size, reason: index === firstRecorded ? 'leaf-hash' : 'root-mismatch' },
    );
  }
  // The signed roots all hold, so every entry below the top is authentic: a recorded leaf hash
  // that differs there was itself altered; beyond the top it is the only check there is.
  if (firstRecorded !== undefined) {
    throw tampered(
      firstRecorded,
      firstRecorded < top.treeSize
        ? 'its recorded leaf hash was altered (its content matches the signed root)'
        : 'its content does not match its recorded leaf hash',
      { reason: 'leaf-hash' },
    );
  }

  if (since !== undefined) {
    const mine = roots.get(since.treeSize);
    if (mine === undefined) {
      throw tampered(
        leaves.length,
        `the log ends at ${leaves.length} entries, and the --since head covers ${since.treeSize}: entries were removed`,
        { treeSize: since.treeSize, entryCount: leaves.length, reason: 'missing' },
      );
    }
    if (!hashesEqual(mine, Buffer.from(since.rootHash, 'hex'))) {
      throw new AccordError(
        'AUDIT_FORK_DETECTED',
        `the log verifies against every head ${nodeId} signed, but not against the --since head of size ${since.treeSize}: ` +
          `${nodeId} has shown two histories (or rewrote entries before ${since.treeSize} and signed again)`,
        { nodeId, treeSize: since.treeSize },
      );
    }
    if (since.treeSize <= top.treeSize) {
      const proof = await proofs.consistencyProof(since.treeSize, top.treeSize);
      verifyConsistency(
        since.treeSize,
        top.treeSize,
        Buffer.from(since.rootHash, 'hex'),
        Buffer.from(top.rootHash, 'hex'),
        proof,
      );
    }
  }

  const largest = since !== undefined && since.treeSize > top.treeSize ? since : top;
  return {
    treeSize: largest.treeSize,
    rootHash: largest.rootHash,
    head: largest,
    entryCount: leaves.length,
    checkedSizes: ordered.filter((s) => s <= leaves.length),
    ...(since === undefined ? {} : { sinceSize: since.treeSize }),
  };
}
