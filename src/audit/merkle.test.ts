import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { errorOf } from '../../test/fixtures/errors.js';
import {
  CONSISTENCY,
  EMPTY_ROOT,
  HASHER,
  hex,
  INCLUSION,
  LEAF_INPUTS,
  NODE_HASHES,
  ROOTS,
  unhex,
} from './ct-vectors.fixture.js';
import {
  consistencyProof,
  emptyRoot,
  inclusionProof,
  isValidConsistency,
  isValidInclusion,
  leafHash,
  leafHashesOf,
  nodeHash,
  rootOf,
  verifyConsistency,
  verifyInclusion,
} from './index.js';

const RUNS = { numRuns: 1000 } as const;

const LEAVES = LEAF_INPUTS.map((input) => leafHash(unhex(input)));

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  const at = Math.floor(bit / 8) % out.length;
  out[at] = out[at]! ^ (1 << (bit % 8));
  return out;
}

// Leaf hashes of distinct entries: entry i starts with i, so no two leaves (and no two subtrees)
// hash alike, and moving a proof to another index cannot verify by symmetry.
const arbLeaves = (maxLength: number) =>
  fc
    // size 'max': tree sizes spread over 1..maxLength, not fast-check's default of a dozen.
    .array(fc.uint8Array({ maxLength: 6 }), { minLength: 1, maxLength, size: 'max' })
    .map((data) => data.map((d, i) => leafHash(Uint8Array.from([i >> 8, i & 0xff, ...d]))));

describe('RFC 9162 hashing (reference vectors from transparency-dev/merkle)', () => {
  it('hashes the empty tree to SHA-256 of the empty string', () => {
    expect(hex(emptyRoot())).toBe(EMPTY_ROOT);
    expect(hex(rootOf([]))).toBe(EMPTY_ROOT);
  });

  it('prefixes leaves with 0x00 and nodes with 0x01', () => {
    expect(hex(leafHash(new TextEncoder().encode('L123456')))).toBe(HASHER.leafL123456);
    expect(hex(nodeHash(new TextEncoder().encode('N123'), new TextEncoder().encode('N456')))).toBe(
      HASHER.nodeN123N456,
    );
  });

  it('hashes a batch of entries as leafHash hashes each of them, whatever their UTF-8 length', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'grapheme', maxLength: 40 }), { maxLength: 20 }), (texts) => {
        const batch = leafHashesOf(texts).map(hex);
        expect(batch).toEqual(texts.map((text) => hex(leafHash(Buffer.from(text, 'utf8')))));
      }),
      RUNS,
    );
  });

  it('hashes nodes of 32-byte children as nodes of any other length, with no state kept between calls', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 40 }),
        (left, right, other) => {
          const expected = hex(
            createHash('sha256').update(Uint8Array.of(1)).update(left).update(right).digest(),
          );
          const first = nodeHash(left, right);
          nodeHash(right, other);
          expect(hex(first)).toBe(expected);
          expect(hex(nodeHash(left, right))).toBe(expected);
        },
      ),
      RUNS,
    );
  });

  it('hashes each of the eight leaf inputs as the reference does', () => {
    expect(LEAVES.map(hex)).toEqual(NODE_HASHES[0]);
  });

  it('gives the reference root for every tree size 1 to 8', () => {
    for (let n = 1; n <= 8; n++) expect(hex(rootOf(LEAVES.slice(0, n))), `size ${n}`).toBe(ROOTS[n - 1]);
  });
});

describe('inclusionProof and verifyInclusion', () => {
  it.each(INCLUSION)('reproduces and verifies the reference path of leaf $leaf in size $size', (vector) => {
    const index = vector.leaf - 1;
    const proof = inclusionProof(LEAVES.slice(0, vector.size), index);
    expect(proof.map(hex)).toEqual(vector.proof);
    expect(() =>
      verifyInclusion(LEAVES[index]!, index, vector.size, proof, unhex(ROOTS[vector.size - 1]!)),
    ).not.toThrow();
  });

  // The corruptions transparency-dev's verifier test applies to each reference proof.
  it.each(INCLUSION)(
    'rejects every corruption of the reference path of leaf $leaf in size $size',
    (vector) => {
      const index = vector.leaf - 1;
      const proof = vector.proof.map(unhex);
      const root = unhex(ROOTS[vector.size - 1]!);
      const leaf = LEAVES[index]!;
      const some = unhex('abacaba000000000000000000000000000000000000000000060061e00123456');
      const probes: [string, number, number, Uint8Array, readonly Uint8Array[], Uint8Array][] = [
        ['index - 1', index - 1, vector.size, leaf, proof, root],
        ['index + 1', index + 1, vector.size, leaf, proof, root],
        ['index ^ 2', index ^ 2, vector.size, leaf, proof, root],
        ['size * 2', index, vector.size * 2, leaf, proof, root],
        ['size / 2', index, Math.floor(vector.size / 2), leaf, proof, root],
        ['wrong leaf', index, vector.size, new TextEncoder().encode('WrongLeaf'), proof, root],
        ['empty root', index, vector.size, leaf, proof, unhex(EMPTY_ROOT)],
        ['random root', index, vector.size, leaf, proof, some],
        ['trailing garbage', index, vector.size, leaf, [...proof, new Uint8Array()], root],
        ['trailing root', index, vector.size, leaf, [...proof, root], root],
        ['preceding garbage', index, vector.size, leaf, [new Uint8Array(), ...proof], root],
        ['preceding root', index, vector.size, leaf, [root, ...proof], root],
        ['removed component', index, vector.size, leaf, proof.slice(0, -1), root],
        ...proof.map(
          (_, i) =>
            [
              `proof[${i}] bit 3`,
              index,
              vector.size,
              leaf,
              proof.map((p, j) => (j === i ? flipBit(p, 3) : p)),
              root,
            ] as [string, number, number, Uint8Array, readonly Uint8Array[], Uint8Array],
        ),
      ];
      if (proof.length > 1) {
        probes.push([
          'inserted component',
          index,
          vector.size,
          leaf,
          [proof[0]!, some, ...proof.slice(1)],
          root,
        ]);
      }
      for (const [name, i, size, l, p, r] of probes) {
        expect(errorOf(() => verifyInclusion(l, i, size, p, r)).code, name).toBe('AUDIT_PROOF_INVALID');
        expect(isValidInclusion(l, i, size, p, r), name).toBe(false);
      }
    },
  );

  it('accepts a one-leaf tree with an empty path, and nothing else there', () => {
    const hash = leafHash(new TextEncoder().encode('data'));
    expect(isValidInclusion(hash, 0, 1, [], hash)).toBe(true);
    expect(isValidInclusion(hash, 0, 1, [], new Uint8Array())).toBe(false);
    expect(isValidInclusion(new Uint8Array(), 0, 1, [], hash)).toBe(false);
    for (const [index, size] of [
      [0, 0],
      [1, 0],
      [1, 1],
      [2, 1],
    ] as const) {
      expect(isValidInclusion(hash, index, size, [], hash), `${index} of ${size}`).toBe(false);
    }
  });

  it('names the failed check in the error', () => {
    const proof = inclusionProof(LEAVES, 3);
    const root = rootOf(LEAVES);
    expect(errorOf(() => verifyInclusion(LEAVES[3]!, 8, 8, proof, root)).details.reason).toBe('index');
    expect(errorOf(() => verifyInclusion(LEAVES[3]!, 3, 8, proof.slice(1), root)).details.reason).toBe(
      'too-short',
    );
    expect(errorOf(() => verifyInclusion(LEAVES[3]!, 3, 8, [...proof, root], root)).details.reason).toBe(
      'too-long',
    );
    expect(errorOf(() => verifyInclusion(LEAVES[2]!, 3, 8, proof, root)).details.reason).toBe('root');
    const short = errorOf(() => verifyInclusion(LEAVES[3]!, 3, 8, [proof[0]!.subarray(1)], root));
    expect(short.details).toMatchObject({ reason: 'hash-size', path: 'proof/0' });
    expect(short.message).toMatch(/^inclusion proof invalid: proof\[0\] is 31 bytes/);
  });

  it('refuses to build a path for a leaf outside the tree', () => {
    expect(errorOf(() => inclusionProof(LEAVES, 8)).code).toBe('AUDIT_INPUT_INVALID');
    expect(errorOf(() => inclusionProof([], 0)).code).toBe('AUDIT_INPUT_INVALID');
  });

  it('verifies every path, and fails for any altered proof, leaf, root or index (property)', () => {
    fc.assert(
      fc.property(
        arbLeaves(130).chain((leaves) =>
          fc.record({
            leaves: fc.constant(leaves),
            index: fc.nat(leaves.length - 1),
            other: fc.nat(leaves.length - 1),
            bit: fc.nat(255),
            element: fc.nat(64),
          }),
        ),
        ({ leaves, index, other, bit, element }) => {
          const n = leaves.length;
          const root = rootOf(leaves);
          const leaf = leaves[index]!;
          const proof = inclusionProof(leaves, index);
          verifyInclusion(leaf, index, n, proof, root);

          const fails = (l: Uint8Array, i: number, p: readonly Uint8Array[], r: Uint8Array) =>
            !isValidInclusion(l, i, n, p, r);
          expect(fails(flipBit(leaf, bit), index, proof, root)).toBe(true);
          expect(fails(leaf, index, proof, flipBit(root, bit))).toBe(true);
          if (other !== index) expect(fails(leaf, other, proof, root)).toBe(true);
          expect(fails(leaf, n, proof, root)).toBe(true);
          expect(fails(leaf, index, [...proof, root], root)).toBe(true);
          if (proof.length > 0) {
            const at = element % proof.length;
            const flipped = proof.map((p, j) => (j === at ? flipBit(p, bit) : p));
            expect(fails(leaf, index, flipped, root)).toBe(true);
            expect(fails(leaf, index, proof.slice(0, -1), root)).toBe(true);
            expect(fails(leaf, index, [root, ...proof], root)).toBe(true);
          }
        },
      ),
      RUNS,
    );
  });
});

describe('consistencyProof and verifyConsistency', () => {
  it.each(CONSISTENCY)('reproduces and verifies the reference proof from $size1 to $size2', (vector) => {
    const proof = consistencyProof(LEAVES.slice(0, vector.size2), vector.size1);
    expect(proof.map(hex)).toEqual(vector.proof);
    const root1 = unhex(ROOTS[vector.size1 - 1]!);
    const root2 = unhex(ROOTS[vector.size2 - 1]!);
    expect(() => verifyConsistency(vector.size1, vector.size2, root1, root2, proof)).not.toThrow();
  });

  // The corruptions transparency-dev's verifier test applies to each non-trivial reference proof.
  it.each(CONSISTENCY.filter((v) => v.proof.length > 0))(
    'rejects every corruption of the reference proof from $size1 to $size2',
    ({ size1, size2, proof: hexProof }) => {
      const proof = hexProof.map(unhex);
      const root1 = unhex(ROOTS[size1 - 1]!);
      const root2 = unhex(ROOTS[size2 - 1]!);
      const wrong = new TextEncoder().encode('WrongRoot');
      const probes: [string, number, number, Uint8Array, Uint8Array, readonly Uint8Array[]][] = [
        ['size1 - 1', size1 - 1, size2, root1, root2, proof],
        ['size1 + 1', size1 + 1, size2, root1, root2, proof],
        ['size1 ^ 2', size1 ^ 2, size2, root1, root2, proof],
        ['size2 * 2', size1, size2 * 2, root1, root2, proof],
        ['size2 / 2', size1, Math.floor(size2 / 2), root1, root2, proof],
        ['wrong root1', size1, size2, wrong, root2, proof],
        ['wrong root2', size1, size2, root1, wrong, proof],
        ['swapped roots', size1, size2, root2, root1, proof],
        ['empty proof', size1, size2, root1, root2, []],
        ['trailing garbage', size1, size2, root1, root2, [...proof, new Uint8Array()]],
        ['trailing root1', size1, size2, root1, root2, [...proof, root1]],
        ['trailing root2', size1, size2, root1, root2, [...proof, root2]],
        ['preceding garbage', size1, size2, root1, root2, [new Uint8Array(), ...proof]],
        ['preceding root1', size1, size2, root1, root2, [root1, ...proof]],
        ['preceding root2', size1, size2, root1, root2, [root2, ...proof]],
        ['preceding proof[0]', size1, size2, root1, root2, [proof[0]!, ...proof]],
        ['truncated proof', size1, size2, root1, root2, proof.slice(0, -1)],
        ...proof.map(
          (_, i) =>
            [
              `proof[${i}] bit 4`,
              size1,
              size2,
              root1,
              root2,
              proof.map((p, j) => (j === i ? flipBit(p, 4) : p)),
            ] as [string, number, number, Uint8Array, Uint8Array, readonly Uint8Array[]],
        ),
      ];
      for (const [name, s1, s2, r1, r2, p] of probes) {
        expect(errorOf(() => verifyConsistency(s1, s2, r1, r2, p)).code, name).toBe('AUDIT_PROOF_INVALID');
        expect(isValidConsistency(s1, s2, r1, r2, p), name).toBe(false);
      }
    },
  );

  // transparency-dev's edge table, with one deliberate difference: from size 0 we also require
  // root1 to be the empty-tree root (the reference accepts any root1 there).
  it('decides the edge sizes from the definitions', () => {
    const r1 = leafHash(new TextEncoder().encode("don't care 1"));
    const r2 = leafHash(new TextEncoder().encode("don't care 2"));
    const empty = emptyRoot();
    const cases: [number, number, Uint8Array, Uint8Array, Uint8Array[], boolean][] = [
      [0, 0, r1, r2, [], false],
      [1, 1, r1, r2, [], false],
      [0, 0, empty, empty, [], true],
      [0, 1, empty, r2, [], true],
      [0, 1, r1, r2, [], false],
      [1, 1, r2, r2, [], true],
      [1, 0, r1, r2, [], false],
      [2, 1, r1, r2, [], false],
      [1, 2, r1, r2, [], false],
      [0, 0, empty, r2, [], false],
      [1, 1, empty, r2, [], false],
      [0, 0, empty, empty, [empty], false],
      [0, 1, empty, empty, [empty], false],
      [1, 1, empty, empty, [empty], false],
    ];
    for (const [s1, s2, a, b, proof, valid] of cases) {
      expect(isValidConsistency(s1, s2, a, b, proof), `${s1} -> ${s2}`).toBe(valid);
    }
  });

  it('names the failed check in the error', () => {
    const proof = consistencyProof(LEAVES, 3);
    const root3 = rootOf(LEAVES.slice(0, 3));
    const root8 = rootOf(LEAVES);
    expect(errorOf(() => verifyConsistency(9, 8, root3, root8, proof)).details.reason).toBe('sizes');
    expect(errorOf(() => verifyConsistency(3, 8, root8, root8, proof)).details.reason).toBe('root1');
    expect(errorOf(() => verifyConsistency(3, 8, root3, root3, proof)).details.reason).toBe('root2');
    expect(errorOf(() => verifyConsistency(3, 8, root3, root8, proof.slice(0, -1))).details.reason).toBe(
      'too-short',
    );
    expect(errorOf(() => verifyConsistency(3, 8, root3, root8, [...proof, root8])).details.reason).toBe(
      'too-long',
    );
  });

  it('refuses to prove a size larger than the tree', () => {
    expect(errorOf(() => consistencyProof(LEAVES, 9)).code).toBe('AUDIT_INPUT_INVALID');
    expect(consistencyProof(LEAVES, 0)).toEqual([]);
    expect(consistencyProof(LEAVES, 8)).toEqual([]);
  });

  it('verifies for every m <= n, and fails when either root or the proof is altered (property)', () => {
    fc.assert(
      fc.property(arbLeaves(40), fc.nat(40), fc.nat(255), fc.nat(64), (leaves, pick, bit, element) => {
        const n = leaves.length;
        const root2 = rootOf(leaves);
        const roots = leaves.map((_, i) => rootOf(leaves.slice(0, i))).concat([root2]);
        const proofs = roots.map((_, m) => consistencyProof(leaves, m));
        roots.forEach((root1, m) => {
          verifyConsistency(m, n, root1, root2, proofs[m]!);
        });

        const m = pick % (n + 1);
        const root1 = roots[m]!;
        const proof = proofs[m]!;
        expect(isValidConsistency(m, n, flipBit(root1, bit), root2, proof)).toBe(false);
        // The empty tree is a prefix of every tree, so from m = 0 root2 is not constrained.
        if (m > 0) expect(isValidConsistency(m, n, root1, flipBit(root2, bit), proof)).toBe(false);
        if (proof.length > 0) {
          const at = element % proof.length;
          const flipped = proof.map((p, j) => (j === at ? flipBit(p, bit) : p));
          expect(isValidConsistency(m, n, root1, root2, flipped)).toBe(false);
          expect(isValidConsistency(m, n, root1, root2, proof.slice(0, -1))).toBe(false);
        }
      }),
      RUNS,
    );
  });
});
