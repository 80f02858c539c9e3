import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AccordNode, buildNode } from '../../src/app/node.js';
import { type NodeKeys, partnerKeysOf, signerOf } from '../../src/app/node-keys.js';
import { loadConfig } from '../../src/config/index.js';
import { createNodeIdentity, publicIdentity } from '../../src/crypto/index.js';
import { signArrangementAs, withPinnedKeys } from '../../src/federation/index.js';
import { OutboxWorker } from '../../src/services/outbox-worker.js';
import { openStore } from '../../src/store/index.js';
import { makeArrangement } from '../fixtures/builders.js';
import { dataOf, SseClient } from '../fixtures/sse-client.js';
import { addUsaWorkflowActors, makeDraft } from './harness.js';

// Issue 7: a product received from a partner node reaches the subscribed analysts of the recipient
// node the moment its inbox stores it, torn to each analyst's access; and its recall follows.

const NOW = Date.parse('2026-11-26T12:00:00.000Z');
const clock = () => NOW;
// makeDraft: p1 S//REL TO USA, GBR, p2 C//REL TO USA, FVEY, p3 S//NF (torn out at USA).
const P1_TEXT = 'Intercepted communications indicate a facilitator';
const P2_TEXT = 'The transfers are routed through two hawala brokers';

function nodeKeys(): NodeKeys {
  const identity = createNodeIdentity();
  return { identity, public: publicIdentity(identity) };
}

const dirs = {
  USA: mkdtempSync(join(tmpdir(), 'accord-stream-usa-')),
  GBR: mkdtempSync(join(tmpdir(), 'accord-stream-gbr-')),
};
const keys = { USA: nodeKeys(), GBR: nodeKeys() };
const ARRANGEMENT = (() => {
  const terms = withPinnedKeys(
    makeArrangement({
      id: 'usa-gbr-stream',
      scope: {
        disciplines: ['SIGINT'],
        categories: ['counterterrorism'],
        ceiling: 'TOP SECRET',
        caveats: ['SI'],
        controls: ['ORCON'],
      },
      releaseApproval: { fromLevel: 'SECRET', approvals: 1 },
    }),
    new Map([
      ['USA', keys.USA.public],
      ['GBR', keys.GBR.public],
    ]),
  );
  const at = '2025-01-01T00:00:00Z';
  return signArrangementAs(
    signArrangementAs(terms, 'USA', signerOf(keys.USA), at),
    'GBR',
    signerOf(keys.GBR),
    at,
  );
})();

const nodes = new Map<'USA' | 'GBR', { node: AccordNode; address: string }>();
const clients: SseClient[] = [];
let worker: OutboxWorker;

async function start(partner: 'USA' | 'GBR') {
  const config = loadConfig({
    flags: {
      dataDir: dirs[partner],
      partner,
      log: { level: 'silent' },
      http: { host: '127.0.0.1', port: 0 },
    },
  });
  const store = await openStore(
    { kind: 'sqlite', file: join(dirs[partner], 'accord.sqlite') },
    { now: () => new Date(clock()) },
  );
  const node = await buildNode(config, { store, now: clock, keys: keys[partner] });
  nodes.set(partner, { node, address: await node.server.listen({ host: '127.0.0.1', port: 0 }) });
}

const gbr = () => nodes.get('GBR')!;
const usa = () => nodes.get('USA')!;

async function gbrSubscriber(
  username: string,
  nationality: string,
  clearance: 'CONFIDENTIAL' | 'TOP SECRET',
): Promise<SseClient> {
  const user = await gbr().node.services.directory.createUser(null, {
    username,
    displayName: username,
    nationality,
    clearance,
    caveats: [],
    communities: [],
    roles: ['analyst'],
  });
  const { token } = await gbr().node.services.auth.issueToken(user.id, 'stream e2e');
  const client = await SseClient.open(`${gbr().address}/api/v1/stream`, { authorization: `Bearer ${token}` });
  expect(client.status).toBe(200);
  clients.push(client);
  return client;
}

beforeAll(async () => {
  await start('USA');
  await start('GBR');
  for (const { node } of nodes.values()) {
    for (const [code, name, address] of [
      ['USA', 'United States', null],
      ['GBR', 'United Kingdom', gbr().address],
    ] as const) {
      await node.store.partners.upsert({
        code,
        name,
        endpoint: address,
        keys: partnerKeysOf(keys[code].public),
      });
    }
    await node.store.arrangements.putVersion(ARRANGEMENT);
  }
  worker = new OutboxWorker({ store: usa().node.store, keys: keys.USA, partner: 'USA', now: clock });
});

afterAll(async () => {
  for (const c of clients) c.close();
  await worker?.stop();
  for (const { node } of nodes.values()) await node.close();
  for (const dir of Object.values(dirs)) rmSync(dir, { recursive: true, force: true });
});

describe('the stream at a recipient node', () => {
  it('sends a received product to each subscribed analyst the moment it is stored, torn to their access, and its recall after', async () => {
    const confidential = await gbrSubscriber('confidential.gbr', 'GBR', 'CONFIDENTIAL');
    const topSecret = await gbrSubscriber('topsecret.gbr', 'GBR', 'TOP SECRET');
    const french = await gbrSubscriber('analyst.fra', 'FRA', 'TOP SECRET');

    const { analyst, officer } = await addUsaWorkflowActors(usa().node);
    const products = usa().node.services.products;
    const draft = await products.createDraft(analyst, makeDraft());
    await products.submit(analyst, draft.id);
    await products.decide(officer, draft.id, 'approved');
    await products.release(officer, draft.id, 'GBR', ARRANGEMENT.id);
    expect(await worker.runOnce()).toMatchObject({ delivered: 1 });

    const isReceived = (f: { event?: string }) => f.event === 'product.received';
    const torn = dataOf(await confidential.waitFor(isReceived));
    expect(torn).toMatchObject({
      kind: 'product.received',
      source: 'received',
      product: {
        id: draft.id,
        banner: 'CONFIDENTIAL//REL TO USA, FVEY',
        portions: [{ id: 'p2', marking: '(C//REL TO USA, FVEY)' }],
        provenance: { originator: 'USA', sender: 'USA', signature: { verified: true } },
      },
    });
    expect(JSON.stringify(torn)).not.toContain(P1_TEXT);
    const whole = dataOf(await topSecret.waitFor(isReceived));
    expect(JSON.stringify(whole)).toContain(P1_TEXT);
    expect(JSON.stringify(whole)).toContain(P2_TEXT);

    await usa().node.services.recalls.recall(officer, draft.id, { reason: 'source withdrawn' });
    expect(await worker.runOnce()).toMatchObject({ delivered: 1 });
    const notice = dataOf(await confidential.waitFor((f) => f.event === 'product.recalled'));
    expect(notice).toMatchObject({
      source: 'received',
      recall: { id: draft.id, version: 1, originator: 'USA', banner: 'CONFIDENTIAL//REL TO USA, FVEY' },
    });
    expect(JSON.stringify(notice)).not.toContain(P2_TEXT);
    // The French analyst is outside every REL TO of the product: by the time the others have the
    // recall, both events were judged for them too, and neither was sent.
    await topSecret.waitFor((f) => f.event === 'product.recalled');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(french.events).toEqual([]);
  });
});
