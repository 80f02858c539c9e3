import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AccordNode, buildNode } from '../../src/app/node.js';
import { createNodeKeys, type NodeKeys, partnerKeysOf, signerOf } from '../../src/app/node-keys.js';
import type { ArrangementDocument } from '../../src/arrangements/index.js';
import { runCaptured } from '../../src/cli/captured-run.js';
import { CONFIG_FILE } from '../../src/cli/local-node.js';
import { loadConfig } from '../../src/config/index.js';
import { createNodeIdentity, publicIdentity } from '../../src/crypto/index.js';
import { signArrangementAs, withPinnedKeys } from '../../src/federation/index.js';
import type { Actor } from '../../src/services/actor.js';
import type { InboxSummary } from '../../src/services/inbox-log-service.js';
import { OutboxWorker } from '../../src/services/outbox-worker.js';
import type { ReceivedView } from '../../src/services/received-service.js';
import { openStore } from '../../src/store/index.js';
import { makeArrangement } from '../fixtures/builders.js';
import { addUsaWorkflowActors, makeDraft } from './harness.js';

// What GBR does with what USA sent it, across two real nodes on loopback: USA releases, its outbox
// worker delivers, and at GBR each user reads the received product through the read policy
// (DESIGN.md §2 invariant 1) with its provenance and the originator's signature checked again
// (invariant 4); operators see every envelope the inbox answered, stored or refused.

const NOW = Date.parse('2026-11-26T12:00:00.000Z');
const clock = () => NOW;

// examples/products/usa-sigint-ct.json, which makeDraft reads: p1 S//REL TO USA, GBR,
// p2 C//REL TO USA, FVEY, p3 S//NF (torn out at USA: it never reaches GBR).
const P1_TEXT = 'Intercepted communications indicate a facilitator';
const P2_TEXT = 'The transfers are routed through two hawala brokers';
const P3_TEXT = 'Collection was enabled by a sensitive access';

function nodeKeys(): NodeKeys {
  const identity = createNodeIdentity();
  return { identity, public: publicIdentity(identity) };
}

const usaDir = mkdtempSync(join(tmpdir(), 'accord-received-usa-'));
const gbrDir = mkdtempSync(join(tmpdir(), 'accord-received-gbr-'));
const usaKeys = nodeKeys();
// GBR's keys in its data directory, as `accord init` writes them: the CLI reads its public half.
const gbrKeys = await createNodeKeys(gbrDir, 'a passphrase for the GBR test node');

/** USA-GBR, SIGINT on counterterrorism up to TOP SECRET, both nodes' keys pinned, signed by both. */
function arrangementOf(id: string): ArrangementDocument {
  const terms = withPinnedKeys(
    makeArrangement({
      id,
      scope: {
        disciplines: ['SIGINT', 'CYBINT'],
        categories: ['counterterrorism', 'cyber'],
        ceiling: 'TOP SECRET',
        caveats: ['SI'],
        controls: ['ORCON'],
      },
      releaseApproval: { fromLevel: 'SECRET', approvals: 1 },
    }),
    new Map([
      ['USA', usaKeys.public],
      ['GBR', gbrKeys.public],
    ]),
  );
  const signedAt = '2025-01-01T00:00:00Z';
  return signArrangementAs(
    signArrangementAs(terms, 'USA', signerOf(usaKeys), signedAt),
    'GBR',
    signerOf(gbrKeys),
    signedAt,
  );
}

const MAIN = arrangementOf('usa-gbr-received');
/** Suspended in GBR's copy only: USA releases under it, GBR refuses on arrival. */
const SUSPENDED = arrangementOf('usa-gbr-received-suspended');

interface RunningNode {
  readonly node: AccordNode;
  readonly address: string;
}

async function startNode(partner: string, dataDir: string, keys: NodeKeys): Promise<RunningNode> {
  const config = loadConfig({
    flags: { dataDir, partner, log: { level: 'silent' }, http: { host: '127.0.0.1', port: 0 } },
  });
  const store = await openStore(
    { kind: 'sqlite', file: join(dataDir, 'accord.sqlite') },
    { now: () => new Date(clock()) },
  );
  const node = await buildNode(config, { store, now: clock, keys });
  const address = await node.server.listen({ host: '127.0.0.1', port: 0 });
  return { node, address };
}

let usa: RunningNode;
let gbr: RunningNode;
let worker: OutboxWorker;

/** GBR's people: who reads what of a USA product marked up to SECRET//REL TO USA, GBR. */
const GBR_PEOPLE = {
  confidential: { nationality: 'GBR', clearance: 'CONFIDENTIAL', roles: ['analyst'] },
  topSecret: { nationality: 'GBR', clearance: 'TOP SECRET', roles: ['analyst'] },
  // Outside every REL TO of the product: may read none of it.
  french: { nationality: 'FRA', clearance: 'TOP SECRET', roles: ['analyst'] },
  officer: { nationality: 'GBR', clearance: 'SECRET', roles: ['release-officer'] },
  admin: { nationality: 'GBR', clearance: 'SECRET', roles: ['administrator'] },
} as const;
type GbrPerson = keyof typeof GBR_PEOPLE;
const headers = new Map<GbrPerson, Record<string, string>>();

let stored: { id: string; messageId: string };
let refused: { id: string; messageId: string };

/** Writes, approves and releases a product at USA to GBR; returns its id and its outbox row id. */
async function release(
  analyst: Actor,
  officer: Actor,
  arrangement: ArrangementDocument,
): Promise<{ id: string; messageId: string }> {
  const products = usa.node.services.products;
  const draft = await products.createDraft(analyst, makeDraft());
  await products.submit(analyst, draft.id);
  await products.decide(officer, draft.id, 'approved');
  const outcome = await products.release(officer, draft.id, 'GBR', arrangement.id);
  const row = (await usa.node.store.outbox.list({ limit: 200 })).find(
    (m) => m.releaseId === outcome.releaseId,
  );
  if (row === undefined) throw new Error('the release queued nothing');
  return { id: draft.id, messageId: row.id };
}

async function get(person: GbrPerson, url: string): Promise<LightMyRequestResponse> {
  return gbr.node.server.inject({ method: 'GET', url, headers: headers.get(person) ?? {} });
}

async function json<T>(person: GbrPerson, url: string): Promise<T> {
  const response = await get(person, url);
  expect(response.statusCode, response.body).toBe(200);
  return JSON.parse(response.body) as T;
}

beforeAll(async () => {
  usa = await startNode('USA', usaDir, usaKeys);
  gbr = await startNode('GBR', gbrDir, gbrKeys);
  for (const { node } of [usa, gbr]) {
    for (const [code, name, keys, address] of [
      ['USA', 'United States', usaKeys, null],
      ['GBR', 'United Kingdom', gbrKeys, gbr.address],
    ] as const) {
      await node.store.partners.upsert({ code, name, endpoint: address, keys: partnerKeysOf(keys.public) });
    }
    for (const doc of [MAIN, SUSPENDED]) await node.store.arrangements.putVersion(doc);
  }
  await gbr.node.store.arrangements.setStatus(SUSPENDED.id, SUSPENDED.version, 'suspended');

  for (const [username, person] of Object.entries(GBR_PEOPLE)) {
    const user = await gbr.node.services.directory.createUser(null, {
      username: `${username.toLowerCase()}.gbr`,
      displayName: username,
      nationality: person.nationality,
      clearance: person.clearance,
      caveats: [],
      communities: [],
      roles: [...person.roles],
    });
    const { token } = await gbr.node.services.auth.issueToken(user.id, 'received e2e');
    headers.set(username as GbrPerson, { authorization: `Bearer ${token}` });
  }

  const { analyst, officer } = await addUsaWorkflowActors(usa.node);
  worker = new OutboxWorker({ store: usa.node.store, keys: usaKeys, partner: 'USA', now: clock });
  stored = await release(analyst, officer, MAIN);
  refused = await release(analyst, officer, SUSPENDED);
  expect(await worker.runOnce()).toEqual({ delivered: 1, retrying: 0, failed: 1 });
});

afterAll(async () => {
  await worker?.stop();
  await usa?.node.close();
  await gbr?.node.close();
  rmSync(usaDir, { recursive: true, force: true });
  rmSync(gbrDir, { recursive: true, force: true });
});

describe('GET /api/v1/received at GBR after a delivery from USA', () => {
  it('shows an analyst cleared CONFIDENTIAL the product with its SECRET portion withheld, and its provenance', async () => {
    const listed = await json<{ items: ReceivedView[]; total: number }>('confidential', '/api/v1/received');
    expect(listed.total).toBe(1);
    const [view] = listed.items;
    expect(view).toMatchObject({
      id: stored.id,
      version: 1,
      originator: 'USA',
      banner: 'CONFIDENTIAL//REL TO USA, FVEY',
      titleWithheld: false,
      withheldCount: 1,
      portions: [{ id: 'p2', marking: '(C//REL TO USA, FVEY)' }],
    });
    expect(view?.provenance).toEqual({
      originator: 'USA',
      sender: 'USA',
      arrangement: { id: MAIN.id, version: MAIN.version },
      envelopeId: stored.messageId,
      receivedAt: new Date(NOW).toISOString(),
      // p3 (NOFORN) was torn out at USA before it left.
      withheldAtRelease: 1,
      derivedFrom: {
        id: expect.any(String),
        version: expect.any(Number),
        digest: expect.stringMatching(/^sha256:/),
      },
      signature: { by: usaKeys.public.signing.fingerprint, verified: true, code: null, reason: null },
    });

    const one = await get('confidential', `/api/v1/received/${stored.id}`);
    expect(JSON.parse(one.body)).toEqual(view);
    for (const body of [JSON.stringify(listed), one.body]) {
      expect(body).toContain(P2_TEXT);
      expect(body).not.toContain(P1_TEXT);
      expect(body).not.toContain(P3_TEXT);
      // Neither the withheld portion's label nor the whole version's SECRET banner shows.
      expect(body).not.toContain('(S//REL TO USA, GBR)');
      expect(body).not.toContain('SECRET//');
    }
  });

  it('shows an analyst cleared TOP SECRET every portion that reached GBR', async () => {
    const view = await json<ReceivedView>('topSecret', `/api/v1/received/${stored.id}?version=1`);
    expect(view).toMatchObject({
      banner: 'SECRET//REL TO USA, GBR',
      withheldCount: 0,
      portions: [
        { id: 'p1', marking: '(S//REL TO USA, GBR)' },
        { id: 'p2', marking: '(C//REL TO USA, FVEY)' },
      ],
      provenance: { signature: { verified: true } },
    });
    expect(JSON.stringify(view)).toContain(P1_TEXT);
    expect(JSON.stringify(view)).not.toContain(P3_TEXT);
    const later = await get('topSecret', `/api/v1/received/${stored.id}?version=2`);
    expect(later.statusCode).toBe(404);
  });

  it('shows a user outside REL TO nothing: not readable answers exactly as never received', async () => {
    expect(await json('french', '/api/v1/received')).toEqual({ items: [], total: 0 });
    const hidden = await get('french', `/api/v1/received/${stored.id}`);
    const missing = await get('french', '/api/v1/received/USA-2026-0000000000');
    for (const response of [hidden, missing]) {
      expect(response.statusCode).toBe(404);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
    const shape = (r: LightMyRequestResponse) => {
      const { detail, instance, ...rest } = JSON.parse(r.body) as Record<string, unknown>;
      return { ...rest, detail: String(detail).replace(/'[^']*'/, "'ID'") };
    };
    expect(shape(hidden)).toEqual(shape(missing));
    expect(hidden.body).not.toContain(P2_TEXT);
  });

  it('filters by sender, originator, arrangement and text, judging text on what the reader sees', async () => {
    const total = async (person: GbrPerson, query: string) =>
      (await json<{ total: number }>(person, `/api/v1/received?${query}`)).total;
    expect(await total('confidential', 'sender=USA')).toBe(1);
    expect(await total('confidential', 'sender=GBR')).toBe(0);
    expect(await total('confidential', 'originator=USA')).toBe(1);
    expect(await total('confidential', `arrangement=${MAIN.id}`)).toBe(1);
    expect(await total('confidential', `arrangement=${SUSPENDED.id}`)).toBe(0);
    expect(await total('confidential', 'q=HAWALA')).toBe(1);
    // The text is in p1, which this reader may not see: the search must not reveal it is there.
    expect(await total('confidential', 'q=intercepted')).toBe(0);
    expect(await total('topSecret', 'q=intercepted')).toBe(1);
    expect(await total('confidential', 'limit=1&offset=1')).toBe(1);
    expect((await json<{ items: unknown[] }>('confidential', '/api/v1/received?offset=1')).items).toEqual([]);

    for (const query of ['sender=XYZ1', 'unknown=1', 'limit=0', 'q=']) {
      const response = await get('confidential', `/api/v1/received?${query}`);
      expect(response.statusCode, query).toBe(400);
      expect((JSON.parse(response.body) as { code: string }).code).toBe('INPUT_INVALID');
    }
  });

  it('refuses the administrator, who runs the node but reads no product content', async () => {
    const response = await get('admin', '/api/v1/received');
    expect(response.statusCode).toBe(403);
    expect((JSON.parse(response.body) as { code: string }).code).toBe('FORBIDDEN');
  });
});

describe('GET /api/v1/inbox at GBR', () => {
  it('lists the stored and the refused envelope with its code and reason, and no content', async () => {
    const entries = await json<InboxSummary[]>('officer', '/api/v1/inbox');
    expect(entries).toHaveLength(2);
    expect(entries.find((e) => e.envelopeId === stored.messageId)).toMatchObject({
      sender: 'USA',
      kind: 'release',
      product: { id: stored.id, version: 1 },
      arrangement: { id: MAIN.id, version: MAIN.version },
      outcome: 'stored',
      code: null,
      reason: null,
      receivedAt: new Date(NOW).toISOString(),
      hasReceipt: true,
    });
    const refusal = entries.find((e) => e.envelopeId === refused.messageId);
    expect(refusal).toMatchObject({
      sender: 'USA',
      product: { id: refused.id, version: 1 },
      arrangement: { id: SUSPENDED.id, version: SUSPENDED.version },
      outcome: 'refused',
      code: 'FEDERATION_REFUSED',
      hasReceipt: true,
    });
    expect(refusal?.reason).toMatch(/is suspended/);

    const refusedOnly = await json<InboxSummary[]>('admin', '/api/v1/inbox?status=refused');
    expect(refusedOnly.map((e) => e.envelopeId)).toEqual([refused.messageId]);
    expect(await json('officer', '/api/v1/inbox?sender=CAN')).toEqual([]);
    const body = JSON.stringify(entries);
    for (const text of [P1_TEXT, P2_TEXT, P3_TEXT, 'ciphertext', 'signature']) {
      expect(body).not.toContain(text);
    }
  });

  it('is for operators: an analyst is refused', async () => {
    const response = await get('topSecret', '/api/v1/inbox');
    expect(response.statusCode).toBe(403);
    const bad = await get('officer', '/api/v1/inbox?status=lost');
    expect(bad.statusCode).toBe(400);
  });
});

describe('accord inbox list and accord received on GBR’s data directory', () => {
  beforeAll(() => {
    // The CLI opens a node by its config file; these nodes were built from flags.
    writeFileSync(join(gbrDir, CONFIG_FILE), JSON.stringify({ partner: 'GBR', nodeName: 'gbr' }));
  });

  it('lists the refused envelope with its code, without the key passphrase', async () => {
    const run = await runCaptured(['inbox', 'list', '--status', 'refused', '--dir', gbrDir]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(new RegExp(`  ${refused.messageId}  USA  release  ${refused.id} v1  refused$`));
    expect(lines[1]).toMatch(/^ {2}FEDERATION_REFUSED: .*is suspended/);
    expect(lines.at(-1)).toBe('1 envelope(s), 1 refused');
    const all = await runCaptured(['inbox', 'list', '--dir', gbrDir, '--json']);
    expect((JSON.parse(all.stdout) as InboxSummary[]).map((e) => e.outcome).sort()).toEqual([
      'refused',
      'stored',
    ]);
  });

  it('shows a received product torn to the reader, with its provenance and signature', async () => {
    const show = await runCaptured([
      'received',
      'show',
      stored.id,
      '--as',
      'confidential.gbr',
      '--dir',
      gbrDir,
    ]);
    expect(show.stderr).toBe('');
    expect(show.stdout).toContain(
      `received ${new Date(NOW).toISOString()} from USA under ${MAIN.id} v1 (envelope ${stored.messageId})`,
    );
    expect(show.stdout).toContain(`signature by ${usaKeys.public.signing.fingerprint} verifies`);
    expect(show.stdout).toContain(`(C//REL TO USA, FVEY) ${P2_TEXT}`);
    expect(show.stdout).toContain('  [1 portion(s) withheld from you]');
    expect(show.stdout).not.toContain(P1_TEXT);

    const list = await runCaptured(['received', 'list', '--as', 'topsecret.gbr', '--dir', gbrDir]);
    expect(list.stdout).toMatch(new RegExp(`^${stored.id} v1  from USA  SECRET//REL TO USA, GBR  `, 'm'));
    const none = await runCaptured(['received', 'list', '--as', 'french.gbr', '--dir', gbrDir]);
    expect(none.stdout).toBe('0 received product(s)\n');
    const hidden = await runCaptured(['received', 'show', stored.id, '--as', 'french.gbr', '--dir', gbrDir]);
    expect(hidden.code).toBe(2);
    expect(hidden.stderrLines).toEqual([`accord: no received product '${stored.id}' [NOT_FOUND]`]);
  });
});
