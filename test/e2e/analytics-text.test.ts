import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../../src/services/actor.js';
import {
  type AuthHeaders,
  jsonOf,
  makeDraft,
  receiveFromPartner,
  startTestNode,
  type TestNode,
  USERS,
} from './harness.js';

// Issue 9 through the server: related products by text (GET /products/{id}/similar,
// /received/{productId}/similar), near-duplicates across partners (GET /duplicates), and
// early-warning rules of a team, each answered as the caller may read.

let t: TestNode;

// Two members of the team `ct-cell`, cleared differently; the USA analyst (TOP SECRET) is not one.
const TEAM = 'ct-cell';
const MEMBERS = {
  secret: { username: 'ct.secret', clearance: 'SECRET' },
  confidential: { username: 'ct.confidential', clearance: 'CONFIDENTIAL' },
} as const;
const passwordOf = (username: string) => `team member passphrase of ${username}`;

async function headersOf(username: string): Promise<AuthHeaders> {
  const response = await t.server.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    payload: { username, password: passwordOf(username) },
  });
  expect(response.statusCode).toBe(200);
  const cookie = response.cookies.find((c) => c.name === 'accord_session');
  return { cookie: `accord_session=${cookie?.value}`, 'x-csrf-token': String(jsonOf(response).csrfToken) };
}

async function analyst(): Promise<Actor> {
  const user = await t.store.users.getByUsername(USERS.analyst.username);
  if (user === undefined) throw new Error('no analyst');
  return { user, via: 'local' };
}

/** An own product of the USA analyst, submitted: one portion. */
async function submitOwn(marking: string, text: string): Promise<string> {
  const actor = await analyst();
  const draft = await t.node.services.products.createDraft(
    actor,
    makeDraft({ portions: [{ marking, text }] }),
  );
  await t.node.services.products.submit(actor, draft.id);
  return draft.id;
}

const get = (url: string, headers: AuthHeaders): Promise<LightMyRequestResponse> =>
  t.server.inject({ method: 'GET', url, headers });

beforeAll(async () => {
  t = await startTestNode();
  for (const member of Object.values(MEMBERS)) {
    await t.node.services.directory.createUser(null, {
      username: member.username,
      displayName: member.username,
      nationality: 'USA',
      clearance: member.clearance,
      caveats: [],
      communities: [TEAM],
      roles: ['analyst'],
      password: passwordOf(member.username),
    });
  }
});

afterAll(async () => {
  await t?.close();
});

const HAWALA =
  'A hawala broker in Dubai moved funds for the relay cell through Karachi exchange houses in October.';

describe('related by text and near-duplicates', () => {
  let own: string;

  beforeAll(async () => {
    own = await submitOwn('(C//REL TO USA, FVEY)', HAWALA);
    // GBR's copy is SECRET (the CONFIDENTIAL member may not read it); CAN's is unclassified.
    await receiveFromPartner(t, { id: 'gbr-hawala', marking: '(S//REL TO USA, GBR)', text: HAWALA });
    await receiveFromPartner(t, { id: 'can-hawala', partner: 'CAN', marking: '(U)', text: HAWALA });
    await receiveFromPartner(t, {
      id: 'gbr-weather',
      marking: '(U)',
      text: 'Weather over the Baltic delayed the naval exercise.',
      title: 'Baltic exercise',
    });
    await t.node.services.alerts.settled();
  });

  it('ranks products by TF-IDF over what the caller may read, and leaves out what they may not', async () => {
    const top = jsonOf(
      await get(`/api/v1/products/${own}/similar`, await t.tokenFor(USERS.analyst.username)),
    );
    const items = top.items as { id: string; score: number; terms: string[] }[];
    expect(items.map((i) => i.id).sort()).toEqual(['can-hawala', 'gbr-hawala']);
    expect(items[0]?.score).toBeGreaterThan(0.5);
    expect(items[0]?.terms).toContain('hawala');

    const confidential = await headersOf(MEMBERS.confidential.username);
    const mine = jsonOf(await get(`/api/v1/products/${own}/similar?limit=5`, confidential));
    expect((mine.items as { id: string }[]).map((i) => i.id)).toEqual(['can-hawala']);
    const back = jsonOf(await get('/api/v1/received/can-hawala/similar', confidential));
    expect((back.items as { id: string }[]).map((i) => i.id)).toEqual([own]);

    for (const [url, status] of [
      ['/api/v1/products/no-such-product/similar', 404],
      ['/api/v1/received/no-such-product/similar', 404],
      [`/api/v1/products/${own}/similar?limit=0`, 400],
      [`/api/v1/products/${own}/similar?by=entity`, 400],
    ] as const) {
      const response = await get(url, confidential);
      expect(response.statusCode, url).toBe(status);
      expect(response.headers['content-type']).toMatch(/problem\+json/);
    }
  });

  it('clusters the same report from different partners, judged on what the caller may read', async () => {
    const all = jsonOf(await get('/api/v1/duplicates', await t.tokenFor(USERS.analyst.username)));
    expect(all.items).toMatchObject([
      {
        similarity: 1,
        partners: ['CAN', 'GBR', 'USA'],
        products: [
          { source: 'own', id: own },
          { source: 'received', id: 'can-hawala' },
          { source: 'received', id: 'gbr-hawala' },
        ],
      },
    ]);
    const confidential = await headersOf(MEMBERS.confidential.username);
    const mine = jsonOf(await get('/api/v1/duplicates?threshold=0.9', confidential));
    expect(mine.items).toMatchObject([
      { partners: ['CAN', 'USA'], products: [{ id: own }, { id: 'can-hawala' }] },
    ]);
    for (const query of ['threshold=0.2', 'threshold=2', 'limit=0', 'colour=red']) {
      const response = await get(`/api/v1/duplicates?${query}`, confidential);
      expect(response.statusCode, query).toBe(400);
      expect(response.headers['content-type']).toMatch(/problem\+json/);
    }
  });
});

describe('early warning per team', () => {
  const IP = '192.0.2.77';

  it('lets only a member add a team rule, and shows it to every member', async () => {
    const outsider = await t.tokenFor(USERS.analyst.username);
    const before = (await t.counts()).alert_rules;
    const refused = await t.server.inject({
      method: 'POST',
      url: '/api/v1/alert-rules',
      headers: outsider,
      payload: { kind: 'entity-by-partners', minPartners: 2, windowHours: 24, team: TEAM },
    });
    expect(refused.statusCode).toBe(403);
    expect(refused.headers['content-type']).toMatch(/problem\+json/);
    expect((await t.counts()).alert_rules).toBe(before);

    // Added by the CONFIDENTIAL member: the SECRET member's alert below comes from the team alone.
    const added = await t.server.inject({
      method: 'POST',
      url: '/api/v1/alert-rules',
      headers: await headersOf(MEMBERS.confidential.username),
      payload: { kind: 'entity-by-partners', minPartners: 2, windowHours: 24, team: TEAM },
    });
    expect(added.statusCode).toBe(201);
    expect(jsonOf(added).rule).toMatchObject({ kind: 'entity-by-partners', team: TEAM });
    const listed = jsonOf(await get('/api/v1/alert-rules', await headersOf(MEMBERS.secret.username)));
    expect(listed.items).toMatchObject([{ id: jsonOf(added).id, rule: { team: TEAM } }]);
    expect(jsonOf(await get('/api/v1/alert-rules', outsider)).items).toEqual([]);
  });

  it('alerts each member as they may read: the SECRET member of both reports, the CONFIDENTIAL one of none', async () => {
    await receiveFromPartner(t, {
      id: 'gbr-beacon',
      marking: '(S//REL TO USA, GBR)',
      text: `The implant beacons to ${IP} hourly.`,
    });
    const own = await submitOwn('(C//REL TO USA, FVEY)', `Scans from ${IP} at the embassy.`);
    await t.node.services.alerts.settled();

    const secret = jsonOf(await get('/api/v1/alerts', await headersOf(MEMBERS.secret.username)));
    const alerts = secret.items as { kind: string; entity?: { value: string }; products: { id: string }[] }[];
    const fired = alerts.filter((a) => a.entity?.value === IP);
    expect(fired).toHaveLength(1);
    expect(fired[0]?.products.map((p) => p.id).sort()).toEqual(['gbr-beacon', own].sort());

    // The CONFIDENTIAL member reads the USA report but not GBR's: one partner, no alert at all.
    const confidential = jsonOf(await get('/api/v1/alerts', await headersOf(MEMBERS.confidential.username)));
    expect(confidential.items).toEqual([]);
    // Nor does anyone outside the team get the team's alert.
    const outsider = jsonOf(await get('/api/v1/alerts', await t.tokenFor(USERS.analyst.username)));
    expect(outsider.items).toEqual([]);
  });
});
