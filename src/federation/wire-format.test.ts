import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBase64, decodeBase64Url, encodeBase64Url, instantMillis } from './wire-format.js';

const RUNS = { numRuns: 300 } as const;

describe('decodeBase64Url', () => {
  it('inverts encodeBase64Url (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        expect(decodeBase64Url(encodeBase64Url(bytes))).toEqual(bytes);
      }),
      RUNS,
    );
  });

  it('accepts only the one canonical text of any bytes (property)', () => {
    const text = fc.string({ unit: fc.constantFrom(...'AQgw-_9z='), maxLength: 12 });
    fc.assert(
      fc.property(text, (candidate) => {
        const bytes = decodeBase64Url(candidate);
        if (bytes !== undefined) expect(encodeBase64Url(bytes)).toBe(candidate);
      }),
      RUNS,
    );
  });

  it.each(['AB', 'AR', 'AAF', 'AAA=', 'A', 'AA AA', 'AA+/'])('refuses %j', (text) => {
    expect(decodeBase64Url(text)).toBeUndefined();
  });
});

describe('decodeBase64', () => {
  it('accepts only the one canonical padded text of any bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        const text = Buffer.from(bytes).toString('base64');
        expect(decodeBase64(text)).toEqual(bytes);
        expect(decodeBase64(text.replaceAll('=', ''))).toEqual(text.includes('=') ? undefined : bytes);
      }),
      RUNS,
    );
  });

  it.each(['AB==', 'AAF=', 'A-_A', 'AA==='])('refuses %j', (text) => {
    expect(decodeBase64(text)).toBeUndefined();
  });
});

describe('instantMillis', () => {
  it('reads what Date#toISOString writes (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 253_402_300_799_999 }), (ms) => {
        expect(instantMillis(new Date(ms).toISOString())).toBe(ms);
      }),
      RUNS,
    );
  });

  it.each([
    '2026-02-30T00:00:00.000Z',
    '2026-06-01T24:00:00.000Z',
    '2026-06-01T12:00:00Z',
    '2026-06-01T12:00:00.000+00:00',
  ])('refuses %s', (text) => {
    expect(instantMillis(text)).toBeUndefined();
  });
});
