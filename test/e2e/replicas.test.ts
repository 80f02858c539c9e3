import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AccordNode, buildNode } from '../../src/app/node.js';
import { type NodeKeys, partnerKeysOf, signerOf } from '../../src/app/node-keys.js';
import { type AuditEvent, leafHash, rootOf } from '../../src/audit/index.js';
import { loadConfig } from '../../src/config/index.js';
import { createNodeIdentity, publicIdentity } from '../../src/crypto/index.js';
import { signArrangementAs, withPinnedKeys } from '../../src/federation/index.js';
import type { Actor } from '../../src/services/actor.js';
import { AuditLog, storedFrontier } from '../../src/services/audit-log.js';
import { OutboxWorker } from '../../src/services/outbox-worker.js';
import { openStore, type Store } from '../../src/store/index.js';
import { makeArrangement } from '../fixtures/builders.js';
import {
  dropPgSchema,
  freshPgSchemaName,
  PG_TEST_URL,
  POSTGRES_SERVICE,
  pgAvailable,
  requireOrSkip,
} from '../fixtures/services.js';
import { addUsaWorkflowActors, makeDraft } from './harness.js';

// Issue 7: "outbox delivery is shared between replicas without double sending; audit appends stay
// one correct log with several writers". Two outbox
// workers, each on its own store connection to the same PostgreSQL schema (two API replicas of the
// USA node), deliver one backlog to a real GBR node at once. Every envelope is posted exactly once
// and every row ends delivered.

const available = requireOrSkip(POSTGRES_SERVICE, await pgAvailable());

function nodeKeys(): NodeKeys {
  const identity = createNodeIdentity();
  return { identity, public: publicIdentity(identity) };
}
const KEYS = { USA: nodeKeys(), GBR: nodeKeys() } as const;
const ARRANGEMENT = (['USA', 'GBR'] as const).reduce(
  (doc, party) => signArrangementAs(doc, party, signerOf(KEYS[party]), '2025-01-01T00:00:00Z'),
  withPinnedKeys(
    makeArrangement({
      id: 'replicas-ct',
      scope: {
        disciplines: ['SIGINT'],
        categories: ['counterterrorism'],
        ceiling: 'TOP SECRET',
        caveats: ['SI'],
        controls: ['ORCON'],
      },
    }),
    new Map((['USA', 'GBR'] as const).map((p) => [p, KEYS[p].public])),
  ),
);

const schema = freshPgSchemaName();
const gbrDir = mkdtempSync(join(tmpdir(), 'accord-replicas-gbr-'));
const usaDir = mkdtempSync(join(tmpdir(), 'accord-replicas-usa-'));
let usa: AccordNode;
let replicaStore: Store;
let gbr: AccordNode;
let gbrAddress: string;
let actors: { analyst: Actor; officer: Actor };

describe.runIf(available)('outbox delivery shared by two replicas on PostgreSQL', () => {
  beforeAll(async () => {
    const usaConfig = loadConfig({ flags: { dataDir: usaDir, partner: 'USA', log: { level: 'silent' } } });
    const store = await openStore({ kind: 'postgres', url: PG_TEST_URL, schema });
    usa = await buildNode(usaConfig, { store, keys: KEYS.USA });
    replicaStore = await openStore({ kind: 'postgres', url: PG_TEST_URL, schema });
    const gbrConfig = loadConfig({
      flags: {
        dataDir: gbrDir,
        partner: 'GBR',
        log: { level: 'silent' },
        http: { host: '127.0.0.1', port: 0 },
      },
    });
    gbr = await buildNode(gbrConfig, { keys: KEYS.GBR });
    gbrAddress = await gbr.server.listen({ host: '127.0.0.1', port: 0 });
    for (const node of [usa, gbr]) {
      for (const [code, name] of [
        ['USA', 'United States'],
        ['GBR', 'United Kingdom'],
      ] as const) {
        await node.store.partners.upsert({
          code,
          name,
          endpoint: node === usa && code === 'GBR' ? gbrAddress : null,
          keys: partnerKeysOf(KEYS[code].public),
        });
      }
      await node.store.arrangements.putVersion(ARRANGEMENT);
    }
    actors = await addUsaWorkflowActors(usa);
  });

  afterAll(async () => {
    await usa?.close();
    await replicaStore?.close();
    await gbr?.close();
    await dropPgSchema(schema);
    rmSync(gbrDir, { recursive: true, force: true });
    rmSync(usaDir, { recursive: true, force: true });
  });

  it('sends every queued envelope once, whichever replica takes it', async () => {
    const { products } = usa.services;
    for (let i = 0; i < 12; i++) {
      const draft = await products.createDraft(actors.analyst, makeDraft({ title: `backlog ${i}` }));
      await products.submit(actors.analyst, draft.id);
      await products.decide(actors.officer, draft.id, 'approved');
      await products.release(actors.officer, draft.id, 'GBR', ARRANGEMENT.id);
    }
    const posted = new Map<string, number>();
    const counting: typeof fetch = async (url, init) => {
      const id = (JSON.parse(String(init?.body)) as { header: { envelopeId: string } }).header.envelopeId;
      posted.set(id, (posted.get(id) ?? 0) + 1);
      return fetch(url, init);
    };
    const workers = [usa.store, replicaStore].map(
      (store) =>
        new OutboxWorker({
          store,
          keys: KEYS.USA,
          partner: 'USA',
          now: Date.now,
          fetch: counting,
          random: () => 0.5,
        }),
    );
    const rounds = await Promise.all(workers.map((w) => w.runOnce()));
    const delivered = rounds.reduce((n, r) => n + r.delivered, 0);
    expect(delivered).toBe(12);
    // Both replicas took part, and no envelope went twice.
    expect(rounds.every((r) => r.delivered > 0)).toBe(true);
    expect(posted.size).toBe(12);
    expect([...posted.values()].every((n) => n === 1)).toBe(true);
    expect(await usa.store.outbox.list({ status: 'pending' })).toEqual([]);
    expect(await gbr.store.receivedProducts.list({ limit: 100 })).toHaveLength(12);
  });

  it('keeps one correct audit log while both replicas append and integrate at once', async () => {
    // "audit appends stay one correct log with several writers": small batches so the two
    // sequencers race over many transactions.
    const logs = [usa.store, replicaStore].map(
      (store) => new AuditLog({ store, now: Date.now, nodeId: 'USA', batchSize: 25 }),
    );
    await logs[0]?.integrate();
    const before = await usa.store.audit.size();
    const event = (i: number): AuditEvent => ({
      action: 'product.read',
      actor: { kind: 'user', username: `reader${i % 5}`, via: 'token' },
      product: { id: `replica-read-${i}`, version: 1 },
    });
    const writes = [0, 1].map(async (r) => {
      const store = r === 0 ? usa.store : replicaStore;
      for (let batch = 0; batch < 10; batch++) {
        await store.transaction(async (tx) => {
          for (let i = 0; i < 20; i++) await logs[r]?.recordIn(tx, event(r * 1000 + batch * 20 + i));
        });
        await logs[(r + batch) % 2]?.integrate();
      }
    });
    await Promise.all(writes);
    await Promise.all(logs.map((log) => log.integrate()));
    const size = await usa.store.audit.size();
    expect(size - before).toBe(400);
    const rows = await usa.store.audit.entries(0, size);
    expect(rows.map((r) => r.index)).toEqual([...Array(size).keys()]);
    const read = rows
      .slice(before)
      .map((r) => (JSON.parse(r.entryJson) as { product: { id: string } }).product.id);
    expect(new Set(read).size).toBe(400);
    const leaves = rows.map((r) => leafHash(new TextEncoder().encode(r.entryJson)));
    expect(rows.every((r, i) => Buffer.compare(r.leafHash, leaves[i] as Uint8Array) === 0)).toBe(true);
    // The subtree hashes both sequencers stored give the root of exactly these entries.
    expect(
      Buffer.from((await storedFrontier(usa.store.audit, size)).root()).equals(Buffer.from(rootOf(leaves))),
    ).toBe(true);
  });
});
