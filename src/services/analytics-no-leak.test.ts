import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arbLabel, makeLabel } from '../../test/fixtures/label-arbitraries.js';
import { arbReader } from '../../test/fixtures/policy-arbitraries.js';
import {
  clusterNearDuplicates,
  extractEntities,
  queryTermsOf,
  rankBySimilarity,
  shinglesOf,
  termCountsOf,
} from '../analytics/index.js';
import { isAccordError } from '../errors/index.js';
import { DEFAULT_REGISTRY, type Label, nominalRank, renderBanner } from '../markings/index.js';
import { decideRead, type Reader } from '../policy/index.js';
import { type ProductDocument, parseProduct } from '../products/index.js';
import { openStore, type Store, type User } from '../store/index.js';
import type { Actor } from './actor.js';
import { CorrelationService } from './correlation-service.js';
import { ProductService } from './product-service.js';
import { ReceivedService } from './received-service.js';
import { SearchService } from './search-service.js';
import { QUERY_TERMS, SHINGLE_WORDS, SimilarityService } from './similarity-service.js';

// Issue 9, the no-leak properties of correlation and search. Over generated products (portions with
// generated labels, each mentioning some indicators from a small pool so that links are common),
// generated readers and a generated subject: the related list equals a reference computed from
// decideRead alone (a link only where the reader may read the portion holding the entity in both
// products), and it is the same whether or not products the reader cannot read share the entity.

const NOW = Date.parse('2026-11-26T12:00:00.000Z');
const POOL = ['203.0.113.1', '203.0.113.2', 'evil.example.com', 'CVE-2024-3400'];

interface PortionSpec {
  readonly label: Label;
  readonly mentions: readonly string[];
}
interface ProductSpec {
  readonly portions: readonly PortionSpec[];
  readonly submitted: boolean;
}

// Generated labels are mostly unreadable to a generated reader; common markings keep links frequent.
const COMMON_MARKINGS = ['U', 'C//REL TO USA, GBR', 'S//REL TO USA, GBR, CAN', 'S//NOFORN', 'R//REL TO FVEY'];
const arbPortion: fc.Arbitrary<PortionSpec> = fc.record({
  label: fc.oneof(
    { weight: 1, arbitrary: arbLabel({ scheme: 'COMMON' }) },
    { weight: 2, arbitrary: fc.constantFrom(...COMMON_MARKINGS.map(makeLabel)) },
  ),
  mentions: fc.subarray(POOL, { minLength: 1 }),
});
const arbProductSpec: fc.Arbitrary<ProductSpec> = fc.record({
  portions: fc.array(arbPortion, { minLength: 1, maxLength: 3 }),
  submitted: fc.boolean(),
});

function documentOf(id: string, spec: ProductSpec, originator = 'USA'): ProductDocument {
  return {
    id,
    version: 1,
    originator,
    author: 'author.usa',
    title: `Report ${id}`,
    titleMarking: 'U',
    discipline: 'SIGINT',
    categories: ['cyber'],
    portions: spec.portions.map((p, i) => ({
      id: `p${i + 1}`,
      marking: renderBanner(p.label, { registry: DEFAULT_REGISTRY }),
      text: `Seen ${p.mentions.join(' and ')} today.`,
    })),
    reliability: 'B',
    credibility: 2,
    createdAt: new Date(NOW).toISOString(),
  };
}

async function put(
  store: Store,
  id: string,
  spec: ProductSpec,
  originator = 'USA',
): Promise<ProductDocument> {
  const document = documentOf(id, spec, originator);
  const product = parseProduct(document, DEFAULT_REGISTRY);
  const portionRanks = Object.fromEntries(
    product.portions.map((p) => [p.id, nominalRank(DEFAULT_REGISTRY, p.label.classification) ?? 4]),
  );
  await store.products.createDraft({
    document,
    banner: renderBanner(product.banner, { registry: DEFAULT_REGISTRY }),
    rank: nominalRank(DEFAULT_REGISTRY, product.banner.classification) ?? 4,
    portionRanks,
  });
  if (spec.submitted) await store.products.setState(id, 'submitted');
  return document;
}

/** The reference: what decideRead lets the reader see of a stored document, as entity keys per portion. */
function readableEntities(
  document: ProductDocument,
  submitted: boolean,
  reader: Reader,
): Set<string> | undefined {
  // A draft is its author's alone; the generated readers never wrote one.
  if (!submitted) return undefined;
  const decision = decideRead(parseProduct(document, DEFAULT_REGISTRY), reader, {
    at: NOW,
    registry: DEFAULT_REGISTRY,
  });
  if (decision.effect === 'deny' || decision.derived === null) return undefined;
  const found = extractEntities(
    decision.derived.portions.map((p) => ({ id: p.id, text: p.text, label: p.label })),
  );
  return new Set(found.map((e) => `${e.type}:${e.value}`));
}

/** The ids of the portions decideRead lets the reader see. */
function readablePortions(document: ProductDocument, submitted: boolean, reader: Reader): Set<string> {
  if (!submitted) return new Set();
  const decision = decideRead(parseProduct(document, DEFAULT_REGISTRY), reader, {
    at: NOW,
    registry: DEFAULT_REGISTRY,
  });
  return new Set(decision.derived?.portions.map((p) => p.id) ?? []);
}

function actorOf(reader: Reader): Actor {
  const user: User = {
    id: reader.id,
    username: reader.id,
    displayName: reader.id,
    nationality: reader.nationality,
    clearance: reader.clearance,
    caveats: reader.caveats,
    communities: reader.communities,
    roles: ['analyst'],
    passwordHash: null,
    disabled: false,
    createdAt: new Date(NOW).toISOString(),
  };
  return { user, via: 'local' };
}

async function withServices<T>(
  work: (
    store: Store,
    correlation: CorrelationService,
    search: SearchService,
    similarity: SimilarityService,
  ) => Promise<T>,
): Promise<T> {
  const store = await openStore({ kind: 'sqlite', file: ':memory:' });
  try {
    const deps = { store, partner: 'USA', registry: DEFAULT_REGISTRY, now: () => NOW };
    const products = new ProductService(deps);
    const received = new ReceivedService(deps);
    const correlation = new CorrelationService({ store, products, received });
    return await work(
      store,
      correlation,
      new SearchService({ store, correlation }),
      new SimilarityService({ store, correlation }),
    );
  } finally {
    await store.close();
  }
}

/** related() as plain data, or 'not-found' where it answers NOT_FOUND. */
async function relatedOf(correlation: CorrelationService, actor: Actor, id: string) {
  try {
    const items = await correlation.related(actor, 'own', id);
    return items.map((r) => ({ id: r.id, shared: r.shared.map((s) => `${s.type}:${s.value}`) }));
  } catch (error) {
    if (isAccordError(error) && error.code === 'NOT_FOUND') return 'not-found' as const;
    throw error;
  }
}

describe('CorrelationService.related', () => {
  it('links two products only where the reader may read the portion holding the entity in both', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(arbProductSpec, { minLength: 2, maxLength: 5 }),
        arbReader(),
        fc.nat(),
        async (specs, reader, pick) =>
          withServices(async (store, correlation) => {
            const documents: ProductDocument[] = [];
            for (const [i, spec] of specs.entries()) documents.push(await put(store, `prod-${i}`, spec));
            const subject = pick % specs.length;
            const seen = documents.map((d, i) => readableEntities(d, specs[i]?.submitted ?? false, reader));
            const mine = seen[subject];
            const expected =
              mine === undefined
                ? 'not-found'
                : documents
                    .map((d, i) => ({
                      id: d.id,
                      shared: i === subject ? [] : [...(seen[i] ?? [])].filter((k) => mine.has(k)).sort(),
                    }))
                    .filter((r) => r.shared.length > 0)
                    .sort((a, b) => b.shared.length - a.shared.length || a.id.localeCompare(b.id));
            const actual = await relatedOf(correlation, actorOf(reader), `prod-${subject}`);
            expect(actual).toEqual(expected);
          }),
      ),
      { numRuns: 60 },
    );
  });

  it('answers the same whether or not products the reader cannot read share the entities', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(arbProductSpec, { minLength: 1, maxLength: 4 }),
        fc.array(arbProductSpec, { minLength: 1, maxLength: 4 }),
        arbReader(),
        fc.nat(),
        async (specs, hiddenSpecs, reader, pick) =>
          withServices(async (store, correlation) => {
            for (const [i, spec] of specs.entries()) await put(store, `prod-${i}`, spec);
            const actor = actorOf(reader);
            const subject = `prod-${pick % specs.length}`;
            const before = await relatedOf(correlation, actor, subject);
            // Products holding the same indicators only in portions this reader may not read:
            // products they cannot read at all, drafts of others, and products they may read
            // in part (what they may read there names something else).
            for (const [i, spec] of hiddenSpecs.entries()) {
              const visible = readablePortions(documentOf(`hidden-${i}`, spec), spec.submitted, reader);
              await put(store, `hidden-${i}`, {
                ...spec,
                portions: spec.portions.map((p, j) =>
                  visible.has(`p${j + 1}`) ? { ...p, mentions: ['unrelated.example.org'] } : p,
                ),
              });
            }
            expect(await relatedOf(correlation, actor, subject)).toEqual(before);
          }),
      ),
      { numRuns: 60 },
    );
  });
});

/** search() as plain data. */
async function searchOf(
  search: SearchService,
  actor: Actor,
  q: string,
  page: { limit?: number; offset?: number } = {},
) {
  const { items, total } = await search.search(actor, { q, ...page });
  return { total, items: items.map((r) => ({ id: r.id, matched: r.matched })) };
}

describe('SearchService.search', () => {
  it('finds a word only in what the reader may read, and counts, ranks and pages only that', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(arbProductSpec, { minLength: 1, maxLength: 6 }),
        arbReader(),
        fc.constantFrom(...POOL),
        fc.integer({ min: 1, max: 3 }),
        async (specs, reader, q, limit) =>
          withServices(async (store, _correlation, search) => {
            const expected: { id: string; matched: string[] }[] = [];
            for (const [i, spec] of specs.entries()) {
              const document = await put(store, `prod-${i}`, spec);
              const visible = readablePortions(document, spec.submitted, reader);
              const matched = spec.portions
                .map((p, j) => ({ id: `p${j + 1}`, p }))
                .filter(({ id, p }) => visible.has(id) && p.mentions.includes(q))
                .map(({ id }) => id);
              if (matched.length > 0) expected.push({ id: document.id, matched });
            }
            expected.sort((a, b) => b.matched.length - a.matched.length || a.id.localeCompare(b.id));
            const actor = actorOf(reader);
            expect(await searchOf(search, actor, q)).toEqual({ total: expected.length, items: expected });
            expect(await searchOf(search, actor, q, { limit, offset: 1 })).toEqual({
              total: expected.length,
              items: expected.slice(1, 1 + limit),
            });
          }),
      ),
      { numRuns: 60 },
    );
  });

  it('answers the same whether or not products the reader cannot read hold the words', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(arbProductSpec, { minLength: 1, maxLength: 4 }),
        fc.array(arbProductSpec, { minLength: 1, maxLength: 4 }),
        arbReader(),
        fc.constantFrom(...POOL),
        async (specs, hiddenSpecs, reader, q) =>
          withServices(async (store, _correlation, search) => {
            for (const [i, spec] of specs.entries()) await put(store, `prod-${i}`, spec);
            const actor = actorOf(reader);
            const before = await searchOf(search, actor, q, { limit: 2 });
            for (const [i, spec] of hiddenSpecs.entries()) {
              const visible = readablePortions(documentOf(`hidden-${i}`, spec), spec.submitted, reader);
              await put(store, `hidden-${i}`, {
                ...spec,
                portions: spec.portions.map((p, j) =>
                  visible.has(`p${j + 1}`) ? { ...p, mentions: ['unrelated.example.org'] } : p,
                ),
              });
            }
            expect(await searchOf(search, actor, q, { limit: 2 })).toEqual(before);
          }),
      ),
      { numRuns: 60 },
    );
  });
});

// ---------------------------------------------------------------- related by text, near-duplicates

const ORIGINATORS = ['USA', 'GBR', 'CAN'] as const;

/** The texts decideRead lets the reader see: the title unless withheld, then the readable portions. */
function readableTexts(
  document: ProductDocument,
  submitted: boolean,
  reader: Reader,
): { title: string; portions: string[] } | undefined {
  if (!submitted) return undefined;
  const decision = decideRead(parseProduct(document, DEFAULT_REGISTRY), reader, {
    at: NOW,
    registry: DEFAULT_REGISTRY,
  });
  if (decision.effect === 'deny' || decision.derived === null) return undefined;
  const derived = decision.derived;
  return { title: derived.titleWithheld ? '' : derived.title, portions: derived.portions.map((p) => p.text) };
}

/**
 * Products the reader may not read a word of that matters: every portion they may not read keeps
 * the shared indicators, and whatever they may read (the title, some portions) is rewritten into
 * words of its own, shared with nothing else.
 */
async function putHidden(
  store: Store,
  specs: readonly ProductSpec[],
  originators: readonly string[],
  reader: Reader,
): Promise<void> {
  for (const [i, spec] of specs.entries()) {
    const id = `hidden-${i}`;
    const originator = originators[i % originators.length] ?? 'USA';
    const visible = readablePortions(documentOf(id, spec, originator), spec.submitted, reader);
    const own = `xenon${i} quartz${i} lumen${i} ferric${i}`;
    const document = {
      ...documentOf(id, spec, originator),
      title: `Kappa${i} ${own}`,
      portions: spec.portions.map((p, j) => ({
        id: `p${j + 1}`,
        marking: renderBanner(p.label, { registry: DEFAULT_REGISTRY }),
        text: visible.has(`p${j + 1}`) ? own : `Seen ${p.mentions.join(' and ')} today.`,
      })),
    };
    const product = parseProduct(document, DEFAULT_REGISTRY);
    await store.products.createDraft({
      document,
      banner: renderBanner(product.banner, { registry: DEFAULT_REGISTRY }),
      rank: nominalRank(DEFAULT_REGISTRY, product.banner.classification) ?? 4,
      portionRanks: Object.fromEntries(
        product.portions.map((p) => [p.id, nominalRank(DEFAULT_REGISTRY, p.label.classification) ?? 4]),
      ),
    });
    if (spec.submitted) await store.products.setState(id, 'submitted');
  }
}

/** similar() as plain data, or 'not-found'. */
async function similarOf(similarity: SimilarityService, actor: Actor, id: string) {
  try {
    return (await similarity.similar(actor, 'own', id)).map((r) => ({
      id: r.id,
      score: r.score,
      terms: r.terms,
    }));
  } catch (error) {
    if (isAccordError(error) && error.code === 'NOT_FOUND') return 'not-found' as const;
    throw error;
  }
}

/** duplicates() as plain data: each cluster's product ids and partners. */
async function duplicatesOf(similarity: SimilarityService, actor: Actor, threshold: number) {
  return (await similarity.duplicates(actor, { threshold })).map((c) => ({
    ids: c.products.map((p) => p.id),
    partners: c.partners,
    similarity: c.similarity,
  }));
}

const arbOriginators = fc.array(fc.constantFrom(...ORIGINATORS), { minLength: 1, maxLength: 6 });

describe('SimilarityService.similar', () => {
  it('ranks by TF-IDF over what the reader may read, with frequencies counted over that alone', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(arbProductSpec, { minLength: 2, maxLength: 5 }),
        arbReader(),
        fc.nat(),
        async (specs, reader, pick) =>
          withServices(async (store, _correlation, _search, similarity) => {
            const texts = [];
            for (const [i, spec] of specs.entries()) {
              const document = await put(store, `prod-${i}`, spec);
              texts.push(readableTexts(document, spec.submitted, reader));
            }
            const subject = pick % specs.length;
            const mine = texts[subject];
            let expected: Awaited<ReturnType<typeof similarOf>> = 'not-found';
            if (mine !== undefined) {
              const counts = termCountsOf([mine.title, ...mine.portions]);
              const others = texts.flatMap((t, i) =>
                t === undefined || i === subject
                  ? []
                  : [{ key: `own:prod-${i}`, counts: termCountsOf([t.title, ...t.portions]) }],
              );
              expected = rankBySimilarity(
                { key: `own:prod-${subject}`, counts },
                others,
                queryTermsOf(counts, QUERY_TERMS),
                20,
              ).map((r) => ({
                id: r.key.slice('own:'.length),
                score: Math.round(r.score * 10_000) / 10_000,
                terms: r.terms,
              }));
            }
            expect(await similarOf(similarity, actorOf(reader), `prod-${subject}`)).toEqual(expected);
          }),
      ),
      { numRuns: 60 },
    );
  });

  it('answers the same whether or not products the reader cannot read hold the same words', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(arbProductSpec, { minLength: 1, maxLength: 4 }),
        fc.array(arbProductSpec, { minLength: 1, maxLength: 4 }),
        arbOriginators,
        arbReader(),
        fc.nat(),
        async (specs, hiddenSpecs, originators, reader, pick) =>
          withServices(async (store, _correlation, _search, similarity) => {
            for (const [i, spec] of specs.entries()) await put(store, `prod-${i}`, spec);
            const actor = actorOf(reader);
            const subject = `prod-${pick % specs.length}`;
            const before = await similarOf(similarity, actor, subject);
            await putHidden(store, hiddenSpecs, originators, reader);
            expect(await similarOf(similarity, actor, subject)).toEqual(before);
          }),
      ),
      { numRuns: 60 },
    );
  });

  it('never relates a product whose only shared text is in a portion the reader may not read', async () => {
    await withServices(async (store, _correlation, _search, similarity) => {
      const unclassified = makeLabel('U');
      await put(store, 'subject', {
        submitted: true,
        portions: [{ label: unclassified, mentions: ['evil.example.com'] }],
      });
      const twin = {
        ...documentOf('twin', { submitted: true, portions: [] }),
        title: 'Zeta',
        portions: [
          { id: 'p1', marking: 'U', text: 'Nothing alike.' },
          { id: 'p2', marking: 'S//NOFORN', text: 'Report subject: Seen evil.example.com today.' },
        ],
      };
      const product = parseProduct(twin, DEFAULT_REGISTRY);
      await store.products.createDraft({
        document: twin,
        banner: renderBanner(product.banner, { registry: DEFAULT_REGISTRY }),
        rank: 3,
        portionRanks: { p1: 0, p2: 3 },
      });
      await store.products.setState('twin', 'submitted');
      const gbr = actorOf({
        id: 'gbr',
        nationality: 'GBR',
        clearance: 'SECRET',
        caveats: [],
        communities: [],
      });
      const usa = actorOf({
        id: 'usa',
        nationality: 'USA',
        clearance: 'SECRET',
        caveats: [],
        communities: [],
      });
      expect(await similarOf(similarity, gbr, 'subject')).toEqual([]);
      expect((await similarOf(similarity, usa, 'subject')) as unknown[]).toHaveLength(1);
    });
  });
});

describe('SimilarityService.duplicates', () => {
  it('clusters across partners exactly as the readable portions alone say', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(arbProductSpec, { minLength: 2, maxLength: 6 }),
        arbOriginators,
        arbReader(),
        fc.constantFrom(0.5, 0.8, 1),
        async (specs, originators, reader, threshold) =>
          withServices(async (store, _correlation, _search, similarity) => {
            const docs = [];
            for (const [i, spec] of specs.entries()) {
              const originator = originators[i % originators.length] ?? 'USA';
              const texts = readableTexts(
                await put(store, `prod-${i}`, spec, originator),
                spec.submitted,
                reader,
              );
              if (texts !== undefined)
                docs.push({
                  key: `own:prod-${i}`,
                  group: originator,
                  shingles: shinglesOf(texts.portions, SHINGLE_WORDS),
                });
            }
            const expected = clusterNearDuplicates(docs, threshold).map((c) => ({
              ids: c.keys.map((k) => k.slice('own:'.length)),
              partners: c.groups,
              similarity: Math.round(c.similarity * 10_000) / 10_000,
            }));
            expect(await duplicatesOf(similarity, actorOf(reader), threshold)).toEqual(expected);
          }),
      ),
      { numRuns: 60 },
    );
  });

  it('answers the same whether or not products the reader cannot read repeat the text', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(arbProductSpec, { minLength: 1, maxLength: 4 }),
        fc.array(arbProductSpec, { minLength: 1, maxLength: 4 }),
        arbOriginators,
        arbReader(),
        async (specs, hiddenSpecs, originators, reader) =>
          withServices(async (store, _correlation, _search, similarity) => {
            for (const [i, spec] of specs.entries())
              await put(store, `prod-${i}`, spec, originators[i % originators.length] ?? 'USA');
            const actor = actorOf(reader);
            const before = await duplicatesOf(similarity, actor, 0.8);
            await putHidden(store, hiddenSpecs, [...originators].reverse(), reader);
            expect(await duplicatesOf(similarity, actor, 0.8)).toEqual(before);
          }),
      ),
      { numRuns: 60 },
    );
  });

  it('never clusters a product whose only repeated text is in a portion the reader may not read', async () => {
    await withServices(async (store, _correlation, _search, similarity) => {
      const spec = { submitted: true, portions: [{ label: makeLabel('U'), mentions: ['evil.example.com'] }] };
      await put(store, 'a', spec, 'GBR');
      const usaOnly = makeLabel('S//REL TO USA, CAN');
      await put(
        store,
        'b',
        { submitted: true, portions: [{ label: usaOnly, mentions: ['evil.example.com'] }] },
        'CAN',
      );
      const gbr = actorOf({
        id: 'gbr',
        nationality: 'GBR',
        clearance: 'SECRET',
        caveats: [],
        communities: [],
      });
      const usa = actorOf({
        id: 'usa',
        nationality: 'USA',
        clearance: 'SECRET',
        caveats: [],
        communities: [],
      });
      expect(await duplicatesOf(similarity, gbr, 0.8)).toEqual([]);
      expect(await duplicatesOf(similarity, usa, 0.8)).toEqual([
        { ids: ['a', 'b'], partners: ['CAN', 'GBR'], similarity: 1 },
      ]);
    });
  });

  it('does not call the same text from one partner a cross-partner cluster', async () => {
    await withServices(async (store, _correlation, _search, similarity) => {
      const spec = { submitted: true, portions: [{ label: makeLabel('U'), mentions: ['evil.example.com'] }] };
      await put(store, 'a', spec, 'GBR');
      await put(store, 'b', spec, 'GBR');
      const reader = actorOf({
        id: 'usa',
        nationality: 'USA',
        clearance: 'SECRET',
        caveats: [],
        communities: [],
      });
      expect(await duplicatesOf(similarity, reader, 0.8)).toEqual([]);
      await put(store, 'c', spec, 'CAN');
      expect(await duplicatesOf(similarity, reader, 0.8)).toEqual([
        { ids: ['a', 'b', 'c'], partners: ['CAN', 'GBR'], similarity: 1 },
      ]);
    });
  });
});
