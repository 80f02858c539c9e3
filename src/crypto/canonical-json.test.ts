import { createHash } from 'node:crypto';
import canonicalizeModule from 'canonicalize';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { errorOf } from '../../test/fixtures/errors.js';
import { canonicalJson, digestOf, sha256Hex } from './canonical-json.js';

function codeOf(fn: () => unknown): string {
  return errorOf(fn).code;
}

describe('canonicalJson', () => {
  it('canonicalizes the RFC 8785 §3.2.2 sample to the output given in §3.2.3', () => {
    // RFC 8785 §3.2.2 input, parsed from its JSON text so the escapes are JSON's, not JavaScript's.
    const input = JSON.parse(String.raw`{
      "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
      "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
      "literals": [null, true, false]
    }`);
    // RFC 8785 §3.2.3, the canonical form (line wrap removed).
    const expected = String.raw`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`;
    expect(canonicalJson(input)).toBe(expected);
  });

  it('sorts properties by UTF-16 code units as in the RFC 8785 §3.2.3 test data', () => {
    const input = JSON.parse(String.raw`{
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis"
    }`);
    // Read the values in text order: JSON.parse would move the integer-like key "1" first again.
    const order = [...canonicalJson(input).matchAll(/:"([^"]*)"/g)].map((m) => m[1]);
    // RFC 8785 §3.2.3, "Expected argument order after sorting property strings".
    expect(order).toEqual([
      'Carriage Return',
      'One',
      'Control',
      'Latin Small Letter O With Diaeresis',
      'Euro Sign',
      'Emoji: Grinning Face',
      'Hebrew Letter Dalet With Dagesh',
    ]);
  });

  it('serializes numbers as in the RFC 8785 Appendix B samples', () => {
    // RFC 8785 Appendix B: IEEE-754 bit pattern -> JSON representation.
    const samples: readonly (readonly [string, string])[] = [
      ['0000000000000000', '0'],
      ['8000000000000000', '0'],
      ['0000000000000001', '5e-324'],
      ['8000000000000001', '-5e-324'],
      ['7fefffffffffffff', '1.7976931348623157e+308'],
      ['ffefffffffffffff', '-1.7976931348623157e+308'],
      ['4340000000000000', '9007199254740992'],
      ['c340000000000000', '-9007199254740992'],
      ['4430000000000000', '295147905179352830000'],
      ['44b52d02c7e14af5', '9.999999999999997e+22'],
      ['44b52d02c7e14af6', '1e+23'],
      ['44b52d02c7e14af7', '1.0000000000000001e+23'],
      ['444b1ae4d6e2ef4e', '999999999999999700000'],
      ['444b1ae4d6e2ef4f', '999999999999999900000'],
      ['444b1ae4d6e2ef50', '1e+21'],
      ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
      ['3eb0c6f7a0b5ed8d', '0.000001'],
      ['41b3de4355555553', '333333333.3333332'],
      ['41b3de4355555554', '333333333.33333325'],
      ['41b3de4355555555', '333333333.3333333'],
      ['41b3de4355555556', '333333333.3333334'],
      ['41b3de4355555557', '333333333.33333343'],
      ['becbf647612f3696', '-0.0000033333333333333333'],
      ['43143ff3c1cb0959', '1424953923781206.2'],
    ];
    for (const [bits, json] of samples) {
      expect(canonicalJson(Buffer.from(bits, 'hex').readDoubleBE(0)), bits).toBe(json);
    }
  });

  it('refuses the RFC 8785 Appendix B values that have no JSON form (NaN, Infinity)', () => {
    expect(codeOf(() => canonicalJson(Buffer.from('7fffffffffffffff', 'hex').readDoubleBE(0)))).toBe(
      'CANONICAL_JSON_UNSUPPORTED',
    );
    expect(codeOf(() => canonicalJson({ a: [Number.POSITIVE_INFINITY] }))).toBe('CANONICAL_JSON_UNSUPPORTED');
  });

  it('refuses values that JSON.stringify would silently change, naming where they are', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const refused: readonly unknown[] = [
      undefined,
      () => 1,
      Symbol('s'),
      10n,
      { a: () => 1 },
      [1, undefined],
      // biome-ignore lint/suspicious/noSparseArray: the hole is the point of this case
      [1, , 2],
      new Map([['a', 1]]),
      new Date(0),
      cyclic,
      { s: 'lone \ud800 surrogate' },
      { '\udc00': 'lone surrogate key' },
    ];
    for (const value of refused) {
      expect(
        codeOf(() => canonicalJson(value)),
        String(value),
      ).toBe('CANONICAL_JSON_UNSUPPORTED');
    }
    const nan = errorOf(() => canonicalJson({ parties: [{ keys: ['ok', Number.NaN] }] }));
    expect(nan.details.path).toBe('/parties/0/keys/1');
  });

  it('leaves out properties whose value is undefined, as JSON.stringify does', () => {
    expect(canonicalJson({ b: 1, a: undefined })).toBe('{"b":1}');
  });

  it('accepts a shared (non-cyclic) subobject twice', () => {
    const shared = { x: 1 };
    expect(canonicalJson({ a: shared, b: shared })).toBe('{"a":{"x":1},"b":{"x":1}}');
  });

  it('agrees with JSON.parse: parsing the canonical form and canonicalizing again is a fixed point', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const once = canonicalJson(value);
        expect(canonicalJson(JSON.parse(once))).toBe(once);
      }),
    );
  });
});

describe('digestOf', () => {
  it('matches the previous arrangementVersionHash recipe (canonicalize + SHA-256) byte for byte', () => {
    const canonicalize = canonicalizeModule as unknown as (input: unknown) => string | undefined;
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const before = `sha256:${createHash('sha256')
          .update(canonicalize(value) ?? '')
          .digest('hex')}`;
        expect(digestOf(value)).toBe(before);
      }),
      { numRuns: 500 },
    );
  });

  it('is sha256:<hex> of the canonical form, so key order does not matter', () => {
    // FIPS 180-4 / NIST CSRC example: SHA-256("abc").
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(digestOf({ b: 2, a: 1 })).toBe(`sha256:${sha256Hex('{"a":1,"b":2}')}`);
    expect(digestOf({ a: 1, b: 2 })).toBe(digestOf({ b: 2, a: 1 }));
  });
});
