import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  clusterNearDuplicates,
  jaccard,
  queryTermsOf,
  rankBySimilarity,
  type ShingledDocument,
  shinglesOf,
  termCountsOf,
  termsOf,
} from './text-similarity.js';

describe('termsOf', () => {
  it('lower-cases Unicode words and drops stop words and single characters', () => {
    expect(termsOf('The Café at Zürich: a relay, 203.0.113.7 and ÉTÉ')).toEqual([
      'café',
      'zürich',
      'relay',
      '203',
      '113',
      'été',
    ]);
    // A decomposed é (e + U+0301) is the same term as the composed one.
    expect(termsOf('Cafe\u0301')).toEqual(['café']);
  });

  it('keeps words of any script', () => {
    expect(termsOf('Москва и 北京 Δέλτα')).toEqual(['москва', '北京', 'δέλτα']);
  });
});

describe('queryTermsOf', () => {
  it('picks the most frequent terms, longer first among equals, then alphabetical', () => {
    const counts = termCountsOf(['relay relay beacon zulu alpha', 'relay alpha']);
    expect(queryTermsOf(counts, 3)).toEqual(['relay', 'alpha', 'beacon']);
  });
});

describe('rankBySimilarity', () => {
  const doc = (key: string, ...texts: string[]) => ({ key, counts: termCountsOf(texts) });

  it('ranks by cosine, ties by key, and drops documents without a query term', () => {
    const subject = doc('s', 'hawala network moving funds through Dubai');
    const ranked = rankBySimilarity(
      subject,
      [
        doc('b', 'hawala network moving funds through Dubai'),
        doc('a', 'hawala network moving funds through Dubai'),
        doc('c', 'weather report for Dubai'),
        doc('d', 'nothing in common here'),
      ],
      queryTermsOf(subject.counts, 64),
      10,
    );
    expect(ranked.map((r) => r.key)).toEqual(['a', 'b', 'c']);
    expect(ranked[0]?.score).toBeCloseTo(1, 12);
    expect(ranked[2]?.terms).toEqual(['dubai']);
    expect(ranked[2]?.score).toBeLessThan(0.5);
  });

  it('gives each document a score in (0, 1], symmetric in the pair', () => {
    const arbText = fc
      .array(fc.constantFrom('relay', 'beacon', 'dubai', 'funds', 'cyber', 'port'), {
        minLength: 1,
        maxLength: 8,
      })
      .map((w) => w.join(' '));
    fc.assert(
      fc.property(arbText, arbText, (a, b) => {
        const da = doc('a', a);
        const db = doc('b', b);
        const ab = rankBySimilarity(da, [db], [...da.counts.keys()], 1)[0];
        const ba = rankBySimilarity(db, [da], [...db.counts.keys()], 1)[0];
        expect(ab === undefined).toBe(ba === undefined);
        if (ab === undefined || ba === undefined) return;
        expect(ab.score).toBeCloseTo(ba.score, 12);
        expect(ab.score > 0 && ab.score <= 1).toBe(true);
      }),
    );
  });
});

describe('clusterNearDuplicates', () => {
  const arbWords = fc.array(fc.constantFrom('relay', 'beacon', 'dubai', 'funds', 'cyber', 'port', 'ship'), {
    minLength: 1,
    maxLength: 10,
  });

  /** Brute force: every pair, connected components, at least two groups. */
  function reference(docs: ShingledDocument[], threshold: number): string[][] {
    const live = docs.filter((d) => d.shingles.size > 0);
    const component = new Map(live.map((d) => [d.key, d.key]));
    const rootOf = (k: string): string => {
      const up = component.get(k) as string;
      return up === k ? k : rootOf(up);
    };
    for (const a of live)
      for (const b of live)
        if (a.key < b.key && jaccard(a.shingles, b.shingles) >= threshold)
          component.set(rootOf(a.key), rootOf(b.key));
    const groups = new Map<string, ShingledDocument[]>();
    for (const d of live) groups.set(rootOf(d.key), [...(groups.get(rootOf(d.key)) ?? []), d]);
    return [...groups.values()]
      .filter((members) => members.length > 1 && new Set(members.map((m) => m.group)).size > 1)
      .map((members) => members.map((m) => m.key).sort())
      .sort((a, b) => b.length - a.length || (a[0] as string).localeCompare(b[0] as string));
  }

  it('finds exactly the clusters an all-pairs comparison finds (the prefix filter misses no pair)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ words: arbWords, group: fc.constantFrom('USA', 'GBR', 'CAN') }), {
          maxLength: 12,
        }),
        fc.constantFrom(0.5, 0.6, 0.7, 0.75, 0.8, 0.9, 1),
        fc.constantFrom(1, 2, 3),
        (specs, threshold, k) => {
          const docs = specs.map((s, i) => ({
            key: `d${String(i).padStart(2, '0')}`,
            group: s.group,
            shingles: shinglesOf([s.words.join(' ')], k),
          }));
          expect(clusterNearDuplicates(docs, threshold).map((c) => c.keys)).toEqual(
            reference(docs, threshold),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('does not cluster the same text from one group alone', () => {
    const text = 'the relay at port beacon moved funds to the ship';
    const docs = ['a', 'b', 'c'].map((key) => ({ key, group: 'USA', shingles: shinglesOf([text]) }));
    expect(clusterNearDuplicates(docs, 0.8)).toEqual([]);
    const clusters = clusterNearDuplicates(
      [...docs, { key: 'd', group: 'GBR', shingles: shinglesOf([text]) }],
      0.8,
    );
    expect(clusters).toEqual([{ keys: ['a', 'b', 'c', 'd'], groups: ['GBR', 'USA'], similarity: 1 }]);
  });
});
