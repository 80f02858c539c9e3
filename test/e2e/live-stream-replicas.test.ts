import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AccordNode, buildNode } from '../../src/app/node.js';
import { NatsBus } from '../../src/bus/index.js';
import { loadConfig } from '../../src/config/index.js';
import type { Actor } from '../../src/services/actor.js';
import { openStore } from '../../src/store/index.js';
import {
  dropPgSchema,
  freshPgSchemaName,
  NATS_SERVICE,
  NATS_TEST_URL,
  natsAvailable,
  PG_TEST_URL,
  POSTGRES_SERVICE,
  pgAvailable,
  requireOrSkip,
} from '../fixtures/services.js';
import { dataOf, SseClient } from '../fixtures/sse-client.js';
import { makeDraft } from './harness.js';

// Issue 7 / DESIGN.md §6: several API replicas serve one node on PostgreSQL + NATS JetStream. A
// product created through replica A streams to a client connected to replica B, and a client that
// reconnects to the other replica resumes from the JetStream sequence it last saw.

const enabled =
  requireOrSkip(POSTGRES_SERVICE, await pgAvailable()) && requireOrSkip(NATS_SERVICE, await natsAvailable());

const schema = freshPgSchemaName();
const streamName = `ACCORD_T_${randomBytes(6).toString('hex')}`;
const dataDir = mkdtempSync(join(tmpdir(), 'accord-replicas-'));
const replicas: { node: AccordNode; address: string }[] = [];
const clients: SseClient[] = [];
let author: Actor;
const tokens = new Map<string, string>();

async function replica(): Promise<{ node: AccordNode; address: string }> {
  const config = loadConfig({
    flags: {
      dataDir,
      partner: 'USA',
      log: { level: 'silent' },
      database: { url: PG_TEST_URL },
      stream: { natsUrl: NATS_TEST_URL, natsStream: streamName, heartbeatSeconds: 1 },
    },
  });
  const store = await openStore({ kind: 'postgres', url: PG_TEST_URL, schema });
  const node = await buildNode(config, { store });
  const started = { node, address: await node.server.listen({ host: '127.0.0.1', port: 0 }) };
  replicas.push(started);
  return started;
}

async function open(at: { address: string }, who: string, headers: Record<string, string> = {}) {
  const client = await SseClient.open(`${at.address}/api/v1/stream?kinds=product.submitted`, {
    authorization: `Bearer ${tokens.get(who)}`,
    ...headers,
  });
  expect(client.status).toBe(200);
  clients.push(client);
  return client;
}

async function publish(at: { node: AccordNode }, overrides: Parameters<typeof makeDraft>[0] = {}) {
  const draft = await at.node.services.products.createDraft(author, makeDraft(overrides));
  await at.node.services.products.submit(author, draft.id);
  return draft.id;
}

const idOf = (f: { data?: string }) =>
  f.data === undefined ? undefined : (dataOf(f).product as { id?: string } | undefined)?.id;

beforeAll(async () => {
  if (!enabled) return;
  const a = await replica();
  await replica();
  for (const [username, nationality, clearance] of [
    ['analyst.usa', 'USA', 'TOP SECRET'],
    ['reader.usa', 'USA', 'SECRET'],
    ['reader.fra', 'FRA', 'TOP SECRET'],
  ] as const) {
    const user = await a.node.services.directory.createUser(null, {
      username,
      displayName: username,
      nationality,
      clearance,
      caveats: ['SI', 'TK'],
      communities: [],
      roles: ['analyst'],
    });
    tokens.set(username, (await a.node.services.auth.issueToken(user.id, 'replicas')).token);
  }
  const user = await a.node.store.users.getByUsername('analyst.usa');
  if (user === undefined) throw new Error('no author');
  author = { user, via: 'local' };
});

afterAll(async () => {
  for (const c of clients) c.close();
  for (const { node } of replicas) await node.close();
  rmSync(dataDir, { recursive: true, force: true });
  if (!enabled) return;
  await dropPgSchema(schema);
  const nc = await connect({ servers: NATS_TEST_URL });
  await (await jetstreamManager(nc)).streams.delete(streamName).catch(() => undefined);
  await nc.close();
});

describe.runIf(enabled)('two replicas of one node on PostgreSQL + NATS JetStream', () => {
  it('runs the NATS bus on both', () => {
    for (const { node } of replicas) expect(node.services.events).toBeInstanceOf(NatsBus);
  });

  it('streams a product created through replica A to a reader on replica B, and not to one who may read none of it', async () => {
    const [a, b] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];
    const reader = await open(b, 'reader.usa');
    const french = await open(b, 'reader.fra');
    const nf = await publish(a, {
      titleMarking: '(S//NF)',
      portions: [{ marking: '(S//NF)', text: 'Only for US nationals.' }],
    });
    const id = await publish(a);
    const frame = await reader.waitFor((f) => idOf(f) === id);
    expect(dataOf(frame)).toMatchObject({ kind: 'product.submitted', product: { id, withheldCount: 0 } });
    expect(reader.events.map(idOf)).toContain(nf);
    // FRA is in no REL TO of either product (USA, GBR / USA, FVEY / NOFORN): nothing is sent.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(french.events).toEqual([]);
  });

  it('resumes on replica A from the JetStream sequence a client last saw on replica B', async () => {
    const [a, b] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];
    const first = await open(b, 'reader.usa');
    const seen = await publish(a);
    const frame = await first.waitFor((f) => idOf(f) === seen);
    first.close();
    const missed = [await publish(b), await publish(a)];
    const again = await open(a, 'reader.usa', { 'last-event-id': frame.id ?? '' });
    for (const id of missed) await again.waitFor((f) => idOf(f) === id);
    expect(again.events.map(idOf)).not.toContain(seen);
    const seqs = again.events.map((f) => Number(f.id));
    expect(seqs.every((n) => n > Number(frame.id))).toBe(true);
    expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
  });
});
