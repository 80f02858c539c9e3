import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { errorOf } from '../../test/fixtures/errors.js';
import {
  COMPACT_TREES,
  EMPTY_ROOT,
  hex,
  LEAF_INPUTS,
  NODE_HASHES,
  ROOTS,
  unhex,
} from './ct-vectors.fixture.js';
import {
  consistencyProof,
  consistencyProofFromStore,
  consistencyProofPlan,
  Frontier,
  foldSubtrees,
  frontierFromStore,
  inclusionProof,
  inclusionProofFromStore,
  inclusionProofPlan,
  isValidConsistency,
  isValidInclusion,
  leafHash,
  MemorySubtreeStore,
  nodeHash,
  resolvePlan,
  rootFromStore,
  rootOf,
  type SubtreeStore,
  subtreesOf,
} from './index.js';

const RUNS = { numRuns: 1000 } as const;

const LEAVES = LEAF_INPUTS.map((input) => leafHash(unhex(input)));

function build(leaves: readonly Uint8Array[]): { frontier: Frontier; store: MemorySubtreeStore } {
  const frontier = Frontier.empty();
  const store = new MemorySubtreeStore();
  for (const leaf of leaves) frontier.append(leaf, store);
  return { frontier, store };
}

const arbLeaves = (maxLength: number) =>
  fc
    .array(fc.uint8Array({ maxLength: 4 }), { minLength: 0, maxLength, size: 'max' })
    .map((data) => data.map((d) => leafHash(d)));

describe('Frontier (reference vectors from transparency-dev/merkle)', () => {
  it('holds the reference compact range after each of the eight appends', () => {
    const frontier = Frontier.empty();
    const check = (n: number) => {
      const expected = COMPACT_TREES[n]!.map(([level, index]) => NODE_HASHES[level]![index]!);
      expect(frontier.subtrees().map(hex), `size ${n}`).toEqual(expected);
      expect(hex(frontier.root()), `size ${n}`).toBe(n === 0 ? EMPTY_ROOT : ROOTS[n - 1]);
    };
    check(0);
    LEAVES.forEach((leaf, i) => {
      frontier.append(leaf);
      check(i + 1);
    });
  });

  it('stores every complete subtree of the reference tree as it completes', () => {
    const { store } = build(LEAVES);
    NODE_HASHES.forEach((row, level) => {
      row.forEach((expected, index) => {
        expect(hex(store.get(level, index)!), `(${level}, ${index})`).toBe(expected);
      });
      expect(store.get(level, row.length)).toBeUndefined();
    });
    expect(store.treeSize).toBe(8);
  });

  it('round-trips through its persisted state', () => {
    const { frontier } = build(LEAVES.slice(0, 7));
    const state = JSON.parse(JSON.stringify(frontier.state()));
    expect(state).toEqual({
      treeSize: 7,
      subtrees: COMPACT_TREES[7]!.map(([level, index]) => NODE_HASHES[level]![index]!),
    });
    const restored = Frontier.restore(state);
    expect(hex(restored.root())).toBe(ROOTS[6]);
    restored.append(LEAVES[7]!);
    expect(hex(restored.root())).toBe(ROOTS[7]);
    expect(hex(frontier.root())).toBe(ROOTS[6]);
  });

  it('refuses a malformed persisted state', () => {
    const good = build(LEAVES.slice(0, 3)).frontier.state();
    for (const [name, state] of [
      ['too few subtrees', { ...good, subtrees: good.subtrees.slice(1) }],
      ['too many subtrees', { ...good, subtrees: [...good.subtrees, good.subtrees[0]!] }],
      ['upper-case hex', { ...good, subtrees: good.subtrees.map((h) => h.toUpperCase()) }],
      ['a short hash', { ...good, subtrees: [good.subtrees[0]!, good.subtrees[1]!.slice(2)] }],
      ['a negative size', { ...good, treeSize: -1 }],
      ['a fractional size', { ...good, treeSize: 2.5 }],
      ['no subtrees field', { treeSize: 3 }],
    ] as const) {
      expect(errorOf(() => Frontier.restore(state as never)).code, name).toBe('AUDIT_STATE_CORRUPT');
    }
  });

  it('refuses a leaf hash that is not 32 bytes', () => {
    expect(errorOf(() => Frontier.empty().append(new Uint8Array(31))).code).toBe('AUDIT_INPUT_INVALID');
  });

  it('is not changed through the hashes it hands out', () => {
    const { frontier } = build(LEAVES.slice(0, 1));
    frontier.root().fill(0);
    frontier.subtrees()[0]!.fill(0);
    expect(hex(frontier.root())).toBe(ROOTS[0]);
  });
});

describe('proofs from a SubtreeStore', () => {
  it('serves the reference proofs', () => {
    const { store } = build(LEAVES);
    expect(inclusionProofFromStore(store, 5, 8).map(hex)).toEqual(inclusionProof(LEAVES, 5).map(hex));
    expect(consistencyProofFromStore(store, 6, 7).map(hex)).toEqual(
      consistencyProof(LEAVES.slice(0, 7), 6).map(hex),
    );
    for (let n = 0; n <= 8; n++) {
      expect(hex(rootFromStore(store, n))).toBe(n === 0 ? EMPTY_ROOT : ROOTS[n - 1]);
      expect(hex(frontierFromStore(store, n).root())).toBe(n === 0 ? EMPTY_ROOT : ROOTS[n - 1]);
    }
  });

  it('refuses sizes beyond the stored log and names a missing node', () => {
    const { store } = build(LEAVES.slice(0, 5));
    expect(errorOf(() => rootFromStore(store, 6)).code).toBe('AUDIT_INPUT_INVALID');
    expect(errorOf(() => inclusionProofFromStore(store, 5, 5)).code).toBe('AUDIT_INPUT_INVALID');
    expect(errorOf(() => consistencyProofFromStore(store, 6, 5)).code).toBe('AUDIT_INPUT_INVALID');
    const lossy: SubtreeStore = {
      get: (level, index) => (level === 2 && index === 0 ? undefined : store.get(level, index)),
      put: () => undefined,
    };
    const missing = errorOf(() => inclusionProofFromStore(lossy, 4, 5));
    expect(missing.code).toBe('AUDIT_STATE_CORRUPT');
    expect(missing.details).toMatchObject({ level: 2, index: 0, treeSize: 5 });
  });

  it('keeps stored nodes immutable and gap-free', () => {
    const { store } = build(LEAVES.slice(0, 2));
    store.put(0, 1, LEAVES[1]!);
    expect(errorOf(() => store.put(0, 1, LEAVES[2]!)).code).toBe('AUDIT_STATE_CORRUPT');
    expect(errorOf(() => store.put(0, 3, LEAVES[3]!)).code).toBe('AUDIT_STATE_CORRUPT');
    expect(errorOf(() => store.put(3, 0, LEAVES[3]!)).code).toBe('AUDIT_STATE_CORRUPT');
    store.get(0, 0)!.fill(0);
    expect(hex(store.get(0, 0)!)).toBe(NODE_HASHES[0]![0]);
  });

  // No 32-bit bit operators: a tree of 2^40 + 5 equal leaves, whose level-L subtrees all share one
  // hash, has proofs the planner must place correctly above 2^32.
  it('plans and verifies proofs in trees larger than 2^32 leaves', () => {
    const levels = [leafHash(new Uint8Array())];
    for (let l = 1; l <= 41; l++) levels.push(nodeHash(levels[l - 1]!, levels[l - 1]!));
    const hashOf = ({ level }: { level: number }) => levels[level]!;
    const size = 2 ** 40 + 5;
    expect(subtreesOf(0, size).map((n) => [n.level, n.index])).toEqual([
      [40, 0],
      [2, 2 ** 38],
      [0, 2 ** 40 + 4],
    ]);
    const root = foldSubtrees(subtreesOf(0, size).map(hashOf));
    for (const index of [0, 2 ** 32 + 1, 2 ** 40 - 1, 2 ** 40, 2 ** 40 + 4]) {
      const proof = resolvePlan(inclusionProofPlan(index, size), hashOf);
      expect(isValidInclusion(levels[0]!, index, size, proof, root), `leaf ${index}`).toBe(true);
    }
    for (const size1 of [1, 2 ** 32 + 3, 2 ** 40, 2 ** 40 + 1]) {
      const root1 = foldSubtrees(subtreesOf(0, size1).map(hashOf));
      const proof = resolvePlan(consistencyProofPlan(size1, size), hashOf);
      expect(isValidConsistency(size1, size, root1, root, proof), `from ${size1}`).toBe(true);
    }
  });

  it('matches the reference root after every append, through state and store (property)', () => {
    fc.assert(
      fc.property(arbLeaves(64), (leaves) => {
        const frontier = Frontier.empty();
        const store = new MemorySubtreeStore();
        expect(hex(frontier.root())).toBe(EMPTY_ROOT);
        leaves.forEach((leaf, i) => {
          frontier.append(leaf, store);
          const expected = hex(rootOf(leaves.slice(0, i + 1)));
          expect(hex(frontier.root())).toBe(expected);
          expect(hex(Frontier.restore(frontier.state()).root())).toBe(expected);
        });
        const n = leaves.length;
        expect(hex(frontierFromStore(store, n).root())).toBe(hex(frontier.root()));
      }),
      RUNS,
    );
  });

  it('serves the same proofs as the reference, at any past tree size (property)', () => {
    fc.assert(
      fc.property(
        arbLeaves(200).chain((leaves) =>
          fc.record({
            leaves: fc.constant(leaves),
            size: fc.nat(leaves.length),
            index: fc.nat(Math.max(leaves.length - 1, 0)),
            size1: fc.nat(leaves.length),
          }),
        ),
        ({ leaves, size, index, size1 }) => {
          const { store } = build(leaves);
          const prefix = leaves.slice(0, size);
          expect(hex(rootFromStore(store, size))).toBe(hex(rootOf(prefix)));
          if (size > 0) {
            const i = index % size;
            expect(inclusionProofFromStore(store, i, size).map(hex)).toEqual(
              inclusionProof(prefix, i).map(hex),
            );
          }
          const m = Math.min(size1, size);
          expect(consistencyProofFromStore(store, m, size).map(hex)).toEqual(
            consistencyProof(prefix, m).map(hex),
          );
        },
      ),
      RUNS,
    );
  });
});
