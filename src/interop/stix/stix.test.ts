import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arbProduct, arbReleaseCase } from '../../../test/fixtures/policy-arbitraries.js';
import { sharedData } from '../../../test/fixtures/shared-data.js';
import { DEMO_PARTNERS, demoProducts } from '../../demo/seed-data.js';
import { AccordError } from '../../errors/index.js';
import { DEFAULT_REGISTRY, parseMarking } from '../../markings/index.js';
import { compileArrangement, decideRelease, tearProduct } from '../../policy/index.js';
import { type Product, parseProduct } from '../../products/index.js';
import {
  checkStixObject,
  labelOfMarkingRefs,
  markingsOfLabel,
  parseStixObjects,
  productToStix,
  type StixObject,
  statementMarkingId,
  TLP2_MARKING_IDS,
  uuidV5,
} from './index.js';
import { loadOasisValidator } from './oasis-schemas.js';

const DATA = sharedData();
const oasis = loadOasisValidator(join(DATA, 'stix2.1-schemas'));
if (oasis === undefined)
  console.warn(`[skip] OASIS STIX schemas not found under ${DATA}; schema tests skipped`);
const withSchemas = oasis === undefined ? it.skip : it;
const AT = Date.parse('2026-11-26T12:00:00.000Z');

function demoCorpus(): Product[] {
  return DEMO_PARTNERS.flatMap(({ code }) =>
    demoProducts(12, code).map((draft, i) =>
      parseProduct({
        ...draft,
        id: `${code}-2026-demo${i}`,
        version: 1 + (i % 3),
        originator: code,
        author: 'analyst',
        portions: draft.portions.map((p, j) => ({ id: `p${j + 1}`, marking: p.marking, text: p.text })),
        createdAt: new Date(AT - i * 3_600_000).toISOString(),
      }),
    ),
  );
}

function exportWhole(product: Product): StixObject[] {
  return productToStix({
    product: tearProduct(product, product.portions, true, DEFAULT_REGISTRY, AT),
    created: '2026-01-01T00:00:00.000Z',
    modified: product.createdAt < '2026-01-01' ? '2026-01-01T00:00:00.000Z' : product.createdAt,
    registry: DEFAULT_REGISTRY,
  });
}

/** Every object valid for its type's OASIS schema and for our own import checks; selectors resolve. */
function expectConformant(objects: readonly StixObject[]): void {
  for (const object of objects) {
    expect(oasis?.errorsOf(object), `${object.id}`).toEqual([]);
    expect(() => checkStixObject(object, '')).not.toThrow();
  }
  const ids = new Set(objects.map((o) => o.id));
  for (const object of objects) {
    for (const ref of (object.object_marking_refs as string[] | undefined) ?? []) expect(ids).toContain(ref);
    for (const ref of (object.object_refs as string[] | undefined) ?? []) expect(ids).toContain(ref);
  }
}

describe('uuidV5', () => {
  it('matches the RFC 9562 appendix A.4 vector', () => {
    expect(uuidV5('www.example.com', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe(
      '2ed6657d-e927-568b-95e1-2665a8aea6a2',
    );
  });
});

describe('markingsOfLabel', () => {
  it('gives one deterministic statement marking per distinct label and the official TLP 2.0 id', () => {
    const label = parseMarking('(S//REL TO USA, GBR//TLP:AMBER)').label;
    const { refs, definitions } = markingsOfLabel(label, DEFAULT_REGISTRY);
    expect(refs).toEqual([statementMarkingId('SECRET//REL TO GBR, USA'), TLP2_MARKING_IDS.AMBER]);
    expect(definitions[0]?.definition).toEqual({ statement: 'SECRET//REL TO GBR, USA' });
    expect(markingsOfLabel(parseMarking('SECRET//REL TO GBR, USA').label, DEFAULT_REGISTRY).refs[0]).toBe(
      refs[0],
    );
    const back = labelOfMarkingRefs(refs, new Map(definitions.map((d) => [d.id, d])), DEFAULT_REGISTRY, {
      ...label,
      classification: { scheme: 'COMMON', level: 'UNCLASSIFIED' },
    });
    expect(back).toEqual(label);
  });

  it('does not take a statement whose id is not the id of its own statement', () => {
    const forged = {
      type: 'marking-definition',
      id: TLP2_MARKING_IDS.RED.replace('e828', 'aaaa'),
      definition: { statement: 'UNCLASSIFIED' },
    };
    const fallback = parseMarking('SECRET').label;
    expect(
      labelOfMarkingRefs([forged.id], new Map([[forged.id, forged]]), DEFAULT_REGISTRY, fallback),
    ).toEqual(fallback);
  });
});

describe('productToStix', () => {
  withSchemas("validates every object of every demo product against its type's OASIS schema", () => {
    const corpus = demoCorpus();
    expect(corpus.length).toBe(60);
    for (const product of corpus) expectConformant(exportWhole(product));
  });

  withSchemas(
    'validates every object of generated products, whole and torn, against the OASIS schemas',
    () => {
      fc.assert(
        fc.property(arbReleaseCase(), (c) => {
          expectConformant(exportWhole(c.product));
          const decision = decideRelease(
            c.product,
            compileArrangement(c.arrangement, DEFAULT_REGISTRY),
            c.recipient,
            {
              at: c.at,
              sender: c.sender,
              consents: c.consents,
            },
          );
          if (decision.derived !== null) {
            expectConformant(
              productToStix({
                product: decision.derived,
                created: c.product.createdAt,
                modified: c.product.createdAt,
                registry: DEFAULT_REGISTRY,
              }),
            );
          }
        }),
        { numRuns: 150 },
      );
    },
  );

  it('maps partner trigraphs to ISO 3166-1 alpha-2 location countries', () => {
    const [product] = demoCorpus().filter((p) => p.originator === 'GBR');
    const objects = exportWhole(product as Product);
    expect(objects.find((o) => o.type === 'location' && o.country !== undefined)?.country).toBe('GB');
  });

  it('never exports a portion the release policy withholds from the recipient (--for PARTNER)', () => {
    fc.assert(
      fc.property(arbReleaseCase(), (c) => {
        const decision = decideRelease(
          c.product,
          compileArrangement(c.arrangement, DEFAULT_REGISTRY),
          c.recipient,
          {
            at: c.at,
            sender: c.sender,
            consents: c.consents,
          },
        );
        if (decision.derived === null) return;
        const objects = productToStix({
          product: decision.derived,
          created: c.product.createdAt,
          modified: c.product.createdAt,
          registry: DEFAULT_REGISTRY,
        });
        const withheld = new Set(decision.withheld.map((w) => w.portionId));
        const exported = objects.filter((o) => o.type === 'note').map((o) => o.x_accord_portion as string);
        for (const id of exported) expect(withheld.has(id)).toBe(false);
        expect(exported.length).toBe(decision.derived.portions.length);
        const texts = new Set(c.product.portions.filter((p) => withheld.has(p.id)).map((p) => p.text));
        const kept = new Set(decision.derived.portions.map((p) => p.text));
        for (const note of objects.filter((o) => o.type === 'note')) {
          if (texts.has(note.content as string)) expect(kept.has(note.content as string)).toBe(true);
        }
        if (decision.derived.titleWithheld) {
          expect(objects.find((o) => o.type === 'report')?.name).not.toBe(c.product.title);
        }
      }),
      { numRuns: 300 },
    );
  });

  withSchemas(
    'exports the indicators and CVEs a portion carries, marked with its label, and none of a withheld portion',
    () => {
      const [draft] = demoProducts(1, 'USA');
      const product = parseProduct({
        ...draft,
        id: 'USA-2026-indicators',
        version: 1,
        originator: 'USA',
        author: 'analyst',
        createdAt: new Date(AT).toISOString(),
        portions: [
          {
            id: 'p1',
            marking: '(U//REL TO USA, GBR)',
            text: 'Beacon to 203.0.113.7 and hxxp://relay[.]example/a/b; exploits CVE-2024-3094; dropper 44d88612fea8a8f36de82e1278abb02f.',
          },
          {
            id: 'p2',
            marking: '(S//NF)',
            text: 'Staging on hidden-staging.org, mail ops@hidden-staging.org.',
          },
        ],
      });
      const objects = exportWhole(product);
      expectConformant(objects);
      const patterns = objects
        .filter((o) => o.type === 'indicator')
        .map((o) => [o.x_accord_portion, o.pattern]);
      expect(patterns).toEqual(
        expect.arrayContaining([
          ['p1', "[ipv4-addr:value = '203.0.113.7']"],
          ['p1', "[url:value = 'http://relay.example/a/b']"],
          ['p1', "[file:hashes.MD5 = '44d88612fea8a8f36de82e1278abb02f']"],
          ['p2', "[domain-name:value = 'hidden-staging.org']"],
          ['p2', "[email-addr:value = 'ops@hidden-staging.org']"],
        ]),
      );
      const cve = objects.find((o) => o.type === 'vulnerability');
      expect(cve).toMatchObject({ name: 'CVE-2024-3094', x_accord_portion: 'p1' });
      // Each carries its own portion's label, not the product's banner.
      const p1Refs = markingsOfLabel(parseMarking('(U//REL TO USA, GBR)').label, DEFAULT_REGISTRY).refs;
      expect(cve?.object_marking_refs).toEqual([...p1Refs]);
      const report = objects.find((o) => o.type === 'report');
      for (const o of objects.filter((x) => x.type === 'indicator' || x.type === 'vulnerability')) {
        expect(report?.object_refs).toContain(o.id);
      }
      // Torn to the first portion: nothing of the second, not even an indicator.
      const torn = productToStix({
        product: tearProduct(product, [product.portions[0]!], true, DEFAULT_REGISTRY, AT),
        created: '2026-01-01T00:00:00.000Z',
        modified: '2026-01-01T00:00:00.000Z',
        registry: DEFAULT_REGISTRY,
      });
      expectConformant(torn);
      expect(JSON.stringify(torn)).not.toContain('hidden-staging');
      expect(torn.filter((o) => o.type === 'indicator').map((o) => o.x_accord_portion)).not.toContain('p2');
    },
  );

  it('is deterministic: the same version gives the same objects', () => {
    fc.assert(
      fc.property(arbProduct(), (product) => {
        expect(exportWhole(product)).toEqual(exportWhole(product));
      }),
      { numRuns: 50 },
    );
  });
});

describe('parseStixObjects', () => {
  it('rejects a missing modified and modified before created with the JSON path', async () => {
    const { readFileSync } = await import('node:fs');
    const read = (name: string) =>
      JSON.parse(readFileSync(join(DATA, 'stix2.1-examples/invalid', name), 'utf8')) as unknown;
    if (oasis === undefined) return;
    const pathOf = (input: unknown) => {
      try {
        parseStixObjects(input);
      } catch (error) {
        if (error instanceof AccordError) return [error.code, error.details.path];
      }
      return undefined;
    };
    expect(pathOf(read('validator-invalid_identity.json'))).toEqual(['STIX_INVALID', '/modified']);
    expect(pathOf(read('validator-invalid_timestamp.json'))).toEqual(['STIX_INVALID', '/modified']);
    const bundle = {
      type: 'bundle',
      id: 'bundle--22b0976c-1b39-442f-ba06-95b961f16be8',
      objects: [read('validator-invalid_identity.json')],
    };
    expect(pathOf(bundle)).toEqual(['STIX_INVALID', '/objects/0/modified']);
  });

  it('rejects a granular selector that names no property', () => {
    const note = {
      type: 'note',
      spec_version: '2.1',
      id: 'note--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061',
      created: '2026-01-01T00:00:00Z',
      modified: '2026-01-01T00:00:00Z',
      content: 'x',
      object_refs: ['report--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061'],
      granular_markings: [{ selectors: ['abstract'], marking_ref: TLP2_MARKING_IDS.RED }],
    };
    expect(() => parseStixObjects([note])).toThrow(
      expect.objectContaining({ details: { path: '/0/granular_markings/0/selectors/0' } }),
    );
  });
});
