import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { errorOf } from '../../test/fixtures/errors.js';
import { AccordError } from '../errors/index.js';
import {
  type AuditLogReading,
  consistencyProofPlan,
  Frontier,
  inclusionProofPlan,
  LeafHashList,
  leafHash,
  MemorySubtreeStore,
  type NodeId,
  type ProofSource,
  resolvePlan,
  type SignatureCheck,
  type SignedTreeHead,
  type SubtreeStore,
  treeHeadOf,
  treeHeadSigningBytes,
  verifyAuditLog,
} from './index.js';

// verifyAuditLog against logs generated here: the node's rows (content and the leaf hash recorded
// beside it), the heads it signed and the subtree hashes it serves proofs from, each of which an
// attacker with write access to the store may alter. Signatures are an HMAC stand-in, injected
// the way the Ed25519 check is.

const RUNS = { numRuns: 300 } as const;
const KEY = 'verify-log-test-key';
const sign = (bytes: Uint8Array): string => createHmac('sha256', KEY).update(bytes).digest('hex');
const check: SignatureCheck = (bytes, signature) => sign(bytes) === signature;
const NODE = 'USA';
const T0 = Date.parse('2026-01-01T00:00:00.000Z');

interface Row {
  readonly content: Uint8Array;
  /** The leaf hash stored beside the content (what the proofs' leaves are read from). */
  readonly recorded: Uint8Array;
}

function rowOf(content: Uint8Array): Row {
  return { content, recorded: leafHash(content) };
}

/** Distinct entries: each names its position in the history `tag`. */
function history(n: number, tag: string): Row[] {
  return Array.from({ length: n }, (_, i) =>
    rowOf(new TextEncoder().encode(`{"entry":${i},"tag":"${tag}"}`)),
  );
}

/** The subtree hashes of a log, as its node stores them while appending. */
function storeOf(rows: readonly Row[]): MemorySubtreeStore {
  const store = new MemorySubtreeStore();
  const frontier = Frontier.empty();
  for (const row of rows) frontier.append(leafHash(row.content), store);
  return store;
}

/** Signed heads of `rows` at `sizes`. */
function headsOf(rows: readonly Row[], sizes: readonly number[]): SignedTreeHead[] {
  const wanted = new Set(sizes);
  const heads: SignedTreeHead[] = [];
  const frontier = Frontier.empty();
  const take = () => {
    if (!wanted.has(frontier.treeSize)) return;
    const head = treeHeadOf(frontier, NODE, new Date(T0 + frontier.treeSize));
    heads.push({ ...head, signature: sign(treeHeadSigningBytes(head)) });
  };
  take();
  for (const row of rows) {
    frontier.append(leafHash(row.content));
    take();
  }
  return heads;
}

/**
 * Proofs as the store serves them: level 0 from the leaf hashes recorded beside the rows (as the
 * entries table holds them), the levels above from `nodes`; a node it lacks fails the proof.
 */
function proofsOf(rows: readonly Row[], nodes: SubtreeStore): ProofSource {
  const hashOf = ({ level, index }: NodeId): Uint8Array => {
    const hash = level === 0 ? rows[index]?.recorded : nodes.get(level, index);
    if (hash === undefined) throw new AccordError('AUDIT_STATE_CORRUPT', `no node (${level}, ${index})`);
    return hash;
  };
  return {
    inclusionProof: async (index, treeSize) => resolvePlan(inclusionProofPlan(index, treeSize), hashOf),
    consistencyProof: async (size1, size2) => resolvePlan(consistencyProofPlan(size1, size2), hashOf),
  };
}

function readingOf(
  rows: readonly Row[],
  heads: readonly SignedTreeHead[],
  nodes: SubtreeStore,
  since?: SignedTreeHead,
): AuditLogReading {
  const leaves = new LeafHashList();
  let firstRecordedMismatch: number | undefined;
  rows.forEach((row, i) => {
    const leaf = leafHash(row.content);
    if (firstRecordedMismatch === undefined && Buffer.compare(leaf, row.recorded) !== 0)
      firstRecordedMismatch = i;
    leaves.push(leaf);
  });
  return {
    leaves,
    ...(firstRecordedMismatch === undefined ? {} : { firstRecordedMismatch }),
    heads,
    ...(since === undefined ? {} : { since }),
    check,
    proofs: proofsOf(rows, nodes),
  };
}

async function failureOf(reading: AuditLogReading): Promise<AccordError> {
  try {
    await verifyAuditLog(reading);
  } catch (error) {
    if (error instanceof AccordError) return error;
    throw error;
  }
  throw new Error('expected the log not to verify');
}

/** The first position where two row lists differ in content (or the shorter length). */
function firstDifference(a: readonly Row[], b: readonly Row[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (Buffer.compare(a[i]!.content, b[i]!.content) !== 0) return i;
  return n;
}

// ---------------------------------------------------------------- generated tampering

type Tamper =
  | { readonly kind: 'change'; readonly at: number }
  | { readonly kind: 'rewrite'; readonly at: number }
  | { readonly kind: 'rewrite-all'; readonly at: number }
  | { readonly kind: 'remove'; readonly at: number }
  | { readonly kind: 'insert'; readonly at: number; readonly copyOf: number }
  | { readonly kind: 'swap'; readonly at: number }
  | { readonly kind: 'truncate'; readonly at: number };

const forged = (row: Row): Uint8Array =>
  new TextEncoder().encode(`${new TextDecoder().decode(row.content)} `);

/** The rows and subtree hashes after an attacker's edit of the store. */
function tamper(
  rows: readonly Row[],
  honest: MemorySubtreeStore,
  t: Tamper,
): { rows: Row[]; nodes: SubtreeStore } {
  const out = [...rows];
  switch (t.kind) {
    case 'change':
      // The entry's text edited in place; its recorded leaf hash left as it was.
      out[t.at] = { content: forged(rows[t.at]!), recorded: rows[t.at]!.recorded };
      return { rows: out, nodes: honest };
    case 'rewrite':
      // The text and its recorded leaf hash, consistently.
      out[t.at] = rowOf(forged(rows[t.at]!));
      return { rows: out, nodes: honest };
    case 'rewrite-all':
      // The text, its leaf hash and every subtree hash recomputed: only the signatures are missing.
      out[t.at] = rowOf(forged(rows[t.at]!));
      return { rows: out, nodes: storeOf(out) };
    case 'remove':
      out.splice(t.at, 1);
      return { rows: out, nodes: honest };
    case 'insert':
      out.splice(t.at, 0, rows[t.copyOf]!);
      return { rows: out, nodes: honest };
    case 'swap':
      [out[t.at], out[t.at + 1]] = [out[t.at + 1]!, out[t.at]!];
      return { rows: out, nodes: honest };
    case 'truncate':
      return { rows: out.slice(0, t.at), nodes: honest };
  }
}

/** A log of 2..80 entries, heads at some sizes and always at its full size, and one edit inside the signed part. */
const arbCase = fc
  .record({
    n: fc.integer({ min: 2, max: 80 }),
    headSeeds: fc.array(fc.nat(), { maxLength: 6 }),
    seed: fc.nat(),
  })
  .chain(({ n, headSeeds, seed }) => {
    const sizes = [...new Set([n, ...headSeeds.map((s) => s % (n + 1))])];
    const at = fc.nat(n - 1);
    const tamper: fc.Arbitrary<Tamper> = fc.oneof(
      at.map((i) => ({ kind: 'change' as const, at: i })),
      at.map((i) => ({ kind: 'rewrite' as const, at: i })),
      at.map((i) => ({ kind: 'rewrite-all' as const, at: i })),
      at.map((i) => ({ kind: 'remove' as const, at: i })),
      fc.record({ at, copyOf: at }).map((r) => ({ kind: 'insert' as const, ...r })),
      fc.nat(n - 2).map((i) => ({ kind: 'swap' as const, at: i })),
      at.map((i) => ({ kind: 'truncate' as const, at: i })),
    );
    return fc.record({ n: fc.constant(n), sizes: fc.constant(sizes), tamper, seed: fc.constant(seed) });
  });

describe('verifyAuditLog', () => {
  it('verifies an untouched log against all its heads and any earlier head (property)', async () => {
    await fc.assert(
      fc.asyncProperty(arbCase, async ({ n, sizes, seed }) => {
        const rows = history(n, `h${seed}`);
        const heads = headsOf(rows, sizes);
        const since = heads[seed % heads.length];
        const verified = await verifyAuditLog(readingOf(rows, heads, storeOf(rows), since));
        expect(verified).toMatchObject({ treeSize: n, entryCount: n });
        expect(verified.sinceSize).toBe(since?.treeSize);
      }),
      RUNS,
    );
  });

  it('detects a changed, rewritten, removed, inserted, reordered or truncated entry and names the first (property)', async () => {
    await fc.assert(
      fc.asyncProperty(arbCase, async ({ n, sizes, tamper: t, seed }) => {
        const rows = history(n, `h${seed}`);
        const heads = headsOf(rows, sizes);
        const honest = storeOf(rows);
        const after = tamper(rows, honest, t);
        const first = firstDifference(rows, after.rows);
        // A row inserted as a copy of the one it displaces changes the log only past its signed
        // end, where an entry appended since the last head is all it looks like: skip that case.
        fc.pre(first < n);
        const error = await failureOf(readingOf(after.rows, heads, after.nodes));
        expect(error.code, error.message).toBe('AUDIT_LOG_TAMPERED');
        const named = error.details.firstBadIndex as number;
        // Never later than the first altered entry, never earlier than the last signed size that still holds.
        expect(named).toBeLessThanOrEqual(first);
        expect(named).toBeGreaterThanOrEqual(Math.max(0, ...sizes.filter((s) => s <= first)));
        // With the hashes it is proven by intact (only its text edited), exactly the altered entry.
        if (t.kind === 'change') expect(named).toBe(first);
      }),
      RUNS,
    );
  });

  it('detects a fork: a saved head from a history the node later rewrote and signed again (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 60 }).chain((m) =>
          fc.record({
            m: fc.constant(m),
            shared: fc.nat(m - 1),
            extra: fc.nat(20),
            headSeeds: fc.array(fc.nat(), { maxLength: 5 }),
          }),
        ),
        async ({ m, shared, extra, headSeeds }) => {
          const original = history(m, 'original');
          const since = headsOf(original, [m])[0]!;
          const rewritten = [...original.slice(0, shared), ...history(m + extra, 'rewritten').slice(shared)];
          const sizes = [rewritten.length, ...headSeeds.map((s) => s % (rewritten.length + 1))];
          const heads = headsOf(rewritten, sizes);
          // Alone, the rewritten log is self-consistent.
          await verifyAuditLog(readingOf(rewritten, heads, storeOf(rewritten)));
          const error = await failureOf(readingOf(rewritten, heads, storeOf(rewritten), since));
          expect(error.code, error.message).toBe('AUDIT_FORK_DETECTED');
        },
      ),
      RUNS,
    );
  });

  it('detects a log rolled back below a saved head', async () => {
    const rows = history(10, 'r');
    const since = headsOf(rows, [10])[0]!;
    const kept = rows.slice(0, 7);
    const error = await failureOf(readingOf(kept, headsOf(kept, [7]), storeOf(kept), since));
    expect(error.code).toBe('AUDIT_LOG_TAMPERED');
    expect(error.details).toMatchObject({ firstBadIndex: 7, reason: 'missing' });
  });

  it('names a row whose recorded leaf hash alone was altered, though its content verifies', async () => {
    const rows = history(9, 'l');
    const altered = [...rows];
    altered[4] = { content: rows[4]!.content, recorded: leafHash(new TextEncoder().encode('other')) };
    const error = await failureOf(readingOf(altered, headsOf(rows, [9]), storeOf(rows)));
    expect(error.details).toMatchObject({ firstBadIndex: 4, reason: 'leaf-hash' });
    expect(error.message).toMatch(/recorded leaf hash was altered/);
  });

  it('refuses a head whose signature does not verify, two roots for one size, and no head at all', async () => {
    const rows = history(6, 's');
    const [head] = headsOf(rows, [6]);
    const forgedHead = { ...head!, signature: sign(new TextEncoder().encode('something else')) };
    const bad = await failureOf(readingOf(rows, [forgedHead], storeOf(rows)));
    expect(bad.code).toBe('AUDIT_SIGNATURE_INVALID');

    const other = history(6, 'other');
    const twice = await failureOf(readingOf(rows, [head!, ...headsOf(other, [6])], storeOf(rows)));
    expect(twice.code).toBe('AUDIT_FORK_DETECTED');

    const none = await failureOf(readingOf(rows, [], storeOf(rows)));
    expect(none.code).toBe('AUDIT_NO_TREE_HEAD');
  });

  it('refuses heads of two nodes and a consistency proof that does not hold', async () => {
    const rows = history(12, 'c');
    const heads = headsOf(rows, [5, 12]);
    const stranger = { ...heads[0]!, nodeId: 'GBR' };
    const mixed = await failureOf(
      readingOf(
        rows,
        [heads[1]!, { ...stranger, signature: sign(treeHeadSigningBytes(stranger)) }],
        storeOf(rows),
      ),
    );
    expect(mixed.code).toBe('AUDIT_TREE_HEAD_INVALID');

    // Entries and heads intact, but the stored subtree hashes altered: the proof from the saved head fails.
    const nodes = storeOf(rows);
    const lying: SubtreeStore = {
      get: (level, index) =>
        level === 2 && index === 2 ? leafHash(new Uint8Array(1)) : nodes.get(level, index),
      put: () => undefined,
    };
    const error = await failureOf(readingOf(rows, [heads[1]!], lying, heads[0]));
    expect(error.code).toBe('AUDIT_PROOF_INVALID');
  });
});

describe('LeafHashList', () => {
  it('keeps hashes in order as it grows and refuses one of the wrong size', () => {
    const list = new LeafHashList();
    const hashes = Array.from({ length: 3000 }, (_, i) => leafHash(Uint8Array.of(i % 256, i >> 8)));
    for (const h of hashes) list.push(h);
    expect(list.length).toBe(3000);
    expect(Buffer.compare(list.at(2999), hashes[2999]!)).toBe(0);
    expect(Buffer.compare(list.at(0), hashes[0]!)).toBe(0);
    expect(errorOf(() => list.push(new Uint8Array(31))).code).toBe('AUDIT_INPUT_INVALID');
  });
});
