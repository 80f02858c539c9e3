import { AccordError } from '../errors/index.js';
import { emptyRoot, HASH_SIZE, half, isOdd, nodeHash, splitPoint } from './merkle.js';

// The append path of the log. A tree of n leaves is, by RFC 9162 §2.1.1's split rule, a row of
// perfect subtrees, one per set bit of n, largest on the left, and its root is their right fold:
// MTH = H(P1, H(P2, … H(Pk-1, Pk))). Keeping only those O(log n) roots (the frontier) lets an
// append cost one leaf carry (amortised one node hash) and a root cost O(log n), with no rebuild.
// Every perfect subtree completed on the way is handed to a SubtreeStore, and any proof of
// §2.1.3/§2.1.4 is a list of subtree hashes, each either one stored node or the fold of a few
// (the ragged right edge), so proofs are served in O(log n) lookups.

/** A perfect subtree: `level` 0 is a leaf, and it covers leaves [index * 2^level, (index + 1) * 2^level). */
export interface NodeId {
  readonly level: number;
  readonly index: number;
}

/** Receives each perfect subtree hash as an append completes it. */
export interface SubtreeSink {
  put(level: number, index: number, hash: Uint8Array): void;
}

/**
 * Port: the hashes of complete subtrees, written once as they complete and never changed. A store
 * that has seen n appends holds every node of the tree of size n that a proof can ask for.
 */
export interface SubtreeStore extends SubtreeSink {
  get(level: number, index: number): Uint8Array | undefined;
}

/**
 * How to build each element of a proof: the perfect subtrees (left to right) whose right fold is
 * that element. A store that answers asynchronously fetches `plan.flat()` in one query, then calls
 * resolvePlan.
 */
export type ProofPlan = readonly (readonly NodeId[])[];

/** The persisted form of a frontier: its size and the hex subtree roots, largest (leftmost) first. */
export interface FrontierState {
  readonly treeSize: number;
  readonly subtrees: readonly string[];
}

const HEX_HASH = /^[0-9a-f]{64}$/;

function corrupt(message: string, details: Record<string, unknown> = {}): AccordError<'AUDIT_STATE_CORRUPT'> {
  return new AccordError('AUDIT_STATE_CORRUPT', message, details);
}

function badInput(
  message: string,
  details: Record<string, unknown> = {},
): AccordError<'AUDIT_INPUT_INVALID'> {
  return new AccordError('AUDIT_INPUT_INVALID', message, details);
}

function isSize(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

/**
 * The aligned perfect subtrees that tile leaves [lo, hi), left to right. For every range the
 * RFC's recursion visits, MTH(D[lo:hi]) is their right fold.
 */
export function subtreesOf(lo: number, hi: number): NodeId[] {
  const out: NodeId[] = [];
  let at = lo;
  while (at < hi) {
    let width = 1;
    let level = 0;
    while (width * 2 <= hi - at && at % (width * 2) === 0) {
      width *= 2;
      level++;
    }
    out.push({ level, index: at / width });
    at += width;
  }
  return out;
}

/** The right fold H(h1, H(h2, … H(hk-1, hk))) of subtree hashes given left to right. */
export function foldSubtrees(hashes: readonly Uint8Array[]): Uint8Array {
  let acc = hashes.at(-1);
  if (acc === undefined) return emptyRoot();
  for (let i = hashes.length - 2; i >= 0; i--) acc = nodeHash(hashes[i]!, acc);
  return acc;
}

/** RFC 9162 §2.1.3.1 as a plan: the audit path of leaf `index` in a tree of `treeSize` leaves, leaf first. */
export function inclusionProofPlan(index: number, treeSize: number): ProofPlan {
  if (!isSize(index) || !isSize(treeSize) || index >= treeSize) {
    throw badInput(`leaf index ${index} is not in a tree of size ${treeSize}`, { index, treeSize });
  }
  // Walk PATH's recursion from the root down; each step's sibling is appended after the deeper
  // path, so the list is reversed at the end.
  const topDown: NodeId[][] = [];
  let lo = 0;
  let hi = treeSize;
  while (hi - lo > 1) {
    const k = splitPoint(hi - lo);
    if (index < lo + k) {
      topDown.push(subtreesOf(lo + k, hi));
      hi = lo + k;
    } else {
      topDown.push(subtreesOf(lo, lo + k));
      lo += k;
    }
  }
  return topDown.reverse();
}

/** RFC 9162 §2.1.4.1 as a plan: PROOF(size1, D[size2]); empty for size1 = 0 and size1 = size2. */
export function consistencyProofPlan(size1: number, size2: number): ProofPlan {
  if (!isSize(size1) || !isSize(size2) || size1 > size2) {
    throw badInput(`tree size ${size1} is not a prefix of tree size ${size2}`, { size1, size2 });
  }
  if (size1 === 0 || size1 === size2) return [];
  // SUBPROOF's recursion from the root down, in absolute leaf positions: size1 is the boundary.
  const topDown: NodeId[][] = [];
  let lo = 0;
  let hi = size2;
  let complete = true;
  for (;;) {
    if (size1 === hi) {
      if (!complete) topDown.push(subtreesOf(lo, hi));
      break;
    }
    const k = splitPoint(hi - lo);
    if (size1 <= lo + k) {
      topDown.push(subtreesOf(lo + k, hi));
      hi = lo + k;
    } else {
      topDown.push(subtreesOf(lo, lo + k));
      lo += k;
      complete = false;
    }
  }
  return topDown.reverse();
}

/** Turns a plan into proof hashes, looking each node up with `hashOf`. */
export function resolvePlan(plan: ProofPlan, hashOf: (node: NodeId) => Uint8Array): Uint8Array[] {
  return plan.map((nodes) => foldSubtrees(nodes.map(hashOf)));
}

function storedLookup(store: SubtreeStore, treeSize: number): (node: NodeId) => Uint8Array {
  // The last leaf exists exactly when the store has seen treeSize appends.
  if (treeSize > 0 && store.get(0, treeSize - 1) === undefined) {
    throw badInput(`tree size ${treeSize} is beyond the stored log`, { treeSize });
  }
  return ({ level, index }) => {
    const hash = store.get(level, index);
    if (hash === undefined) {
      throw corrupt(
        `the subtree store lacks node (level ${level}, index ${index}) of tree size ${treeSize}`,
        {
          level,
          index,
          treeSize,
        },
      );
    }
    if (hash.length !== HASH_SIZE) {
      throw corrupt(
        `the subtree store holds a ${hash.length}-byte hash at (level ${level}, index ${index})`,
        {
          level,
          index,
        },
      );
    }
    return hash;
  };
}

/** The root of the tree of the first `treeSize` leaves, from stored subtrees in O(log n) lookups. */
export function rootFromStore(store: SubtreeStore, treeSize: number): Uint8Array {
  if (!isSize(treeSize)) throw badInput(`tree size ${treeSize} is not a size`, { treeSize });
  return foldSubtrees(subtreesOf(0, treeSize).map(storedLookup(store, treeSize)));
}

/** RFC 9162 §2.1.3.1 audit path from stored subtrees, in O(log n) lookups. */
export function inclusionProofFromStore(store: SubtreeStore, index: number, treeSize: number): Uint8Array[] {
  const plan = inclusionProofPlan(index, treeSize);
  return resolvePlan(plan, storedLookup(store, treeSize));
}

/** RFC 9162 §2.1.4.1 consistency proof from stored subtrees, in O(log n) lookups. */
export function consistencyProofFromStore(store: SubtreeStore, size1: number, size2: number): Uint8Array[] {
  const plan = consistencyProofPlan(size1, size2);
  return resolvePlan(plan, storedLookup(store, size2));
}

/** Rebuilds the frontier of the first `treeSize` leaves from stored subtrees, in O(log n) lookups. */
export function frontierFromStore(store: SubtreeStore, treeSize: number): Frontier {
  if (!isSize(treeSize)) throw badInput(`tree size ${treeSize} is not a size`, { treeSize });
  return Frontier.of(treeSize, subtreesOf(0, treeSize).map(storedLookup(store, treeSize)));
}

/**
 * An append-only Merkle accumulator: the roots of the perfect subtrees of the tree so far. Append
 * is amortised O(1) hashing, root() is O(log n), and the state is O(log n) hashes.
 */
export class Frontier {
  // Indexed by level; a level holds a subtree root exactly when that bit of the size is set.
  readonly #byLevel: (Uint8Array | undefined)[] = [];
  #size = 0;

  /** A frontier with no leaves. */
  static empty(): Frontier {
    return new Frontier();
  }

  /** A frontier from its size and subtree roots, largest (leftmost) first, as subtreesOf(0, size) lists them. */
  static of(treeSize: number, subtrees: readonly Uint8Array[]): Frontier {
    if (!isSize(treeSize)) throw corrupt(`frontier size ${treeSize} is not a size`, { treeSize });
    const nodes = subtreesOf(0, treeSize);
    if (subtrees.length !== nodes.length) {
      throw corrupt(`a frontier of size ${treeSize} has ${nodes.length} subtrees, not ${subtrees.length}`, {
        treeSize,
      });
    }
    const frontier = new Frontier();
    nodes.forEach(({ level }, i) => {
      const hash = subtrees[i]!;
      if (hash.length !== HASH_SIZE) {
        throw corrupt(`frontier subtree ${i} is ${hash.length} bytes, not ${HASH_SIZE}`, {
          path: `subtrees/${i}`,
        });
      }
      frontier.#byLevel[level] = Uint8Array.from(hash);
    });
    frontier.#size = treeSize;
    return frontier;
  }

  /** Restores a frontier persisted with state(); a malformed state throws AUDIT_STATE_CORRUPT. */
  static restore(state: FrontierState): Frontier {
    // attacker-controlled: persisted state is only as trustworthy as the store it came from.
    if (typeof state !== 'object' || state === null || !Array.isArray(state.subtrees)) {
      throw corrupt('a frontier state needs treeSize and subtrees');
    }
    const hashes = state.subtrees.map((hex, i) => {
      if (typeof hex !== 'string' || !HEX_HASH.test(hex)) {
        throw corrupt(`frontier subtree ${i} is not 64 lowercase hex digits`, { path: `subtrees/${i}` });
      }
      return Uint8Array.from(Buffer.from(hex, 'hex'));
    });
    return Frontier.of(state.treeSize, hashes);
  }

  /** The number of leaves appended. */
  get treeSize(): number {
    return this.#size;
  }

  /**
   * Appends one leaf hash (RFC 9162 §2.1.1 leaf, see leafHash). The leaf and every perfect subtree
   * it completes are passed to `sink`, bottom up, so a SubtreeStore can serve proofs later.
   */
  append(leafHash: Uint8Array, sink?: SubtreeSink): void {
    if (leafHash.length !== HASH_SIZE) {
      throw badInput(`a leaf hash is ${leafHash.length} bytes, not ${HASH_SIZE}`, { path: 'leafHash' });
    }
    if (!Number.isSafeInteger(this.#size + 1)) throw badInput('the log is at its largest size');
    let hash = leafHash;
    let level = 0;
    let index = this.#size;
    sink?.put(level, index, hash);
    // Binary carry: while this node is a right child, merge it with its left sibling.
    while (isOdd(index)) {
      hash = nodeHash(this.#byLevel[level]!, hash);
      this.#byLevel[level] = undefined;
      level++;
      index = half(index);
      sink?.put(level, index, hash);
    }
    this.#byLevel[level] = level === 0 ? Uint8Array.from(hash) : hash;
    this.#size++;
  }

  /** RFC 9162 §2.1.1 MTH of the leaves so far: the right fold of the subtree roots, O(log n). */
  root(): Uint8Array {
    let acc: Uint8Array | undefined;
    for (const hash of this.#byLevel) {
      if (hash === undefined) continue;
      acc = acc === undefined ? hash : nodeHash(hash, acc);
    }
    return acc === undefined ? emptyRoot() : Uint8Array.from(acc);
  }

  /** The subtree roots, largest (leftmost) first. */
  subtrees(): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let level = this.#byLevel.length - 1; level >= 0; level--) {
      const hash = this.#byLevel[level];
      if (hash !== undefined) out.push(Uint8Array.from(hash));
    }
    return out;
  }

  /** The state to persist; Frontier.restore(state) gives an equal frontier. */
  state(): FrontierState {
    return {
      treeSize: this.#size,
      subtrees: this.subtrees().map((hash) => Buffer.from(hash).toString('hex')),
    };
  }

  /** An independent copy. */
  clone(): Frontier {
    return Frontier.of(this.#size, this.subtrees());
  }
}

interface Level {
  bytes: Uint8Array;
  count: number;
}

/**
 * An in-memory SubtreeStore: one contiguous buffer per level (32 bytes a node, about 64 MB for a
 * million leaves). Nodes arrive in order per level, as appends produce them; re-putting a node with
 * the same hash is a no-op, with a different hash or out of order it throws AUDIT_STATE_CORRUPT.
 */
export class MemorySubtreeStore implements SubtreeStore {
  readonly #levels: Level[] = [];

  /** The number of leaves stored. */
  get treeSize(): number {
    return this.#levels[0]?.count ?? 0;
  }

  get(level: number, index: number): Uint8Array | undefined {
    const row = this.#levels[level];
    if (row === undefined || !Number.isSafeInteger(index) || index < 0 || index >= row.count)
      return undefined;
    return row.bytes.slice(index * HASH_SIZE, (index + 1) * HASH_SIZE);
  }

  put(level: number, index: number, hash: Uint8Array): void {
    if (hash.length !== HASH_SIZE) {
      throw corrupt(`a ${hash.length}-byte hash cannot be stored at (level ${level}, index ${index})`, {
        level,
        index,
      });
    }
    if (!Number.isSafeInteger(level) || level < 0 || level > this.#levels.length) {
      throw corrupt(`level ${level} would leave a gap in the subtree store`, { level, index });
    }
    const row = this.#levels[level] ?? { bytes: new Uint8Array(HASH_SIZE * 16), count: 0 };
    this.#levels[level] = row;
    if (Number.isSafeInteger(index) && index >= 0 && index < row.count) {
      const stored = row.bytes.subarray(index * HASH_SIZE, (index + 1) * HASH_SIZE);
      if (Buffer.compare(stored, hash) !== 0) {
        throw corrupt(`node (level ${level}, index ${index}) is already stored with another hash`, {
          level,
          index,
        });
      }
      return;
    }
    if (index !== row.count) {
      throw corrupt(`node (level ${level}, index ${index}) would leave a gap after ${row.count}`, {
        level,
        index,
      });
    }
    if ((index + 1) * HASH_SIZE > row.bytes.length) {
      const grown = new Uint8Array(row.bytes.length * 2);
      grown.set(row.bytes);
      row.bytes = grown;
    }
    row.bytes.set(hash, index * HASH_SIZE);
    row.count++;
  }
}
