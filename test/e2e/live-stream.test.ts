import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InProcessBus } from '../../src/bus/index.js';
import { decideRead } from '../../src/policy/index.js';
import { parseProduct } from '../../src/products/index.js';
import type { Actor } from '../../src/services/actor.js';
import { readerOf } from '../../src/services/actor.js';
import { type SseClient as Client, dataOf, SseClient } from '../fixtures/sse-client.js';
import { makeDraft, startTestNode, type TestNode, USERS } from './harness.js';

// Issue 7: GET /api/v1/stream over a real listening server. Every event a subscriber receives has
// passed decideRead for them, torn as the read routes tear it (DESIGN.md §2 invariant 1), and
// every event they may read and their filter selects does reach them.

// makeDraft: p1 S//REL TO USA, GBR, p2 C//REL TO USA, FVEY, p3 S//NF.
const P1_TEXT = 'Intercepted communications indicate a facilitator';
const P2_TEXT = 'The transfers are routed through two hawala brokers';
const P3_TEXT = 'Collection was enabled by a sensitive access';

let t: TestNode;
let base: string;
const clients: Client[] = [];

async function actorOf(username: string): Promise<Actor> {
  const user = await t.store.users.getByUsername(username);
  if (user === undefined) throw new Error(`no user ${username}`);
  return { user, via: 'local' };
}

async function subscribe(headers: Record<string, string>, query = '', extra: Record<string, string> = {}) {
  const client = await SseClient.open(`${base}/api/v1/stream${query}`, { ...headers, ...extra });
  clients.push(client);
  return client;
}

/** Creates and submits a product as the analyst; returns its id once both events are published. */
async function publishProduct(overrides: Parameters<typeof makeDraft>[0] = {}): Promise<string> {
  const analyst = await actorOf(USERS.analyst.username);
  const draft = await t.node.services.products.createDraft(analyst, makeDraft(overrides));
  await t.node.services.products.submit(analyst, draft.id);
  return draft.id;
}

const productIdOf = (frame: { data?: string }): unknown =>
  frame.data === undefined ? undefined : (dataOf(frame).product as { id?: unknown } | undefined)?.id;

beforeAll(async () => {
  t = await startTestNode({ stream: { heartbeatSeconds: 1 } });
  base = await t.server.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  for (const c of clients) c.close();
  await t?.close();
});

describe('GET /api/v1/stream', () => {
  it('refuses a caller without a session or token, a bad Last-Event-ID and a bad filter, as problem+json', async () => {
    const anonymous = await subscribe({});
    expect(anonymous.status).toBe(401);
    expect(JSON.parse(anonymous.body)).toMatchObject({ code: 'AUTH_REQUIRED' });
    const token = await t.tokenFor(USERS.analyst.username);
    const badId = await subscribe(token, '', { 'last-event-id': 'abc' });
    expect(badId.status).toBe(400);
    expect(JSON.parse(badId.body)).toMatchObject({ code: 'INPUT_INVALID' });
    for (const query of ['?disciplines=SIGINT,NOPE', '?bbox=1,2,3', '?minCredibility=9', '?colour=red']) {
      const bad = await subscribe(token, query);
      expect(bad.status, query).toBe(400);
      expect(JSON.parse(bad.body).status).toBe(400);
    }
  });

  it('sends a submitted product to each reader torn to what they may read, its draft only to its author, and nothing to a reader of none of it', async () => {
    const author = await subscribe(await t.tokenFor(USERS.analyst.username));
    const colleague = await subscribe(await t.login(USERS.analyst2.username));
    const gbr = await subscribe(await t.tokenFor(USERS.gbrAnalyst.username));
    const id = await publishProduct();
    const nf = await publishProduct({
      titleMarking: '(S//NF)',
      portions: [{ marking: '(S//NF)', text: 'A portion no foreign national may read.' }],
    });

    const created = await author.waitFor((f) => f.event === 'product.created' && productIdOf(f) === id);
    expect(dataOf(created)).toMatchObject({ kind: 'product.created', source: 'own' });
    await colleague.waitFor((f) => f.event === 'product.submitted' && productIdOf(f) === nf);
    const full = await colleague.waitFor((f) => f.event === 'product.submitted' && productIdOf(f) === id);
    expect(full.data).toContain(P3_TEXT);
    // Drafts are their author's alone, on the stream as on GET /api/v1/products/:id.
    expect(colleague.events.filter((f) => f.event === 'product.created')).toEqual([]);

    const torn = await gbr.waitFor((f) => f.event === 'product.submitted' && productIdOf(f) === id);
    expect(dataOf(torn).product).toMatchObject({
      banner: 'CONFIDENTIAL//REL TO USA, FVEY',
      withheldCount: 2,
      portions: [{ id: 'p2', marking: '(C//REL TO USA, FVEY)' }],
    });
    expect(torn.data).toContain(P2_TEXT);
    expect(torn.data).not.toContain(P1_TEXT);
    expect(torn.data).not.toContain(P3_TEXT);
    // The NOFORN product came after: once the GBR reader has the next event, it is known skipped.
    const marker = await publishProduct({ title: 'A marker after the NOFORN product' });
    await gbr.waitFor((f) => f.event === 'product.submitted' && productIdOf(f) === marker);
    expect(gbr.events.map(productIdOf)).not.toContain(nf);
    expect(JSON.stringify(gbr.frames)).not.toContain('A portion no foreign national may read');
  });

  it('applies the filter to what the reader may see: discipline, category, originator, reliability, credibility, box and keywords', async () => {
    const token = await t.tokenFor(USERS.analyst2.username);
    const streams = {
      imint: await subscribe(token, '?disciplines=IMINT'),
      cyber: await subscribe(token, '?categories=cyber,proliferation'),
      gbrOnly: await subscribe(token, '?originators=GBR'),
      reliable: await subscribe(token, '?minReliability=A'),
      credible: await subscribe(token, '?minCredibility=1'),
      karachi: await subscribe(token, `?bbox=${encodeURIComponent('66,24,68,26')}`),
      hawala: await subscribe(token, '?keywords=HAWALA,nothing-such'),
      recalls: await subscribe(token, '?kinds=product.recalled'),
    };
    const imint = await publishProduct({
      title: 'Harbour imagery',
      discipline: 'IMINT',
      categories: ['cyber'],
      reliability: 'A',
      credibility: 1,
      geo: { type: 'Point', coordinates: [10, 10] },
      portions: [{ marking: '(U)', text: 'Imagery of a harbour.' }],
    });
    const sigint = await publishProduct();
    for (const [name, client] of Object.entries(streams)) {
      const marker = await publishProduct({
        title: `marker ${name}`,
        discipline: 'IMINT',
        reliability: 'A',
        credibility: 1,
        categories: ['cyber'],
        geo: { type: 'Point', coordinates: [67, 25] },
        portions: [{ marking: '(U)', text: 'hawala marker' }],
      });
      if (name !== 'gbrOnly' && name !== 'recalls') await client.waitFor((f) => productIdOf(f) === marker);
    }
    const seen = (name: keyof typeof streams) =>
      new Set(streams[name].events.filter((f) => f.event === 'product.submitted').map(productIdOf));
    expect(seen('imint').has(imint)).toBe(true);
    expect(seen('imint').has(sigint)).toBe(false);
    expect(seen('cyber').has(imint)).toBe(true);
    expect(seen('cyber').has(sigint)).toBe(false);
    expect(seen('reliable').has(imint)).toBe(true);
    expect(seen('reliable').has(sigint)).toBe(false);
    expect(seen('credible').has(imint)).toBe(true);
    expect(seen('credible').has(sigint)).toBe(false);
    expect(seen('karachi').has(sigint)).toBe(true);
    expect(seen('karachi').has(imint)).toBe(false);
    expect(seen('hawala').has(sigint)).toBe(true);
    expect(seen('hawala').has(imint)).toBe(false);
    expect(streams.gbrOnly.events).toEqual([]);
    expect(streams.recalls.events).toEqual([]);
  });

  it('resumes after Last-Event-ID with what was missed while disconnected, filtered again, and nothing twice', async () => {
    const token = await t.tokenFor(USERS.analyst2.username);
    const first = await subscribe(token);
    const seenId = await publishProduct();
    const frame = await first.waitFor((f) => f.event === 'product.submitted' && productIdOf(f) === seenId);
    first.close();
    const missed = [await publishProduct(), await publishProduct()];
    const again = await subscribe(token, '', { 'last-event-id': frame.id ?? '' });
    for (const id of missed)
      await again.waitFor((f) => f.event === 'product.submitted' && productIdOf(f) === id);
    const ids = again.events.map((f) => Number(f.id));
    expect(ids.every((n) => n > Number(frame.id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    expect(again.events.map(productIdOf)).not.toContain(seenId);
    // The query parameter does the same for clients that cannot set the header.
    const byQuery = await subscribe(token, `?lastEventId=${frame.id}`);
    for (const id of missed) await byQuery.waitFor((f) => productIdOf(f) === id);
  });

  it('sends a heartbeat comment at the configured interval and frees the subscription when the client goes', async () => {
    const bus = t.node.services.events;
    if (!(bus instanceof InProcessBus)) throw new Error('expected the in-process bus');
    const before = bus.subscribers;
    const client = await subscribe(await t.tokenFor(USERS.analyst.username));
    await client.waitFor((f) => f.comment === 'heartbeat', 3000);
    expect(bus.subscribers).toBe(before + 1);
    client.close();
    await expect.poll(() => bus.subscribers, { timeout: 3000 }).toBe(before);
  });

  it('sends a recall notice, without title or text, to those who could read the product', async () => {
    const officer = await actorOf(USERS.officer.username);
    const gbr = await subscribe(await t.tokenFor(USERS.gbrAnalyst.username), '?kinds=product.recalled');
    const id = await publishProduct();
    await t.node.services.products.decide(officer, id, 'approved');
    await t.node.services.recalls.recall(officer, id, { reason: 'source withdrawn' });
    const notice = await gbr.waitFor((f) => f.event === 'product.recalled');
    expect(dataOf(notice).recall).toEqual({
      id,
      version: 1,
      originator: 'USA',
      banner: 'CONFIDENTIAL//REL TO USA, FVEY',
      discipline: 'SIGINT',
      categories: ['counterterrorism'],
      reliability: 'B',
      credibility: 2,
      createdAt: expect.any(String),
    });
    expect(notice.data).not.toContain(P2_TEXT);
  });

  it('announces nothing for a change whose transaction rolled back', async () => {
    const analyst = await actorOf(USERS.analyst.username);
    const id = await publishProduct();
    const before = await t.store.streamEvents.last();
    // Submitting again fails inside the transaction (PRODUCT_STATE_INVALID): it rolls back.
    await expect(t.node.services.products.submit(analyst, id)).rejects.toMatchObject({
      code: 'PRODUCT_STATE_INVALID',
    });
    await expect(t.node.services.products.edit(analyst, id, makeDraft())).rejects.toMatchObject({
      code: 'PRODUCT_STATE_INVALID',
    });
    expect(await t.store.streamEvents.last()).toBe(before);
  });

  it('ends open streams when the node closes, so it can', async () => {
    const other = await startTestNode();
    try {
      const url = await other.server.listen({ host: '127.0.0.1', port: 0 });
      const client = await SseClient.open(
        `${url}/api/v1/stream`,
        await other.tokenFor(USERS.analyst.username),
      );
      expect(client.status).toBe(200);
      await other.node.close();
      await client.waitClosed();
    } finally {
      await other.close().catch(() => undefined);
    }
  });
});

describe('the stream under generated labels and readers', () => {
  const LEVELS = ['UNCLASSIFIED', 'RESTRICTED', 'CONFIDENTIAL', 'SECRET', 'TOP SECRET'] as const;
  const MARKINGS = [
    '(U)',
    '(C//REL TO USA, FVEY)',
    '(C//REL TO USA, GBR)',
    '(S//REL TO USA, GBR)',
    '(S//NF)',
    '(S//SI//REL TO USA, FVEY)',
    '(TS//SI//TK//NF)',
    '(R//REL TO USA, FRA)',
  ] as const;
  const arbReader = fc.record({
    nationality: fc.constantFrom('USA', 'GBR', 'CAN', 'FRA'),
    clearance: fc.constantFrom(...LEVELS),
    caveats: fc.subarray(['SI', 'TK']),
  });
  const arbProduct = fc.record({
    titleMarking: fc.constantFrom('(U)', '(C//REL TO USA, FVEY)', '(S//NF)'),
    portions: fc.array(fc.constantFrom(...MARKINGS), { minLength: 1, maxLength: 3 }),
  });
  let run = 0;

  it('every event a reader receives passes decideRead for them, and every readable one is received', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(arbReader, { minLength: 1, maxLength: 4 }),
        fc.array(arbProduct, { minLength: 1, maxLength: 4 }),
        async (readers, products) => {
          run += 1;
          const subscribers: { actor: Actor; client: Client }[] = [];
          for (const [i, r] of readers.entries()) {
            const username = `reader-${run}-${i}`;
            const user = await t.node.services.directory.createUser(null, {
              username,
              displayName: username,
              nationality: r.nationality,
              clearance: r.clearance,
              caveats: [...r.caveats],
              communities: [],
              roles: ['analyst'],
            });
            const { token } = await t.node.services.auth.issueToken(user.id, 'property');
            const stored = await t.store.users.getById(user.id);
            if (stored === undefined) throw new Error('user not stored');
            subscribers.push({
              actor: { user: stored, via: 'token' },
              client: await subscribe({ authorization: `Bearer ${token}` }, '?kinds=product.submitted'),
            });
          }
          const ids: string[] = [];
          for (const [i, p] of products.entries()) {
            ids.push(
              await publishProduct({
                title: `generated ${run}-${i}`,
                titleMarking: p.titleMarking,
                portions: p.portions.map((marking, j) => ({
                  marking,
                  text: `text ${run}-${i}-${j} ${marking}`,
                })),
              }),
            );
          }
          // A last product every reader may read: once it arrives, everything before it was judged.
          const last = await publishProduct({
            title: `end ${run}`,
            titleMarking: '(U)',
            portions: [{ marking: '(U)', text: 'end' }],
          });
          for (const { actor, client } of subscribers) {
            await client.waitFor((f) => productIdOf(f) === last);
            const received = new Map(client.events.map((f) => [productIdOf(f), dataOf(f)]));
            for (const id of ids) {
              const record = await t.store.products.get(id);
              const version = await t.store.products.getVersion(id, record?.currentVersion ?? 1);
              if (version === undefined) throw new Error('no version');
              const decision = decideRead(
                parseProduct(version.document, t.node.services.registry),
                readerOf(actor.user),
                {
                  at: t.node.services.now(),
                  registry: t.node.services.registry,
                },
              );
              const got = received.get(id) as { product: { portions: { id: string }[] } } | undefined;
              if (decision.effect === 'deny') {
                expect(got, `${actor.user.username} got ${id}`).toBeUndefined();
              } else {
                expect(got, `${actor.user.username} missed ${id}`).toBeDefined();
                expect(got?.product.portions.map((q) => q.id)).toEqual(
                  decision.derived?.portions.map((q) => q.id),
                );
              }
            }
            client.close();
          }
        },
      ),
      { numRuns: 8 },
    );
  });
});
