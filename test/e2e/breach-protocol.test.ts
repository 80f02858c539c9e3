import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AccordNode, buildNode } from '../../src/app/node.js';
import { type NodeKeys, partnerKeysOf, signerOf } from '../../src/app/node-keys.js';
import type { ArrangementDocument } from '../../src/arrangements/index.js';
import { runCaptured } from '../../src/cli/captured-run.js';
import { loadConfig } from '../../src/config/index.js';
import { createNodeIdentity, publicIdentity } from '../../src/crypto/index.js';
import { type IncidentNotice, signArrangementAs, withPinnedKeys } from '../../src/federation/index.js';
import type { Actor } from '../../src/services/actor.js';
import type { IncidentView } from '../../src/services/incident-service.js';
import { OutboxWorker } from '../../src/services/outbox-worker.js';
import { sealForOutbox } from '../../src/services/partner-keys.js';
import { openStore } from '../../src/store/index.js';
import { makeArrangement } from '../fixtures/builders.js';
import { makeDraft } from './harness.js';

// Issue 5's breach protocol across three real nodes on loopback (USA, GBR, CAN, each with its own
// keys and SQLite file, delivering through their outbox workers over HTTP). USA's analyst reports
// that CAN leaked two products under MAIN, whose protocol recalls and suspends on confirmation:
// every party is told, each recalls what it originated, USA's oversight body reviews and confirms,
// and then every node that holds MAIN refuses releases to CAN. LIGHT's protocol neither recalls
// nor suspends on its own: there the parties decide, through the suspension step.

const NOW = Date.parse('2026-11-26T12:00:00.000Z');
let clockNow = NOW;
const clock = () => clockNow;

function nodeKeys(): NodeKeys {
  const identity = createNodeIdentity();
  return { identity, public: publicIdentity(identity) };
}
const KEYS = { USA: nodeKeys(), GBR: nodeKeys(), CAN: nodeKeys() } as const;
type Party = keyof typeof KEYS;
const PARTIES: readonly Party[] = ['USA', 'GBR', 'CAN'];
const NAMES: Record<Party, string> = { USA: 'United States', GBR: 'United Kingdom', CAN: 'Canada' };

function arrangementOf(id: string, protocol: ArrangementDocument['breachProtocol']): ArrangementDocument {
  const terms = withPinnedKeys(
    makeArrangement({
      id,
      parties: [...PARTIES],
      scope: {
        disciplines: ['SIGINT'],
        categories: ['counterterrorism'],
        ceiling: 'TOP SECRET',
        caveats: ['SI'],
        controls: ['ORCON'],
      },
      breachProtocol: protocol,
    }),
    new Map(PARTIES.map((p) => [p, KEYS[p].public])),
  );
  return PARTIES.reduce(
    (doc, party) => signArrangementAs(doc, party, signerOf(KEYS[party]), '2025-01-01T00:00:00Z'),
    terms,
  );
}

const MAIN = arrangementOf('ct-breach-main', {
  notifyWithinHours: 12,
  autoSuspendOnConfirmedBreach: true,
  recall: true,
});
const LIGHT = arrangementOf('ct-breach-light', {
  notifyWithinHours: 48,
  autoSuspendOnConfirmedBreach: false,
  recall: false,
});

interface Running {
  readonly node: AccordNode;
  readonly address: string;
  readonly worker: OutboxWorker;
  readonly dir: string;
  actors: Record<'analyst' | 'officer' | 'auditor' | 'otherAuditor' | 'admin', Actor>;
}
const nodes = {} as Record<Party, Running>;

async function startNode(partner: Party): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), `accord-breach-${partner.toLowerCase()}-`));
  const config = loadConfig({
    flags: { dataDir: dir, partner, log: { level: 'silent' }, http: { host: '127.0.0.1', port: 0 } },
  });
  const store = await openStore(
    { kind: 'sqlite', file: join(dir, 'accord.sqlite') },
    { now: () => new Date(clock()) },
  );
  const node = await buildNode(config, { store, now: clock, keys: KEYS[partner] });
  const address = await node.server.listen({ host: '127.0.0.1', port: 0 });
  const worker = new OutboxWorker({ store, keys: KEYS[partner], partner, now: clock, random: () => 0.5 });
  const actors = {} as Running['actors'];
  const people = [
    ['analyst', 'analyst', undefined],
    ['officer', 'release-officer', undefined],
    ['auditor', 'oversight-auditor', [MAIN.id, LIGHT.id]],
    ['otherAuditor', 'oversight-auditor', ['some-other-arrangement']],
    ['admin', 'administrator', undefined],
  ] as const;
  for (const [key, role, oversightOf] of people) {
    const username = `${key.toLowerCase()}.${partner.toLowerCase()}`;
    await node.services.directory.createUser(null, {
      username,
      displayName: username,
      nationality: partner,
      clearance: 'TOP SECRET',
      caveats: ['SI'],
      communities: [],
      roles: [role],
      ...(oversightOf === undefined ? {} : { oversightOf: [...oversightOf] }),
    });
    const user = await node.store.users.getByUsername(username);
    if (user === undefined) throw new Error(`no user ${username}`);
    actors[key] = { user, via: 'local' };
  }
  return { node, address, worker, dir, actors };
}

/** Runs every node's outbox worker until a round delivers nothing more. */
async function deliverAll(): Promise<void> {
  for (let round = 0; round < 10; round++) {
    let moved = 0;
    for (const p of PARTIES) moved += (await nodes[p].worker.runOnce()).delivered;
    if (moved === 0) return;
  }
}

/** A product written, approved and released by `from` to `to` under MAIN; returns its id. */
async function released(from: Party, to: readonly Party[]): Promise<string> {
  const { products } = nodes[from].node.services;
  const { analyst, officer } = nodes[from].actors;
  const draft = await products.createDraft(analyst, makeDraft({ title: `${from} reporting` }));
  await products.submit(analyst, draft.id);
  await products.decide(officer, draft.id, 'approved');
  for (const recipient of to) {
    const outcome = await products.release(officer, draft.id, recipient, MAIN.id);
    expect(outcome.decision.effect, JSON.stringify(outcome)).toBe('allow');
  }
  return draft.id;
}

async function api(
  partner: Party,
  who: keyof Running['actors'],
  method: 'GET' | 'POST',
  url: string,
  payload?: object,
) {
  const { node, actors } = nodes[partner];
  const { token } = await node.services.auth.issueToken(actors[who].user.id, 'breach test');
  const response = await node.server.inject({
    method,
    url,
    headers: { authorization: `Bearer ${token}` },
    ...(payload === undefined ? {} : { payload }),
  });
  return { status: response.statusCode, body: JSON.parse(response.body) as Record<string, unknown> };
}

async function auditActions(partner: Party): Promise<Record<string, unknown>[]> {
  return (await nodes[partner].node.store.audit.pending(100_000)).map(
    (q) => JSON.parse(q.entryJson) as Record<string, unknown>,
  );
}

beforeAll(async () => {
  for (const p of PARTIES) nodes[p] = await startNode(p);
  for (const p of PARTIES) {
    for (const q of PARTIES) {
      await nodes[p].node.store.partners.upsert({
        code: q,
        name: NAMES[q],
        endpoint: q === p ? null : nodes[q].address,
        keys: partnerKeysOf(KEYS[q].public),
      });
    }
    for (const doc of [MAIN, LIGHT]) await nodes[p].node.store.arrangements.putVersion(doc);
  }
});

afterAll(async () => {
  for (const p of PARTIES) {
    await nodes[p]?.worker.stop();
    await nodes[p]?.node.close();
    if (nodes[p] !== undefined) rmSync(nodes[p].dir, { recursive: true, force: true });
  }
});

describe('the breach protocol across three nodes', () => {
  let usaProduct: string;
  let gbrProduct: string;
  let incident: IncidentView;

  it('notifies every party, and each recalls the products involved it originated', async () => {
    usaProduct = await released('USA', ['GBR', 'CAN']);
    gbrProduct = await released('GBR', ['USA', 'CAN']);
    await deliverAll();
    expect(await nodes.CAN.node.store.receivedProducts.get(usaProduct)).toBeDefined();
    expect(await nodes.CAN.node.store.receivedProducts.get(gbrProduct)).toBeDefined();

    const reported = await api('USA', 'analyst', 'POST', '/api/v1/incidents', {
      arrangement: MAIN.id,
      suspectedParty: 'CAN',
      products: [usaProduct, gbrProduct],
      severity: 'high',
      description: 'Both reports appeared on a public forum two days after release to CAN.',
    });
    expect(reported.status, JSON.stringify(reported.body)).toBe(201);
    incident = reported.body as unknown as IncidentView;
    expect(incident).toMatchObject({
      kind: 'breach',
      state: 'reported',
      origin: 'USA',
      partner: 'CAN',
      reporter: 'analyst.usa',
      notifyBy: new Date(NOW + 12 * 3_600_000).toISOString(),
    });
    // USA's share, in the report's transaction: its own product recalled, GBR's left to GBR.
    expect(incident.steps).toEqual([
      expect.objectContaining({
        seq: 1,
        action: 'reported',
        state: 'reported',
        effects: { recalled: [usaProduct] },
      }),
    ]);
    expect((await nodes.USA.node.store.products.get(usaProduct))?.state).toBe('recalled');
    expect(incident.notifications.map((n) => [n.partner, n.status])).toEqual([
      ['GBR', 'pending'],
      ['CAN', 'pending'],
    ]);

    clockNow += 60_000;
    await deliverAll();

    for (const p of ['GBR', 'CAN'] as const) {
      const held = await api(p, 'auditor', 'GET', `/api/v1/incidents/${incident.id}`);
      expect(held.status, JSON.stringify(held.body)).toBe(200);
      expect(held.body).toMatchObject({ origin: 'USA', state: 'reported', partner: 'CAN', severity: 'high' });
    }
    const atGbr = await nodes.GBR.node.services.incidents.get(nodes.GBR.actors.auditor, incident.id);
    expect(atGbr.steps[0]?.effects).toEqual({ recalled: [gbrProduct] });
    expect((await nodes.GBR.node.store.products.get(gbrProduct))?.state).toBe('recalled');
    // The recalls reached CAN: it keeps the metadata of both, and the content of neither.
    expect((await nodes.CAN.node.store.receivedProducts.get(usaProduct))?.recalledAt).not.toBeNull();
    expect((await nodes.CAN.node.store.receivedProducts.get(gbrProduct))?.recalledAt).not.toBeNull();

    const view = await nodes.USA.node.services.incidents.get(nodes.USA.actors.auditor, incident.id);
    expect(view.notifications).toEqual([
      expect.objectContaining({ partner: 'GBR', status: 'delivered', overdue: false, delivered: 1 }),
      expect.objectContaining({ partner: 'CAN', status: 'delivered', overdue: false, delivered: 1 }),
    ]);
    // Logged at each node, with no word of the description.
    const usaLog = await auditActions('USA');
    expect(usaLog).toContainEqual(
      expect.objectContaining({
        action: 'incident.reported',
        incident: incident.id,
        partner: 'CAN',
        severity: 'high',
      }),
    );
    expect(usaLog).toContainEqual(
      expect.objectContaining({
        action: 'product.recalled',
        actor: { kind: 'node' },
        product: { id: usaProduct },
      }),
    );
    const gbrLog = await auditActions('GBR');
    expect(gbrLog).toContainEqual(
      expect.objectContaining({ action: 'incident.reported', actor: { kind: 'partner', partner: 'USA' } }),
    );
    expect(JSON.stringify([...usaLog, ...gbrLog])).not.toContain('public forum');
  });

  it('lets the oversight body review and confirm, and then every node suspends the suspected party', async () => {
    const review = await api('USA', 'auditor', 'POST', `/api/v1/incidents/${incident.id}/review`, {
      note: 'Review opened by the panel.',
    });
    expect(review.status, JSON.stringify(review.body)).toBe(200);
    expect(review.body.state).toBe('under-review');
    const confirm = await api('USA', 'auditor', 'POST', `/api/v1/incidents/${incident.id}/confirm`, {});
    expect(confirm.status, JSON.stringify(confirm.body)).toBe(200);
    expect(confirm.body).toMatchObject({ state: 'confirmed' });
    const steps = confirm.body.steps as IncidentView['steps'];
    expect(steps.map((s) => s.action)).toEqual(['reported', 'review-opened', 'confirmed']);
    expect(steps[2]?.effects.suspended).toMatchObject({ arrangementId: MAIN.id, partner: 'CAN' });

    clockNow += 60_000;
    await deliverAll();
    for (const p of ['USA', 'GBR'] as const) {
      const held = await nodes[p].node.store.arrangements.latest(MAIN.id);
      expect(held?.document.suspendedParties, p).toEqual(['CAN']);
      // Their own policy now refuses releases to CAN under MAIN.
      const { products } = nodes[p].node.services;
      const { analyst, officer } = nodes[p].actors;
      const draft = await products.createDraft(analyst, makeDraft());
      await products.submit(analyst, draft.id);
      await products.decide(officer, draft.id, 'approved');
      await expect(products.release(officer, draft.id, 'CAN', MAIN.id)).rejects.toThrow(
        /arrangement\.suspension \(CAN suspended under ct-breach-main\)/,
      );
    }
    const atGbr = await nodes.GBR.node.services.incidents.get(nodes.GBR.actors.auditor, incident.id);
    expect(atGbr.state).toBe('confirmed');
    expect(atGbr.steps.map((s) => s.seq)).toEqual([1, 2, 3]);
    // CAN is told, and keeps the steps, but does not suspend itself.
    const atCan = await nodes.CAN.node.services.incidents.get(nodes.CAN.actors.auditor, incident.id);
    expect(atCan.state).toBe('confirmed');
    expect(
      (await nodes.CAN.node.store.arrangements.latest(MAIN.id))?.document.suspendedParties ?? [],
    ).toEqual([]);
    expect(await auditActions('GBR')).toContainEqual(
      expect.objectContaining({
        action: 'arrangement.party-suspended',
        actor: { kind: 'partner', partner: 'USA' },
        partner: 'CAN',
      }),
    );
  });

  it('refuses steps the state or the node does not allow, and changes nothing', async () => {
    const again = await api('USA', 'auditor', 'POST', `/api/v1/incidents/${incident.id}/resolve`, {});
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('INCIDENT_STATE_INVALID');
    const elsewhere = await api('GBR', 'auditor', 'POST', `/api/v1/incidents/${incident.id}/review`, {});
    expect(elsewhere.status).toBe(409);
    expect(String(elsewhere.body.detail)).toContain("USA's node");
    const analyst = await api('USA', 'analyst', 'POST', `/api/v1/incidents/${incident.id}/confirm`, {});
    expect(analyst.status).toBe(403);
    const steps = await nodes.USA.node.store.incidents.steps(incident.id);
    expect(steps).toHaveLength(3);
  });

  it('shows an auditor scoped to other arrangements nothing of the incident', async () => {
    const list = await api('USA', 'otherAuditor', 'GET', '/api/v1/incidents');
    expect(list.status).toBe(200);
    expect(list.body).toEqual([]);
    const one = await api('USA', 'otherAuditor', 'GET', `/api/v1/incidents/${incident.id}`);
    expect(one.status).toBe(404);
    // Nor may they report under it: it answers as an arrangement that does not exist, and stores nothing.
    const before = (await nodes.USA.node.store.incidents.list()).length;
    const outside = await api('USA', 'otherAuditor', 'POST', '/api/v1/incidents', {
      arrangement: MAIN.id,
      suspectedParty: 'CAN',
      products: [],
      severity: 'low',
      description: 'outside my scope',
    });
    expect(outside.status).toBe(404);
    expect(await nodes.USA.node.store.incidents.list()).toHaveLength(before);
    const report = await api(
      'USA',
      'otherAuditor',
      'GET',
      `/api/v1/reports/compliance?arrangement=${MAIN.id}&from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z`,
    );
    expect(report.status).toBe(404);
    const scoped = await api(
      'USA',
      'auditor',
      'GET',
      `/api/v1/reports/compliance?arrangement=${MAIN.id}&from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z`,
    );
    expect(scoped.status, JSON.stringify(scoped.body)).toBe(200);
    expect(scoped.body.incidents).toMatchObject({
      recorded: true,
      items: [
        expect.objectContaining({ id: incident.id, state: 'confirmed', suspectedParty: 'CAN', steps: 3 }),
      ],
    });
    await nodes.USA.node.services.audit.integrate();
    const entries = await api('USA', 'otherAuditor', 'GET', '/api/v1/audit/entries?start=0&end=50');
    expect(entries.status, JSON.stringify(entries.body)).toBe(200);
    const rows = entries.body.entries as { entry: unknown; withheld?: boolean }[];
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((r) => r.withheld === true && r.entry === null)).toBe(true);
    // The auditor of MAIN reads the entries about MAIN, and only those.
    const mine = await api('USA', 'auditor', 'GET', '/api/v1/audit/entries?start=0&end=500');
    const shown = (mine.body.entries as { entry: { arrangement?: { id: string } } | null }[]).filter(
      (r) => r.entry !== null,
    );
    expect(shown.length).toBeGreaterThan(0);
    expect(shown.every((r) => [MAIN.id, LIGHT.id].includes(r.entry?.arrangement?.id ?? ''))).toBe(true);
  });

  it('recalls only products shared under the incident arrangement, whoever names them', async () => {
    // USA shares a product with GBR under LIGHT only; GBR then names it in an incident under MAIN,
    // whose protocol recalls. USA must not recall from everyone what MAIN never carried.
    const { products } = nodes.USA.node.services;
    const { analyst, officer } = nodes.USA.actors;
    const draft = await products.createDraft(analyst, makeDraft({ title: 'shared under LIGHT only' }));
    await products.submit(analyst, draft.id);
    await products.decide(officer, draft.id, 'approved');
    await products.release(officer, draft.id, 'GBR', LIGHT.id);
    await deliverAll();
    const reported = await api('GBR', 'officer', 'POST', '/api/v1/incidents', {
      arrangement: MAIN.id,
      suspectedParty: 'USA',
      products: [draft.id],
      severity: 'medium',
      description: 'Names a product MAIN never carried.',
    });
    expect(reported.status, JSON.stringify(reported.body)).toBe(201);
    clockNow += 60_000;
    await deliverAll();
    const atUsa = await nodes.USA.node.services.incidents.get(
      nodes.USA.actors.auditor,
      String(reported.body.id),
    );
    expect(atUsa.steps[0]?.effects).toEqual({});
    expect((await nodes.USA.node.store.products.get(draft.id))?.state).toBe('released');
  });

  it('lets a scoped auditor verify the whole log without reading what lies outside their scope', async () => {
    const usa = nodes.USA;
    await usa.node.services.audit.integrate();
    await usa.node.services.audit.signTreeHead(usa.actors.admin);
    const { token } = await usa.node.services.auth.issueToken(usa.actors.otherAuditor.user.id, 'verify');
    const run = await runCaptured(['audit', 'verify', usa.address], { env: { ACCORD_TOKEN: token } });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^OK tree size \d+ root [0-9a-f]{64}$/m);
    expect(run.stdout).toMatch(
      /^ {2}\d+ entries outside your oversight scope: their leaf hashes are in the signed tree/m,
    );
  });

  it('leaves suspension to the parties where the protocol does not suspend on its own', async () => {
    const reported = await api('GBR', 'officer', 'POST', '/api/v1/incidents', {
      arrangement: LIGHT.id,
      suspectedParty: 'USA',
      products: [],
      severity: 'low',
      description: 'A handling slip to look into.',
    });
    expect(reported.status, JSON.stringify(reported.body)).toBe(201);
    const id = String(reported.body.id);
    const confirmed = await api('GBR', 'auditor', 'POST', `/api/v1/incidents/${id}/confirm`, {});
    expect(confirmed.status).toBe(200);
    expect(
      (await nodes.GBR.node.store.arrangements.latest(LIGHT.id))?.document.suspendedParties ?? [],
    ).toEqual([]);
    const suspended = await api('GBR', 'admin', 'POST', `/api/v1/incidents/${id}/suspend`, {
      note: 'The parties agreed to suspend USA pending the review.',
    });
    expect(suspended.status, JSON.stringify(suspended.body)).toBe(200);
    await deliverAll();
    for (const p of ['GBR', 'CAN'] as const) {
      expect((await nodes[p].node.store.arrangements.latest(LIGHT.id))?.document.suspendedParties, p).toEqual(
        ['USA'],
      );
    }
    const atUsa = await nodes.USA.node.services.incidents.get(nodes.USA.actors.auditor, id);
    expect(atUsa.steps.map((s) => s.action)).toEqual(['reported', 'confirmed', 'party-suspended']);
  });

  it('refuses bad reports with a clear error and stores nothing', async () => {
    const before = (await nodes.USA.node.store.incidents.list()).length;
    const cases: [Record<string, unknown>, number, string][] = [
      [{ arrangement: 'no-such-arrangement' }, 404, 'no arrangement'],
      [{ suspectedParty: 'FRA' }, 400, 'is not a party'],
      [{ products: ['no-such-product'] }, 400, '/products/0'],
      [{ severity: 'apocalyptic' }, 400, 'severity'],
      [{ description: '' }, 400, 'description'],
    ];
    for (const [change, status, words] of cases) {
      const response = await api('USA', 'analyst', 'POST', '/api/v1/incidents', {
        arrangement: MAIN.id,
        suspectedParty: 'GBR',
        products: [],
        severity: 'low',
        description: 'test',
        ...change,
      });
      expect(response.status, JSON.stringify(response.body)).toBe(status);
      expect(JSON.stringify(response.body)).toContain(words);
    }
    expect(await nodes.USA.node.store.incidents.list()).toHaveLength(before);
    // A reporter who may not read a product is answered as if it did not exist.
    await nodes.USA.node.services.directory.createUser(null, {
      username: 'junior.usa',
      displayName: 'junior',
      nationality: 'USA',
      clearance: 'UNCLASSIFIED',
      caveats: [],
      communities: [],
      roles: ['analyst'],
      password: 'a long enough junior password',
    });
    const junior = await nodes.USA.node.store.users.getByUsername('junior.usa');
    const { token } = await nodes.USA.node.services.auth.issueToken(junior?.id ?? '', 'junior');
    const answer = async (productId: string) => {
      const response = await nodes.USA.node.server.inject({
        method: 'POST',
        url: '/api/v1/incidents',
        headers: { authorization: `Bearer ${token}` },
        payload: {
          arrangement: MAIN.id,
          suspectedParty: 'GBR',
          products: [productId],
          severity: 'low',
          description: 'x',
        },
      });
      return {
        status: response.statusCode,
        detail: String(JSON.parse(response.body).detail).replace(productId, 'ID'),
      };
    };
    expect(await answer(usaProduct)).toEqual(await answer('USA-2026-ffffffffff'));
    expect((await answer(usaProduct)).status).toBe(400);
    expect(await nodes.USA.node.store.incidents.list()).toHaveLength(before);
  });

  it('refuses a notice of an incident from a party that did not report it', async () => {
    // CAN forges a step of USA's incident (resolving it) and seals it to GBR under MAIN.
    const forged: IncidentNotice = {
      kind: 'incident',
      arrangement: { id: MAIN.id, version: MAIN.version, versionHash: MAIN.signatures[0]?.versionHash ?? '' },
      incident: {
        id: incident.id,
        origin: 'USA',
        reportedAt: new Date(NOW).toISOString(),
        reporter: 'analyst.usa',
        suspectedParty: 'CAN',
        products: [],
        severity: 'high',
        description: 'forged',
        notifyBy: new Date(NOW).toISOString(),
      },
      step: {
        seq: 4,
        action: 'resolved',
        state: 'resolved',
        at: new Date(clockNow).toISOString(),
        by: 'analyst.usa',
      },
    };
    const sealed = await sealForOutbox(nodes.CAN.node.store.partners, {
      signer: signerOf(KEYS.CAN),
      from: 'CAN',
      now: clockNow,
      kind: 'incident',
      to: 'GBR',
      arrangement: forged.arrangement,
      product: { id: incident.id, version: 4 },
      payload: forged,
    });
    const response = await nodes.GBR.node.server.inject({
      method: 'POST',
      url: '/federation/v1/inbox',
      payload: sealed.payload.envelope as object,
    });
    expect(response.statusCode).toBeGreaterThanOrEqual(400);
    expect(response.body).toContain('/payload/incident/origin');
    const atGbr = await nodes.GBR.node.services.incidents.get(nodes.GBR.actors.auditor, incident.id);
    expect(atGbr.state).toBe('confirmed');
    expect(atGbr.steps).toHaveLength(3);
  });
});
