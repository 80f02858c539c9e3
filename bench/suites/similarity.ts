// Issue 9: related products by text (TF-IDF cosine over what the caller may read) with N products
// held (SQLite; ACCORD_BENCH_SIMILAR_PRODUCTS, 2,000 by default: every candidate is read as the
// caller, so this is an on-demand query, and a million would take minutes a query). Each product
// has a readable portion (C//REL TO USA, GBR) of 40 words and a TOP SECRET one of 20, drawn from a
// 3,000-word vocabulary with a skewed (cubic) frequency, so some words are in most reports, as in
// life. The reader is a GBR analyst cleared to SECRET. The ceiling is what the figure cannot do
// without: finding the same candidates in the index and reading each as the caller.

import { queryTermsOf, termCountsOf } from '../../src/analytics/index.js';
import { DEFAULT_REGISTRY, renderBanner } from '../../src/markings/index.js';
import { parseProduct } from '../../src/products/index.js';
import { CorrelationService } from '../../src/services/correlation-service.js';
import { ProductService } from '../../src/services/product-service.js';
import { ReceivedService } from '../../src/services/received-service.js';
import { QUERY_TERMS, SimilarityService } from '../../src/services/similarity-service.js';
import { openStore } from '../../src/store/index.js';
import { benchReader } from '../bench-store.js';
import type { AsyncBenchCase, Suite } from '../harness.js';

const PRODUCTS = Number(process.env.ACCORD_BENCH_SIMILAR_PRODUCTS ?? 2_000);
const AT = '2026-11-26T12:00:00.000Z';
const VOCABULARY = Array.from({ length: 3_000 }, (_, i) => `w${i.toString(36)}z`);

/** A fixed linear congruential sequence, so every run seeds the same corpus. */
function wordsFrom(seed: number): () => string {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return VOCABULARY[Math.floor(VOCABULARY.length * (state / 2_147_483_648) ** 3)] as string;
  };
}

const similarCase: AsyncBenchCase = {
  name: `similar-by-text queries/s through the read policy, ${PRODUCTS.toLocaleString('en')} products held (SQLite)`,
  ceiling: 'finding and reading the same candidates as the caller',
  latencySamples: 20,
  latencyMaxMs: 60_000,
  setupAsync: async () => {
    const store = await openStore({ kind: 'sqlite', file: ':memory:' });
    const word = wordsFrom(7);
    const words = (n: number) => Array.from({ length: n }, word).join(' ');
    for (let i = 0; i < PRODUCTS; i++) {
      const document = {
        id: `bench-${i}`,
        version: 1,
        originator: ['USA', 'GBR', 'CAN'][i % 3] as string,
        author: 'bench',
        title: `Report ${i}`,
        titleMarking: 'U',
        discipline: 'SIGINT' as const,
        categories: ['cyber'],
        portions: [
          { id: 'p1', marking: 'C//REL TO USA, GBR', text: words(40) },
          { id: 'p2', marking: 'TS//NOFORN', text: words(20) },
        ],
        reliability: 'B' as const,
        credibility: 2,
        createdAt: AT,
      };
      const product = parseProduct(document, DEFAULT_REGISTRY);
      await store.products.createDraft({
        document,
        banner: renderBanner(product.banner, { registry: DEFAULT_REGISTRY }),
        rank: 4,
        portionRanks: { p1: 2, p2: 4 },
      });
      await store.products.setState(document.id, 'submitted');
    }
    const deps = { store, partner: 'USA', registry: DEFAULT_REGISTRY, now: () => Date.parse(AT) };
    const correlation = new CorrelationService({
      store,
      products: new ProductService(deps),
      received: new ReceivedService(deps),
    });
    const similarity = new SimilarityService({ store, correlation });
    const actor = { user: benchReader(AT), via: 'local' as const };
    const subject = (i: number) => `bench-${(i * 7919) % PRODUCTS}`;
    return {
      run: async (i) => (await similarity.similar(actor, 'own', subject(i))).length,
      ceiling: async (i) => {
        const seen = await correlation.readable(actor, 'own', subject(i));
        if (seen === undefined) return 0;
        const query = queryTermsOf(termCountsOf([seen.title, ...seen.portionTexts]), QUERY_TERMS);
        let read = 0;
        for (const ref of await store.search.holdingAny(query)) {
          if ((await correlation.readable(actor, ref.source, ref.productId)) !== undefined) read++;
        }
        return read;
      },
      close: async () => {
        await store.close();
      },
    };
  },
};

export const similaritySuite: Suite = { name: 'similarity', cases: [similarCase] };
