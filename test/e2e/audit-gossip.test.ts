import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AccordNode, buildNode } from '../../src/app/node.js';
import { type NodeKeys, partnerKeysOf, signerOf } from '../../src/app/node-keys.js';
import type { ArrangementDocument } from '../../src/arrangements/index.js';
import {
  Frontier,
  parseSignedTreeHead,
  type SignedTreeHead,
  treeHeadSigningBytes,
} from '../../src/audit/index.js';
import { runCaptured } from '../../src/cli/captured-run.js';
import { loadConfig } from '../../src/config/index.js';
import { createNodeIdentity, publicIdentity, signDigest } from '../../src/crypto/index.js';
import { signArrangementAs, withPinnedKeys } from '../../src/federation/arrangement-signing.js';
import { AuditGossip, type GossipCheck } from '../../src/services/audit-gossip.js';
import { makeArrangement } from '../fixtures/builders.js';

// Issue 5's gossip between real nodes on loopback: USA shares an active arrangement with GBR, CAN
// and AUS, each pinning the partner's signing key. GBR grows its log honestly, then rewrites its
// history and signs the new one (a fork); CAN signs with a key the arrangement does not pin; AUS is
// down. USA's gossip round keeps GBR's verified heads, opens one incident for the fork (and not a
// second on the next round), keeps nothing of CAN's and skips AUS.

const NOW = Date.parse('2026-11-26T12:00:00.000Z');
let clockNow = NOW;
const clock = () => clockNow;

function nodeKeys(): NodeKeys {
  const identity = createNodeIdentity();
  return { identity, public: publicIdentity(identity) };
}

const keys = { USA: nodeKeys(), GBR: nodeKeys(), CAN: nodeKeys(), AUS: nodeKeys() } as const;
/** The key CAN's node really signs with; the arrangement pins keys.CAN. */
const canRunningKeys = nodeKeys();

function pinnedArrangement(partner: 'GBR' | 'CAN' | 'AUS'): ArrangementDocument {
  const doc = withPinnedKeys(
    makeArrangement({ id: `usa-${partner.toLowerCase()}-gossip`, parties: ['USA', partner] }),
    new Map([
      ['USA', keys.USA.public],
      [partner, keys[partner].public],
    ]),
  );
  const signedAt = '2025-01-01T00:00:00Z';
  return signArrangementAs(
    signArrangementAs(doc, 'USA', signerOf(keys.USA), signedAt),
    partner,
    signerOf(keys[partner]),
    signedAt,
  );
}

interface Running {
  readonly node: AccordNode;
  readonly address: string;
  readonly dir: string;
}

async function startNode(partner: string, nodeKeys: NodeKeys): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), `accord-gossip-${partner.toLowerCase()}-`));
  const config = loadConfig({
    flags: { dataDir: dir, partner, log: { level: 'silent' }, http: { host: '127.0.0.1', port: 0 } },
  });
  const node = await buildNode(config, { now: clock, keys: nodeKeys });
  const address = await node.server.listen({ host: '127.0.0.1', port: 0 });
  return { node, address, dir };
}

/** Logs `count` failed logins at the node and signs a head over them. */
async function activity(node: AccordNode, count: number, tag = 'a'): Promise<void> {
  for (let i = 0; i < count; i++) {
    await node.services.auth.login(`${tag}-user${i}`, 'wrong', `10.0.${i}.1`).catch(() => undefined);
  }
  clockNow += 1000;
  await node.services.audit.signIfGrown();
}

let usa: Running;
let gbr: Running;
let can: Running;
const byPartner = (checks: readonly GossipCheck[], partner: string) =>
  checks.find((c) => c.partner === partner);

beforeAll(async () => {
  usa = await startNode('USA', keys.USA);
  gbr = await startNode('GBR', keys.GBR);
  can = await startNode('CAN', canRunningKeys);
  const store = usa.node.store;
  const endpoints = { GBR: gbr.address, CAN: can.address, AUS: 'http://127.0.0.1:1' } as const;
  for (const partner of ['GBR', 'CAN', 'AUS'] as const) {
    await store.partners.upsert({
      code: partner,
      name: partner,
      endpoint: endpoints[partner],
      keys: partnerKeysOf(keys[partner].public),
    });
    await store.arrangements.putVersion(pinnedArrangement(partner));
  }
  await activity(gbr.node, 4);
  await activity(can.node, 2);
});

afterAll(async () => {
  for (const r of [usa, gbr, can]) {
    await r?.node.close();
    if (r !== undefined) rmSync(r.dir, { recursive: true, force: true });
  }
});

describe('audit gossip between nodes on loopback', () => {
  it('serves the latest signed head and consistency proofs publicly', async () => {
    const head = await fetch(`${gbr.address}/federation/v1/audit/tree-head`);
    expect(head.status).toBe(200);
    const parsed = parseSignedTreeHead(await head.json());
    expect(parsed.nodeId).toBe('GBR');
    const proof = await fetch(
      `${gbr.address}/federation/v1/audit/consistency?first=1&second=${parsed.treeSize}`,
    );
    expect(proof.status, await proof.clone().text()).toBe(200);
    // Beyond the latest signed head: refused, nothing unsigned is revealed.
    const beyond = await fetch(
      `${gbr.address}/federation/v1/audit/consistency?first=1&second=${parsed.treeSize + 1}`,
    );
    expect(beyond.status).toBe(400);
  });

  it('keeps verified heads of consistent growth, rejects an unpinned key and skips a peer that is down', async () => {
    const first = await usa.node.services.gossip.round();
    expect(byPartner(first, 'GBR')).toMatchObject({ outcome: 'first' });
    expect(byPartner(first, 'CAN')).toMatchObject({ outcome: 'rejected' });
    expect(byPartner(first, 'AUS')).toMatchObject({ outcome: 'unreachable' });

    await activity(gbr.node, 3, 'b');
    const second = await usa.node.services.gossip.round();
    const grown = byPartner(second, 'GBR');
    expect(grown).toMatchObject({ outcome: 'consistent' });
    expect((await usa.node.store.gossip.latestPeerHead('GBR'))?.treeSize).toBe(grown?.treeSize);
    expect(await usa.node.store.gossip.latestPeerHead('CAN')).toBeUndefined();
    expect(await usa.node.store.gossip.latestPeerHead('AUS')).toBeUndefined();
    expect(await usa.node.store.incidents.list()).toEqual([]);
  });

  it('opens exactly one incident when the peer rewrites and re-signs its history, with both heads as evidence', async () => {
    const kept = await usa.node.store.gossip.latestPeerHead('GBR');
    if (kept === undefined) throw new Error('no GBR head kept');
    // GBR's operator, holding its keys, drops the log from entry 2 on and logs a new history.
    const db = new BetterSqlite3(join(gbr.dir, 'accord.sqlite'));
    db.prepare('delete from audit_entries where idx >= 2').run();
    db.prepare('delete from audit_nodes').run();
    db.prepare('delete from audit_tree_heads').run();
    db.close();
    const repo = gbr.node.store.audit;
    const rows = await repo.entries(0, await repo.size());
    const nodes: { level: number; index: number; hash: Uint8Array }[] = [];
    const frontier = Frontier.empty();
    for (const row of rows) {
      frontier.append(row.leafHash, {
        put: (level, index, hash) => level > 0 && nodes.push({ level, index, hash }),
      });
    }
    await repo.append([], nodes);
    await activity(gbr.node, kept.treeSize + 2, 'fork');

    const round = await usa.node.services.gossip.round();
    const fork = byPartner(round, 'GBR');
    expect(fork).toMatchObject({ outcome: 'fork' });
    expect(fork?.incident).toBeDefined();
    const incidents = await usa.node.store.incidents.list();
    expect(incidents).toHaveLength(1);
    const [incident] = incidents;
    expect(incident).toMatchObject({
      id: fork?.incident,
      kind: 'audit-fork',
      partner: 'GBR',
      state: 'reported',
    });
    const evidence = incident?.evidence as { kept: unknown; conflicting: unknown };
    expect(evidence.kept).toMatchObject({
      treeSize: kept.treeSize,
      rootHash: kept.rootHash,
      signature: kept.signature,
    });
    const served = parseSignedTreeHead(
      await (await fetch(`${gbr.address}/federation/v1/audit/tree-head`)).json(),
    );
    expect(evidence.conflicting).toEqual({ ...served });
    // The forked head is not kept: later rounds still compare with the history USA saw first.
    expect((await usa.node.store.gossip.latestPeerHead('GBR'))?.rootHash).toBe(kept.rootHash);

    const again = await usa.node.services.gossip.round();
    expect(byPartner(again, 'GBR')).toMatchObject({ outcome: 'fork' });
    expect(byPartner(again, 'GBR')?.incident).toBeUndefined();
    expect(await usa.node.store.incidents.list()).toHaveLength(1);
  });

  it('lists the incident over the API to an oversight auditor, not to an analyst, and over the CLI', async () => {
    const made = [];
    for (const [username, role] of [
      ['auditor.usa', 'oversight-auditor'],
      ['reader.usa', 'analyst'],
    ] as const) {
      made.push(
        await usa.node.services.directory.createUser(null, {
          username,
          displayName: username,
          nationality: 'USA',
          clearance: 'SECRET',
          caveats: [],
          communities: [],
          roles: [role],
          password: 'a long enough test password',
        }),
      );
    }
    for (const [user, status] of [
      [made[0], 200],
      [made[1], 403],
    ] as const) {
      if (user === undefined) throw new Error('no user');
      const { token } = await usa.node.services.auth.issueToken(user.id, 'gossip test');
      const response = await usa.node.server.inject({
        method: 'GET',
        url: '/api/v1/incidents',
        headers: { authorization: `Bearer ${token}` },
      });
      expect(response.statusCode, response.body).toBe(status);
      if (status === 200) expect(JSON.parse(response.body)).toHaveLength(1);
    }
    // The fork is in the audit log, logged by the node in the transaction that opened it.
    const logged = (await usa.node.store.audit.pending(100_000)).map((q) => JSON.parse(q.entryJson));
    expect(logged.filter((e) => e.action === 'incident.audit-fork')).toEqual([
      expect.objectContaining({ actor: { kind: 'node' }, partner: 'GBR' }),
    ]);
    // The node's config file, as `accord init` would have written it (the node was built in-process).
    writeFileSync(join(usa.dir, 'accord.json'), JSON.stringify({ partner: 'USA' }));
    const listed = await runCaptured(['incident', 'list', '--dir', usa.dir, '--as', 'auditor.usa', '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toHaveLength(1);
    // Without the node's keys file the CLI pins no key of USA's own, so no arrangement pins anything.
    const gossip = await runCaptured(['audit', 'gossip', '--dir', usa.dir]);
    expect(gossip.code, gossip.stderr).toBe(0);
    expect(gossip.stdout.split('\n').filter(Boolean).sort()).toEqual([
      'AUS no-pinned-key',
      'CAN no-pinned-key',
      'GBR no-pinned-key',
    ]);
  });
});

describe('audit gossip against heads a peer signed (same-size fork, rollback)', () => {
  let node: Running;
  const served = new Map<string, unknown>();
  const stubFetch: typeof globalThis.fetch = async (input) => {
    const url = new URL(String(input));
    const head = served.get(url.port);
    return new Response(JSON.stringify(head), { status: head === undefined ? 404 : 200 });
  };

  function signed(partner: 'GBR' | 'CAN', treeSize: number, fill: string): SignedTreeHead {
    const head = {
      treeSize,
      rootHash: fill.repeat(64),
      timestamp: new Date(clockNow).toISOString(),
      nodeId: partner,
    };
    const signature = signDigest(keys[partner].identity.signing.privateKey, treeHeadSigningBytes(head));
    return { ...head, signature: Buffer.from(signature).toString('base64') };
  }

  beforeAll(async () => {
    node = await startNode('USA', keys.USA);
    for (const [partner, port] of [
      ['GBR', '7001'],
      ['CAN', '7002'],
    ] as const) {
      await node.node.store.partners.upsert({
        code: partner,
        name: partner,
        endpoint: `http://127.0.0.1:${port}`,
        keys: partnerKeysOf(keys[partner].public),
      });
      await node.node.store.arrangements.putVersion(pinnedArrangement(partner));
    }
  });
  afterAll(async () => {
    await node?.node.close();
    if (node !== undefined) rmSync(node.dir, { recursive: true, force: true });
  });

  it('opens an incident for two roots of one size and for a head smaller than one kept', async () => {
    const gossip = new AuditGossip({
      store: node.node.store,
      partner: 'USA',
      ownSigningKey: keys.USA.public.signing,
      now: clock,
      fetch: stubFetch,
    });
    served.set('7001', signed('GBR', 5, 'a'));
    served.set('7002', signed('CAN', 8, 'c'));
    expect((await gossip.round()).map((c) => c.outcome)).toEqual(['first', 'first']);

    clockNow += 1000;
    // The same tree signed again later is consistent.
    served.set('7001', signed('GBR', 5, 'a'));
    expect(byPartner(await gossip.round(), 'GBR')).toMatchObject({ outcome: 'consistent' });

    served.set('7001', signed('GBR', 5, 'b'));
    served.set('7002', signed('CAN', 3, 'c'));
    const round = await gossip.round();
    expect(byPartner(round, 'GBR')?.detail).toContain('two roots for tree size 5');
    expect(byPartner(round, 'CAN')?.detail).toContain('rolled back from size 8 to 3');
    const incidents = await node.node.store.incidents.list();
    expect(incidents.map((i) => i.partner).sort()).toEqual(['CAN', 'GBR']);
    expect(incidents.map((i) => i.id).sort()).toEqual(round.map((c) => c.incident).sort());
  });
});
