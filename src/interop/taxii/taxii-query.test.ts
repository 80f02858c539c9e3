import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AccordError } from '../../errors/index.js';
import type { StixEntry, StixObject } from '../stix/index.js';
import {
  filterEntries,
  normaliseTimestamp,
  orderEntries,
  pageEntries,
  parseLimit,
  parseVersionMatch,
  type TaxiiEntry,
  type TaxiiFilter,
} from './taxii-query.js';

function entryOf(object: StixObject, version: string, dateAdded: string): StixEntry {
  return { object, id: object.id, type: object.type, version, dateAdded };
}

const BASE = Date.parse('2026-11-26T12:00:00.000Z');
const IDS = ['indicator', 'malware', 'report', 'note'].flatMap((t) =>
  [0, 1, 2].map((n) => `${t}--00000000-0000-4000-8000-00000000000${n}`),
);

// Versions as a node holds them: several share a millisecond (one import transaction), ids repeat
// with other versions, some objects are unversioned ('').
const arbEntry: fc.Arbitrary<StixEntry> = fc
  .record({
    added: fc.integer({ min: 0, max: 5 }),
    id: fc.constantFrom(...IDS),
    version: fc.oneof(
      fc.constant(''),
      fc.integer({ min: 0, max: 4 }).map((m) => new Date(BASE - m * 60_000).toISOString()),
    ),
  })
  .map(({ added, id, version }) =>
    entryOf(
      {
        type: id.split('--')[0] as string,
        id,
        spec_version: '2.1',
        ...(version === '' ? {} : { modified: version }),
      },
      version,
      new Date(BASE + added).toISOString(),
    ),
  );

/** Distinct (id, version) pairs, as the store keeps them. */
const arbEntries = fc.uniqueArray(arbEntry, {
  selector: (e) => `${e.object.id}@${e.version}`,
  maxLength: 40,
});

const arbFilter: fc.Arbitrary<TaxiiFilter> = fc.record(
  {
    versions: fc.constantFrom(
      { kind: 'all' } as const,
      { kind: 'last' } as const,
      { kind: 'first' } as const,
    ),
    types: fc.subarray(['indicator', 'malware', 'report', 'note'], { minLength: 1 }).map((t) => new Set(t)),
  },
  { requiredKeys: ['versions'] },
);

const keyOf = (e: TaxiiEntry) => `${e.id}@${e.version}`;

/** Every page, following `next`. */
function byNext(entries: readonly TaxiiEntry[], limit: number): TaxiiEntry[] {
  const out: TaxiiEntry[] = [];
  let next: string | undefined;
  for (let guard = 0; guard < 1000; guard++) {
    const page = pageEntries(entries, { limit, ...(next === undefined ? {} : { next }) });
    out.push(...page.items);
    if (!page.more) return out;
    next = page.next;
  }
  throw new Error('paging did not end');
}

/** Every page, repeating the query with added_after = the last X-TAXII-Date-Added-Last. */
function byAddedAfter(entries: readonly TaxiiEntry[], filter: TaxiiFilter, limit: number): TaxiiEntry[] {
  const out: TaxiiEntry[] = [];
  let after: string | undefined;
  for (let guard = 0; guard < 1000; guard++) {
    const page = pageEntries(
      filterEntries(entries, { ...filter, ...(after === undefined ? {} : { addedAfter: after }) }),
      { limit },
    );
    out.push(...page.items);
    const last = page.items.at(-1);
    if (last === undefined) return out;
    after = normaliseTimestamp(last.dateAdded);
  }
  throw new Error('paging did not end');
}

describe('orderEntries', () => {
  it('gives every version a distinct date_added, increasing in collection order', () => {
    fc.assert(
      fc.property(arbEntries, (entries) => {
        const ordered = orderEntries(entries);
        expect(ordered).toHaveLength(entries.length);
        for (let i = 1; i < ordered.length; i++) {
          expect(ordered[i]!.dateAdded > ordered[i - 1]!.dateAdded).toBe(true);
        }
        // The stamp keeps the millisecond the node added the version.
        for (const e of ordered) expect(Date.parse(e.dateAdded)).toBe(Date.parse(e.key[0]));
      }),
    );
  });
});

describe('paging', () => {
  it('serves every matching version exactly once by next and by added_after, whatever the limit', () => {
    fc.assert(
      fc.property(arbEntries, arbFilter, fc.integer({ min: 1, max: 7 }), (entries, filter, limit) => {
        const all = filterEntries(orderEntries(entries), filter);
        expect(byNext(all, limit).map(keyOf)).toEqual(all.map(keyOf));
        // added_after is applied before the version filter would change its mind only for 'all'
        // queries; a resuming client asks for every version.
        const every = { ...filter, versions: { kind: 'all' } as const };
        const reference = filterEntries(orderEntries(entries), every);
        expect(byAddedAfter(orderEntries(entries), every, limit).map(keyOf)).toEqual(reference.map(keyOf));
      }),
    );
  });

  it('resumes with added_after across versions added between two pulls, neither missing nor repeating', () => {
    fc.assert(
      fc.property(arbEntries, arbEntries, fc.integer({ min: 1, max: 5 }), (first, later, limit) => {
        const held = new Set(first.map((e) => `${e.object.id}@${e.version}`));
        // Added later: a later millisecond than anything before, as the node's clock moves on.
        const added = later
          .filter((e) => !held.has(`${e.object.id}@${e.version}`))
          .map((e) => ({ ...e, dateAdded: new Date(Date.parse(e.dateAdded) + 10).toISOString() }));
        const all = { versions: { kind: 'all' } as const };
        const before = byAddedAfter(orderEntries(first), all, limit);
        const last = before.at(-1)?.dateAdded;
        const rest = pageAll(orderEntries([...first, ...added]), last, limit);
        const got = [...before, ...rest].map(keyOf);
        expect(new Set(got).size).toBe(got.length);
        expect(new Set(got)).toEqual(new Set([...first, ...added].map((e) => `${e.object.id}@${e.version}`)));
      }),
    );
  });

  it('starts after the cursor even when the entry it names is gone', () => {
    const entries = orderEntries(
      [0, 1, 2, 3].map((n) =>
        entryOf({ type: 'indicator', id: IDS[n] as string }, '', new Date(BASE + n).toISOString()),
      ),
    );
    const first = pageEntries(entries, { limit: 2 });
    expect(first.more).toBe(true);
    const without = entries.filter((e) => e.id !== IDS[1]);
    const second = pageEntries(without, { limit: 2, next: first.next as string });
    expect(second.items.map((e) => e.id)).toEqual([IDS[2], IDS[3]]);
    expect(second.more).toBe(false);
    expect(second.next).toBeUndefined();
  });

  it('refuses a cursor it did not give', () => {
    for (const next of [
      '%%%',
      Buffer.from('[1,2,3]').toString('base64url'),
      Buffer.from('{}').toString('base64url'),
    ]) {
      expect(() => pageEntries([], { limit: 1, next })).toThrow(AccordError);
    }
  });
});

function pageAll(entries: readonly TaxiiEntry[], after: string | undefined, limit: number): TaxiiEntry[] {
  return byAddedAfter(
    after === undefined ? entries : entries.filter((e) => e.dateAdded > after),
    { versions: { kind: 'all' } },
    limit,
  );
}

describe('filterEntries', () => {
  const v = (m: number) => new Date(BASE - m * 60_000).toISOString();
  const entries = orderEntries(
    [v(3), v(2), v(1)].map((version, n) =>
      entryOf(
        { type: 'indicator', id: IDS[0] as string, modified: version },
        version,
        new Date(BASE + n).toISOString(),
      ),
    ),
  );

  it('keeps the latest, the earliest, all, or the named versions (§3.4.4)', () => {
    expect(filterEntries(entries, { versions: { kind: 'last' } }).map((e) => e.version)).toEqual([v(1)]);
    expect(filterEntries(entries, { versions: { kind: 'first' } }).map((e) => e.version)).toEqual([v(3)]);
    expect(filterEntries(entries, { versions: { kind: 'all' } })).toHaveLength(3);
    const named = parseVersionMatch(`${v(2)},${v(3)}`, { kind: 'last' });
    expect(filterEntries(entries, { versions: named }).map((e) => e.version)).toEqual([v(3), v(2)]);
  });

  it('applies added_after strictly, to the unique date_added', () => {
    const after = normaliseTimestamp(entries[0]!.dateAdded);
    expect(filterEntries(entries, { versions: { kind: 'all' }, addedAfter: after })).toHaveLength(2);
  });
});

describe('normaliseTimestamp', () => {
  it('reads RFC 3339 with any precision and zone as a 9-digit UTC stamp', () => {
    expect(normaliseTimestamp('2026-11-26T12:00:00Z')).toBe('2026-11-26T12:00:00.000000000Z');
    expect(normaliseTimestamp('2026-11-26T13:00:00.5+01:00')).toBe('2026-11-26T12:00:00.500000000Z');
    expect(normaliseTimestamp('2026-11-26T12:00:00.123456789123Z')).toBe('2026-11-26T12:00:00.123456789Z');
  });

  it('refuses what is not a timestamp', () => {
    for (const bad of ['yesterday', '2026-11-26', '2026-13-40T12:00:00Z', '']) {
      expect(() => normaliseTimestamp(bad)).toThrow(/added_after/);
    }
  });
});

describe('parseLimit', () => {
  it('defaults to 100, caps at 1000 and refuses what is not a positive integer', () => {
    expect(parseLimit(undefined)).toBe(100);
    expect(parseLimit('5000')).toBe(1000);
    for (const bad of ['0', '-1', '1.5', 'ten', '']) expect(() => parseLimit(bad)).toThrow(/limit/);
  });
});
