import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../../src/services/actor.js';
import { dataOf, SseClient } from '../fixtures/sse-client.js';
import { jsonOf, makeDraft, receiveFromPartner, startTestNode, type TestNode, USERS } from './harness.js';

// Issue 9, early warning: a rule `entity-by-partners` (2 partners, 24 h) fires when a second
// partner reports an indicator, is pushed live on the stream to its owner only, and is listed; an
// owner who may not read the portion holding the indicator in both products gets nothing.

const IP = '198.51.100.23';
let t: TestNode;
let base: string;
const clients: SseClient[] = [];

async function actorOf(username: string): Promise<Actor> {
  const user = await t.store.users.getByUsername(username);
  if (user === undefined) throw new Error(`no user ${username}`);
  return { user, via: 'local' };
}

/** Stores a product from GBR as the inbox does, then announces it after the commit. */
async function receiveFromGbr(id: string, marking: string, text: string): Promise<void> {
  await receiveFromPartner(t, { id, marking, text });
}

beforeAll(async () => {
  t = await startTestNode({ stream: { heartbeatSeconds: 1 } });
  base = await t.server.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  for (const c of clients) c.close();
  await t?.close();
});

describe('early warning', () => {
  it('refuses a malformed rule with a problem body and stores nothing; another user’s rule is not found', async () => {
    const headers = await t.tokenFor(USERS.analyst.username);
    for (const payload of [
      { kind: 'entity-by-partners', minPartners: 1, windowHours: 24 },
      { kind: 'watched-area', bbox: { minLon: 10, minLat: 0, maxLon: 5, maxLat: 1 } },
      { kind: 'reliable-source', partner: 'GBR', minReliability: 'Z' },
      { kind: 'no-such-kind' },
    ]) {
      const response = await t.server.inject({
        method: 'POST',
        url: '/api/v1/alert-rules',
        headers,
        payload,
      });
      expect(response.statusCode, JSON.stringify(payload)).toBe(400);
      expect(response.headers['content-type']).toMatch(/problem\+json/);
    }
    expect((await t.counts()).alert_rules).toBe(0);
    const own = await t.server.inject({
      method: 'POST',
      url: '/api/v1/alert-rules',
      headers,
      payload: { kind: 'reliable-source', partner: 'GBR', minReliability: 'A' },
    });
    expect(own.statusCode).toBe(201);
    const other = await t.tokenFor(USERS.analyst2.username);
    const id = jsonOf(own).id as string;
    const stolen = await t.server.inject({
      method: 'DELETE',
      url: `/api/v1/alert-rules/${id}`,
      headers: other,
    });
    expect(stolen.statusCode).toBe(404);
    const mine = await t.server.inject({ method: 'DELETE', url: `/api/v1/alert-rules/${id}`, headers });
    expect(mine.statusCode).toBe(204);
    expect((await t.counts()).alert_rules).toBe(0);
  });

  it('fires live when a second partner reports the same indicator, to an owner who may read it in both only', async () => {
    const rule = { kind: 'entity-by-partners', minPartners: 2, windowHours: 24 };
    const usaHeaders = await t.tokenFor(USERS.analyst.username);
    const gbrHeaders = await t.tokenFor(USERS.gbrAnalyst.username);
    for (const headers of [usaHeaders, gbrHeaders]) {
      const added = await t.server.inject({
        method: 'POST',
        url: '/api/v1/alert-rules',
        headers,
        payload: rule,
      });
      expect(added.statusCode).toBe(201);
    }
    // Two more rules of the USA analyst: a box around Karachi for counter-terrorism reports (makeDraft's
    // footprint and category), and anything from GBR at reliability B or better; and two that must not fire.
    for (const payload of [
      {
        kind: 'watched-area',
        bbox: { minLon: 66, minLat: 24, maxLon: 68, maxLat: 26 },
        categories: ['counterterrorism'],
      },
      { kind: 'reliable-source', partner: 'GBR', minReliability: 'B' },
      {
        kind: 'watched-area',
        bbox: { minLon: 66, minLat: 24, maxLon: 68, maxLat: 26 },
        categories: ['cyber'],
      },
      { kind: 'reliable-source', partner: 'GBR', minReliability: 'A' },
    ]) {
      const added = await t.server.inject({
        method: 'POST',
        url: '/api/v1/alert-rules',
        headers: usaHeaders,
        payload,
      });
      expect(added.statusCode).toBe(201);
    }
    const usa = await SseClient.open(`${base}/api/v1/stream?kinds=alert`, usaHeaders);
    const gbr = await SseClient.open(`${base}/api/v1/stream?kinds=alert`, gbrHeaders);
    clients.push(usa, gbr);

    // GBR reports the address at SECRET: the GBR analyst (CONFIDENTIAL) may not read it.
    await receiveFromGbr('gbr-2026-ip', '(S//REL TO USA, GBR)', `The implant beacons to ${IP} hourly.`);
    const analyst = await actorOf(USERS.analyst.username);
    const draft = await t.node.services.products.createDraft(
      analyst,
      makeDraft({
        portions: [
          { marking: '(C//REL TO USA, FVEY)', text: `Scanning from 198.51.100[.]23 seen at the embassy.` },
        ],
      }),
    );
    await t.node.services.products.submit(analyst, draft.id);

    const frame = await usa.waitFor(
      (f) => f.event === 'alert' && (dataOf(f).alert as { kind?: string }).kind === 'entity-by-partners',
    );
    const alert = dataOf(frame).alert as Record<string, unknown>;
    expect(alert).toMatchObject({ kind: 'entity-by-partners', entity: { type: 'ipv4', value: IP } });
    expect((alert.products as { id: string }[]).map((p) => p.id).sort()).toEqual(
      [draft.id, 'gbr-2026-ip'].sort(),
    );
    expect(alert.summary).toBe(`ipv4 ${IP} reported by GBR, USA`);

    await t.node.services.alerts.settled();
    const listed = jsonOf(
      await t.server.inject({ method: 'GET', url: '/api/v1/alerts', headers: usaHeaders }),
    );
    const kinds = (listed.items as { kind: string; products: { id: string }[] }[]).map(
      (a) => `${a.kind} ${a.products.map((p) => p.id).join(',')}`,
    );
    expect(kinds.sort()).toEqual(
      [
        `entity-by-partners ${(alert.products as { id: string }[]).map((p) => p.id).join(',')}`,
        'reliable-source gbr-2026-ip',
        `watched-area ${draft.id}`,
      ].sort(),
    );
    // One condition, one alert: the draft's creation and its submission do not raise two.
    expect((await t.counts()).alerts).toBe(3);
    const none = jsonOf(await t.server.inject({ method: 'GET', url: '/api/v1/alerts', headers: gbrHeaders }));
    expect(none.items).toEqual([]);
    expect(gbr.frames.filter((f) => f.event === 'alert')).toEqual([]);

    // The link is listed for the USA analyst both ways.
    const related = jsonOf(
      await t.server.inject({
        method: 'GET',
        url: `/api/v1/products/${draft.id}/related`,
        headers: usaHeaders,
      }),
    );
    expect(related.items).toMatchObject([
      { source: 'received', id: 'gbr-2026-ip', shared: [{ type: 'ipv4', value: IP }] },
    ]);
    const back = jsonOf(
      await t.server.inject({
        method: 'GET',
        url: '/api/v1/received/gbr-2026-ip/related',
        headers: usaHeaders,
      }),
    );
    expect(back.items).toMatchObject([{ source: 'own', id: draft.id }]);
    // The GBR analyst may read the USA product but not GBR's SECRET portion: no link, no count.
    const hidden = jsonOf(
      await t.server.inject({
        method: 'GET',
        url: `/api/v1/products/${draft.id}/related`,
        headers: gbrHeaders,
      }),
    );
    expect(hidden).toEqual({ items: [] });

    // Search, filtered by the read policy before counting: GBR's SECRET portion counts for USA only.
    const search = async (headers: Record<string, string>, query: string) =>
      t.server.inject({ method: 'GET', url: `/api/v1/search?${query}`, headers });
    expect(jsonOf(await search(usaHeaders, `q=${IP}`)).total).toBe(2);
    expect(jsonOf(await search(gbrHeaders, `q=${IP}`))).toMatchObject({
      total: 1,
      items: [{ id: draft.id }],
    });
    expect(jsonOf(await search(usaHeaders, `q=${IP}&source=received`)).total).toBe(1);
    // makeDraft's footprint is a point near Karachi (67.0099 E, 24.8615 N).
    expect(jsonOf(await search(usaHeaders, `q=${IP}&near=24.9,67.0&radiusKm=50`)).total).toBe(1);
    expect(jsonOf(await search(usaHeaders, `q=${IP}&near=51.5,-0.1&radiusKm=50`)).total).toBe(0);
    expect(jsonOf(await search(usaHeaders, `q=${IP}&bbox=60,20,75,30`)).total).toBe(1);
    for (const bad of ['q=', `q=${IP}&near=91,0&radiusKm=5`, `q=${IP}&near=1,2`, `q=${IP}&colour=red`]) {
      const response = await search(usaHeaders, bad);
      expect(response.statusCode, bad).toBe(400);
      expect(response.headers['content-type']).toMatch(/problem\+json/);
    }
  });
});
