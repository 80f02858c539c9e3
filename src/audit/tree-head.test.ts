import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { errorOf } from '../../test/fixtures/errors.js';
import { LEAF_INPUTS, ROOTS, unhex } from './ct-vectors.fixture.js';
import {
  Frontier,
  leafHash,
  parseSignedTreeHead,
  parseTreeHead,
  type SignatureCheck,
  type SignedTreeHead,
  type TreeHead,
  treeHeadOf,
  treeHeadSigningBytes,
  verifyLogAgainst,
  verifyTreeHeadSignature,
} from './index.js';

const RUNS = { numRuns: 1000 } as const;

// A stand-in signer so these tests need no key code: HMAC-SHA256 under a test key, as hex. The
// real check comes from src/crypto (Ed25519) and is injected the same way.
const KEY = 'audit-test-key';
const sign = (bytes: Uint8Array): string => createHmac('sha256', KEY).update(bytes).digest('hex');
const check: SignatureCheck = (bytes, signature) => sign(bytes) === signature;

const NODE = 'node-gbr';
const T0 = Date.parse('2025-01-02T03:04:05.000Z');

function signHead(head: TreeHead): SignedTreeHead {
  return { ...head, signature: sign(treeHeadSigningBytes(head)) };
}

/** A signed head for every size in `sizes`, over `entries`. */
function headsFor(entries: readonly Uint8Array[], sizes: readonly number[]): SignedTreeHead[] {
  const wanted = new Set(sizes);
  const frontier = Frontier.empty();
  const heads: SignedTreeHead[] = [];
  const take = () => {
    if (wanted.has(frontier.treeSize)) {
      heads.push(signHead(treeHeadOf(frontier, NODE, new Date(T0 + frontier.treeSize * 1000))));
    }
  };
  take();
  for (const entry of entries) {
    frontier.append(leafHash(entry));
    take();
  }
  return heads;
}

const CT_ENTRIES = LEAF_INPUTS.map(unhex);
const sizes = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('treeHeadSigningBytes', () => {
  it('is the RFC 8785 canonical JSON of the head with its context, keys sorted', () => {
    const head: TreeHead = {
      treeSize: 8,
      rootHash: ROOTS[7]!,
      timestamp: '2025-01-02T03:04:05.000Z',
      nodeId: NODE,
    };
    expect(new TextDecoder().decode(treeHeadSigningBytes(head))).toBe(
      `{"context":"accord/audit/tree-head/v1","nodeId":"node-gbr","rootHash":"${ROOTS[7]}",` +
        `"timestamp":"2025-01-02T03:04:05.000Z","treeSize":8}`,
    );
  });

  it('reads only the four head fields, so a signature or extra field never enters the bytes', () => {
    const head = treeHeadOf(Frontier.empty(), NODE, new Date(T0));
    const signed = signHead(head);
    const padded = { ...signed, colour: 'blue' } as SignedTreeHead;
    expect(treeHeadSigningBytes(signed)).toEqual(treeHeadSigningBytes(head));
    expect(treeHeadSigningBytes(padded)).toEqual(treeHeadSigningBytes(head));
  });
});

describe('parseTreeHead', () => {
  const good = { treeSize: 8, rootHash: ROOTS[7]!, timestamp: '2025-01-02T03:04:05.000Z', nodeId: NODE };

  it('accepts a well-formed head and signed head', () => {
    expect(parseTreeHead(good)).toEqual(good);
    expect(parseSignedTreeHead({ ...good, signature: 'sig' })).toEqual({ ...good, signature: 'sig' });
  });

  it.each([
    ['a negative size', { ...good, treeSize: -1 }, '/treeSize'],
    ['a fractional size', { ...good, treeSize: 1.5 }, '/treeSize'],
    ['a size as a string', { ...good, treeSize: '8' }, '/treeSize'],
    ['upper-case hex', { ...good, rootHash: ROOTS[7]!.toUpperCase() }, '/rootHash'],
    ['a short root', { ...good, rootHash: ROOTS[7]!.slice(2) }, '/rootHash'],
    ['a time without milliseconds', { ...good, timestamp: '2025-01-02T03:04:05Z' }, '/timestamp'],
    ['a time with an offset', { ...good, timestamp: '2025-01-02T03:04:05.000+01:00' }, '/timestamp'],
    ['an impossible date', { ...good, timestamp: '2025-02-30T03:04:05.000Z' }, '/timestamp'],
    ['an empty node id', { ...good, nodeId: '' }, '/nodeId'],
    ['a control character in the node id', { ...good, nodeId: 'a\nb' }, '/nodeId'],
    ['an unknown field', { ...good, extra: 1 }, '/extra'],
  ])('refuses %s', (_name, input, path) => {
    const error = errorOf(() => parseTreeHead(input));
    expect(error.code).toBe('AUDIT_TREE_HEAD_INVALID');
    expect(error.details.path).toBe(path);
  });

  it('refuses a signed head without a signature', () => {
    expect(errorOf(() => parseSignedTreeHead(good)).details.path).toBe('/signature');
    expect(errorOf(() => parseSignedTreeHead({ ...good, signature: '' })).details.path).toBe('/signature');
  });
});

describe('verifyTreeHeadSignature', () => {
  const [head] = headsFor(CT_ENTRIES, [8]);

  it('accepts the signer’s signature and refuses one over other content', () => {
    expect(() => verifyTreeHeadSignature(head!, check)).not.toThrow();
    const moved = { ...head!, timestamp: '2025-01-02T03:04:06.000Z' };
    expect(errorOf(() => verifyTreeHeadSignature(moved, check)).code).toBe('AUDIT_SIGNATURE_INVALID');
  });

  it('turns a check that throws into AUDIT_SIGNATURE_INVALID, keeping the cause', () => {
    const cause = new TypeError('bad signature encoding');
    const error = errorOf(() =>
      verifyTreeHeadSignature(head!, () => {
        throw cause;
      }),
    );
    expect(error.code).toBe('AUDIT_SIGNATURE_INVALID');
    expect(error.cause).toBe(cause);
  });
});

describe('verifyLogAgainst', () => {
  it('verifies the reference entries against a head over the reference root', () => {
    const heads = headsFor(CT_ENTRIES, [8]);
    expect(heads[0]!.rootHash).toBe(ROOTS[7]);
    expect(verifyLogAgainst(CT_ENTRIES, heads[0]!, check)).toEqual({
      verifiedSize: 8,
      entryCount: 8,
      checkedSizes: [8],
    });
  });

  it('reads entries once from any iterable and counts those after the newest head', () => {
    const heads = headsFor(CT_ENTRIES, [3, 5]);
    function* stream() {
      yield* CT_ENTRIES;
    }
    expect(verifyLogAgainst(stream(), heads, check)).toEqual({
      verifiedSize: 5,
      entryCount: 8,
      checkedSizes: [3, 5],
    });
  });

  it('names the first entry after the last matching head when an entry changes', () => {
    const heads = headsFor(CT_ENTRIES, [3, 6]);
    const tampered = CT_ENTRIES.map((e, i) => (i === 4 ? unhex('4041424f') : e));
    const error = errorOf(() => verifyLogAgainst(tampered, heads, check));
    expect(error.code).toBe('AUDIT_LOG_TAMPERED');
    expect(error.details).toMatchObject({ firstBadIndex: 3, treeSize: 6, reason: 'root-mismatch' });
    expect(error.message).toMatch(/^audit entry 3 does not verify/);
  });

  it('reports a log cut short as missing entries', () => {
    const heads = headsFor(CT_ENTRIES, sizes(1, 8));
    const error = errorOf(() => verifyLogAgainst(CT_ENTRIES.slice(0, 6), heads, check));
    expect(error.details).toMatchObject({ firstBadIndex: 6, treeSize: 7, entryCount: 6, reason: 'missing' });
  });

  it('refuses a head whose signature does not verify before reading any entry', () => {
    const heads = headsFor(CT_ENTRIES, [4, 8]);
    const forged = [heads[0]!, { ...heads[1]!, signature: sign(new Uint8Array()) }];
    expect(errorOf(() => verifyLogAgainst(CT_ENTRIES, forged, check)).code).toBe('AUDIT_SIGNATURE_INVALID');
  });

  it('detects a fork: two signed heads with different roots for one size', () => {
    const honest = headsFor(CT_ENTRIES, [8]);
    const forkedEntries = CT_ENTRIES.map((e, i) => (i === 2 ? unhex('11') : e));
    const fork = headsFor(forkedEntries, [8]);
    const error = errorOf(() => verifyLogAgainst(CT_ENTRIES, [...honest, ...fork], check));
    expect(error.code).toBe('AUDIT_FORK_DETECTED');
    expect(error.details).toMatchObject({ nodeId: NODE, treeSize: 8 });
    // Against the forked history alone, the honest log fails at the first entry the fork changed.
    const forkAll = headsFor(forkedEntries, sizes(1, 8));
    expect(errorOf(() => verifyLogAgainst(CT_ENTRIES, forkAll, check)).details.firstBadIndex).toBe(2);
  });

  it('refuses heads from two nodes, and an empty list of heads', () => {
    const [head] = headsFor(CT_ENTRIES, [8]);
    const other = signHead({ ...head!, nodeId: 'node-usa' });
    expect(errorOf(() => verifyLogAgainst(CT_ENTRIES, [head!, other], check)).code).toBe(
      'AUDIT_TREE_HEAD_INVALID',
    );
    expect(errorOf(() => verifyLogAgainst(CT_ENTRIES, [], check)).code).toBe('AUDIT_TREE_HEAD_INVALID');
  });

  // DESIGN.md invariant 6. The oracle is the plain definition: the first index at which the
  // tampered log and the original differ (or where one ends). Entries are short random byte
  // strings, so duplicates occur and a swap or change can leave the log as it was.
  type Tamper =
    | { readonly kind: 'change'; readonly at: number; readonly bytes: Uint8Array }
    | { readonly kind: 'remove'; readonly at: number }
    | { readonly kind: 'swap'; readonly at: number; readonly other: number }
    | { readonly kind: 'insert'; readonly at: number; readonly bytes: Uint8Array };

  const arbEntries = fc.array(fc.uint8Array({ maxLength: 2 }), { minLength: 1, maxLength: 40, size: 'max' });
  const arbTamper: fc.Arbitrary<Tamper> = fc.oneof(
    fc.record({ kind: fc.constant('change' as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 2 }) }),
    fc.record({ kind: fc.constant('remove' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('swap' as const), at: fc.nat(), other: fc.nat() }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 2 }) }),
  );

  function applyTamper(entries: readonly Uint8Array[], tamper: Tamper): Uint8Array[] {
    const out = [...entries];
    const at = tamper.at % entries.length;
    switch (tamper.kind) {
      case 'change':
        out[at] = tamper.bytes;
        break;
      case 'remove':
        out.splice(at, 1);
        break;
      case 'swap': {
        const other = tamper.other % entries.length;
        [out[at], out[other]] = [out[other]!, out[at]!];
        break;
      }
      case 'insert':
        out.splice(tamper.at % (entries.length + 1), 0, tamper.bytes);
        break;
    }
    return out;
  }

  function firstDifference(a: readonly Uint8Array[], b: readonly Uint8Array[]): number {
    const shorter = Math.min(a.length, b.length);
    for (let i = 0; i < shorter; i++) if (Buffer.compare(a[i]!, b[i]!) !== 0) return i;
    return shorter;
  }

  it('with a head for every size, reports exactly the first changed, removed, swapped or inserted entry (property)', () => {
    fc.assert(
      fc.property(arbEntries, arbTamper, (entries, tamper) => {
        const heads = headsFor(entries, sizes(1, entries.length));
        const tampered = applyTamper(entries, tamper);
        const first = firstDifference(entries, tampered);
        if (first >= entries.length) {
          // Unchanged, or only appended to: every head still holds.
          expect(verifyLogAgainst(tampered, heads, check)).toMatchObject({
            verifiedSize: entries.length,
            entryCount: tampered.length,
          });
        } else {
          const error = errorOf(() => verifyLogAgainst(tampered, heads, check));
          expect(error.code).toBe('AUDIT_LOG_TAMPERED');
          expect(error.details.firstBadIndex).toBe(first);
        }
      }),
      RUNS,
    );
  });

  it('with sparse heads, reports the first entry after the last head that still holds (property)', () => {
    fc.assert(
      fc.property(
        arbEntries.chain((entries) =>
          fc.record({
            entries: fc.constant(entries),
            sizes: fc.uniqueArray(fc.integer({ min: 0, max: entries.length }), { minLength: 1 }),
          }),
        ),
        arbTamper,
        ({ entries, sizes: headSizes }, tamper) => {
          const heads = headsFor(entries, headSizes);
          const tampered = applyTamper(entries, tamper);
          const first = firstDifference(entries, tampered);
          const largest = Math.max(...headSizes);
          if (first >= largest) {
            expect(verifyLogAgainst(tampered, heads, check).verifiedSize).toBe(largest);
          } else {
            const lastHolding = Math.max(0, ...headSizes.filter((s) => s <= first));
            const error = errorOf(() => verifyLogAgainst(tampered, heads, check));
            expect(error.code).toBe('AUDIT_LOG_TAMPERED');
            expect(error.details.firstBadIndex).toBe(lastHolding);
          }
        },
      ),
      RUNS,
    );
  });
});
