import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TAXII_MEDIA_TYPE } from '../../src/api/routes/taxii-routes.js';
import { isAccordError } from '../../src/errors/index.js';
import {
  DEFAULT_IMPORT_MARKING,
  statementMarkingDefinition,
  stixIdOf,
  TLP2_MARKING_IDS,
} from '../../src/interop/stix/index.js';
import { NODE_COLLECTION_ID } from '../../src/interop/taxii/index.js';
import type { Actor } from '../../src/services/actor.js';
import {
  changedTables,
  deeplyNested,
  HOSTILE_STRINGS,
  hostileString,
  hostileValueOf,
  jsonText,
  nestedIn,
} from '../fixtures/hostile.js';
import { type AuthHeaders, jsonOf, startTestNode, type TestNode, USERS } from './harness.js';

// Issue 10, hostile input at the STIX import boundary (SECURITY.md T13, T15, T16): bundles with
// wrong types, invalid ids, bad timestamps, broken marking references and selectors, huge strings,
// deep nesting and prototype-pollution keys, imported by an analyst through the STIX service (what
// `accord import stix` runs) and POSTed to the TAXII objects endpoint. A bundle that breaks a STIX
// rule is refused as STIX_INVALID naming the JSON path of the object at fault, and stores nothing;
// what STIX allows (custom properties, unknown marking definitions) is kept but never widens a label
// and never pollutes Object.prototype. The CLI's one-line refusal: test/e2e/hostile-import-cli.test.ts.

let t: TestNode;
let analyst: Actor;
let analystHeaders: AuthHeaders;
beforeAll(async () => {
  t = await startTestNode();
  const user = await t.store.users.getByUsername(USERS.analyst.username);
  analyst = { user: user!, via: 'local' };
  analystHeaders = await t.tokenFor(USERS.analyst.username);
});
afterAll(() => t?.close());

const T0 = '2026-11-26T10:00:00.000Z';
const STATEMENT = statementMarkingDefinition('SECRET//REL TO USA, GBR');

/** A valid bundle: a statement marking, a report marked with it, and a note on the report. */
function bundleOf(key: string): { type: 'bundle'; id: string; objects: Record<string, unknown>[] } {
  const report = stixIdOf('report', `hostile-stix:${key}`);
  const note = stixIdOf('note', `hostile-stix:${key}`);
  return {
    type: 'bundle',
    id: stixIdOf('bundle', `hostile-stix:${key}`),
    objects: [
      { ...STATEMENT },
      {
        type: 'report',
        spec_version: '2.1',
        id: report,
        created: T0,
        modified: T0,
        name: `Report ${key}`,
        description: 'Observed scanning.',
        published: T0,
        object_refs: [note],
        object_marking_refs: [STATEMENT.id],
      },
      {
        type: 'note',
        spec_version: '2.1',
        id: note,
        created: T0,
        modified: T0,
        content: 'A note on the report.',
        object_refs: [report],
        object_marking_refs: [STATEMENT.id],
      },
    ],
  };
}

const BASE = bundleOf('base');
const REPORT_ID = BASE.objects[1]!.id as string;
const OBJECT_KEYS = [
  'type',
  'id',
  'spec_version',
  'created',
  'modified',
  'name',
  'content',
  'object_refs',
  'object_marking_refs',
  'granular_markings',
  'marking_ref',
  'selectors',
  'definition',
  'statement',
];
const hostileValue = hostileValueOf(OBJECT_KEYS);

const BAD_TIMESTAMPS = [
  '2026-11-26T10:00:00', // no Z
  '2026-11-26 10:00:00Z',
  '2026-13-01T00:00:00Z',
  '2026-11-26T24:00:00Z',
  '2026-11-26T10:00:00+01:00',
  '+002026-11-26T10:00:00Z',
  '2026-11-26',
  '1764151200000',
];
const BAD_IDS = [
  'report--nope',
  'report--00000000-0000-0000-0000-000000000000', // version 0
  'Report--6ba7b810-9dad-11d1-80b4-00c04fd430c8',
  'report-6ba7b810-9dad-11d1-80b4-00c04fd430c8',
  'report--6ba7b810-9dad-11d1-80b4-00c04fd430c8\n',
  '../../etc/passwd--6ba7b810-9dad-11d1-80b4-00c04fd430c8',
  'r\u0435port--6ba7b810-9dad-11d1-80b4-00c04fd430c8', // Cyrillic ie
];

/** One hostile change to a copy of BASE, and the JSON path the refusal must name (a prefix of it). */
interface Mutation {
  readonly bundle: unknown;
  readonly path: string;
}

function withObject(index: number, change: (o: Record<string, unknown>) => Record<string, unknown>): unknown {
  return { ...BASE, objects: BASE.objects.map((o, i) => (i === index ? change({ ...o }) : o)) };
}

const index = fc.integer({ min: 0, max: BASE.objects.length - 1 });
const notString = hostileValue.filter((v) => typeof v !== 'string');

/** Mutations every STIX 2.1 importer must refuse. */
const mustRefuse: fc.Arbitrary<Mutation> = fc.oneof(
  // A common property of the wrong type or shape.
  fc
    .tuple(index, fc.constantFrom('type', 'id', 'spec_version', 'created'), hostileValue)
    .filter(([i, key, value]) => !(key === 'created' && i === 0 && value === STATEMENT.created))
    .map(([i, key, value]) => ({
      bundle: withObject(i, (o) => ({ ...o, [key]: value })),
      path: `/objects/${i}`,
    })),
  fc.tuple(index, fc.constantFrom(...BAD_IDS)).map(([i, id]) => ({
    bundle: withObject(i, (o) => ({ ...o, id })),
    path: `/objects/${i}/id`,
  })),
  fc
    .tuple(fc.constantFrom(1, 2), fc.constantFrom('created', 'modified'), fc.constantFrom(...BAD_TIMESTAMPS))
    .map(([i, key, stamp]) => ({
      bundle: withObject(i, (o) => ({ ...o, [key]: stamp })),
      path: `/objects/${i}/${key}`,
    })),
  fc.constantFrom(1, 2).map((i) => ({
    bundle: withObject(i, (o) => ({ ...o, modified: '2020-01-01T00:00:00Z' })),
    path: `/objects/${i}/modified`,
  })),
  // Marking references that are no marking-definition ids, and granular markings to nowhere.
  fc
    .tuple(
      fc.constantFrom(1, 2),
      fc.constantFrom<unknown>([], 'marking-definition--x', [REPORT_ID], ['TLP:RED'], [null], {
        0: STATEMENT.id,
      }),
    )
    .map(([i, refs]) => ({
      bundle: withObject(i, (o) => ({ ...o, object_marking_refs: refs })),
      path: `/objects/${i}/object_marking_refs`,
    })),
  fc
    .tuple(
      fc.constantFrom(1, 2),
      fc.constantFrom('x_nowhere', 'name.[9]', '__proto__', 'constructor', 'object_refs.[7]', '', 'toString'),
    )
    .map(([i, selector]) => ({
      bundle: withObject(i, (o) => ({
        ...o,
        granular_markings: [{ marking_ref: STATEMENT.id, selectors: [selector] }],
      })),
      path: `/objects/${i}/granular_markings/0/selectors/0`,
    })),
  fc.tuple(fc.constantFrom(1, 2), hostileValue).map(([i, marking]) => ({
    bundle: withObject(i, (o) => ({ ...o, granular_markings: [marking] })),
    path: `/objects/${i}/granular_markings/0`,
  })),
  fc.tuple(fc.constantFrom(1, 2), fc.constantFrom(...BAD_IDS, REPORT_ID)).map(([i, ref]) => ({
    bundle: withObject(i, (o) => ({ ...o, created_by_ref: ref })),
    path: `/objects/${i}/created_by_ref`,
  })),
  // The required properties of the mapped types, wrongly typed.
  notString.map((name) => ({ bundle: withObject(1, (o) => ({ ...o, name })), path: '/objects/1/name' })),
  notString.map((content) => ({
    bundle: withObject(2, (o) => ({ ...o, content })),
    path: '/objects/2/content',
  })),
  fc
    .tuple(fc.constantFrom(1, 2), fc.constantFrom<unknown>([], ['nope'], 'report', null, [[REPORT_ID]]))
    .map(([i, refs]) => ({
      bundle: withObject(i, (o) => ({ ...o, object_refs: refs })),
      path: `/objects/${i}/object_refs`,
    })),
  notString.map((statement) => ({
    bundle: withObject(0, (o) => ({ ...o, definition: { statement } })),
    path: '/objects/0/definition/statement',
  })),
  // Whole objects that are not objects, nested deep, or a bundle of the wrong shape.
  fc
    .tuple(index, fc.oneof(hostileString, fc.array(hostileValue, { maxLength: 3 }), fc.constant(null)))
    .map(([i, value]) => ({
      bundle: withObject(i, () => value as unknown as Record<string, unknown>),
      path: `/objects/${i}`,
    })),
  fc.tuple(index, deeplyNested).map(([i, value]) => ({
    bundle: { ...BASE, objects: BASE.objects.map((o, j) => (j === i ? value : o)) },
    path: `/objects/${i}`,
  })),
  fc.constantFrom(...BAD_IDS, 'bundle--nope').map((id) => ({ bundle: { ...BASE, id }, path: '/id' })),
  notString
    .filter((v) => !Array.isArray(v))
    .map((objects) => ({ bundle: { ...BASE, objects }, path: '/objects' })),
);

/** The import as `accord import stix` runs it; the error it throws, or undefined when it stored. */
async function importError(bundle: unknown): Promise<unknown> {
  try {
    await t.node.services.stix.import(analyst, bundle);
    return undefined;
  } catch (error) {
    return error;
  }
}

describe('STIX import of hostile bundles', () => {
  it('refuses what breaks a STIX rule as STIX_INVALID naming the JSON path, storing nothing', async () => {
    // The base bundle is valid: imported once, so a refusal below is the mutation's doing.
    expect(await importError(BASE)).toBeUndefined();
    await fc.assert(
      fc.asyncProperty(mustRefuse, async ({ bundle, path }) => {
        const before = await t.counts();
        const error = await importError(bundle);
        expect(isAccordError(error), String(error)).toBe(true);
        if (!isAccordError(error)) return;
        expect(error.code, error.message).toBe('STIX_INVALID');
        const at = String(error.details.path);
        // The path of the object at fault (or a field inside it), and the message names it.
        expect(`${at}/`.startsWith(`${path}/`) || `${path}/`.startsWith(`${at}/`), `${at} vs ${path}`).toBe(
          true,
        );
        expect(error.message).toContain(`STIX ${at}`);
        expect(changedTables(before, await t.counts())).toEqual({});
      }),
      { numRuns: 300 },
    );
  }, 120_000);

  it('keeps what STIX allows (custom and prototype-named properties, huge text, unknown markings, look-alike TLP ids) without widening the label or polluting Object.prototype', async () => {
    const lookAlikeTlp = [
      TLP2_MARKING_IDS.GREEN.toUpperCase().replace('MARKING-DEFINITION', 'marking-definition'),
      TLP2_MARKING_IDS.CLEAR.replace(/.$/, '8'),
      TLP2_MARKING_IDS.RED.replace('e828b379', 'e828b37a'),
      stixIdOf('marking-definition', 'nowhere'),
    ];
    let serial = 0;
    const extra = fc.oneof(
      fc.dictionary(
        fc.constantFrom('__proto__', 'constructor', 'prototype', 'x_custom', 'toString'),
        hostileValue,
        {
          minKeys: 1,
          maxKeys: 3,
        },
      ),
      fc.integer({ min: 100, max: 2000 }).map((depth) => ({ x_deep: nestedIn('x', depth) })),
      hostileString.map((name) => ({ name, description: name })),
      fc.constantFrom(...lookAlikeTlp).map((ref) => ({ object_marking_refs: [ref] })),
    );
    await fc.assert(
      fc.asyncProperty(extra, async (properties) => {
        serial += 1;
        const bundle = bundleOf(`tolerated-${serial}`);
        // Sent as JSON text and parsed, as a file or request body is: `__proto__` is an own key.
        const text = jsonText({
          ...bundle,
          objects: bundle.objects.map((o, i) => (i === 0 ? o : { ...o, ...properties })),
        });
        const parsed = JSON.parse(text) as unknown;
        const error = await importError(parsed);
        expect(Object.keys(Object.prototype)).toEqual([]);
        expect(({} as Record<string, unknown>).x_custom).toBeUndefined();
        if (error !== undefined) {
          expect(isAccordError(error) && error.code, String(error)).toBe('STIX_INVALID');
          return;
        }
        const productId = `stix-${(bundle.objects[1]!.id as string).slice('report--'.length)}`;
        const version = await t.store.products.getVersion(productId);
        const refs = (properties as { object_marking_refs?: unknown }).object_marking_refs;
        // An unknown or look-alike marking replaces the statement: the import's narrow default, no TLP.
        expect(version?.banner).toBe(refs === undefined ? 'SECRET//REL TO USA, GBR' : DEFAULT_IMPORT_MARKING);
      }),
      { numRuns: 60 },
    );
  }, 120_000);

  // The pattern admits day 29-31 of any month and Date.parse would roll 2026-02-30 over to
  // 2026-03-02 (storing the object under a version nobody wrote): refused instead.
  it('refuses a timestamp that is no date (2026-02-30) as STIX_INVALID', async () => {
    const error = await importError(withObject(1, (o) => ({ ...o, created: '2026-02-30T00:00:00Z' })));
    expect(isAccordError(error) && error.code).toBe('STIX_INVALID');
  });
});

describe('TAXII POST of hostile objects', () => {
  const post = (payload: string) =>
    t.server.inject({
      method: 'POST',
      url: `/taxii2/accord/collections/${NODE_COLLECTION_ID}/objects/`,
      headers: { ...analystHeaders, accept: TAXII_MEDIA_TYPE, 'content-type': TAXII_MEDIA_TYPE },
      payload,
    });

  it('answers every hostile envelope with a status that fails every object, naming the path, or a TAXII error; never 5xx, nothing stored', async () => {
    const body = fc.oneof(
      // A TAXII envelope is no bundle: its own type and id are not read, its objects are.
      {
        weight: 3,
        arbitrary: mustRefuse.filter(({ path }) => path !== '/id').map(({ bundle }) => jsonText(bundle)),
      },
      hostileValue.map(jsonText),
      deeplyNested.map((value) => jsonText({ objects: [value] })),
      fc.constantFrom('', '{', '{"objects":', 'null', '[]', ...HOSTILE_STRINGS),
    );
    await fc.assert(
      fc.asyncProperty(body, async (payload) => {
        const before = await t.counts();
        const response = await post(payload);
        expect(response.statusCode, response.body.slice(0, 300)).toBeLessThan(500);
        expect(response.headers['content-type']).toBe(TAXII_MEDIA_TYPE);
        const answer = jsonOf(response);
        if (response.statusCode === 202) {
          expect(answer.success_count).toBe(0);
          expect(answer.failure_count).toBe(answer.total_count);
          for (const failure of answer.failures as { message: string }[]) {
            expect(failure.message).toMatch(/^not stored: STIX \//);
          }
        } else {
          expect(response.statusCode).toBeGreaterThanOrEqual(400);
          expect(answer.http_status).toBe(String(response.statusCode));
          expect(typeof answer.description).toBe('string');
        }
        expect(changedTables(before, await t.counts())).toEqual({});
      }),
      { numRuns: 120 },
    );
  }, 120_000);
});
