import { createHash, hash } from 'node:crypto';
import { AccordError } from '../errors/index.js';

// RFC 9162 (Certificate Transparency 2.0) §2.1: the Merkle Tree Hash over SHA-256, its audit
// paths and its consistency proofs. Proof generation here is the reference: it follows the
// RFC's recursive definitions literally over the full list of leaf hashes, so it costs O(n).
// frontier.ts serves the same proofs from stored subtree hashes in O(log n).

/** Bytes in a SHA-256 hash: every leaf hash, node hash, root and proof element. */
export const HASH_SIZE = 32;

const LEAF_PREFIX = Uint8Array.of(0x00);
const NODE_PREFIX = Uint8Array.of(0x01);

// node:crypto's one-shot hash() (Node 20.12+) makes no Hash object: for the short inputs a log
// hashes it is about twice as fast as createHash(), even with the concatenation.

/** RFC 9162 §2.1.1: the hash of one log entry, SHA-256(0x00 || entry). */
export function leafHash(entry: Uint8Array): Uint8Array {
  return hash('sha256', Buffer.concat([LEAF_PREFIX, entry]), 'buffer');
}

/**
 * RFC 9162 §2.1.1 leaf hashes of a batch of entries given as text (UTF-8): the same hashes as
 * leafHash on each, but every `0x00 || entry` is written into one buffer and hashed in place, with
 * no per-entry encoding or concatenation.
 */
export function leafHashesOf(entries: readonly string[]): Uint8Array[] {
  let total = 0;
  for (const text of entries) total += 1 + Buffer.byteLength(text, 'utf8');
  const input = Buffer.allocUnsafe(total);
  const out: Uint8Array[] = new Array(entries.length);
  let at = 0;
  for (let i = 0; i < entries.length; i++) {
    const start = at;
    input[at++] = 0x00;
    at += input.write(entries[i]!, at, 'utf8');
    out[i] = hash('sha256', input.subarray(start, at), 'buffer');
  }
  return out;
}

// One scratch input for node hashes: 0x01 || left || right, overwritten on each call (hash() has
// read it by the time it returns).
const NODE_INPUT = Buffer.alloc(1 + 2 * HASH_SIZE);
NODE_INPUT[0] = 0x01;

/** RFC 9162 §2.1.1: the hash of an interior node, SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  if (left.length !== HASH_SIZE || right.length !== HASH_SIZE) {
    return hash('sha256', Buffer.concat([NODE_PREFIX, left, right]), 'buffer');
  }
  NODE_INPUT.set(left, 1);
  NODE_INPUT.set(right, 1 + HASH_SIZE);
  return hash('sha256', NODE_INPUT, 'buffer');
}

/** RFC 9162 §2.1.1: the root of the empty tree, SHA-256 of the empty string (a fresh copy each call). */
export function emptyRoot(): Uint8Array {
  return createHash('sha256').digest();
}

/** Byte-wise equality of two hashes (the values are public, so no constant-time compare is needed). */
export function hashesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// Sizes and indices are JS numbers up to 2^53 - 1, so bits are read with arithmetic, never with
// the 32-bit bitwise operators. These helpers are shared with frontier.ts, not the public surface.

/** LSB(x) of RFC 9162 §2.1.3.2 for any safe integer. */
export function isOdd(x: number): boolean {
  return x % 2 === 1;
}

/** x >> 1 for any safe integer. */
export function half(x: number): number {
  return Math.floor(x / 2);
}

/** The largest power of two strictly below n (n >= 2): RFC 9162 §2.1.1's split point k. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** Whether n is an exact power of two (RFC 9162 §2.1.4.2 step 2). */
export function isPowerOfTwo(n: number): boolean {
  return n >= 1 && splitPoint(n + 1) === n;
}

function isSize(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

function rangeError(message: string, details: Record<string, unknown>): AccordError<'AUDIT_INPUT_INVALID'> {
  return new AccordError('AUDIT_INPUT_INVALID', message, details);
}

// MTH(D[lo:hi]) of RFC 9162 §2.1.1, over leaf hashes.
function mth(leaves: readonly Uint8Array[], lo: number, hi: number): Uint8Array {
  const n = hi - lo;
  if (n === 0) return emptyRoot();
  if (n === 1) return leaves[lo]!;
  const k = splitPoint(n);
  return nodeHash(mth(leaves, lo, lo + k), mth(leaves, lo + k, hi));
}

/** RFC 9162 §2.1.1: the Merkle Tree Hash of a list of leaf hashes (the reference, O(n) hashing). */
export function rootOf(leafHashes: readonly Uint8Array[]): Uint8Array {
  return mth(leafHashes, 0, leafHashes.length);
}

/**
 * RFC 9162 §2.1.3.1: the audit path PATH(m, D[n]) of leaf `index` in the tree over `leafHashes`,
 * sibling hashes ordered from the leaf up to the root.
 */
export function inclusionProof(leafHashes: readonly Uint8Array[], index: number): Uint8Array[] {
  const n = leafHashes.length;
  if (!isSize(index) || index >= n) {
    throw rangeError(`leaf index ${index} is not in a tree of size ${n}`, { index, treeSize: n });
  }
  const proof: Uint8Array[] = [];
  // PATH(m, D[lo:hi]) = PATH(m, D[lo:lo+k]) : MTH(D[lo+k:hi])   if m < k
  //                   = PATH(m - k, D[lo+k:hi]) : MTH(D[lo:lo+k]) otherwise
  const path = (m: number, lo: number, hi: number): void => {
    if (hi - lo <= 1) return;
    const k = splitPoint(hi - lo);
    if (m < k) {
      path(m, lo, lo + k);
      proof.push(mth(leafHashes, lo + k, hi));
    } else {
      path(m - k, lo + k, hi);
      proof.push(mth(leafHashes, lo, lo + k));
    }
  };
  path(index, 0, n);
  return proof;
}

/**
 * RFC 9162 §2.1.4.1: the consistency proof PROOF(m, D[n]) that the tree of the first `m` leaves is
 * a prefix of the tree over all of `leafHashes`. Empty for m = 0 and m = n, which need no proof.
 */
export function consistencyProof(leafHashes: readonly Uint8Array[], m: number): Uint8Array[] {
  const n = leafHashes.length;
  if (!isSize(m) || m > n) {
    throw rangeError(`tree size ${m} is not a prefix of a tree of size ${n}`, { size1: m, size2: n });
  }
  if (m === 0 || m === n) return [];
  const proof: Uint8Array[] = [];
  // SUBPROOF(m, D[m], true) = {};  SUBPROOF(m, D[m], false) = {MTH(D[m])}
  // m <= k: SUBPROOF(m, D[0:k], b) : MTH(D[k:n]);  m > k: SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
  const subproof = (mm: number, lo: number, hi: number, complete: boolean): void => {
    if (mm === hi - lo) {
      if (!complete) proof.push(mth(leafHashes, lo, hi));
      return;
    }
    const k = splitPoint(hi - lo);
    if (mm <= k) {
      subproof(mm, lo, lo + k, complete);
      proof.push(mth(leafHashes, lo + k, hi));
    } else {
      subproof(mm - k, lo + k, hi, false);
      proof.push(mth(leafHashes, lo, lo + k));
    }
  };
  subproof(m, 0, n, true);
  return proof;
}

function proofFailure(
  what: 'inclusion' | 'consistency',
  reason: string,
  message: string,
  details: Record<string, unknown>,
): AccordError<'AUDIT_PROOF_INVALID'> {
  return new AccordError('AUDIT_PROOF_INVALID', `${what} proof invalid: ${message}`, {
    proof: what,
    reason,
    ...details,
  });
}

function checkHashSizes(
  what: 'inclusion' | 'consistency',
  named: readonly (readonly [string, Uint8Array])[],
  proof: readonly Uint8Array[],
): void {
  for (const [name, hash] of named) {
    if (hash.length !== HASH_SIZE) {
      throw proofFailure(what, 'hash-size', `${name} is ${hash.length} bytes, not ${HASH_SIZE}`, {
        path: name,
      });
    }
  }
  proof.forEach((hash, i) => {
    if (hash.length !== HASH_SIZE) {
      throw proofFailure(what, 'hash-size', `proof[${i}] is ${hash.length} bytes, not ${HASH_SIZE}`, {
        path: `proof/${i}`,
      });
    }
  });
}

/**
 * RFC 9162 §2.1.3.2: checks that `leafHash` is leaf `index` of the tree of `treeSize` leaves whose
 * root is `root`. Throws AUDIT_PROOF_INVALID naming the check that failed.
 */
export function verifyInclusion(
  leafHash: Uint8Array,
  index: number,
  treeSize: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): void {
  // attacker-controlled: every argument may come from a peer or a stored record.
  if (!isSize(index) || !isSize(treeSize) || index >= treeSize) {
    // Step 1: leaf_index >= tree_size fails.
    throw proofFailure('inclusion', 'index', `leaf index ${index} is not below tree size ${treeSize}`, {
      index,
      treeSize,
    });
  }
  checkHashSizes(
    'inclusion',
    [
      ['leafHash', leafHash],
      ['root', root],
    ],
    proof,
  );
  // Step 2: fn = leaf_index, sn = tree_size - 1; step 3: r = hash.
  let fn = index;
  let sn = treeSize - 1;
  let r = leafHash;
  for (const p of proof) {
    // Step 4a: a proof longer than the path fails.
    if (sn === 0) {
      throw proofFailure('inclusion', 'too-long', `${proof.length} hashes is more than the path needs`, {
        index,
        treeSize,
      });
    }
    // Step 4b.
    if (isOdd(fn) || fn === sn) {
      r = nodeHash(p, r);
      // If LSB(fn) is not set, shift both until it is or fn is 0.
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      r = nodeHash(r, p);
    }
    // Step 4c.
    fn = half(fn);
    sn = half(sn);
  }
  // Step 5: sn must be 0 and r must equal the root.
  if (sn !== 0) {
    throw proofFailure('inclusion', 'too-short', `${proof.length} hashes is fewer than the path needs`, {
      index,
      treeSize,
    });
  }
  if (!hashesEqual(r, root)) {
    throw proofFailure('inclusion', 'root', 'the recomputed root does not match the expected root', {
      index,
      treeSize,
    });
  }
}

/**
 * RFC 9162 §2.1.4.2: checks that the tree of `size1` leaves with root `root1` is a prefix of the tree
 * of `size2` leaves with root `root2`. Throws AUDIT_PROOF_INVALID naming the check that failed.
 *
 * The RFC's algorithm covers 0 < size1 < size2; the edges follow from the definitions: equal sizes
 * need an empty proof and equal roots; size1 = 0 needs an empty proof and root1 = the empty-tree
 * root (stricter than implementations that ignore root1 there, so a forged "empty" head is caught).
 */
export function verifyConsistency(
  size1: number,
  size2: number,
  root1: Uint8Array,
  root2: Uint8Array,
  proof: readonly Uint8Array[],
): void {
  // attacker-controlled: every argument may come from a peer or a stored record.
  if (!isSize(size1) || !isSize(size2) || size1 > size2) {
    throw proofFailure('consistency', 'sizes', `tree size ${size1} cannot precede tree size ${size2}`, {
      size1,
      size2,
    });
  }
  checkHashSizes(
    'consistency',
    [
      ['root1', root1],
      ['root2', root2],
    ],
    proof,
  );
  if (size1 === size2 || size1 === 0) {
    if (proof.length !== 0) {
      throw proofFailure('consistency', 'too-long', `trees of sizes ${size1} and ${size2} need no proof`, {
        size1,
        size2,
      });
    }
    if (size1 === 0 && !hashesEqual(root1, emptyRoot())) {
      throw proofFailure('consistency', 'root1', 'root1 is not the empty-tree root', { size1, size2 });
    }
    if (size1 === size2 && !hashesEqual(root1, root2)) {
      throw proofFailure('consistency', 'root2', `trees of size ${size1} have different roots`, {
        size1,
        size2,
      });
    }
    return;
  }
  // Step 1: an empty path fails.
  if (proof.length === 0) {
    throw proofFailure('consistency', 'too-short', 'the proof is empty', { size1, size2 });
  }
  // Step 2: if size1 is an exact power of 2, prepend root1.
  const path = isPowerOfTwo(size1) ? [root1, ...proof] : proof;
  // Step 3.
  let fn = size1 - 1;
  let sn = size2 - 1;
  // Step 4.
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  // Step 5.
  let fr = path[0]!;
  let sr = path[0]!;
  // Step 6.
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    if (sn === 0) {
      throw proofFailure('consistency', 'too-long', `${proof.length} hashes is more than the proof needs`, {
        size1,
        size2,
      });
    }
    if (isOdd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      // If LSB(fn) is not set, shift both until it is or fn is 0.
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  // Step 7.
  if (sn !== 0) {
    throw proofFailure('consistency', 'too-short', `${proof.length} hashes is fewer than the proof needs`, {
      size1,
      size2,
    });
  }
  if (!hashesEqual(fr, root1)) {
    throw proofFailure(
      'consistency',
      'root1',
      `the proof does not reproduce the root of tree size ${size1}`,
      {
        size1,
        size2,
      },
    );
  }
  if (!hashesEqual(sr, root2)) {
    throw proofFailure(
      'consistency',
      'root2',
      `the proof does not reproduce the root of tree size ${size2}`,
      {
        size1,
        size2,
      },
    );
  }
}

function holds(check: () => void): boolean {
  try {
    check();
    return true;
  } catch (error) {
    if (error instanceof AccordError && error.code === 'AUDIT_PROOF_INVALID') return false;
    throw error;
  }
}

/** The boolean form of verifyInclusion, for callers that branch on the answer rather than fail. */
export function isValidInclusion(
  leafHash: Uint8Array,
  index: number,
  treeSize: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  return holds(() => verifyInclusion(leafHash, index, treeSize, proof, root));
}

/** The boolean form of verifyConsistency, for callers that branch on the answer rather than fail. */
export function isValidConsistency(
  size1: number,
  size2: number,
  root1: Uint8Array,
  root2: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  return holds(() => verifyConsistency(size1, size2, root1, root2, proof));
}
