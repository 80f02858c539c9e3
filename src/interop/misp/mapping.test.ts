import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { isAccordError } from '../../errors/index.js';
import {
  DEFAULT_REGISTRY,
  dominates,
  labelsEquivalent,
  parseMarking,
  releasabilityOf,
  TLP_LEVELS,
  type Tlp,
} from '../../markings/index.js';
import { parseProduct } from '../../products/index.js';
import {
  loadTaxonomies,
  type MappedEvent,
  type MispMappingOptions,
  mapMispEvent,
  parseMispEvents,
  parseTaxonomy,
  type TaxonomySet,
  taxonomySetOf,
} from './index.js';

const FIXTURES = resolve(import.meta.dirname, '../../../test/fixtures/misp');
let taxonomies: TaxonomySet;

beforeAll(async () => {
  taxonomies = await loadTaxonomies();
});

function options(extra: Partial<MispMappingOptions> = {}): MispMappingOptions {
  return { taxonomies, registry: DEFAULT_REGISTRY, partner: 'GBR', ...extra };
}

function mapFixture(file: string, extra: Partial<MispMappingOptions> = {}): MappedEvent[] {
  const input: unknown = JSON.parse(readFileSync(resolve(FIXTURES, file), 'utf8'));
  return parseMispEvents(input).map((e) => mapMispEvent(e, options(extra)));
}

/** Maps one hand-written event (wrapped as `{"Event": …}`). */
function mapOne(event: Record<string, unknown>, extra: Partial<MispMappingOptions> = {}): MappedEvent {
  const [parsed] = parseMispEvents({
    Event: { uuid: '0b9d8c7e-6f5a-4b3c-8d2e-1f0a9b8c7d6e', info: 'hand-written', ...event },
  });
  return mapMispEvent(parsed!, options(extra));
}

const marks = (m: MappedEvent): string[] => m.draft.portions.map((p) => p.marking);

function expectInvalid(work: () => unknown, ...fragments: string[]): void {
  try {
    work();
  } catch (error) {
    expect(isAccordError(error) && error.code).toBe('INPUT_INVALID');
    for (const fragment of fragments) expect((error as Error).message).toContain(fragment);
    return;
  }
  expect.fail('expected INPUT_INVALID');
}

describe('mapMispEvent', () => {
  it('maps an OSINT event: title, summary, attributes and object attributes as portions', () => {
    const [m] = mapFixture('osint-event.json');
    expect(m!.productId).toBe('GBR-MISP-5e6f2a3b-8c4d-4e1f-9a2b-3c4d5e6f7a8b');
    expect(m!.draft.title).toBe('OSINT - Phishing wave delivering a loader through fake invoice archives');
    expect(m!.draft.reliability).toBe('B');
    expect(m!.draft.credibility).toBe(2);
    expect(m!.draft.discipline).toBe('CYBINT');
    expect(m!.draft.categories).toEqual(['cyber']);
    // The deleted attribute is left out: summary, 3 attributes, 2 object attributes.
    expect(marks(m!)).toEqual([
      '(U//TLP:CLEAR//PAP:GREEN)',
      '(U//TLP:CLEAR//PAP:GREEN)',
      '(U//TLP:GREEN//PAP:GREEN)',
      '(U//TLP:CLEAR//PAP:GREEN)',
      '(U//TLP:CLEAR//PAP:GREEN)',
      '(U//NF//TLP:AMBER//PAP:GREEN)',
    ]);
    expect(m!.draft.titleMarking).toBe('(U//TLP:CLEAR//PAP:GREEN)');
    const [summary, , domain, , , sha] = m!.draft.portions.map((p) => p.text);
    expect(summary).toContain('MISP event 5e6f2a3b-8c4d-4e1f-9a2b-3c4d5e6f7a8b');
    expect(summary).toContain('threat level: 2 (medium)');
    expect(summary).toContain('analysis: 2 (completed)');
    expect(summary).toContain('originator organisation: CIRCL (55f6ea5e-2c60-40e5-964f-47a8950d210f)');
    expect(summary).toContain('date: 2026-03-02');
    // Non-standard tags are kept as metadata, not refused.
    expect(summary).toContain('type:OSINT');
    expect(summary).toContain('misp-galaxy:threat-actor="TA-Example"');
    expect(domain).toBe(
      [
        'domain: invoices-cdn.example.net',
        'comment: Payload host',
        'category: Network activity; to_ids: yes; distribution: 5 (inherit event); uuid: 8b2c3d4e-5f6a-4b7c-9d8e-0f1a2b3c4d5e',
        'tags: tlp:green',
      ].join('\n'),
    );
    expect(sha?.split('\n')[0]).toBe(
      'sha256: 0f3c7a8e2b1d4c5f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b',
    );
    expect(sha).toContain('object: file (1e5f6a7b-8c9d-4eaf-8b1c-3d4e5f6a7b8c), relation sha256');
    expect(sha).toContain('object comment: Loader dropped from the archive');
    expect(m!.draft.portions.map((p) => p.text).join('\n')).not.toContain('deleted attribute');
  });

  it('writes markings the product parser reads back as the labels chosen', () => {
    for (const m of [...mapFixture('osint-event.json'), ...mapFixture('rest-response.json')]) {
      const product = parseProduct(
        {
          ...m.draft,
          id: m.productId,
          version: 1,
          originator: 'GBR',
          author: 'ann',
          createdAt: '2026-04-01T00:00:00Z',
        },
        DEFAULT_REGISTRY,
      );
      product.portions.forEach((p, i) => {
        expect(labelsEquivalent(p.label, m.labels[i]!)).toBe(true);
      });
    }
  });

  it('maps a sharing-group event to NOFORN, and a tlp:red attribute to RED, ORCON and NOFORN', () => {
    const [shared, advisory, orgOnly] = mapFixture('rest-response.json');
    expect(marks(shared!)).toEqual([
      '(U//NF//TLP:AMBER//PAP:AMBER)',
      '(U//NF//TLP:AMBER//PAP:AMBER)',
      '(U//OC/NF//TLP:RED//PAP:RED)',
    ]);
    expect(shared!.draft.portions[0]!.text).toContain(
      'distribution: 4 (sharing group "National CSIRT network" id 7)',
    );
    // Reliability from the event; no credibility tag anywhere: 6, cannot be judged.
    expect(shared!.draft.reliability).toBe('C');
    expect(shared!.draft.credibility).toBe(6);
    expect(marks(advisory!)).toEqual(['(U//TLP:CLEAR)', '(U//TLP:CLEAR)']);
    expect(advisory!.draft.reliability).toBe('F');
    expect(advisory!.draft.credibility).toBe(1);
    // amber+strict and distribution 0 (organisation only): not beyond this partner.
    expect(marks(orgOnly!)).toEqual(['(U//NF//TLP:AMBER+STRICT)', '(U//NF//TLP:AMBER+STRICT)']);
  });

  it('never widens: an attribute tag less restrictive than the event keeps the event label', () => {
    const m = mapOne({
      Tag: [{ name: 'tlp:red' }],
      Attribute: [
        { type: 'domain', value: 'a.example', Tag: [{ name: 'tlp:clear' }, { name: 'PAP:WHITE' }] },
      ],
    });
    expect(marks(m)).toEqual(['(U//OC/NF//TLP:RED)', '(U//OC/NF//TLP:RED//PAP:CLEAR)']);
  });

  it('narrows only the tagged attribute: a tlp:red attribute in a tlp:green event', () => {
    const m = mapOne({
      Tag: [{ name: 'tlp:green' }],
      Attribute: [
        { type: 'domain', value: 'a.example' },
        { type: 'domain', value: 'b.example', Tag: [{ name: 'tlp:red' }] },
      ],
    });
    expect(marks(m)).toEqual(['(U//TLP:GREEN)', '(U//TLP:GREEN)', '(U//OC/NF//TLP:RED)']);
    expect(m.draft.titleMarking).toBe('(U//TLP:GREEN)');
  });

  it('reads TLP 1.0 and 2.0 names and any case: white = clear, TLP:RED is red', () => {
    expect(marks(mapOne({ Tag: [{ name: 'tlp:white' }] }))).toEqual(['(U//TLP:CLEAR)']);
    expect(marks(mapOne({ Tag: [{ name: 'TLP:RED' }] }))).toEqual(['(U//OC/NF//TLP:RED)']);
    expect(marks(mapOne({ Tag: [{ name: 'tlp:amber+strict' }] }))).toEqual(['(U//NF//TLP:AMBER+STRICT)']);
    // unclear is read as red; Chatham House is kept in the text only.
    expect(marks(mapOne({ Tag: [{ name: 'tlp:unclear' }] }))).toEqual(['(U//OC/NF//TLP:RED)']);
    const chr = mapOne({ Tag: [{ name: 'tlp:ex:chr' }] });
    expect(marks(chr)).toEqual(['(U)']);
    expect(chr.draft.portions[0]!.text).toContain('tags: tlp:ex:chr');
  });

  it('takes the most restrictive of two TLP tags on one event', () => {
    expect(marks(mapOne({ Tag: [{ name: 'tlp:green' }, { name: 'tlp:amber' }] }))).toEqual([
      '(U//NF//TLP:AMBER)',
    ]);
  });

  it('defaults a missing admiralty grade to F and 6, and takes the least confident grade given', () => {
    const none = mapOne({ Attribute: [{ type: 'domain', value: 'a.example' }] });
    expect([none.draft.reliability, none.draft.credibility]).toEqual(['F', 6]);
    const mixed = mapOne({
      Tag: [
        { name: 'admiralty-scale:source-reliability="a"' },
        { name: 'admiralty-scale:information-credibility="1"' },
      ],
      Attribute: [
        {
          type: 'domain',
          value: 'a.example',
          Tag: [{ name: 'admiralty-scale:source-reliability="d"' }],
        },
      ],
      Object: [
        {
          name: 'domain-ip',
          Attribute: [
            {
              type: 'ip-dst',
              value: '198.51.100.9',
              Tag: [{ name: 'admiralty-scale:information-credibility="3"' }],
            },
          ],
        },
      ],
    });
    expect([mixed.draft.reliability, mixed.draft.credibility]).toEqual(['D', 3]);
    // g (deliberately deceptive) has no A–F letter: it counts as E, unreliable.
    const deceptive = mapOne({ Tag: [{ name: 'admiralty-scale:source-reliability="g"' }] });
    expect(deceptive.draft.reliability).toBe('E');
  });

  it('maps PAP, NATO classifications and untranslated marking taxonomies conservatively', () => {
    expect(marks(mapOne({ Tag: [{ name: 'PAP:AMBER' }, { name: 'tlp:green' }] }))).toEqual([
      '(U//TLP:GREEN//PAP:AMBER)',
    ]);
    expect(marks(mapOne({ Tag: [{ name: 'nato:classification="NS-A"' }] }))).toEqual(['(NS//ATOMAL)']);
    expect(marks(mapOne({ Tag: [{ name: 'nato:classification="NR"' }] }))).toEqual(['(NR)']);
    const eu = mapOne({ Tag: [{ name: 'euci:S-UE/EU-S' }] });
    expect(marks(eu)).toEqual(['(S//NF)']);
    expect(marks(mapOne({ Tag: [{ name: 'iep:traffic-light-protocol="GREEN"' }] }))).toEqual(['(U//NF)']);
    // `$text` predicates take any value.
    expect(marks(mapOne({ Tag: [{ name: 'iep:reference="https://example.org/policy"' }] }))).toEqual([
      '(U//NF)',
    ]);
    // A classification Accord does not translate needs the operator's --marking, else it is refused.
    expectInvalid(
      () => mapOne({ Tag: [{ name: 'de-vs:Einstufung="VS-NfD"' }] }),
      'give --marking',
      '/Event/Tag/0',
    );
    const floor = parseMarking('(R)').label;
    expect(marks(mapOne({ Tag: [{ name: 'de-vs:Einstufung="VS-NfD"' }] }, { floor }))).toEqual(['(R//NF)']);
  });

  it('joins every portion with the --marking floor', () => {
    const floor = parseMarking('(R//REL TO GBR, USA)').label;
    const m = mapOne(
      {
        Tag: [{ name: 'tlp:green' }],
        Attribute: [{ type: 'domain', value: 'a.example', Tag: [{ name: 'tlp:red' }] }],
      },
      { floor },
    );
    expect(marks(m)).toEqual(['(R//REL TO GBR, USA//TLP:GREEN)', '(R//OC/NF//TLP:RED)']);
  });

  it('maps distribution conservatively: object and attribute distribution narrow their portions', () => {
    const m = mapOne({
      distribution: 3,
      Attribute: [
        { type: 'domain', value: 'a.example', distribution: '1' },
        { type: 'domain', value: 'b.example', distribution: '3' },
      ],
      Object: [
        {
          name: 'file',
          distribution: '4',
          Attribute: [{ type: 'md5', value: 'd41d8cd98f00b204e9800998ecf8427e' }],
        },
      ],
    });
    expect(marks(m)).toEqual(['(U)', '(U//NF)', '(U)', '(U//NF)']);
  });

  it('refuses a tag value its taxonomy does not define, naming the tag and the JSON path', () => {
    expectInvalid(() => mapFixture('unknown-tlp.json'), "tag 'tlp:purple'", '/Event/Attribute/0/Tag/0');
    expectInvalid(
      () => mapOne({ Tag: [{ name: 'tlp:green' }, { name: 'admiralty-scale:source-reliability="z"' }] }),
      '/Event/Tag/1',
      "no value 'z'",
    );
    expectInvalid(
      () => mapOne({ Tag: [{ name: 'admiralty-scale:information-credibility' }] }),
      'needs one of',
    );
    expectInvalid(() => mapOne({ Tag: [{ name: 'PAP:BLUE' }] }), "tag 'PAP:BLUE'");
    expectInvalid(() => mapOne({ Tag: [{ name: 'tlp:red="yes"' }] }), 'takes no value');
    expectInvalid(
      () =>
        mapOne({
          Object: [{ name: 'file', Attribute: [{ type: 'md5', value: 'x', Tag: [{ name: 'tlp' }] }] }],
        }),
      '/Event/Object/0/Attribute/0/Tag/0',
    );
  });

  it('reads a value a newer taxonomy adds, but the mapping does not know, as the strictest', () => {
    const newer = taxonomySetOf([
      parseTaxonomy({ namespace: 'tlp', predicates: [{ value: 'green' }, { value: 'purple' }] }, 'newer-tlp'),
      parseTaxonomy({ namespace: 'PAP', predicates: [{ value: 'ULTRAVIOLET' }] }, 'newer-pap'),
    ]);
    expect(marks(mapOne({ Tag: [{ name: 'tlp:purple' }] }, { taxonomies: newer }))).toEqual([
      '(U//OC/NF//TLP:RED)',
    ]);
    expect(marks(mapOne({ Tag: [{ name: 'PAP:ULTRAVIOLET' }] }, { taxonomies: newer }))).toEqual([
      '(U//PAP:RED)',
    ]);
    // `constructor` is a predicate name like any other, not a key of the mapping table.
    const odd = taxonomySetOf([
      parseTaxonomy({ namespace: 'tlp', predicates: [{ value: 'constructor' }] }, 'odd'),
    ]);
    expect(marks(mapOne({ Tag: [{ name: 'tlp:constructor' }] }, { taxonomies: odd }))).toEqual([
      '(U//OC/NF//TLP:RED)',
    ]);
  });

  it('keeps tags of namespaces it does not ship, and plain tags, as metadata', () => {
    const m = mapOne({
      Tag: [
        { name: 'OSINT' },
        { name: 'workflow:state="draft"' },
        { name: 'circl:incident-classification="phishing"' },
      ],
    });
    expect(marks(m)).toEqual(['(U)']);
    expect(m.draft.portions[0]!.text).toContain(
      'tags: OSINT, workflow:state="draft", circl:incident-classification="phishing"',
    );
  });
});

// What a TLP tag implies on its own, written out independently of the mapping table.
const TLP_TAG_NAMES = ['clear', 'white', 'green', 'amber', 'amber+strict', 'red', 'unclear'] as const;
const IMPLIED_TLP: Readonly<Record<(typeof TLP_TAG_NAMES)[number], Tlp>> = {
  clear: 'CLEAR',
  white: 'CLEAR',
  green: 'GREEN',
  amber: 'AMBER',
  'amber+strict': 'AMBER+STRICT',
  red: 'RED',
  unclear: 'RED',
};

const tlpTag = fc
  .tuple(fc.constantFrom(...TLP_TAG_NAMES), fc.constantFrom('tlp', 'TLP', 'Tlp'))
  .map(([level, ns]) => ({ name: `${ns}:${level}`, level }));
const otherTag = fc.constantFrom(
  'PAP:GREEN',
  'PAP:RED',
  'type:OSINT',
  'OSINT',
  'misp-galaxy:tool="X"',
  'tlp:ex:chr',
);
const tags = fc.array(
  fc.oneof(
    tlpTag,
    otherTag.map((name) => ({ name, level: null })),
  ),
  { maxLength: 3 },
);
const attribute = fc.record({ tags, distribution: fc.constantFrom(undefined, 0, 1, 2, 3, 4, 5) });

function strictest(levels: readonly (Tlp | null)[]): number {
  return Math.max(-1, ...levels.map((l) => (l === null ? -1 : TLP_LEVELS.indexOf(l))));
}

describe('mapMispEvent (property)', () => {
  it('never labels a portion less restrictively than its event and attribute TLP tags imply', () => {
    fc.assert(
      fc.property(
        tags,
        fc.array(attribute, { maxLength: 4 }),
        fc.array(fc.record({ tags, attributes: fc.array(attribute, { maxLength: 3 }) }), { maxLength: 2 }),
        (eventTags, attributes, objects) => {
          const asTags = (ts: readonly { name: string }[]) => ts.map((t) => ({ name: t.name }));
          const asAttribute = (
            a: { tags: readonly { name: string }[]; distribution: number | undefined },
            i: number,
          ) => ({
            type: 'domain',
            value: `d${i}.example`,
            Tag: asTags(a.tags),
            ...(a.distribution === undefined ? {} : { distribution: a.distribution }),
          });
          const m = mapOne({
            Tag: asTags(eventTags),
            Attribute: attributes.map(asAttribute),
            Object: objects.map((o) => ({
              name: 'file',
              Tag: asTags(o.tags),
              Attribute: o.attributes.map(asAttribute),
            })),
          });
          const levelsOf = (ts: readonly { level: string | null }[]) =>
            ts.map((t) => (t.level === null ? null : IMPLIED_TLP[t.level as keyof typeof IMPLIED_TLP]));
          const expected: (Tlp | null)[][] = [
            levelsOf(eventTags),
            ...attributes.map((a) => [...levelsOf(eventTags), ...levelsOf(a.tags)]),
            ...objects.flatMap((o) =>
              o.attributes.map((a) => [...levelsOf(eventTags), ...levelsOf(o.tags), ...levelsOf(a.tags)]),
            ),
          ];
          expect(m.labels).toHaveLength(expected.length);
          const read = m.draft.portions.map((p) => parseMarking(p.marking).label);
          read.forEach((label, i) => {
            const want = strictest(expected[i]!);
            expect(strictest([label.tlp])).toBeGreaterThanOrEqual(want);
            // AMBER and above keep the portion inside this partner; RED also needs the originator.
            if (want >= TLP_LEVELS.indexOf('AMBER')) expect(releasabilityOf(label)).toEqual(new Set());
            if (want === TLP_LEVELS.indexOf('RED')) expect(label.controls).toContain('ORCON');
            // And never less than the event's own label.
            expect(dominates(label, read[0]!)).toBe(true);
          });
        },
      ),
      { numRuns: 200 },
    );
  });
});
