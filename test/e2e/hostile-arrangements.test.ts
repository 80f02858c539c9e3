import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseArrangement } from '../../src/arrangements/index.js';
import { isAccordError } from '../../src/errors/index.js';
import {
  CONFUSABLE_CODES,
  changedTables,
  deeplyNested,
  hostileValueOf,
  jsonText,
  mutatedAnywhere,
} from '../fixtures/hostile.js';
import {
  type AuthHeaders,
  EXAMPLE_ARRANGEMENTS,
  readExample,
  startTestNode,
  type TestNode,
  USERS,
} from './harness.js';

// Issue 10, hostile arrangement documents (SECURITY.md T13): the example arrangements with one
// node anywhere replaced by a hostile value (wrong types, confusable partner codes, payloads, deep
// nesting, prototype keys). parseArrangement throws nothing but ARRANGEMENT_INVALID naming the
// field, and what it accepts parses again to the same document; POST /api/v1/arrangements (the
// path `accord arrangement add` shares) answers 4xx problem+json for a refusal and stores nothing.

const EXAMPLES = EXAMPLE_ARRANGEMENTS.map((id) => readExample(`arrangements/${id}.json`));
const replacement = fc.oneof(
  hostileValueOf([
    'partner',
    'role',
    'nodeKeys',
    'use',
    'fingerprint',
    'ceiling',
    'caveats',
    'id',
    'version',
  ]),
  fc.constantFrom<unknown>(...CONFUSABLE_CODES, 'XXX', 'FVEY', '2030-02-30T00:00:00Z', -1, 0, 1e308, '', []),
  deeplyNested,
);
const hostileArrangement = fc
  .constantFrom(...EXAMPLES)
  .chain((example) => mutatedAnywhere(example, replacement));

let t: TestNode;
let admin: AuthHeaders;
beforeAll(async () => {
  t = await startTestNode();
  admin = await t.tokenFor(USERS.admin.username);
});
afterAll(() => t?.close());

describe('arrangement documents under hostile input', () => {
  it('parseArrangement throws only ARRANGEMENT_INVALID naming the field, and what it accepts parses to itself', () => {
    fc.assert(
      fc.property(hostileArrangement, ({ pointer, mutated }) => {
        let doc: ReturnType<typeof parseArrangement>;
        try {
          doc = parseArrangement(mutated);
        } catch (error) {
          expect(isAccordError(error), String(error)).toBe(true);
          if (!isAccordError(error)) return;
          expect(error.code).toBe('ARRANGEMENT_INVALID');
          expect(typeof error.details.path).toBe('string');
          expect(error.message).toContain(String(error.details.path));
          return;
        }
        // Accepted: a harmless change (a title of hostile text). It survives JSON and parses the same.
        expect(parseArrangement(JSON.parse(JSON.stringify(doc))), pointer).toEqual(doc);
        expect(Object.keys(Object.prototype)).toEqual([]);
      }),
      { numRuns: 1500 },
    );
  });

  it('POST /api/v1/arrangements refuses hostile documents with a problem and stores nothing', async () => {
    let serial = 0;
    await fc.assert(
      fc.asyncProperty(hostileArrangement, async ({ pointer, mutated }) => {
        serial += 1;
        // A fresh id, unless the id is what was mutated, so an accepted one is no duplicate.
        const body =
          pointer === '/id' || typeof mutated !== 'object' || mutated === null || Array.isArray(mutated)
            ? mutated
            : { ...mutated, id: `hostile-${serial}` };
        const before = await t.counts();
        const response = await t.server.inject({
          method: 'POST',
          url: '/api/v1/arrangements',
          headers: { ...admin, 'content-type': 'application/json' },
          payload: jsonText(body),
        });
        expect(response.statusCode, `${pointer}: ${response.body.slice(0, 300)}`).toBeLessThan(500);
        if (response.statusCode >= 400) {
          expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
          const problem = JSON.parse(response.body) as { code?: unknown; detail?: unknown };
          expect(typeof problem.code).toBe('string');
          expect(typeof problem.detail).toBe('string');
          expect(changedTables(before, await t.counts())).toEqual({});
        }
      }),
      { numRuns: 150 },
    );
  }, 120_000);
});
