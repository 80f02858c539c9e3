import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodeIdentity, publicIdentity } from '../../src/crypto/index.js';
import { isAccordError } from '../../src/errors/index.js';
import {
  loadTaxonomies,
  MAX_ATTRIBUTES_PER_EVENT,
  mapMispEvent,
  parseMispEvents,
  type TaxonomySet,
} from '../../src/interop/misp/index.js';
import type { Actor } from '../../src/services/actor.js';
import { changedTables, deeplyNested, hostileString, hostileValueOf, nestedIn } from '../fixtures/hostile.js';
import { startTestNode, type TestNode, USERS } from './harness.js';

// Issue 10, hostile input at the MISP import boundary (SECURITY.md T13, T15, T16): events,
// attributes, objects and tags of the wrong type or shape, unknown taxonomies and values, tags that
// look like TLP but are not, huge text, deep nesting — run through what `accord import misp` runs
// (parseMispEvents, mapMispEvent against the bundled taxonomies, then importDrafts). Each is refused
// as INPUT_INVALID naming the JSON pointer of the fault, before anything is written. The CLI's
// one-line refusal: src/cli/import-commands.test.ts and test/e2e/hostile-import-cli.test.ts.

const nodeIdentity = createNodeIdentity();
let t: TestNode;
let analyst: Actor;
let taxonomies: TaxonomySet;
beforeAll(async () => {
  t = await startTestNode({ keys: { identity: nodeIdentity, public: publicIdentity(nodeIdentity) } });
  const user = await t.store.users.getByUsername(USERS.analyst.username);
  analyst = { user: user!, via: 'local' };
  taxonomies = await loadTaxonomies();
});
afterAll(() => t?.close());

const UUID = '5e6f2a3b-8c4d-4e1f-9a2b-3c4d5e6f7a8b';

/** A valid event: one TLP:AMBER tag, an attribute with a tag of its own, and an object. */
function eventOf(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    uuid: UUID,
    info: 'Phishing campaign against ministries',
    date: '2026-11-20',
    threat_level_id: '2',
    analysis: '1',
    distribution: '1',
    published: false,
    Tag: [{ name: 'tlp:amber' }],
    Attribute: [
      { type: 'domain', value: 'login-ministry.example', to_ids: true, Tag: [{ name: 'tlp:red' }] },
    ],
    Object: [
      {
        name: 'file',
        Attribute: [{ type: 'sha256', value: 'a'.repeat(64), object_relation: 'sha256' }],
      },
    ],
    ...overrides,
  };
}

/** The import as the CLI runs it: the error it throws, or undefined when it stored the events. */
async function importError(file: unknown): Promise<unknown> {
  try {
    const events = parseMispEvents(file);
    const mapped = events.map((event) =>
      mapMispEvent(event, { taxonomies, registry: t.node.services.registry, partner: 'USA' }),
    );
    await t.node.services.products.importDrafts(
      analyst,
      mapped.map((m) => ({ id: m.productId, draft: m.draft })),
    );
    return undefined;
  } catch (error) {
    return error;
  }
}

const MISP_KEYS = [
  'Event',
  'uuid',
  'info',
  'Attribute',
  'Object',
  'Tag',
  'name',
  'value',
  'type',
  'response',
];
const hostileValue = hostileValueOf(MISP_KEYS);
const notText = hostileValue.filter(
  (v) => !(typeof v === 'string' && v.trim() !== '' && v.length <= 100_000) && !(typeof v === 'number'),
);

/** Tags of a known taxonomy that it does not define, or known namespaces spelled to look right. */
const BAD_TAGS = [
  'tlp:purple',
  'tlp:',
  'tlp',
  'TLP:AMBER+STRICTER',
  'tlp:gr\u0435en', // Cyrillic ie
  'tlp:r\u0435d',
  'tlp:amber;red',
  'pap:BLACK',
  'admiralty-scale:source-reliability="z"',
  'admiralty-scale:information-credibility="9"',
  'admiralty-scale:no-such-predicate',
];

interface Mutation {
  readonly file: unknown;
  readonly path: string;
}

const mustRefuse: fc.Arbitrary<Mutation> = fc.oneof(
  // Event fields of the wrong type or out of range.
  fc
    .tuple(fc.constantFrom('uuid', 'info'), notText)
    .map(([key, value]) => ({ file: { Event: eventOf({ [key]: value }) }, path: `/Event/${key}` })),
  fc
    .tuple(
      fc.constantFrom('date', 'threat_level_id', 'analysis', 'distribution'),
      fc.constantFrom<unknown>('2026-13-01', '26-11-20', '9', '-1', 1.5, 'x', true, [], {}),
    )
    .filter(([key, value]) => !(key === 'date' && value === '9'))
    .map(([key, value]) => ({ file: { Event: eventOf({ [key]: value }) }, path: `/Event/${key}` })),
  fc
    .tuple(fc.constantFrom('Attribute', 'Object', 'Tag'), fc.constantFrom<unknown>('x', 1, true, {}))
    .map(([key, value]) => ({ file: { Event: eventOf({ [key]: value }) }, path: `/Event/${key}` })),
  // An attribute or tag of the wrong shape.
  fc
    .tuple(
      fc.constantFrom('type', 'value'),
      notText.filter((v) => v !== undefined),
    )
    .map(([key, value]) => ({
      file: { Event: eventOf({ Attribute: [{ type: 'domain', value: 'x.example', [key]: value }] }) },
      path: `/Event/Attribute/0/${key}`,
    })),
  hostileValue
    .filter((v) => typeof v !== 'object' || v === null || Array.isArray(v))
    .map((tag) => ({ file: { Event: eventOf({ Tag: [tag] }) }, path: '/Event/Tag/0' })),
  // Tags the taxonomies do not define, on the event, an attribute or an object.
  fc
    .tuple(fc.constantFrom(...BAD_TAGS), fc.constantFrom('event', 'attribute', 'object'))
    .map(([name, where]) => {
      const tags = [{ name }];
      const event =
        where === 'event'
          ? eventOf({ Tag: tags })
          : where === 'attribute'
            ? eventOf({ Attribute: [{ type: 'domain', value: 'x.example', Tag: tags }] })
            : eventOf({ Object: [{ name: 'file', Tag: tags, Attribute: [] }] });
      const path =
        where === 'event'
          ? '/Event/Tag/0'
          : where === 'attribute'
            ? '/Event/Attribute/0/Tag/0'
            : '/Event/Object/0/Tag/0';
      return { file: { Event: event }, path };
    }),
  // Huge text, deep nesting, whole files of the wrong shape, duplicates, too many attributes.
  fc.constantFrom('info', 'value').map((key) => ({
    file: {
      Event:
        key === 'info'
          ? eventOf({ info: 'x'.repeat(100_001) })
          : eventOf({ Attribute: [{ type: 'text', value: 'x'.repeat(100_001) }] }),
    },
    path: key === 'info' ? '/Event/info' : '/Event/Attribute/0/value',
  })),
  deeplyNested.map((value) => ({ file: { Event: value }, path: '/Event' })),
  fc.integer({ min: 50, max: 1000 }).map((depth) => ({
    file: { Event: eventOf({ Attribute: [nestedIn('x', depth, 'value')] }) },
    path: '/Event/Attribute/0',
  })),
  hostileValue.filter((v) => typeof v !== 'object' || v === null).map((file) => ({ file, path: '/' })),
  fc.constant({ file: [{ Event: eventOf() }, { Event: eventOf() }], path: '/1/Event/uuid' }),
  fc.constant({ file: { response: 'x' }, path: '/response' }),
  fc.constant({ file: [], path: '/' }),
  fc.constant({
    file: {
      Event: eventOf({
        Attribute: Array.from({ length: MAX_ATTRIBUTES_PER_EVENT + 1 }, (_, i) => ({
          type: 'domain',
          value: `d${i}.example`,
        })),
      }),
    },
    path: '/Event',
  }),
);

describe('MISP import of hostile events', () => {
  it('refuses every malformed or mistagged event as INPUT_INVALID naming its JSON pointer, storing nothing', async () => {
    await fc.assert(
      fc.asyncProperty(mustRefuse, async ({ file, path }) => {
        const before = await t.counts();
        const error = await importError(file);
        expect(isAccordError(error), String(error)).toBe(true);
        if (!isAccordError(error)) return;
        expect(error.code, error.message).toBe('INPUT_INVALID');
        const at = String(error.details.path);
        expect(`${at}/`.startsWith(`${path}/`) || `${path}/`.startsWith(`${at}/`), `${at} vs ${path}`).toBe(
          true,
        );
        expect(error.message.startsWith(at === '/' ? '/' : at), error.message).toBe(true);
        expect(changedTables(before, await t.counts())).toEqual({});
      }),
      { numRuns: 200 },
    );
  }, 120_000);

  it('stores SQL, HTML and script payloads in event text as text, labelled no looser than the tags', async () => {
    let serial = 0;
    await fc.assert(
      fc.asyncProperty(
        hostileString.filter((s) => s.trim() !== '' && s.length <= 100_000),
        async (payload) => {
          serial += 1;
          const uuid = `5e6f2a3b-8c4d-4e1f-9a2b-${String(serial).padStart(12, '0')}`;
          const error = await importError({
            Event: eventOf({
              uuid,
              info: payload,
              Attribute: [{ type: 'text', value: payload, comment: payload }],
            }),
          });
          if (error !== undefined) {
            // Text a product cannot hold (a lone surrogate, control characters) is refused, not mangled.
            expect(isAccordError(error), String(error)).toBe(true);
            return;
          }
          const stored = await t.store.products.getVersion(`USA-MISP-${uuid}`);
          expect(stored?.document.portions.some((p) => p.text.includes(payload))).toBe(true);
          // tlp:amber on the event: every portion carries TLP:AMBER at least.
          expect(stored?.banner).toMatch(/TLP:(AMBER|RED)/);
        },
      ),
      { numRuns: 40 },
    );
  }, 120_000);

  // The date pattern admits day 29-31 of any month and Date.parse would roll 2026-02-30 over to
  // 2026-03-02: a date that does not exist must be refused, not moved.
  it('refuses an event date that is no date (2026-02-30) as INPUT_INVALID', async () => {
    const error = await importError({ Event: eventOf({ date: '2026-02-30' }) });
    expect(isAccordError(error) && error.code).toBe('INPUT_INVALID');
  });

  // A tag whose namespace only looks like `tlp` (a Cyrillic er, a zero-width space, a full-width t,
  // a space before the colon) is no known namespace; kept as free text, the event would import as
  // (U) with no TLP where a reader of the tag sees TLP:RED. It is refused.
  it.each(['tl\u0440:red', 'tlp\u200b:red', '\uff54lp:red', 'TLP :RED'])(
    'refuses %j, a look-alike of tlp:red, as INPUT_INVALID',
    async (name) => {
      const error = await importError({ Event: eventOf({ Tag: [{ name }] }) });
      expect(isAccordError(error) && error.code).toBe('INPUT_INVALID');
    },
  );
});
