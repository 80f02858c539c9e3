import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoreDialect } from '../../src/store/index.js';
import { POSTGRES_SERVICE, pgAvailable, requireOrSkip } from '../fixtures/services.js';
import {
  type AuthHeaders,
  jsonOf,
  makeDraft,
  startTestNode,
  type TestNode,
  USERS,
  type UserKey,
} from './harness.js';

// One product from draft to release, then read, torn, by a GBR analyst cleared only to
// CONFIDENTIAL, and searched; over every store dialect, as test/integration does.

const runPostgres = requireOrSkip(POSTGRES_SERVICE, await pgAvailable());

const DIALECTS: readonly { readonly dialect: StoreDialect; readonly enabled: boolean }[] = [
  { dialect: 'sqlite', enabled: true },
  { dialect: 'postgres', enabled: runPostgres },
];

// The portions of examples/products/usa-sigint-ct.json, which makeDraft() writes.
const P1_TEXT = 'Intercepted communications indicate a facilitator'; // (S//REL TO USA, GBR)
const P2_TEXT = 'routed through two hawala brokers'; // (C//REL TO USA, FVEY)
const P3_TEXT = 'sensitive access that must not be disclosed'; // (S//NF)

const NOFORN_DRAFT = makeDraft({
  title: 'Liaison channel reporting on courier routes',
  titleMarking: '(S//NF)',
  portions: [
    { marking: '(S//NF)', text: 'A liaison channel reports courier routes through the northern crossing.' },
    { marking: '(C//NF)', text: 'The channel has reported reliably for six years.' },
  ],
});

const IMINT_DRAFT = makeDraft({
  title: 'New hardstands at a coastal airfield',
  titleMarking: '(U)',
  discipline: 'IMINT',
  categories: ['military'],
  portions: [
    { marking: '(C//REL TO USA, GBR)', text: 'Imagery shows four new hardstands on the eastern apron.' },
  ],
  geo: {
    type: 'Polygon',
    coordinates: [
      [
        [33.02, 69.07],
        [33.12, 69.07],
        [33.12, 69.12],
        [33.02, 69.12],
        [33.02, 69.07],
      ],
    ],
  },
});

describe.each(DIALECTS)('the product lifecycle over $dialect', ({ dialect, enabled }) => {
  describe.skipIf(!enabled)('through the API', () => {
    let t: TestNode;
    const as: Partial<Record<UserKey, AuthHeaders>> = {};
    const ids: Record<'sigint' | 'own' | 'noforn' | 'imint' | 'draft', string> = {
      sigint: '',
      own: '',
      noforn: '',
      imint: '',
      draft: '',
    };

    const call = (headers: AuthHeaders, options: Omit<InjectOptions, 'headers'>) =>
      t.server.inject({ ...options, headers: { ...headers } } as InjectOptions);
    const get = (who: UserKey, url: string) => call(as[who]!, { method: 'GET', url });
    const post = (who: UserKey, url: string, payload?: unknown) =>
      call(as[who]!, {
        method: 'POST',
        url,
        ...(payload === undefined ? {} : { payload: payload as NonNullable<InjectOptions['payload']> }),
      });

    async function create(who: UserKey, draft: unknown, submit: boolean): Promise<string> {
      const created = await post(who, '/api/v1/products', draft);
      expect(created.statusCode, created.body).toBe(201);
      const id = jsonOf(created).id as string;
      if (submit) expect((await post(who, `/api/v1/products/${id}/submit`)).statusCode).toBe(200);
      return id;
    }

    function expectNotFound(response: LightMyRequestResponse): void {
      expect(response.statusCode, response.body).toBe(404);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(jsonOf(response).code).toBe('NOT_FOUND');
    }

    beforeAll(async () => {
      t = await startTestNode({ dialect });
      for (const key of ['analyst', 'analyst2', 'officer', 'analystOfficer', 'gbrAnalyst'] as const) {
        as[key] = await t.tokenFor(USERS[key].username);
      }
      ids.noforn = await create('analyst', NOFORN_DRAFT, true);
      ids.imint = await create('analyst2', IMINT_DRAFT, true);
      ids.draft = await create('analyst', makeDraft({ title: 'Unfinished hawala brokers note' }), false);
    });
    afterAll(async () => {
      await t?.close();
    });

    it('creates a draft that only its author can see', async () => {
      const created = await post('analyst', '/api/v1/products', makeDraft());
      expect(created.statusCode, created.body).toBe(201);
      const draft = jsonOf(created);
      expect(draft).toMatchObject({
        state: 'draft',
        version: 1,
        author: USERS.analyst.username,
        withheldCount: 0,
      });
      ids.sigint = draft.id as string;

      expect((await get('analyst', `/api/v1/products/${ids.sigint}`)).statusCode).toBe(200);
      for (const other of ['analyst2', 'officer', 'gbrAnalyst'] as const) {
        expectNotFound(await get(other, `/api/v1/products/${ids.sigint}`));
        expectNotFound(await get(other, `/api/v1/products/${ids.sigint}/releases`));
      }
      // Another analyst can neither submit nor edit it: it does not exist for them.
      expectNotFound(await post('analyst2', `/api/v1/products/${ids.sigint}/submit`));
      expectNotFound(
        await call(as.analyst2!, {
          method: 'PUT',
          url: `/api/v1/products/${ids.sigint}`,
          payload: makeDraft({ title: 'Hijacked' }),
        }),
      );
    });

    it('keeps drafts out of everyone else’s search', async () => {
      const search = async (who: UserKey) =>
        (jsonOf(await get(who, '/api/v1/products?text=hawala')).items as { id: string }[]).map((p) => p.id);
      expect(await search('analyst')).toEqual(expect.arrayContaining([ids.sigint, ids.draft]));
      for (const other of ['analyst2', 'officer', 'gbrAnalyst'] as const) {
        const found = await search(other);
        expect(found).not.toContain(ids.sigint);
        expect(found).not.toContain(ids.draft);
      }
    });

    it('submits, then approves by a release officer other than the author', async () => {
      const submitted = await post('analyst', `/api/v1/products/${ids.sigint}/submit`);
      expect(submitted.statusCode, submitted.body).toBe(200);
      expect(jsonOf(submitted).state).toBe('submitted');

      // An analyst may not approve at all.
      const byAnalyst = await post('analyst', `/api/v1/products/${ids.sigint}/approve`);
      expect(byAnalyst.statusCode).toBe(403);
      expect(jsonOf(byAnalyst).code).toBe('FORBIDDEN');

      const approved = await post('officer', `/api/v1/products/${ids.sigint}/approve`, {
        comment: 'sourcing ok',
      });
      expect(approved.statusCode, approved.body).toBe(200);
      expect(jsonOf(approved).state).toBe('approved');
    });

    it('refuses an author who is also a release officer approval of their own product', async () => {
      ids.own = await create('analystOfficer', makeDraft({ title: 'Own report' }), true);
      const own = await post('analystOfficer', `/api/v1/products/${ids.own}/approve`);
      expect(own.statusCode, own.body).toBe(403);
      expect(jsonOf(own)).toMatchObject({ code: 'FORBIDDEN' });
      expect(jsonOf(own).detail).toMatch(/cannot approve/);
      expect(jsonOf(await get('analystOfficer', `/api/v1/products/${ids.own}`)).state).toBe('submitted');
    });

    it('lets another officer reject it without a comment, and its author resubmit', async () => {
      // No body at all: the comment is optional.
      const rejected = await post('officer', `/api/v1/products/${ids.own}/reject`);
      expect(rejected.statusCode, rejected.body).toBe(200);
      expect(jsonOf(rejected).state).toBe('rejected');
      const resubmitted = await post('analystOfficer', `/api/v1/products/${ids.own}/submit`);
      expect(resubmitted.statusCode, resubmitted.body).toBe(200);
      expect(jsonOf(resubmitted).state).toBe('submitted');
    });

    it('releases to GBR under fvey-multilateral, tearing out the NOFORN portion', async () => {
      const before = await t.counts();
      const released = await post('officer', `/api/v1/products/${ids.sigint}/releases`, {
        to: 'GBR',
        arrangement: 'fvey-multilateral',
      });
      expect(released.statusCode, released.body).toBe(201);
      const body = jsonOf(released);
      expect(body).toMatchObject({ effect: 'allow', banner: 'SECRET//REL TO USA, GBR', withheldCount: 1 });
      const withheld = body.withheld as { portionId: string; reasons: { rule: string; reason: string }[] }[];
      expect(withheld.map((w) => w.portionId)).toEqual(['p3']);
      expect(withheld[0]!.reasons.map((r) => r.reason).join(' ')).toMatch(/NOFORN/);

      const after = await t.counts();
      expect(after.releases).toBe(before.releases + 1);
      expect(after.outbox).toBe(before.outbox + 1);
      expect(jsonOf(await get('officer', `/api/v1/products/${ids.sigint}`)).state).toBe('released');
    });

    it('denies a release to FRA, a non-party, and records the denial without queueing anything', async () => {
      const before = await t.counts();
      const denied = await post('officer', `/api/v1/products/${ids.sigint}/releases`, {
        to: 'FRA',
        arrangement: 'fvey-multilateral',
      });
      expect(denied.statusCode, denied.body).toBe(403);
      expect(denied.headers['content-type']).toMatch(/^application\/problem\+json/);
      const problem = jsonOf(denied);
      expect(problem.code).toBe('POLICY_DENIED');
      expect(problem.deniedBy).toContain('arrangement.parties');
      expect(typeof problem.releaseId).toBe('string');

      const after = await t.counts();
      expect(after.releases).toBe(before.releases + 1);
      expect(after.outbox).toBe(before.outbox);
      expect(after.outbox).toBe(1);
    });

    it('lists both stored release decisions', async () => {
      const response = await get('officer', `/api/v1/products/${ids.sigint}/releases`);
      expect(response.statusCode, response.body).toBe(200);
      const releases = JSON.parse(response.body) as {
        recipient: string;
        effect: string;
        arrangementId: string;
      }[];
      expect(releases.map((r) => [r.recipient, r.effect, r.arrangementId])).toEqual([
        ['GBR', 'allow', 'fvey-multilateral'],
        ['FRA', 'deny', 'fvey-multilateral'],
      ]);
    });

    it('shows the CONFIDENTIAL GBR analyst only the portion they may read, and never the rest', async () => {
      const response = await get('gbrAnalyst', `/api/v1/products/${ids.sigint}`);
      expect(response.statusCode, response.body).toBe(200);
      const view = jsonOf(response);
      // p1 is SECRET (above clearance), p3 NOFORN; p2 is C//REL TO USA, FVEY.
      expect(view.withheldCount).toBe(2);
      expect((view.portions as { id: string }[]).map((p) => p.id)).toEqual(['p2']);
      expect(view.banner).toBe('CONFIDENTIAL//REL TO USA, FVEY');
      expect(view.titleWithheld).toBe(false);
      expect(response.body).toContain(P2_TEXT);
      expect(response.body).not.toContain(P1_TEXT);
      expect(response.body).not.toContain(P3_TEXT);
    });

    it('never shows the GBR analyst withheld text through search or the release decisions', async () => {
      for (const url of [
        `/api/v1/products/${ids.sigint}/releases`,
        '/api/v1/products',
        '/api/v1/products?text=hawala',
      ]) {
        const response = await get('gbrAnalyst', url);
        expect(response.statusCode, `${url}: ${response.body}`).toBe(200);
        expect(response.body, url).not.toContain(P1_TEXT);
        expect(response.body, url).not.toContain(P3_TEXT);
      }
    });

    it('shows a partial reader who received the product and whether it was allowed, but no reasons', async () => {
      const full = JSON.parse((await get('officer', `/api/v1/products/${ids.sigint}/releases`)).body) as {
        decision: Record<string, unknown>;
      }[];
      expect(full[0]?.decision.rules).toBeDefined();
      const partial = JSON.parse(
        (await get('gbrAnalyst', `/api/v1/products/${ids.sigint}/releases`)).body,
      ) as {
        recipient: string;
        decision: Record<string, unknown>;
      }[];
      expect(partial.map((r) => r.recipient)).toEqual(['GBR', 'FRA']);
      for (const release of partial) {
        expect(Object.keys(release.decision).sort()).toEqual(['deniedBy', 'effect']);
      }
      // The reasons of the withheld NOFORN portion name its marking; a partial reader must not learn it.
      expect(JSON.stringify(partial)).not.toContain('NOFORN');
    });

    it('answers a product the reader may read none of exactly like one that does not exist', async () => {
      // The NOFORN product is readable in full by USA staff.
      expect((await get('analyst2', `/api/v1/products/${ids.noforn}`)).statusCode).toBe(200);

      const hidden = await get('gbrAnalyst', `/api/v1/products/${ids.noforn}`);
      const missing = await get('gbrAnalyst', '/api/v1/products/USA-2026-0000000000');
      expectNotFound(hidden);
      expectNotFound(missing);
      expect(hidden.headers['content-type']).toBe(missing.headers['content-type']);
      const shape = (response: LightMyRequestResponse, id: string) =>
        JSON.parse(response.body.replaceAll(id, '<id>')) as unknown;
      expect(shape(hidden, ids.noforn)).toEqual(shape(missing, 'USA-2026-0000000000'));
      expect(hidden.body).not.toContain('liaison');

      const hiddenReleases = await get('gbrAnalyst', `/api/v1/products/${ids.noforn}/releases`);
      expectNotFound(hiddenReleases);
    });

    describe('search', () => {
      const search = async (who: UserKey, query = '') => {
        const response = await get(who, `/api/v1/products${query}`);
        expect(response.statusCode, response.body).toBe(200);
        const body = jsonOf(response) as { items: { id: string }[]; total: number };
        return { ids: body.items.map((p) => p.id).sort(), total: body.total, body: response.body };
      };
      const sorted = (...values: string[]) => [...values].sort();

      it('lists for an officer every submitted or released product, and filters narrow it', async () => {
        const all = await search('officer');
        expect(all.ids).toEqual(sorted(ids.sigint, ids.own, ids.noforn, ids.imint));
        expect(all.total).toBe(4);

        expect((await search('officer', '?discipline=IMINT')).ids).toEqual([ids.imint]);
        expect((await search('officer', '?category=military')).ids).toEqual([ids.imint]);
        expect((await search('officer', '?originator=GBR')).ids).toEqual([]);
        expect((await search('officer', '?bbox=33,69,34,70')).ids).toEqual([ids.imint]);
        expect((await search('officer', '?bbox=66,24,68,25')).ids).toEqual(
          sorted(ids.sigint, ids.own, ids.noforn),
        );
        expect((await search('officer', '?classification=CONFIDENTIAL')).ids).toEqual([ids.imint]);
        expect((await search('officer', '?text=courier')).ids).toEqual([ids.noforn]);
        expect((await search('officer', '?until=2020-01-01T00:00:00Z')).total).toBe(0);

        const page = await search('officer', '?limit=1&offset=1');
        expect(page.ids).toHaveLength(1);
        expect(page.total).toBe(4);
      });

      it('counts for the GBR analyst only the products they may read', async () => {
        const all = await search('gbrAnalyst');
        const readable: string[] = [];
        for (const id of Object.values(ids)) {
          if ((await get('gbrAnalyst', `/api/v1/products/${id}`)).statusCode === 200) readable.push(id);
        }
        expect(readable.sort()).toEqual(sorted(ids.sigint, ids.own, ids.imint));
        expect(all.ids).toEqual(readable);
        expect(all.total).toBe(readable.length);
        expect(all.body).not.toContain('liaison');
      });

      it('does not find a product for the GBR analyst by text only in a portion withheld from them', async () => {
        expect((await search('officer', '?text=Intercepted%20communications')).ids).toEqual(
          sorted(ids.sigint, ids.own),
        );
        const byWithheld = await search('gbrAnalyst', '?text=Intercepted%20communications');
        expect(byWithheld.ids).toEqual([]);
        expect(byWithheld.total).toBe(0);
        const byNoforn = await search('gbrAnalyst', '?text=must%20not%20be%20disclosed');
        expect(byNoforn.total).toBe(0);

        // The same product is found by text in the portion they may read.
        expect((await search('gbrAnalyst', '?text=hawala%20brokers')).ids).toEqual(
          sorted(ids.sigint, ids.own),
        );
      });
    });
  });
});
