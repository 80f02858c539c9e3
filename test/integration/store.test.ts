import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import fc from 'fast-check';
import { Migrator } from 'kysely';
import { afterEach, assert, beforeEach, describe, expect, it } from 'vitest';
import { type ArrangementDocument, arrangementVersionHash } from '../../src/arrangements/index.js';
import {
  type AuditEvent,
  leafHash,
  rootOf,
  verifyConsistency,
  verifyInclusion,
} from '../../src/audit/index.js';
import { type AccordError, type ErrorCode, isAccordError } from '../../src/errors/index.js';
import type { ProductDocument } from '../../src/products/index.js';
import { AuditLog, storedFrontier, storedProofSource } from '../../src/services/audit-log.js';
import {
  type ConsentRequestRecord,
  type HeldProduct,
  type InboxEntry,
  openStore,
  type ProductVersionInput,
  type Repositories,
  STORE_TABLES,
  type Store,
  type StoreConfig,
  type StoreDialect,
} from '../../src/store/index.js';
import { initialMigration } from '../../src/store/migrations/0001-initial.js';
import { inboxMigration } from '../../src/store/migrations/0002-inbox.js';
import { outboxReceiptsMigration } from '../../src/store/migrations/0003-outbox-receipts.js';
import { MIGRATION_LOCK_TABLE, MIGRATION_TABLE, storeMigrations } from '../../src/store/migrations/index.js';
import { openSqlite } from '../../src/store/sqlite/index.js';
import {
  dropPgSchema,
  freshPgSchemaName,
  PG_TEST_URL,
  POSTGRES_SERVICE,
  pgAvailable,
  requireOrSkip,
} from '../fixtures/services.js';

// ---------------------------------------------------------------- the dialect matrix

const runPostgres = requireOrSkip(POSTGRES_SERVICE, await pgAvailable());

/** A place a store can live; each test gets a new one and removes it afterwards. */
interface Location {
  readonly config: StoreConfig;
  dispose(): Promise<void>;
}

interface Target {
  readonly dialect: StoreDialect;
  readonly enabled: boolean;
  newLocation(maxAttachmentBytes: number): Location;
}

const TARGETS: readonly Target[] = [
  {
    dialect: 'sqlite',
    enabled: true,
    newLocation(maxAttachmentBytes) {
      const dir = mkdtempSync(join(tmpdir(), 'accord-store-'));
      return {
        config: { kind: 'sqlite', file: join(dir, 'data', 'accord.sqlite'), maxAttachmentBytes },
        dispose: async () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  },
  {
    dialect: 'postgres',
    enabled: runPostgres,
    newLocation(maxAttachmentBytes) {
      const schema = freshPgSchemaName();
      return {
        config: { kind: 'postgres', url: PG_TEST_URL, schema, maxAttachmentBytes },
        dispose: () => dropPgSchema(schema),
      };
    },
  },
];

const ATTACHMENT_LIMIT = 64 * 1024;

// ---------------------------------------------------------------- builders and helpers

interface TestClock {
  readonly now: () => Date;
  advance(ms: number): void;
}

function makeClock(start: string): TestClock {
  let time = Date.parse(start);
  return {
    now: () => new Date(time),
    advance: (ms) => {
      time += ms;
    },
  };
}

const MINUTE = 60_000;
const T0 = '2025-06-01T00:00:00.000Z';
const REQUEST_ID = '3b0f8a52-5c1e-4d7a-9b2c-6e4f1a2b3c4d';
const OTHER_REQUEST_ID = '4c1a9b63-6d2f-4e8b-8c3d-7f5a2b3c4d5e';

function makeProduct(overrides: Partial<ProductDocument> = {}): ProductDocument {
  return {
    id: 'prod-1',
    version: 1,
    originator: 'GBR',
    author: 'analyst-1',
    title: 'Port activity at Sevastopol',
    titleMarking: 'U',
    discipline: 'IMINT',
    categories: ['military'],
    portions: [
      { id: 'p1', marking: 'S//REL TO USA, GBR', text: 'Two frigates alongside the northern quay.' },
      { id: 'p2', marking: 'U', text: 'Weather was clear.' },
    ],
    reliability: 'B',
    credibility: 2,
    createdAt: '2025-03-01T10:00:00Z',
    ...overrides,
  };
}

function versionInput(document: ProductDocument, rank = 3): ProductVersionInput {
  return {
    document,
    banner: rank >= 3 ? 'SECRET//REL TO USA, GBR' : 'UNCLASSIFIED',
    rank,
    portionRanks: Object.fromEntries(document.portions.map((p, i) => [p.id, i === 0 ? rank : 0])),
  };
}

function fingerprint(seed: string): string {
  return `sha256:${createHash('sha256').update(seed).digest('hex')}`;
}

function makeArrangement(overrides: Partial<ArrangementDocument> = {}): ArrangementDocument {
  return {
    id: 'arr-gbr-usa-ct',
    version: 1,
    title: 'GBR-USA counterterrorism sharing',
    type: 'bilateral',
    legalBasis: 'Memorandum of understanding of 2024',
    parties: [
      { partner: 'GBR', role: 'lead', nodeKeys: [{ use: 'signing', fingerprint: fingerprint('gbr') }] },
      { partner: 'USA', role: 'party', nodeKeys: [{ use: 'signing', fingerprint: fingerprint('usa') }] },
    ],
    scope: {
      disciplines: ['SIGINT', 'IMINT'],
      categories: ['counterterrorism'],
      ceiling: 'SECRET',
      caveats: [],
      controls: [],
    },
    equivalences: { GBR: { SECRET: 'SECRET' }, USA: { SECRET: 'SECRET' } },
    effective: '2025-01-01T00:00:00Z',
    expires: '2027-01-01T00:00:00Z',
    review: '2026-01-01T00:00:00Z',
    thirdPartyRule: true,
    releaseApproval: { fromLevel: 'SECRET', approvals: 1 },
    oversight: { body: 'Joint oversight board' },
    breachProtocol: { notifyWithinHours: 24, autoSuspendOnConfirmedBreach: true, recall: true },
    status: 'draft',
    signatures: [],
    ...overrides,
  };
}

/** Awaits a promise that must reject with an AccordError of `code`, and returns that error. */
async function rejection(promise: Promise<unknown>, code: ErrorCode): Promise<AccordError> {
  const outcome = await promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  assert(!outcome.ok, `expected a rejection with ${code}, but it resolved`);
  assert(isAccordError(outcome.error), `expected an AccordError ${code}, got ${String(outcome.error)}`);
  expect(outcome.error.code).toBe(code);
  return outcome.error;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------- the suite, once per dialect

describe.each(TARGETS)('store on $dialect', (target) => {
  let location: Location;
  let clock: TestClock;
  let store: Store;

  beforeEach(async (context) => {
    if (!target.enabled) {
      context.skip();
      return;
    }
    location = target.newLocation(ATTACHMENT_LIMIT);
    clock = makeClock(T0);
    store = await openStore(location.config, { now: clock.now });
  });

  afterEach(async () => {
    if (!target.enabled) return;
    await store.close();
    await location.dispose();
  });

  async function seedUser(id = 'u-1', username = 'alice'): Promise<void> {
    await store.users.create({
      id,
      username,
      displayName: 'Alice Analyst',
      nationality: 'GBR',
      clearance: 'SECRET',
      caveats: ['SI'],
      communities: ['FVEY'],
      roles: ['analyst'],
      passwordHash: '$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA',
    });
  }

  describe('migrations', () => {
    it('creates every table on open and applies nothing when run again', async () => {
      expect(store.dialect).toBe(target.dialect);
      const counts = await store.counts();
      expect(Object.keys(counts).sort()).toEqual([...STORE_TABLES].sort());
      expect(Object.values(counts).every((n) => n === 0)).toBe(true);
      expect(await store.migrate()).toEqual([]);
      expect(await store.migrate()).toEqual([]);
    });

    it('reopens an existing database without migrating again and keeps its rows', async () => {
      await store.partners.upsert({ code: 'GBR', name: 'United Kingdom', endpoint: null, keys: [] });
      await store.close();
      store = await openStore(location.config, { now: clock.now });
      expect(await store.migrate()).toEqual([]);
      expect((await store.partners.get('GBR'))?.name).toBe('United Kingdom');
    });
  });

  describe('partners and communities', () => {
    it('round-trips a partner and replaces its details on upsert', async () => {
      const keys = [
        { use: 'signing' as const, fingerprint: fingerprint('usa-sign'), publicKey: 'MCowBQYDK2VwAyEA' },
        { use: 'encryption' as const, fingerprint: fingerprint('usa-enc'), publicKey: 'MCowBQYDK2VuAyEA' },
      ];
      await store.partners.upsert({ code: 'USA', name: 'United States', endpoint: 'https://usa.node', keys });
      clock.advance(MINUTE);
      await store.partners.upsert({ code: 'USA', name: 'United States of America', endpoint: null, keys });
      await store.partners.upsert({ code: 'CAN', name: 'Canada', endpoint: 'https://can.node', keys: [] });

      expect(await store.partners.get('USA')).toEqual({
        code: 'USA',
        name: 'United States of America',
        endpoint: null,
        keys,
        updatedAt: '2025-06-01T00:01:00.000Z',
      });
      expect((await store.partners.list()).map((p) => p.code)).toEqual(['CAN', 'USA']);
      expect(await store.partners.get('FRA')).toBeUndefined();
    });

    it('keeps dated membership and answers who was a member on a given day', async () => {
      await store.communities.upsert({ code: 'JTF', name: 'Joint task force' });
      await store.communities.addMember({ community: 'JTF', partner: 'GBR', from: '2020-01-01' });
      await store.communities.addMember({
        community: 'JTF',
        partner: 'FRA',
        from: '2021-01-01',
        until: '2022-01-01',
      });

      const on = async (day: string) => (await store.communities.members('JTF', day)).map((m) => m.partner);
      expect(await on('2019-12-31')).toEqual([]);
      expect(await on('2021-06-01')).toEqual(['FRA', 'GBR']);
      expect(await on('2022-01-01')).toEqual(['GBR']);

      const ended = await store.communities.endMembership('JTF', 'GBR', '2024-01-01');
      expect(ended).toEqual({ community: 'JTF', partner: 'GBR', from: '2020-01-01', until: '2024-01-01' });
      expect(await on('2024-06-01')).toEqual([]);
      expect(await store.communities.members('JTF')).toHaveLength(2);
      expect(await store.communities.list()).toEqual([{ code: 'JTF', name: 'Joint task force' }]);

      await rejection(store.communities.endMembership('JTF', 'GBR', '2025-01-01'), 'STORE_NOT_FOUND');
      await rejection(
        store.communities.addMember({ community: 'NOPE', partner: 'GBR', from: '2020-01-01' }),
        'STORE_NOT_FOUND',
      );
      await rejection(store.communities.members('JTF', 'yesterday'), 'INPUT_INVALID');
    });
  });

  describe('arrangements', () => {
    it('keeps every version and returns the latest', async () => {
      const v1 = makeArrangement();
      const v2 = makeArrangement({ version: 2, title: 'GBR-USA counterterrorism sharing, amended' });
      const v3 = makeArrangement({ version: 3, review: '2026-06-01T00:00:00Z' });
      for (const doc of [v1, v3, v2]) await store.arrangements.putVersion(doc);

      const history = await store.arrangements.history(v1.id);
      expect(history.map((a) => a.version)).toEqual([1, 2, 3]);
      expect(history.map((a) => a.versionHash)).toEqual([v1, v2, v3].map(arrangementVersionHash));
      expect((await store.arrangements.getVersion(v1.id, 1))?.document).toEqual(v1);
      expect((await store.arrangements.getVersion(v1.id, 2))?.document.title).toBe(v2.title);

      const latest = await store.arrangements.latest(v1.id);
      expect(latest?.version).toBe(3);
      expect(latest?.document).toEqual(v3);
      expect(await store.arrangements.latest('arr-unknown')).toBeUndefined();
      expect(await store.arrangements.getVersion(v1.id, 4)).toBeUndefined();
    });

    it('records signatures on a stored version but refuses changed terms', async () => {
      const draft = makeArrangement();
      await store.arrangements.putVersion(draft);
      const hash = arrangementVersionHash(draft);
      const signed = makeArrangement({
        status: 'active',
        signatures: (['GBR', 'USA'] as const).map((partner) => ({
          partner,
          fingerprint: fingerprint(partner.toLowerCase()),
          versionHash: hash,
          signedAt: '2025-02-01T00:00:00Z',
          signature: 'c2lnbmF0dXJl',
        })),
      });
      clock.advance(MINUTE);
      const stored = await store.arrangements.putVersion(signed);
      expect(stored.status).toBe('active');
      expect(stored.document.signatures).toHaveLength(2);
      expect(stored.versionHash).toBe(hash);
      expect(stored.createdAt).toBe(T0);
      expect(stored.updatedAt).toBe('2025-06-01T00:01:00.000Z');
      expect(await store.arrangements.history(draft.id)).toHaveLength(1);

      const error = await rejection(
        store.arrangements.putVersion(makeArrangement({ legalBasis: 'Something else' })),
        'STORE_CONFLICT',
      );
      expect(error.details).toMatchObject({ id: draft.id, version: 1 });
      expect((await store.arrangements.latest(draft.id))?.document.legalBasis).toBe(draft.legalBasis);
    });

    it('sets the status in both the column and the document, and lists the latest of each', async () => {
      await store.arrangements.putVersion(makeArrangement());
      await store.arrangements.putVersion(makeArrangement({ version: 2 }));
      await store.arrangements.putVersion(makeArrangement({ id: 'arr-nato-cyber', title: 'NATO cyber' }));

      const suspended = await store.arrangements.setStatus('arr-gbr-usa-ct', 2, 'suspended');
      expect(suspended.status).toBe('suspended');
      expect(suspended.document.status).toBe('suspended');
      expect((await store.arrangements.getVersion('arr-gbr-usa-ct', 2))?.document.status).toBe('suspended');
      expect((await store.arrangements.getVersion('arr-gbr-usa-ct', 1))?.status).toBe('draft');

      const list = await store.arrangements.list();
      expect(list.map((a) => [a.id, a.version, a.status])).toEqual([
        ['arr-gbr-usa-ct', 2, 'suspended'],
        ['arr-nato-cyber', 1, 'draft'],
      ]);
      await rejection(store.arrangements.setStatus('arr-gbr-usa-ct', 9, 'active'), 'STORE_NOT_FOUND');
    });
  });

  describe('users and authentication', () => {
    it('round-trips a user and disables it', async () => {
      await seedUser();
      const user = await store.users.getByUsername('alice');
      expect(user).toEqual({
        id: 'u-1',
        username: 'alice',
        displayName: 'Alice Analyst',
        nationality: 'GBR',
        clearance: 'SECRET',
        caveats: ['SI'],
        communities: ['FVEY'],
        roles: ['analyst'],
        passwordHash: '$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA',
        disabled: false,
        createdAt: T0,
      });
      expect(await store.users.getById('u-1')).toEqual(user);
      expect((await store.users.setDisabled('u-1', true)).disabled).toBe(true);
      expect((await store.users.list()).map((u) => u.username)).toEqual(['alice']);
      expect(await store.users.getByUsername('mallory')).toBeUndefined();
      await rejection(store.users.setDisabled('u-404', true), 'STORE_NOT_FOUND');
    });

    it('refuses a taken username with STORE_CONFLICT', async () => {
      await seedUser('u-1', 'alice');
      const error = await rejection(seedUser('u-2', 'alice'), 'STORE_CONFLICT');
      expect(error.details.operation).toBe('users.create');
      expect(await store.users.getById('u-2')).toBeUndefined();
      expect((await store.counts()).users).toBe(1);
    });

    it('stores only the SHA-256 of an API token and finds it by the token', async () => {
      await seedUser();
      const token = 'acc_4f1c9a7e0d2b4c6a8e1f3b5d7c9e2a4f';
      const created = await store.tokens.create({ token, userId: 'u-1', label: 'ci' });
      expect(created.tokenSha256).toBe(createHash('sha256').update(token).digest('hex'));
      expect(JSON.stringify(await store.tokens.listForUser('u-1'))).not.toContain(token);

      expect((await store.tokens.getByToken(token))?.lastUsedAt).toBeNull();
      clock.advance(MINUTE);
      await store.tokens.touch(created.tokenSha256);
      expect((await store.tokens.getByToken(token))?.lastUsedAt).toBe('2025-06-01T00:01:00.000Z');
      expect(await store.tokens.getByToken(`${token}x`)).toBeUndefined();

      expect(await store.tokens.revoke(created.tokenSha256)).toBe(true);
      expect(await store.tokens.revoke(created.tokenSha256)).toBe(false);
      expect(await store.tokens.getByToken(token)).toBeUndefined();
      await rejection(store.tokens.create({ token, userId: 'u-404', label: 'x' }), 'STORE_NOT_FOUND');
    });

    it('returns a session until it expires', async () => {
      await seedUser();
      const session = await store.sessions.create({
        sessionId: 'sess-secret-1',
        userId: 'u-1',
        csrfToken: 'csrf-1',
        expiresAt: '2025-06-01T00:30:00Z',
      });
      expect(session.sessionSha256).toBe(createHash('sha256').update('sess-secret-1').digest('hex'));
      expect(session.expiresAt).toBe('2025-06-01T00:30:00.000Z');
      expect((await store.sessions.get('sess-secret-1'))?.csrfToken).toBe('csrf-1');
      expect(await store.sessions.get('sess-secret-2')).toBeUndefined();

      clock.advance(30 * MINUTE);
      expect(await store.sessions.get('sess-secret-1')).toBeUndefined();
      expect(await store.sessions.deleteExpired()).toBe(1);
      expect((await store.counts()).sessions).toBe(0);

      await store.sessions.create({
        sessionId: 's2',
        userId: 'u-1',
        csrfToken: 'c',
        expiresAt: '2030-01-01T00:00:00Z',
      });
      await store.sessions.delete('s2');
      expect(await store.sessions.get('s2')).toBeUndefined();
    });

    it('counts recent failed logins per username and per address', async () => {
      await store.loginAttempts.record({ username: 'alice', ip: '10.0.0.1', ok: false });
      clock.advance(MINUTE);
      await store.loginAttempts.record({ username: 'alice', ip: '10.0.0.2', ok: false });
      await store.loginAttempts.record({ username: 'alice', ip: '10.0.0.2', ok: true });
      await store.loginAttempts.record({ username: 'bob', ip: '10.0.0.2', ok: false });

      expect(await store.loginAttempts.countRecentFailures({ username: 'alice' }, T0)).toBe(2);
      expect(
        await store.loginAttempts.countRecentFailures({ username: 'alice' }, '2025-06-01T00:00:30Z'),
      ).toBe(1);
      expect(await store.loginAttempts.countRecentFailures({ ip: '10.0.0.2' }, T0)).toBe(2);
      expect(await store.loginAttempts.countRecentFailures({ ip: '10.0.0.9' }, T0)).toBe(0);
    });
  });

  describe('entity index (issue 9)', () => {
    it('indexes the current version of an own product in its transaction, replaces it, drops it on recall', async () => {
      const v1 = makeProduct({
        portions: [
          { id: 'p1', marking: 'S//REL TO USA, GBR', text: 'Beacon to 203.0.113.7 and evil[.]example.com.' },
          { id: 'p2', marking: 'U', text: 'Also 203.0.113.7 again, twice: 203.0.113.7.' },
        ],
      });
      await store.products.createDraft(versionInput(v1));
      const first = await store.entities.of('own', 'prod-1');
      expect(first.map((e) => [e.portionId, e.type, e.value])).toEqual([
        ['p1', 'domain', 'evil.example.com'],
        ['p1', 'ipv4', '203.0.113.7'],
        ['p2', 'ipv4', '203.0.113.7'],
      ]);
      expect(first[0]).toMatchObject({
        source: 'own',
        version: 1,
        originator: 'GBR',
        reportedAt: '2025-03-01T10:00:00.000Z',
      });

      const hits = async (q: string) =>
        (await store.search.match(q)).map((h) => `${h.productId}/${h.portionId}`).sort();
      expect(await hits('beacon')).toEqual(['prod-1/p1']);
      expect(await hits('203.0.113.7')).toEqual(['prod-1/p1', 'prod-1/p2']);
      expect(await hits('SEVASTOPOL port')).toEqual(['prod-1/']);
      expect(await hits('beacon weather')).toEqual([]);
      expect(await hits(' "*" ')).toEqual([]);

      // A version that fails to store leaves the index as it was.
      await rejection(store.products.addVersion(versionInput(makeProduct({ version: 1 }))), 'STORE_CONFLICT');
      expect(await store.entities.count()).toBe(3);

      const v2 = makeProduct({
        version: 2,
        portions: [{ id: 'p1', marking: 'U', text: 'Now 198.51.100.9.' }],
      });
      await store.products.addVersion(versionInput(v2));
      expect((await store.entities.of('own', 'prod-1')).map((e) => [e.version, e.value])).toEqual([
        [2, '198.51.100.9'],
      ]);
      expect(
        (
          await store.entities.sharing([
            { type: 'ipv4', value: '198.51.100.9' },
            { type: 'ipv4', value: '203.0.113.7' },
          ])
        ).map((e) => e.productId),
      ).toEqual(['prod-1']);

      await store.products.setState('prod-1', 'submitted');
      expect(await hits('beacon')).toEqual([]);
      expect(await hits('198.51.100.9')).toEqual(['prod-1/p1']);
      await store.products.setState('prod-1', 'recalled', { from: 'submitted' });
      expect(await store.entities.count()).toBe(0);
      expect(await hits('Sevastopol')).toEqual([]);
    });

    it('finds the products that may hold any of some words (a superset), and lists what is indexed', async () => {
      await store.products.createDraft(
        versionInput(
          makeProduct({
            portions: [
              { id: 'p1', marking: 'S//REL TO USA, GBR', text: 'Beacon to 203.0.113.7 from the Café.' },
            ],
          }),
        ),
      );
      await store.products.createDraft(
        versionInput(makeProduct({ id: 'prod-2', portions: [{ id: 'p1', marking: 'U', text: 'Weather.' }] })),
      );
      const holding = async (...words: string[]) =>
        (await store.search.holdingAny(words)).map((p) => `${p.source}:${p.productId}`);
      expect(await holding('beacon')).toEqual(['own:prod-1']);
      expect(await holding('113')).toEqual(['own:prod-1']);
      expect(await holding('café', 'weather')).toEqual(['own:prod-1', 'own:prod-2']);
      expect(await holding('nothing')).toEqual([]);
      expect(await holding('"*"', '%')).toEqual([]);
      expect(await holding()).toEqual([]);
      expect((await store.search.products()).map((p) => p.productId)).toEqual(['prod-1', 'prod-2']);
    });
  });

  describe('alert rules and alerts (issue 9)', () => {
    it("keeps rules per owner, stores an alert once per dedupe key, and lists an owner's newest first", async () => {
      const rule = {
        id: 'r-1',
        ownerId: 'u-1',
        team: null,
        kind: 'entity-by-partners',
        params: { minPartners: 2 },
        createdAt: T0,
      };
      expect(await store.alerts.addRule(rule)).toEqual({ ...rule, createdAt: T0 });
      await store.alerts.addRule({ ...rule, id: 'r-2', ownerId: 'u-2' });
      expect((await store.alerts.rules({ userId: 'u-1', teams: [] })).map((r) => r.id)).toEqual(['r-1']);
      expect((await store.alerts.rules()).map((r) => r.id)).toEqual(['r-1', 'r-2']);
      const alert = {
        id: 'a-1',
        ruleId: 'r-1',
        ownerId: 'u-1',
        dedupeKey: 'r-1|ipv4:203.0.113.7|GBR,USA',
        product: { source: 'own' as const, id: 'prod-1', version: 1 },
        detail: { kind: 'entity-by-partners' },
        firedAt: T0,
      };
      expect(await store.alerts.add(alert)).toEqual(alert);
      expect(await store.alerts.add({ ...alert, id: 'a-2' })).toBeUndefined();
      await store.alerts.add({
        ...alert,
        id: 'a-3',
        dedupeKey: 'other',
        firedAt: '2025-06-01T00:01:00.000Z',
      });
      expect((await store.alerts.list('u-1')).map((a) => a.id)).toEqual(['a-3', 'a-1']);
      expect(await store.alerts.list('u-2')).toEqual([]);
      expect(await store.alerts.deleteRule('r-1', { userId: 'u-2', teams: [] })).toBe(false);
      expect(await store.alerts.deleteRule('r-1', { userId: 'u-1', teams: [] })).toBe(true);
      expect((await store.alerts.rules()).map((r) => r.id)).toEqual(['r-2']);
    });

    it("holds a team's rule for its members, not for its author once they leave, nor as anyone's own", async () => {
      const rule = {
        id: 't-1',
        ownerId: 'u-1',
        team: 'ct-cell',
        kind: 'watched-area',
        params: {},
        createdAt: T0,
      };
      await store.alerts.addRule(rule);
      await store.alerts.addRule({ ...rule, id: 'own-1', team: null });
      const ids = async (userId: string, teams: string[]) =>
        (await store.alerts.rules({ userId, teams })).map((r) => r.id);
      expect(await ids('u-1', ['ct-cell'])).toEqual(['own-1', 't-1']);
      expect(await ids('u-1', [])).toEqual(['own-1']);
      expect(await ids('u-2', ['ct-cell', 'FVEY'])).toEqual(['t-1']);
      expect(await ids('u-3', ['FVEY'])).toEqual([]);
      expect((await store.alerts.rules()).find((r) => r.id === 't-1')).toEqual(rule);
      expect(await store.alerts.deleteRule('t-1', { userId: 'u-1', teams: [] })).toBe(false);
      expect(await store.alerts.deleteRule('t-1', { userId: 'u-2', teams: ['ct-cell'] })).toBe(true);
    });
  });

  describe('products', () => {
    it('creates a draft, adds versions and keeps each one', async () => {
      const v1 = makeProduct();
      const created = await store.products.createDraft(versionInput(v1));
      expect(created).toEqual({
        id: 'prod-1',
        originator: 'GBR',
        author: 'analyst-1',
        currentVersion: 1,
        state: 'draft',
        createdAt: T0,
        updatedAt: T0,
      });

      const v2 = makeProduct({ version: 2, title: 'Port activity at Sevastopol (update)' });
      clock.advance(MINUTE);
      const updated = await store.products.addVersion(versionInput(v2, 1));
      expect(updated.currentVersion).toBe(2);
      expect(updated.updatedAt).toBe('2025-06-01T00:01:00.000Z');

      const current = await store.products.getVersion('prod-1');
      expect(current?.version).toBe(2);
      expect(current?.document).toEqual(v2);
      expect(current?.rank).toBe(1);
      expect(current?.createdAt).toBe('2025-03-01T10:00:00.000Z');
      expect((await store.products.getVersion('prod-1', 1))?.document).toEqual(v1);
      expect((await store.products.getVersion('prod-1', 1))?.banner).toBe('SECRET//REL TO USA, GBR');
      expect(await store.products.getVersion('prod-1', 3)).toBeUndefined();
      expect(await store.products.getVersion('prod-404')).toBeUndefined();

      expect(await store.products.portions('prod-1', 1)).toEqual([
        { productId: 'prod-1', version: 1, portionId: 'p1', marking: 'S//REL TO USA, GBR', rank: 3 },
        { productId: 'prod-1', version: 1, portionId: 'p2', marking: 'U', rank: 0 },
      ]);
      expect((await store.products.list()).map((p) => p.id)).toEqual(['prod-1']);
      expect(await store.counts()).toMatchObject({ products: 1, product_versions: 2, portions: 4 });
    });

    it('refuses a duplicate product, a version not above the current one and a missing portion rank', async () => {
      await store.products.createDraft(versionInput(makeProduct()));
      await rejection(store.products.createDraft(versionInput(makeProduct())), 'STORE_CONFLICT');
      await rejection(store.products.addVersion(versionInput(makeProduct({ version: 1 }))), 'STORE_CONFLICT');
      await rejection(
        store.products.addVersion(versionInput(makeProduct({ version: 2, originator: 'FRA' }))),
        'STORE_CONFLICT',
      );
      await rejection(
        store.products.addVersion(versionInput(makeProduct({ id: 'prod-404' }))),
        'STORE_NOT_FOUND',
      );
      await rejection(
        store.products.addVersion({ ...versionInput(makeProduct({ version: 2 })), portionRanks: { p1: 3 } }),
        'INPUT_INVALID',
      );
      expect(await store.counts()).toMatchObject({ products: 1, product_versions: 1, portions: 2 });
    });

    it('changes state, and only from the expected state when one is given', async () => {
      await store.products.createDraft(versionInput(makeProduct()));
      expect((await store.products.setState('prod-1', 'submitted', { from: 'draft' })).state).toBe(
        'submitted',
      );
      const error = await rejection(
        store.products.setState('prod-1', 'approved', { from: 'draft' }),
        'STORE_CONFLICT',
      );
      expect(error.details.state).toBe('submitted');
      expect((await store.products.setState('prod-1', 'approved')).state).toBe('approved');
      await rejection(store.products.setState('prod-404', 'approved'), 'STORE_NOT_FOUND');
    });

    it('records one approval decision per person per version', async () => {
      await store.products.createDraft(versionInput(makeProduct()));
      await store.approvals.add({ productId: 'prod-1', version: 1, by: 'officer-1', decision: 'approved' });
      clock.advance(MINUTE);
      await store.approvals.add({
        productId: 'prod-1',
        version: 1,
        by: 'officer-2',
        decision: 'rejected',
        comment: 'Source too sensitive',
      });
      await rejection(
        store.approvals.add({ productId: 'prod-1', version: 1, by: 'officer-1', decision: 'approved' }),
        'STORE_CONFLICT',
      );
      await rejection(
        store.approvals.add({ productId: 'prod-1', version: 7, by: 'officer-1', decision: 'approved' }),
        'STORE_NOT_FOUND',
      );
      expect(await store.approvals.list('prod-1', 1)).toEqual([
        { productId: 'prod-1', version: 1, by: 'officer-1', decision: 'approved', comment: null, at: T0 },
        {
          productId: 'prod-1',
          version: 1,
          by: 'officer-2',
          decision: 'rejected',
          comment: 'Source too sensitive',
          at: '2025-06-01T00:01:00.000Z',
        },
      ]);
    });
  });

  describe('attachments', () => {
    it('stores the same bytes once, under their SHA-256, and returns them intact', async () => {
      const bytes = new Uint8Array(1000).map((_, i) => (i * 7) % 256);
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      const first = await store.attachments.put({ bytes, mediaType: 'image/png' });
      clock.advance(MINUTE);
      const again = await store.attachments.put({
        bytes: Uint8Array.from(bytes),
        mediaType: 'application/octet-stream',
      });
      expect(first).toEqual({ sha256, size: 1000, mediaType: 'image/png', createdAt: T0 });
      expect(again).toEqual(first);
      expect((await store.counts()).attachments).toBe(1);

      const stored = await store.attachments.get(sha256);
      expect(stored?.bytes).toEqual(bytes);
      expect(await store.attachments.get('0'.repeat(64))).toBeUndefined();
      expect(await store.attachments.get('not-a-hash')).toBeUndefined();

      await store.products.createDraft(versionInput(makeProduct()));
      await store.attachments.link({ productId: 'prod-1', version: 1, sha256, filename: 'quay.png' });
      await store.attachments.link({ productId: 'prod-1', version: 1, sha256, filename: 'copy.png' });
      expect((await store.attachments.listForProduct('prod-1', 1)).map((a) => [a.filename, a.size])).toEqual([
        ['copy.png', 1000],
        ['quay.png', 1000],
      ]);
      await rejection(
        store.attachments.link({
          productId: 'prod-1',
          version: 1,
          sha256: 'f'.repeat(64),
          filename: 'x.bin',
        }),
        'STORE_NOT_FOUND',
      );
    });

    it('refuses attachment file names that climb out of a directory or disguise their type, writing nothing', async () => {
      const bytes = new Uint8Array(10).fill(7);
      const { sha256 } = await store.attachments.put({ bytes, mediaType: 'application/pdf' });
      await store.products.createDraft(versionInput(makeProduct()));
      const traversal = fc.oneof(
        fc.constantFrom(
          '../../etc/passwd',
          '..\\..\\windows\\win.ini',
          '/etc/shadow',
          'C:\\report.pdf',
          'report.pdf:stream',
          '..',
          '.',
          '...',
          '',
          ' report.pdf',
          'report.pdf\u0000.png',
          'report\nname.pdf',
          'invoice\u202Efdp.exe',
          'a\u2066b.pdf',
          '\uD800.pdf',
          'x'.repeat(256),
        ),
        fc
          .tuple(fc.string({ maxLength: 10 }), fc.constantFrom('/', '\\', ':'), fc.string({ maxLength: 10 }))
          .map(([a, sep, b]) => `${a}${sep}${b}`),
      );
      await fc.assert(
        fc.asyncProperty(traversal, async (filename) => {
          const error = await rejection(
            store.attachments.link({ productId: 'prod-1', version: 1, sha256, filename }),
            'INPUT_INVALID',
          );
          expect(error.message).toMatch(/^attachment file name /);
        }),
        { numRuns: 60 },
      );
      expect((await store.counts()).product_attachments).toBe(0);
      // A plain name, with spaces, dots and other scripts, is taken.
      await store.attachments.link({
        productId: 'prod-1',
        version: 1,
        sha256,
        filename: 'Hafen Übersicht v2.tar.gz',
      });
      expect((await store.counts()).product_attachments).toBe(1);
    });

    it('refuses an attachment over the size limit and writes nothing', async () => {
      await store.attachments.put({ bytes: new Uint8Array(ATTACHMENT_LIMIT), mediaType: 'application/pdf' });
      const error = await rejection(
        store.attachments.put({
          bytes: new Uint8Array(ATTACHMENT_LIMIT + 1).fill(1),
          mediaType: 'application/pdf',
        }),
        'ATTACHMENT_TOO_LARGE',
      );
      expect(error.details).toMatchObject({ size: ATTACHMENT_LIMIT + 1, limit: ATTACHMENT_LIMIT });
      expect((await store.counts()).attachments).toBe(1);
    });
  });

  describe('releases, consents and the outbox', () => {
    async function seedRelease(id = 'rel-1'): Promise<void> {
      if ((await store.products.get('prod-1')) === undefined) {
        await store.products.createDraft(versionInput(makeProduct()));
        await store.arrangements.putVersion(makeArrangement());
      }
      await store.releases.add({
        id,
        productId: 'prod-1',
        version: 1,
        recipient: 'USA',
        arrangementId: 'arr-gbr-usa-ct',
        arrangementVersion: 1,
        effect: 'allow',
        decision: { effect: 'allow', rules: [{ rule: 'ceiling', outcome: 'pass' }] },
        by: 'officer-1',
      });
    }

    it('records releases with their decision and the arrangement they were taken under', async () => {
      await seedRelease();
      await store.releases.add({
        id: 'rel-2',
        productId: 'prod-1',
        version: 1,
        recipient: 'FRA',
        arrangementId: null,
        arrangementVersion: null,
        effect: 'deny',
        decision: {
          effect: 'deny',
          rules: [{ rule: 'arrangement', outcome: 'fail', reason: 'none applies' }],
        },
        by: 'officer-1',
      });
      expect(await store.releases.get('rel-1')).toEqual({
        id: 'rel-1',
        productId: 'prod-1',
        version: 1,
        recipient: 'USA',
        arrangementId: 'arr-gbr-usa-ct',
        arrangementVersion: 1,
        effect: 'allow',
        decision: { effect: 'allow', rules: [{ rule: 'ceiling', outcome: 'pass' }] },
        by: 'officer-1',
        at: T0,
      });
      expect((await store.releases.list({ recipient: 'FRA' })).map((r) => r.effect)).toEqual(['deny']);
      expect(await store.releases.list({ productId: 'prod-1' })).toHaveLength(2);
      await rejection(
        store.releases.add({
          id: 'rel-3',
          productId: 'prod-1',
          version: 1,
          recipient: 'USA',
          arrangementId: 'arr-gbr-usa-ct',
          arrangementVersion: 5,
          effect: 'allow',
          decision: {},
          by: 'officer-1',
        }),
        'STORE_NOT_FOUND',
      );
    });

    it('lists consents by product and recipient', async () => {
      await store.consents.add({
        productId: 'usa-prod-9',
        originator: 'USA',
        recipient: 'CAN',
        grantedAt: '2025-05-01T00:00:00Z',
        expiresAt: '2025-12-31T00:00:00Z',
        signature: 'c2ln',
      });
      await store.consents.add({
        productId: 'usa-prod-9',
        originator: 'USA',
        recipient: 'AUS',
        grantedAt: '2025-05-02T00:00:00Z',
      });
      expect(await store.consents.list({ productId: 'usa-prod-9', recipient: 'CAN' })).toEqual([
        {
          productId: 'usa-prod-9',
          originator: 'USA',
          recipient: 'CAN',
          grantedAt: '2025-05-01T00:00:00.000Z',
          expiresAt: '2025-12-31T00:00:00.000Z',
          signature: 'c2ln',
          holder: null,
          productVersion: null,
          requestId: null,
          consent: null,
        },
      ]);
      expect((await store.consents.list()).map((c) => c.recipient)).toEqual(['CAN', 'AUS']);
    });

    it("keeps an originator's signed consent as it arrived, found by product, recipient and holder", async () => {
      const signed = {
        consent: {
          requestId: REQUEST_ID,
          product: { id: 'usa-prod-9', version: 2, digest: fingerprint('derived') },
          originator: 'USA',
          holder: 'GBR',
          recipient: 'CAN',
          arrangement: { id: 'fvey-ct', version: 1, versionHash: fingerprint('terms') },
          grantedAt: '2025-05-01T00:00:00.000Z',
          expiresAt: '2025-12-31T00:00:00.000Z',
          signerKey: fingerprint('usa'),
        },
        signature: 'c2ln',
      };
      expect(await store.consents.addSigned(signed)).toEqual({
        productId: 'usa-prod-9',
        originator: 'USA',
        recipient: 'CAN',
        grantedAt: '2025-05-01T00:00:00.000Z',
        expiresAt: '2025-12-31T00:00:00.000Z',
        signature: 'c2ln',
        holder: 'GBR',
        productVersion: 2,
        requestId: REQUEST_ID,
        consent: signed,
      });
      expect((await store.consents.list({ holder: 'GBR', recipient: 'CAN' }))[0]?.consent).toEqual(signed);
      expect(await store.consents.list({ holder: 'AUS' })).toEqual([]);
      await rejection(store.consents.addSigned(signed), 'STORE_CONFLICT');
    });

    it('hands out pending messages when due and records attempts and delivery', async () => {
      await seedRelease();
      await store.outbox.enqueue({
        id: 'msg-1',
        releaseId: 'rel-1',
        recipient: 'USA',
        payload: { envelope: 'a' },
      });
      await store.outbox.enqueue({
        id: 'msg-2',
        releaseId: 'rel-1',
        recipient: 'USA',
        payload: { envelope: 'b' },
        nextAttemptAt: '2025-06-01T00:05:00Z',
      });
      expect((await store.outbox.listPending()).map((m) => m.id)).toEqual(['msg-1']);

      const failed = await store.outbox.markFailed('msg-1', {
        error: 'connect ECONNREFUSED',
        nextAttemptAt: '2025-06-01T00:02:00Z',
      });
      expect(failed).toMatchObject({ status: 'pending', attempts: 1, lastError: 'connect ECONNREFUSED' });
      expect(await store.outbox.listPending()).toEqual([]);

      clock.advance(10 * MINUTE);
      expect((await store.outbox.listPending()).map((m) => m.id)).toEqual(['msg-1', 'msg-2']);
      expect((await store.outbox.listPending({ limit: 1 })).map((m) => m.id)).toEqual(['msg-1']);

      const delivered = await store.outbox.markDelivered('msg-1', { receipt: { outcome: 'stored' } });
      expect(delivered).toMatchObject({
        status: 'delivered',
        deliveredAt: '2025-06-01T00:10:00.000Z',
        lastError: null,
        receipt: { receipt: { outcome: 'stored' } },
      });
      clock.advance(MINUTE);
      expect((await store.outbox.markDelivered('msg-1')).deliveredAt).toBe('2025-06-01T00:10:00.000Z');

      const gaveUp = await store.outbox.markFailed('msg-2', {
        error: 'recipient key unknown',
        nextAttemptAt: null,
      });
      expect(gaveUp).toMatchObject({ status: 'failed', attempts: 1, receipt: null });
      // Both queued at the same instant: newest first, then by id.
      expect((await store.outbox.list()).map((m) => [m.id, m.status])).toEqual([
        ['msg-1', 'delivered'],
        ['msg-2', 'failed'],
      ]);
      expect((await store.outbox.list({ status: 'failed' })).map((m) => m.id)).toEqual(['msg-2']);
      expect(await store.outbox.listPending()).toEqual([]);
      expect((await store.outbox.get('msg-2'))?.payload).toEqual({ envelope: 'b' });
      await rejection(
        store.outbox.markFailed('msg-2', { error: 'x', nextAttemptAt: null }),
        'STORE_NOT_FOUND',
      );
      await rejection(
        store.outbox.enqueue({ id: 'msg-3', releaseId: 'rel-404', recipient: 'USA', payload: {} }),
        'STORE_NOT_FOUND',
      );
    });
    it('records recalls of a product and ties each recall envelope to its recall', async () => {
      await seedRelease();
      const recall = {
        id: 'rc-1',
        productId: 'prod-1',
        version: null,
        reason: 'Source withdrew the reporting.',
        by: 'officer-1',
        at: '2025-06-01T00:03:00Z',
      };
      expect(await store.recalls.add(recall)).toEqual({ ...recall, at: '2025-06-01T00:03:00.000Z' });
      await store.recalls.add({ ...recall, id: 'rc-2', version: 1, at: '2025-06-01T00:04:00Z' });
      await rejection(store.recalls.add(recall), 'STORE_CONFLICT');
      await rejection(store.recalls.add({ ...recall, id: 'rc-3', productId: 'nothing' }), 'STORE_NOT_FOUND');
      expect((await store.recalls.list('prod-1')).map((r) => [r.id, r.version])).toEqual([
        ['rc-1', null],
        ['rc-2', 1],
      ]);
      expect(await store.recalls.get('rc-9')).toBeUndefined();

      await store.outbox.enqueue({ id: 'msg-r', releaseId: 'rel-1', recipient: 'USA', payload: {} });
      await store.outbox.enqueue({
        id: 'msg-c',
        releaseId: 'rel-1',
        recipient: 'USA',
        payload: {},
        recallId: 'rc-1',
      });
      expect((await store.outbox.get('msg-r'))?.recallId).toBeNull();
      expect((await store.outbox.list({ recallId: 'rc-1' })).map((m) => m.id)).toEqual(['msg-c']);
      expect((await store.outbox.list({ releaseId: 'rel-1' })).map((m) => m.id).sort()).toEqual([
        'msg-c',
        'msg-r',
      ]);
      await rejection(
        store.outbox.enqueue({
          id: 'msg-x',
          releaseId: 'rel-1',
          recipient: 'USA',
          payload: {},
          recallId: 'rc-9',
        }),
        'STORE_NOT_FOUND',
      );
    });
  });

  describe('consent requests, onward releases and their outbox rows', () => {
    const ENVELOPE = '8c3f5d71-b04e-4f6d-a152-4d5e6f708192';

    function request(id = REQUEST_ID, overrides: Partial<ConsentRequestRecord> = {}) {
      return {
        id,
        direction: 'outgoing' as const,
        envelopeId: `${id.slice(0, -4)}e0e0`,
        productId: 'usa-prod-1',
        productVersion: 2,
        productDigest: fingerprint('derived'),
        originator: 'USA',
        holder: 'GBR',
        recipient: 'CAN',
        arrangementId: 'fvey-ct',
        arrangementVersion: 1,
        arrangementHash: fingerprint('terms'),
        reason: 'CAN leads the investigation',
        requestedBy: 'officer.gbr',
        requestedAt: T0,
        ...overrides,
      };
    }

    const SIGNED = {
      consent: {
        requestId: REQUEST_ID,
        product: { id: 'usa-prod-1', version: 2, digest: fingerprint('derived') },
        originator: 'USA',
        holder: 'GBR',
        recipient: 'CAN',
        arrangement: { id: 'fvey-ct', version: 1, versionHash: fingerprint('terms') },
        grantedAt: '2025-06-01T00:05:00.000Z',
        signerKey: fingerprint('usa'),
      },
      signature: 'c2ln',
    };

    /** A received product to pass on: its inbox row and the document as it arrived. */
    async function seedReceived(): Promise<void> {
      await store.arrangements.putVersion(makeArrangement());
      await store.inbox.record({
        envelopeId: ENVELOPE,
        sender: 'USA',
        kind: 'release',
        arrangementId: 'arr-gbr-usa-ct',
        arrangementVersion: 1,
        productId: 'usa-prod-1',
        productVersion: 2,
        envelopeDigest: fingerprint(ENVELOPE),
        remoteAddress: null,
        outcome: 'stored',
        code: null,
        reason: null,
        receipt: null,
        receivedAt: T0,
      });
      await store.receivedProducts.add({
        envelopeId: ENVELOPE,
        productId: 'usa-prod-1',
        productVersion: 2,
        originator: 'USA',
        sender: 'USA',
        arrangementId: 'arr-gbr-usa-ct',
        arrangementVersion: 1,
        document: {
          id: 'usa-prod-1',
          version: 2,
          originator: 'USA',
          title: 'Derived title',
          titleMarking: '(U)',
          discipline: 'SIGINT',
          categories: ['counterterrorism'],
          portions: [{ id: 'p1', marking: '(C//REL TO USA, FVEY)', text: 'Kept.' }],
          banner: 'CONFIDENTIAL//REL TO USA, FVEY',
          withheldCount: 0,
          reliability: 'B',
          credibility: 2,
          createdAt: '2025-05-01T00:00:00Z',
          derivedFrom: { id: 'usa-prod-1', version: 2, digest: fingerprint('source') },
          signature: { by: fingerprint('usa'), value: `${'A'.repeat(86)}==` },
        },
        banner: 'CONFIDENTIAL//REL TO USA, FVEY',
        rank: 2,
        receivedAt: T0,
      });
    }

    it('records a request pending, lists it by direction and status, and decides it once', async () => {
      const added = await store.consentRequests.add(request());
      expect(added).toEqual({
        ...request(),
        status: 'pending',
        decidedBy: null,
        decidedAt: null,
        decisionReason: null,
        consent: null,
      });
      clock.advance(MINUTE);
      await store.consentRequests.add(
        request(OTHER_REQUEST_ID, {
          direction: 'incoming',
          requestedBy: null,
          requestedAt: '2025-06-01T00:01:00Z',
        }),
      );
      expect((await store.consentRequests.list()).map((r) => r.id)).toEqual([OTHER_REQUEST_ID, REQUEST_ID]);
      expect((await store.consentRequests.list({ direction: 'outgoing' })).map((r) => r.id)).toEqual([
        REQUEST_ID,
      ]);
      expect(await store.consentRequests.list({ productId: 'other' })).toEqual([]);

      const granted = await store.consentRequests.decide(REQUEST_ID, {
        status: 'granted',
        decidedAt: '2025-06-01T00:05:00Z',
        decidedBy: null,
        consent: SIGNED,
      });
      expect(granted).toMatchObject({
        status: 'granted',
        decidedAt: '2025-06-01T00:05:00.000Z',
        consent: SIGNED,
      });
      expect(await store.consentRequests.get(REQUEST_ID)).toEqual(granted);
      expect((await store.consentRequests.list({ status: 'pending' })).map((r) => r.id)).toEqual([
        OTHER_REQUEST_ID,
      ]);

      // Decided once: a second answer, either way, changes nothing.
      await rejection(
        store.consentRequests.decide(REQUEST_ID, {
          status: 'denied',
          decidedAt: T0,
          decidedBy: 'officer.usa',
          reason: 'changed our mind',
        }),
        'STORE_CONFLICT',
      );
      expect(await store.consentRequests.get(REQUEST_ID)).toEqual(granted);
      await rejection(
        store.consentRequests.decide('00000000-0000-4000-8000-000000000000', {
          status: 'denied',
          decidedAt: T0,
          decidedBy: null,
          reason: 'x',
        }),
        'STORE_NOT_FOUND',
      );
    });

    it('refuses a denial without its reason, a grant without its consent, and an id or envelope twice', async () => {
      await store.consentRequests.add(request());
      await rejection(
        store.consentRequests.decide(REQUEST_ID, { status: 'denied', decidedAt: T0, decidedBy: null }),
        'INPUT_INVALID',
      );
      await rejection(
        store.consentRequests.decide(REQUEST_ID, { status: 'granted', decidedAt: T0, decidedBy: null }),
        'INPUT_INVALID',
      );
      expect((await store.consentRequests.get(REQUEST_ID))?.status).toBe('pending');
      await rejection(store.consentRequests.add(request()), 'STORE_CONFLICT');
      await rejection(
        store.consentRequests.add(request(OTHER_REQUEST_ID, { envelopeId: request().envelopeId })),
        'STORE_CONFLICT',
      );
      await rejection(
        store.consentRequests.add(request(OTHER_REQUEST_ID, { direction: 'sideways' as 'incoming' })),
        'INPUT_INVALID',
      );
    });

    it('records an onward release only of a product received, with its decision', async () => {
      const onward = {
        id: 'onward-1',
        envelopeId: ENVELOPE,
        productId: 'usa-prod-1',
        productVersion: 2,
        originator: 'USA',
        recipient: 'CAN',
        arrangementId: 'arr-gbr-usa-ct',
        arrangementVersion: 1,
        effect: 'allow' as const,
        decision: { effect: 'allow', rules: [] },
        consentRequestId: REQUEST_ID,
        by: 'officer.gbr',
      };
      await rejection(store.onwardReleases.add(onward), 'STORE_NOT_FOUND');
      await seedReceived();
      expect(await store.onwardReleases.add(onward)).toEqual({ ...onward, at: T0 });
      expect(await store.onwardReleases.get('onward-1')).toEqual({ ...onward, at: T0 });
      expect(await store.onwardReleases.list({ recipient: 'CAN' })).toHaveLength(1);
      expect(await store.onwardReleases.list({ productId: 'other' })).toEqual([]);
      await rejection(store.onwardReleases.add({ ...onward, effect: 'maybe' as 'allow' }), 'INPUT_INVALID');
    });

    it('queues a message for exactly one existing release, consent request or onward release', async () => {
      await seedReceived();
      await store.consentRequests.add(request());
      await store.onwardReleases.add({
        id: 'onward-1',
        envelopeId: ENVELOPE,
        productId: 'usa-prod-1',
        productVersion: 2,
        originator: 'USA',
        recipient: 'CAN',
        arrangementId: 'arr-gbr-usa-ct',
        arrangementVersion: 1,
        effect: 'allow',
        decision: {},
        consentRequestId: null,
        by: 'officer.gbr',
      });
      const asked = await store.outbox.enqueue({
        id: 'msg-ask',
        consentRequestId: REQUEST_ID,
        recipient: 'USA',
        payload: { envelope: 'a' },
      });
      expect(asked).toMatchObject({ releaseId: null, consentRequestId: REQUEST_ID, onwardReleaseId: null });
      const passed = await store.outbox.enqueue({
        id: 'msg-pass',
        onwardReleaseId: 'onward-1',
        recipient: 'CAN',
        payload: { envelope: 'b' },
      });
      expect(passed).toMatchObject({ releaseId: null, consentRequestId: null, onwardReleaseId: 'onward-1' });
      expect((await store.outbox.listPending()).map((m) => m.id).sort()).toEqual(['msg-ask', 'msg-pass']);

      await rejection(
        store.outbox.enqueue({ id: 'msg-none', recipient: 'USA', payload: {} }),
        'INPUT_INVALID',
      );
      await rejection(
        store.outbox.enqueue({
          id: 'msg-two',
          consentRequestId: REQUEST_ID,
          onwardReleaseId: 'onward-1',
          recipient: 'USA',
          payload: {},
        }),
        'INPUT_INVALID',
      );
      await rejection(
        store.outbox.enqueue({
          id: 'msg-x',
          consentRequestId: OTHER_REQUEST_ID,
          recipient: 'USA',
          payload: {},
        }),
        'STORE_NOT_FOUND',
      );
      await rejection(
        store.outbox.enqueue({ id: 'msg-y', onwardReleaseId: 'onward-404', recipient: 'USA', payload: {} }),
        'STORE_NOT_FOUND',
      );
      expect((await store.counts()).outbox).toBe(2);
    });
  });

  describe('inbox and received products', () => {
    const ENVELOPE_1 = '5f0c2a4e-8d1b-4c3a-9e2f-1a2b3c4d5e6f';
    const ENVELOPE_2 = '6a1d3b5f-9e2c-4d4b-8f30-2b3c4d5e6f70';
    const ENVELOPE_3 = '7b2e4c60-af3d-4e5c-9041-3c4d5e6f7081';
    const RECEIPT = {
      receipt: {
        envelopeId: ENVELOPE_1,
        from: 'GBR',
        to: 'USA',
        product: { id: 'usa-prod-1', version: 2, digest: fingerprint('doc') },
        receivedAt: T0,
        outcome: 'stored' as const,
        signerKey: fingerprint('gbr'),
      },
      signature: 'c2ln',
    };

    function entry(envelopeId: string, overrides: Partial<InboxEntry> = {}): InboxEntry {
      return {
        envelopeId,
        sender: 'USA',
        kind: 'release',
        arrangementId: 'arr-gbr-usa-ct',
        arrangementVersion: 1,
        productId: 'usa-prod-1',
        productVersion: 2,
        envelopeDigest: fingerprint(envelopeId),
        remoteAddress: '127.0.0.1',
        outcome: 'stored',
        code: null,
        reason: null,
        receipt: RECEIPT,
        receivedAt: T0,
        ...overrides,
      };
    }

    function received(envelopeId: string, overrides: Partial<HeldProduct> = {}): HeldProduct {
      const document = {
        id: 'usa-prod-1',
        version: 2,
        originator: 'USA',
        title: 'Derived title',
        titleMarking: '(U)',
        discipline: 'SIGINT' as const,
        categories: ['counterterrorism'],
        portions: [{ id: 'p1', marking: '(S//REL TO USA, GBR)', text: 'Kept.' }],
        banner: 'SECRET//REL TO USA, GBR',
        withheldCount: 1,
        reliability: 'B' as const,
        credibility: 2,
        createdAt: '2025-05-01T00:00:00Z',
        derivedFrom: { id: 'usa-prod-1', version: 2, digest: fingerprint('source') },
        signature: { by: fingerprint('usa'), value: `${'A'.repeat(86)}==` },
      };
      return {
        envelopeId,
        productId: 'usa-prod-1',
        productVersion: 2,
        originator: 'USA',
        sender: 'USA',
        arrangementId: 'arr-gbr-usa-ct',
        arrangementVersion: 1,
        document,
        banner: 'SECRET//REL TO USA, GBR',
        rank: 3,
        receivedAt: T0,
        recalledAt: null,
        recallEnvelopeId: null,
        ...overrides,
      };
    }

    it('records what was done with each envelope once, and lists entries by sender, outcome and product', async () => {
      expect(await store.inbox.record(entry(ENVELOPE_1))).toEqual(entry(ENVELOPE_1));
      await store.inbox.record(
        entry(ENVELOPE_2, {
          sender: 'CAN',
          outcome: 'refused',
          code: 'FEDERATION_REFUSED',
          reason: 'portion.releasability: withholds 1 of 2 portions: p3',
          receipt: null,
          receivedAt: '2025-06-01T00:01:00Z',
        }),
      );
      expect(await store.inbox.get(ENVELOPE_1)).toEqual(entry(ENVELOPE_1));
      expect((await store.inbox.get(ENVELOPE_2))?.receivedAt).toBe('2025-06-01T00:01:00.000Z');
      expect(await store.inbox.get(ENVELOPE_3)).toBeUndefined();
      expect((await store.inbox.list()).map((e) => e.envelopeId)).toEqual([ENVELOPE_1, ENVELOPE_2]);
      expect((await store.inbox.list({ outcome: 'refused' })).map((e) => e.code)).toEqual([
        'FEDERATION_REFUSED',
      ]);
      expect((await store.inbox.list({ sender: 'USA' })).map((e) => e.envelopeId)).toEqual([ENVELOPE_1]);
      expect(await store.inbox.list({ productId: 'other' })).toEqual([]);
      expect(await store.inbox.list({ arrangementId: 'arr-gbr-usa-ct', limit: 1, offset: 1 })).toHaveLength(
        1,
      );

      await rejection(
        store.inbox.record(entry(ENVELOPE_1, { envelopeDigest: fingerprint('other') })),
        'STORE_CONFLICT',
      );
      // A refusal must name its reason (DESIGN.md §2.3), and an outcome is one of two.
      await rejection(
        store.inbox.record(entry(ENVELOPE_3, { outcome: 'refused', receipt: null })),
        'INPUT_INVALID',
      );
      await rejection(
        store.inbox.record(entry(ENVELOPE_3, { outcome: 'lost' as InboxEntry['outcome'] })),
        'INPUT_INVALID',
      );
      expect((await store.counts()).inbox).toBe(2);
    });

    it('stores a received version only under a recorded envelope, once, and finds the latest version', async () => {
      await rejection(store.receivedProducts.add(received(ENVELOPE_1)), 'STORE_NOT_FOUND');
      await store.inbox.record(entry(ENVELOPE_1));
      await store.inbox.record(entry(ENVELOPE_2, { productVersion: 3 }));
      await store.inbox.record(entry(ENVELOPE_3, { sender: 'GBR', productId: 'gbr-prod-7' }));

      expect(await store.receivedProducts.add(received(ENVELOPE_1))).toEqual(received(ENVELOPE_1));
      await rejection(store.receivedProducts.add(received(ENVELOPE_1)), 'STORE_CONFLICT');
      clock.advance(MINUTE);
      await store.receivedProducts.add(
        received(ENVELOPE_2, { productVersion: 3, receivedAt: '2025-06-01T00:01:00Z' }),
      );
      await store.receivedProducts.add(
        received(ENVELOPE_3, {
          productId: 'gbr-prod-7',
          originator: 'GBR',
          sender: 'GBR',
          arrangementId: 'arr-gbr-ct',
          receivedAt: '2025-06-01T00:02:00Z',
        }),
      );

      expect((await store.receivedProducts.get('usa-prod-1'))?.envelopeId).toBe(ENVELOPE_2);
      expect((await store.receivedProducts.get('usa-prod-1', 2))?.document).toEqual(
        received(ENVELOPE_1).document,
      );
      expect(await store.receivedProducts.get('usa-prod-1', 9)).toBeUndefined();
      expect(await store.receivedProducts.get('nothing')).toBeUndefined();
      expect((await store.receivedProducts.list()).map((p) => p.envelopeId)).toEqual([
        ENVELOPE_3,
        ENVELOPE_2,
        ENVELOPE_1,
      ]);
      expect((await store.receivedProducts.list({ originator: 'GBR' })).map((p) => p.productId)).toEqual([
        'gbr-prod-7',
      ]);
      expect(
        (await store.receivedProducts.list({ sender: 'USA', limit: 1 })).map((p) => p.envelopeId),
      ).toEqual([ENVELOPE_2]);
      expect(
        (await store.receivedProducts.list({ arrangementId: 'arr-gbr-usa-ct' })).map((p) => p.envelopeId),
      ).toEqual([ENVELOPE_2, ENVELOPE_1]);
      expect(await store.counts()).toMatchObject({ inbox: 3, received_products: 3 });
    });

    it('erases the content of the versions a recall names, keeps their metadata, and never twice', async () => {
      await store.inbox.record(entry(ENVELOPE_1));
      await store.inbox.record(entry(ENVELOPE_2, { productVersion: 3 }));
      await store.inbox.record(entry(ENVELOPE_3, { sender: 'CAN' }));
      const v2 = await store.receivedProducts.add(received(ENVELOPE_1));
      await store.receivedProducts.add(received(ENVELOPE_2, { productVersion: 3 }));
      // The same product id from another originator: no recall by USA touches it.
      await store.receivedProducts.add(received(ENVELOPE_3, { originator: 'CAN', sender: 'CAN' }));
      expect(await store.receivedProducts.originatorsOf('usa-prod-1', null)).toEqual(['CAN', 'USA']);
      expect(await store.receivedProducts.originatorsOf('usa-prod-1', 3)).toEqual(['USA']);
      expect(await store.receivedProducts.originatorsOf('nothing', null)).toEqual([]);

      const RECALL_1 = '8c3f5d71-b04e-4f6d-8152-4d5e6f708192';
      const recall = {
        envelopeId: RECALL_1,
        recallId: '9d40e682-c15f-4a7e-9263-5e6f708192a3',
        originator: 'USA',
        productId: 'usa-prod-1',
        productVersion: 2,
        reason: 'Withdrawn.',
        recalledAt: '2025-06-01T00:05:00Z',
        receivedAt: '2025-06-01T00:06:00Z',
      };
      // A product may name a recall only once it is recorded.
      await rejection(
        store.receivedProducts.recall({
          productId: 'usa-prod-1',
          version: 2,
          originator: 'USA',
          recallEnvelopeId: RECALL_1,
          recalledAt: recall.receivedAt,
        }),
        'STORE_NOT_FOUND',
      );
      expect(await store.receivedRecalls.add(recall)).toEqual({
        ...recall,
        recalledAt: '2025-06-01T00:05:00.000Z',
        receivedAt: '2025-06-01T00:06:00.000Z',
      });
      await rejection(store.receivedRecalls.add(recall), 'STORE_CONFLICT');

      const target = {
        productId: 'usa-prod-1',
        version: 2,
        originator: 'USA',
        recallEnvelopeId: RECALL_1,
        recalledAt: '2025-06-01T00:06:00Z',
      };
      const [erased, ...more] = await store.receivedProducts.recall(target);
      expect(more).toEqual([]);
      const { document: _held, recalledAt: _none, recallEnvelopeId: _no, ...metadata } = v2;
      expect(erased).toMatchObject({
        ...metadata,
        recalledAt: '2025-06-01T00:06:00.000Z',
        recallEnvelopeId: RECALL_1,
      });
      expect(erased?.document).toMatchObject({
        recalled: true,
        id: 'usa-prod-1',
        titleMarking: '(U)',
        portions: [{ id: 'p1', marking: '(S//REL TO USA, GBR)' }],
        signature: v2.document.signature,
      });
      const usaCopies = await store.receivedProducts.list({ originator: 'USA', productId: 'usa-prod-1' });
      const v2Now = usaCopies.find((p) => p.envelopeId === ENVELOPE_1);
      expect(v2Now).toEqual(erased);
      expect(JSON.stringify(v2Now)).not.toMatch(/Kept\.|Derived title/);
      // A second recall of the same version erases nothing more.
      expect(await store.receivedProducts.recall(target)).toEqual([]);
      // The other version and the other originator's copy still hold their content.
      expect((await store.receivedProducts.get('usa-prod-1', 3))?.recalledAt).toBeNull();
      const foreign = (await store.receivedProducts.list({ originator: 'CAN' }))[0];
      expect(foreign?.recalledAt).toBeNull();
      expect((await store.receivedProducts.list({ productId: 'usa-prod-1' })).length).toBe(3);

      expect(await store.receivedRecalls.covering('USA', 'usa-prod-1', 2)).toMatchObject({
        envelopeId: RECALL_1,
      });
      expect(await store.receivedRecalls.covering('USA', 'usa-prod-1', 3)).toBeUndefined();
      expect(await store.receivedRecalls.covering('CAN', 'usa-prod-1', 2)).toBeUndefined();
      const RECALL_ALL = 'ae51f793-d260-4b8f-a374-6f708192a3b4';
      await store.receivedRecalls.add({ ...recall, envelopeId: RECALL_ALL, productVersion: null });
      expect(await store.receivedRecalls.covering('USA', 'usa-prod-1', 7)).toMatchObject({
        envelopeId: RECALL_ALL,
      });
      expect(await store.receivedRecalls.get(RECALL_ALL)).toMatchObject({ productVersion: null });
      const all = await store.receivedProducts.recall({
        ...target,
        version: null,
        recallEnvelopeId: RECALL_ALL,
      });
      expect(all.map((p) => [p.productVersion, p.originator])).toEqual([[3, 'USA']]);
      expect(await store.counts()).toMatchObject({ received_products: 3, received_recalls: 2 });
    });

    it('writes neither the entry nor the product when the transaction that holds them fails', async () => {
      await rejection(
        store.transaction(async (tx) => {
          await tx.inbox.record(entry(ENVELOPE_1));
          await tx.receivedProducts.add(received(ENVELOPE_1));
          await tx.receivedProducts.add(received(ENVELOPE_1));
        }),
        'STORE_CONFLICT',
      );
      expect(await store.counts()).toMatchObject({ inbox: 0, received_products: 0 });
    });
  });

  describe('audit log', () => {
    const entry = (i: number) => `{"action":"auth.login","n":${i}}`;
    const hash = (seed: string) => Uint8Array.from(createHash('sha256').update(seed).digest());

    it('queues events in order and hands each to one dequeue only', async () => {
      for (let i = 0; i < 5; i++) await store.audit.enqueue(entry(i), T0);
      const pending = await store.audit.pending(3);
      expect(pending.map((q) => q.entryJson)).toEqual([entry(0), entry(1), entry(2)]);
      expect(pending.every((q, i) => i === 0 || q.seq > pending[i - 1]!.seq)).toBe(true);
      expect(await store.audit.dequeue(pending.map((q) => q.seq))).toBe(3);
      expect(await store.audit.dequeue(pending.map((q) => q.seq))).toBe(0);
      expect((await store.audit.pending(10)).map((q) => q.entryJson)).toEqual([entry(3), entry(4)]);
      expect((await store.counts()).audit_queue).toBe(2);
    });

    it('queues nothing through a transaction handle kept past its callback', async () => {
      let kept: Repositories | undefined;
      await store.transaction(async (tx) => {
        kept = tx;
        await tx.audit.enqueue(entry(0), T0);
      });
      await expect(kept?.audit.enqueue(entry(1), T0)).rejects.toBeInstanceOf(Error);
      await store.transaction(async (tx) => {
        await tx.audit.enqueue(entry(2), T0);
        // The handle of an ended transaction writes neither on its own nor into this one.
        await expect(kept?.audit.enqueue(entry(3), T0)).rejects.toBeInstanceOf(Error);
      });
      expect((await store.audit.pending(10)).map((q) => q.entryJson)).toEqual([entry(0), entry(2)]);
    });

    it('claims the oldest queued events in queue order, once, and gives them back on rollback', async () => {
      for (let i = 0; i < 5; i++) await store.audit.enqueue(entry(i), T0);
      const failure = new Error('the batch failed');
      await expect(
        store.transaction(async (tx) => {
          expect((await tx.audit.claim(3)).map((q) => q.entryJson)).toEqual([entry(0), entry(1), entry(2)]);
          throw failure;
        }),
      ).rejects.toBe(failure);
      expect((await store.counts()).audit_queue).toBe(5);
      const first = await store.transaction((tx) => tx.audit.claim(3));
      expect(first.map((q) => [q.entryJson, q.queuedAt])).toEqual([0, 1, 2].map((i) => [entry(i), T0]));
      expect(first.every((q, i) => i === 0 || q.seq > first[i - 1]!.seq)).toBe(true);
      const rest = await store.transaction((tx) => tx.audit.claim(10));
      expect(rest.map((q) => q.entryJson)).toEqual([entry(3), entry(4)]);
      expect(await store.transaction((tx) => tx.audit.claim(10))).toEqual([]);
      expect((await store.counts()).audit_queue).toBe(0);
    });

    it('stores entries and subtree hashes, serves them by range and by node, beyond 2^31', async () => {
      expect(await store.audit.size()).toBe(0);
      const big = 2 ** 40;
      await store.audit.append(
        [0, 1, 2].map((index) => ({
          index,
          leafHash: hash(`l${index}`),
          entryJson: entry(index),
          recordedAt: T0,
        })),
        [
          { level: 1, index: 0, hash: hash('n10') },
          { level: 41, index: big, hash: hash('big') },
        ],
      );
      expect(await store.audit.size()).toBe(3);
      const rows = await store.audit.entries(1, 10);
      expect(rows.map((r) => [r.index, r.entryJson, r.recordedAt])).toEqual([
        [1, entry(1), T0],
        [2, entry(2), T0],
      ]);
      expect(Buffer.compare(rows[0]!.leafHash, hash('l1'))).toBe(0);
      const nodes = await store.audit.nodes([
        { level: 0, index: 2 },
        { level: 1, index: 0 },
        { level: 41, index: big },
        { level: 1, index: 7 },
      ]);
      const found = Object.fromEntries(
        nodes.map((n) => [`${n.level}/${n.index}`, Buffer.from(n.hash).toString('hex')]),
      );
      expect(found).toEqual({
        '0/2': Buffer.from(hash('l2')).toString('hex'),
        '1/0': Buffer.from(hash('n10')).toString('hex'),
        [`41/${big}`]: Buffer.from(hash('big')).toString('hex'),
      });
      // An index is written once.
      await rejection(
        store.audit.append([{ index: 2, leafHash: hash('x'), entryJson: entry(9), recordedAt: T0 }], []),
        'STORE_CONFLICT',
      );
      expect(await store.counts()).toMatchObject({ audit_entries: 3, audit_nodes: 2 });
    });

    it('keeps signed tree heads and answers the largest, newest first', async () => {
      expect(await store.audit.latestTreeHead()).toBeUndefined();
      const head = (treeSize: number, timestamp: string) => ({
        treeSize,
        rootHash: 'ab'.repeat(32),
        timestamp,
        nodeId: 'USA',
        signature: `sig-${treeSize}-${timestamp}`,
      });
      await store.audit.addTreeHead(head(5, '2025-06-01T00:00:01.000Z'));
      await store.audit.addTreeHead(head(9, '2025-06-01T00:00:02.000Z'));
      await store.audit.addTreeHead(head(9, '2025-06-01T00:00:03.000Z'));
      await store.audit.addTreeHead(head(2 ** 35, '2025-06-01T00:00:04.000Z'));
      expect(await store.audit.latestTreeHead()).toEqual(head(2 ** 35, '2025-06-01T00:00:04.000Z'));
      expect((await store.audit.treeHeads()).map((h) => [h.treeSize, h.timestamp])).toEqual([
        [5, '2025-06-01T00:00:01.000Z'],
        [9, '2025-06-01T00:00:02.000Z'],
        [9, '2025-06-01T00:00:03.000Z'],
        [2 ** 35, '2025-06-01T00:00:04.000Z'],
      ]);
      await rejection(store.audit.addTreeHead(head(9, '2025-06-01T00:00:03.000Z')), 'STORE_CONFLICT');
    });

    it('appends through the AuditLog in batches, and its root and proofs match the reference', async () => {
      const log = new AuditLog({ store, now: () => clock.now().getTime(), nodeId: 'GBR', batchSize: 700 });
      const event = (i: number): AuditEvent => ({
        action: 'product.read',
        actor: { kind: 'user', username: `reader${i % 7}`, via: 'token' },
        product: { id: `prod-${i}`, version: 1 },
        banner: 'SECRET//REL TO USA, GBR',
      });
      await log.record(event(0));
      await store.transaction(async (tx) => {
        for (let i = 1; i < 1500; i++) await log.recordIn(tx, event(i));
      });
      expect(await log.integrate()).toBe(1500);
      expect(await store.counts()).toMatchObject({ audit_queue: 0, audit_entries: 1500 });
      const rows = await store.audit.entries(0, 1500);
      const leaves = rows.map((r) => leafHash(new TextEncoder().encode(r.entryJson)));
      expect(rows.every((r, i) => Buffer.compare(r.leafHash, leaves[i]!) === 0)).toBe(true);
      expect(JSON.parse(rows[1499]!.entryJson)).toMatchObject({ product: { id: 'prod-1499' }, time: T0 });
      const root = rootOf(leaves);
      expect(Buffer.from((await storedFrontier(store.audit, 1500)).root()).equals(Buffer.from(root))).toBe(
        true,
      );
      const proofs = storedProofSource(store.audit);
      for (const index of [0, 699, 700, 1023, 1499]) {
        verifyInclusion(leaves[index]!, index, 1500, await proofs.inclusionProof(index, 1500), root);
      }
      verifyConsistency(
        700,
        1500,
        rootOf(leaves.slice(0, 700)),
        root,
        await proofs.consistencyProof(700, 1500),
      );
    });

    it('drops an event logged in a transaction that rolls back, with the change it recorded', async () => {
      const log = new AuditLog({ store, now: () => clock.now().getTime(), nodeId: 'GBR' });
      const failure = new Error('the change failed');
      await expect(
        store.transaction(async (tx) => {
          await tx.partners.upsert({ code: 'USA', name: 'United States', endpoint: null, keys: [] });
          await log.recordIn(tx, { action: 'arrangement.created', actor: { kind: 'node' } });
          throw failure;
        }),
      ).rejects.toBe(failure);
      expect(await store.counts()).toMatchObject({ partners: 0, audit_queue: 0 });
      await rejection(
        log.record({
          action: 'product.read',
          actor: { kind: 'node' },
          banner: 'a title is not a banner',
        } as AuditEvent),
        'AUDIT_ENTRY_INVALID',
      );
    });
  });

  describe('transactions', () => {
    it('commits every write when the callback resolves', async () => {
      const result = await store.transaction(async (tx) => {
        await tx.partners.upsert({ code: 'GBR', name: 'United Kingdom', endpoint: null, keys: [] });
        await tx.products.createDraft(versionInput(makeProduct()));
        return (await tx.products.get('prod-1'))?.state;
      });
      expect(result).toBe('draft');
      expect(await store.counts()).toMatchObject({
        partners: 1,
        products: 1,
        product_versions: 1,
        portions: 2,
      });
    });

    it('writes nothing when the callback throws', async () => {
      await seedUser();
      const before = await store.counts();
      const failure = new Error('policy check failed after the writes');
      await expect(
        store.transaction(async (tx) => {
          await tx.partners.upsert({ code: 'USA', name: 'United States', endpoint: null, keys: [] });
          await tx.products.createDraft(versionInput(makeProduct()));
          await tx.arrangements.putVersion(makeArrangement());
          await tx.releases.add({
            id: 'rel-1',
            productId: 'prod-1',
            version: 1,
            recipient: 'USA',
            arrangementId: 'arr-gbr-usa-ct',
            arrangementVersion: 1,
            effect: 'allow',
            decision: {},
            by: 'u-1',
          });
          await tx.outbox.enqueue({ id: 'msg-1', releaseId: 'rel-1', recipient: 'USA', payload: {} });
          await tx.attachments.put({ bytes: new Uint8Array([1, 2, 3]), mediaType: 'text/plain' });
          await tx.users.setDisabled('u-1', true);
          expect((await tx.counts()).outbox).toBe(1);
          throw failure;
        }),
      ).rejects.toBe(failure);
      expect(await store.counts()).toEqual(before);
      expect((await store.users.getById('u-1'))?.disabled).toBe(false);
    });

    it('writes nothing when a write inside fails, and reports that write', async () => {
      await seedUser('u-1', 'alice');
      const before = await store.counts();
      const error = await rejection(
        store.transaction(async (tx) => {
          await tx.partners.upsert({ code: 'USA', name: 'United States', endpoint: null, keys: [] });
          await tx.users.create({
            id: 'u-2',
            username: 'alice',
            displayName: 'Another Alice',
            nationality: 'USA',
            clearance: 'SECRET',
            caveats: [],
            communities: [],
            roles: [],
            passwordHash: null,
          });
        }),
        'STORE_CONFLICT',
      );
      expect(error.details.operation).toBe('users.create');
      expect(await store.counts()).toEqual(before);
    });

    it('refuses the outer store inside a transaction', async () => {
      await rejection(
        store.transaction(async () => {
          await store.partners.list();
        }),
        'STORE_TRANSACTION_MISUSE',
      );
      await rejection(
        store.transaction(() => store.transaction(async () => undefined)),
        'STORE_TRANSACTION_MISUSE',
      );
      // Once the transaction is over, work it started may use the store again.
      let later: Promise<unknown> = Promise.resolve();
      await store.transaction(async () => {
        later = sleep(5).then(() => store.partners.list());
      });
      await expect(later).resolves.toEqual([]);
    });

    it('keeps concurrent transactions apart: a rollback never undoes another one', async () => {
      const failing = store.transaction(async (tx) => {
        await tx.partners.upsert({ code: 'AAA', name: 'first', endpoint: null, keys: [] });
        await sleep(30);
        await tx.partners.upsert({ code: 'BBB', name: 'second', endpoint: null, keys: [] });
        throw new Error('abort');
      });
      const succeeding = (async () => {
        await sleep(5);
        return store.transaction(async (tx) => {
          await tx.partners.upsert({ code: 'CCC', name: 'third', endpoint: null, keys: [] });
          return (await tx.partners.list()).map((p) => p.code);
        });
      })();
      const [first, second] = await Promise.allSettled([failing, succeeding]);
      expect(first.status).toBe('rejected');
      // The second transaction never sees the first one's uncommitted rows.
      expect(second).toEqual({ status: 'fulfilled', value: ['CCC'] });
      expect((await store.partners.list()).map((p) => p.code)).toEqual(['CCC']);
    });
  });

  describe('product search', () => {
    const point = (lon: number, lat: number) => ({ type: 'Point', coordinates: [lon, lat] });
    const blackSeaFeature = {
      type: 'Feature',
      properties: {},
      geometry: {
        type: 'Polygon',
        coordinates: [
          [
            [30, 43],
            [36, 43],
            [36, 46],
            [30, 46],
            [30, 43],
          ],
        ],
      },
    };

    beforeEach(async (context) => {
      if (!target.enabled) {
        context.skip();
        return;
      }
      const seeds: [ProductDocument, number][] = [
        [
          makeProduct({
            id: 'sig',
            originator: 'GBR',
            discipline: 'SIGINT',
            categories: ['counterterrorism'],
            title: 'Courier network',
            portions: [{ id: 'a', marking: 'S', text: 'Intercepted courier chatter near Paris.' }],
            createdAt: '2025-01-10T00:00:00Z',
            geo: point(2.35, 48.85),
          }),
          3,
        ],
        [
          makeProduct({
            id: 'img',
            originator: 'USA',
            discipline: 'IMINT',
            categories: ['military'],
            title: 'Black Sea fleet',
            portions: [{ id: 'a', marking: 'C', text: 'Two FRIGATES alongside.' }],
            createdAt: '2025-02-10T00:00:00Z',
            geo: blackSeaFeature,
          }),
          2,
        ],
        [
          makeProduct({
            id: 'cyb',
            originator: 'GBR',
            discipline: 'CYBINT',
            categories: ['cyber', 'organised-crime'],
            title: 'Ransomware wave',
            portions: [{ id: 'a', marking: 'U', text: 'Files were 100% encrypted.' }],
            createdAt: '2025-03-10T00:00:00Z',
          }),
          0,
        ],
        [
          makeProduct({
            id: 'osi',
            originator: 'FRA',
            discipline: 'OSINT',
            categories: ['disaster-response'],
            title: 'Flood report',
            portions: [{ id: 'a', marking: 'U', text: 'River levels rising.' }],
            createdAt: '2025-04-10T00:00:00+02:00',
            geo: point(90.4, 23.8),
          }),
          1,
        ],
      ];
      for (const [doc, rank] of seeds) await store.products.createDraft(versionInput(doc, rank));
      await store.products.setState('img', 'released');
    });

    const ids = async (filters: Parameters<Store['products']['search']>[0]) =>
      (await store.products.search(filters)).map((p) => p.id);

    it('returns every current version, newest first, with its summary', async () => {
      expect(await ids({})).toEqual(['osi', 'cyb', 'img', 'sig']);
      const [osi] = await store.products.search({ originator: 'FRA' });
      expect(osi).toMatchObject({
        id: 'osi',
        state: 'draft',
        title: 'Flood report',
        rank: 1,
        discipline: 'OSINT',
        categories: ['disaster-response'],
        versionCreatedAt: '2025-04-09T22:00:00.000Z',
        bbox: { minLon: 90.4, minLat: 23.8, maxLon: 90.4, maxLat: 23.8 },
      });
    });

    it('narrows by discipline, category, rank, originator and state', async () => {
      expect(await ids({ discipline: 'SIGINT' })).toEqual(['sig']);
      expect(await ids({ category: 'cyber' })).toEqual(['cyb']);
      expect(await ids({ category: 'organised-crime' })).toEqual(['cyb']);
      expect(await ids({ category: 'crime' })).toEqual([]);
      expect(await ids({ maxRank: 1 })).toEqual(['osi', 'cyb']);
      expect(await ids({ maxRank: 0 })).toEqual(['cyb']);
      expect(await ids({ originator: 'GBR' })).toEqual(['cyb', 'sig']);
      expect(await ids({ states: ['released'] })).toEqual(['img']);
      expect(await ids({ states: [] })).toEqual([]);
      expect(await ids({ originator: 'GBR', maxRank: 2 })).toEqual(['cyb']);
    });

    it('narrows by time range, from inclusive and until exclusive', async () => {
      expect(await ids({ from: '2025-02-10T00:00:00Z', until: '2025-03-10T00:00:00Z' })).toEqual(['img']);
      expect(await ids({ from: '2025-03-01T00:00:00Z' })).toEqual(['osi', 'cyb']);
      expect(await ids({ until: '2025-01-10T00:00:01Z' })).toEqual(['sig']);
      await rejection(store.products.search({ from: 'last week' }), 'INPUT_INVALID');
    });

    it('narrows by text in the title or portions, case-insensitively and with wildcards taken literally', async () => {
      expect(await ids({ text: 'frigates' })).toEqual(['img']);
      expect(await ids({ text: 'FLOOD' })).toEqual(['osi']);
      expect(await ids({ text: '100%' })).toEqual(['cyb']);
      expect(await ids({ text: '%' })).toEqual(['cyb']);
      expect(await ids({ text: '_' })).toEqual([]);
      expect(await ids({ text: 'nowhere' })).toEqual([]);
    });

    it('narrows to footprints intersecting a box', async () => {
      const europe = { minLon: -10, minLat: 35, maxLon: 40, maxLat: 60 };
      expect(await ids({ bbox: europe })).toEqual(['img', 'sig']);
      expect(await ids({ bbox: { minLon: 35, minLat: 45, maxLon: 50, maxLat: 50 } })).toEqual(['img']);
      expect(await ids({ bbox: { minLon: 80, minLat: 10, maxLon: 100, maxLat: 30 } })).toEqual(['osi']);
      expect(await ids({ bbox: { minLon: -80, minLat: -60, maxLon: -30, maxLat: 0 } })).toEqual([]);
    });

    it('searches current versions only and pages the results', async () => {
      await store.products.addVersion(
        versionInput(
          makeProduct({
            id: 'cyb',
            version: 2,
            discipline: 'CYBINT',
            categories: ['cyber'],
            createdAt: '2025-03-11T00:00:00Z',
          }),
          0,
        ),
      );
      expect(await ids({ category: 'organised-crime' })).toEqual([]);
      expect(await ids({ limit: 2 })).toEqual(['osi', 'cyb']);
      expect(await ids({ limit: 2, offset: 2 })).toEqual(['img', 'sig']);
      await rejection(store.products.search({ limit: 0 }), 'INPUT_INVALID');
      await rejection(store.products.search({ limit: 501 }), 'INPUT_INVALID');
    });
  });
});

// ---------------------------------------------------------------- dialect-specific setup

describe('openStore', () => {
  it('creates the SQLite data directory and leaves the file in WAL mode with foreign keys enforced', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'accord-store-'));
    try {
      const file = join(dir, 'nested', 'data', 'accord.sqlite');
      const store = await openStore({ kind: 'sqlite', file });
      await rejection(store.tokens.create({ token: 't', userId: 'nobody', label: 'x' }), 'STORE_NOT_FOUND');
      await store.close();
      const raw = new BetterSqlite3(file, { readonly: true });
      try {
        expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
      } finally {
        raw.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('brings a database made at 0001 up to date and keeps its rows', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'accord-store-'));
    try {
      const file = join(dir, 'accord.sqlite');
      const db = openSqlite(file);
      const migrator = new Migrator({
        db,
        provider: { getMigrations: async () => ({ '0001_initial': initialMigration('sqlite') }) },
        migrationTableName: MIGRATION_TABLE,
        migrationLockTableName: MIGRATION_LOCK_TABLE,
      });
      expect((await migrator.migrateToLatest()).error).toBeUndefined();
      await db
        .insertInto('partners')
        .values({ code: 'GBR', name: 'United Kingdom', endpoint: null, keys_json: '[]', updated_at: T0 })
        .execute();
      await db.destroy();

      const store = await openStore({ kind: 'sqlite', file });
      try {
        expect(await store.migrate()).toEqual([]);
        expect((await store.partners.get('GBR'))?.name).toBe('United Kingdom');
        expect(await store.counts()).toMatchObject({ partners: 1, inbox: 0, received_products: 0 });
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('brings a database made at 0003 up to 0004, reads its received product as held, and erases it for good on recall', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'accord-store-'));
    const marker = 'Marker text the recall must leave nowhere in the file';
    const envelopeId = '5f0c2a4e-8d1b-4c3a-9e2f-1a2b3c4d5e6f';
    const recallEnvelopeId = '8c3f5d71-b04e-4f6d-8152-4d5e6f708192';
    const otherEnvelopeId = '6a1d3b5f-9e2c-4d4b-8f30-2b3c4d5e6f70';
    const kept = 'Text of a product no one recalled';
    try {
      const file = join(dir, 'accord.sqlite');
      const db = openSqlite(file);
      const migrator = new Migrator({
        db,
        provider: {
          getMigrations: async () => ({
            '0001_initial': initialMigration('sqlite'),
            '0002_inbox': inboxMigration(),
            '0003_outbox_receipts': outboxReceiptsMigration(),
          }),
        },
        migrationTableName: MIGRATION_TABLE,
        migrationLockTableName: MIGRATION_LOCK_TABLE,
      });
      expect((await migrator.migrateToLatest()).error).toBeUndefined();
      await db.destroy();
      const document = {
        id: 'usa-prod-1',
        version: 1,
        originator: 'USA',
        title: 'A title',
        titleMarking: '(U)',
        discipline: 'SIGINT',
        categories: ['counterterrorism'],
        portions: [{ id: 'p1', marking: '(U)', text: marker }],
        banner: 'UNCLASSIFIED',
        withheldCount: 0,
        reliability: 'B',
        credibility: 2,
        createdAt: '2025-05-01T00:00:00Z',
        derivedFrom: { id: 'usa-prod-1', version: 1, digest: fingerprint('source') },
        signature: { by: fingerprint('usa'), value: `${'A'.repeat(86)}==` },
      };
      const raw = new BetterSqlite3(file);
      raw
        .prepare(
          `insert into inbox values (?, 'USA', 'release', 'arr', 1, 'usa-prod-1', 1, ?, null, 'stored', null, null, null, ?)`,
        )
        .run(envelopeId, fingerprint('envelope'), T0);
      raw
        .prepare(
          `insert into received_products values (?, 'usa-prod-1', 1, 'USA', 'USA', 'arr', 1, ?, 'UNCLASSIFIED', 0, ?)`,
        )
        .run(envelopeId, JSON.stringify(document), T0);
      // Another product on the same page, held on: its text stays.
      raw
        .prepare(
          `insert into inbox values (?, 'USA', 'release', 'arr', 1, 'usa-prod-2', 1, ?, null, 'stored', null, null, null, ?)`,
        )
        .run(otherEnvelopeId, fingerprint('other'), T0);
      raw
        .prepare(
          `insert into received_products values (?, 'usa-prod-2', 1, 'USA', 'USA', 'arr', 1, ?, 'UNCLASSIFIED', 0, ?)`,
        )
        .run(
          otherEnvelopeId,
          JSON.stringify({
            ...document,
            id: 'usa-prod-2',
            portions: [{ id: 'p1', marking: '(U)', text: kept }],
          }),
          T0,
        );
      raw.close();
      // The control: before the recall the text is in the file, so the check below can fail.
      expect(readFileSync(file).includes(marker)).toBe(true);

      const store = await openStore({ kind: 'sqlite', file });
      try {
        expect(await store.receivedProducts.get('usa-prod-1')).toMatchObject({
          envelopeId,
          document,
          recalledAt: null,
          recallEnvelopeId: null,
        });
        await store.receivedRecalls.add({
          envelopeId: recallEnvelopeId,
          recallId: '9d40e682-c15f-4a7e-9263-5e6f708192a3',
          originator: 'USA',
          productId: 'usa-prod-1',
          productVersion: null,
          reason: 'Withdrawn.',
          recalledAt: T0,
          receivedAt: T0,
        });
        const erased = await store.receivedProducts.recall({
          productId: 'usa-prod-1',
          version: null,
          originator: 'USA',
          recallEnvelopeId,
          recalledAt: T0,
        });
        expect(erased).toHaveLength(1);
      } finally {
        await store.close();
      }
      // secure_delete: the old row's bytes are overwritten, not left in the page's free space.
      expect(readFileSync(file).includes(marker)).toBe(false);
      expect(readFileSync(file).includes(kept)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('brings a database made at 0003 up to date, keeping its outbox rows, their release key and indexes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'accord-store-'));
    try {
      const file = join(dir, 'accord.sqlite');
      const db = openSqlite(file);
      const migrator = new Migrator({
        db,
        provider: {
          // Every migration before 0005, as a node upgraded from then holds them.
          getMigrations: async () =>
            Object.fromEntries(Object.entries(storeMigrations('sqlite')).filter(([name]) => name < '0005')),
        },
        migrationTableName: MIGRATION_TABLE,
        migrationLockTableName: MIGRATION_LOCK_TABLE,
      });
      expect((await migrator.migrateToLatest()).error).toBeUndefined();
      const version = {
        product_id: 'prod-1',
        version: 1,
        document_json: '{}',
        title: 'T',
        banner: 'UNCLASSIFIED',
        classification_rank: 0,
        discipline: 'IMINT',
        categories_json: '[]',
        search_text: 't',
        created_at: T0,
        min_lon: null,
        min_lat: null,
        max_lon: null,
        max_lat: null,
      };
      await db
        .insertInto('products')
        .values({
          id: 'prod-1',
          originator: 'GBR',
          author: 'a',
          current_version: 1,
          state: 'released',
          created_at: T0,
          updated_at: T0,
        })
        .execute();
      await db.insertInto('product_versions').values(version).execute();
      await db
        .insertInto('releases')
        .values({
          id: 'rel-1',
          product_id: 'prod-1',
          version: 1,
          recipient: 'USA',
          arrangement_id: null,
          arrangement_version: null,
          effect: 'allow',
          decision_json: '{}',
          released_by: 'o',
          released_at: T0,
        })
        .execute();
      await db
        .insertInto('outbox')
        .values({
          id: 'msg-1',
          release_id: 'rel-1',
          recipient: 'USA',
          payload_json: '{"envelope":"a"}',
          status: 'pending',
          attempts: 2,
          next_attempt_at: T0,
          last_error: 'down',
          created_at: T0,
          delivered_at: null,
          receipt_json: '{"r":1}',
        } as never)
        .execute();
      await db.destroy();

      const store = await openStore({ kind: 'sqlite', file }, { now: () => new Date(T0) });
      try {
        expect(await store.migrate()).toEqual([]);
        expect(await store.outbox.get('msg-1')).toMatchObject({
          releaseId: 'rel-1',
          consentRequestId: null,
          onwardReleaseId: null,
          payload: { envelope: 'a' },
          attempts: 2,
          lastError: 'down',
          receipt: { r: 1 },
        });
        await rejection(
          store.outbox.enqueue({ id: 'msg-2', releaseId: 'rel-404', recipient: 'USA', payload: {} }),
          'STORE_NOT_FOUND',
        );
        expect(
          await store.outbox.enqueue({ id: 'msg-2', releaseId: 'rel-1', recipient: 'USA', payload: {} }),
        ).toMatchObject({ releaseId: 'rel-1', status: 'pending' });
      } finally {
        await store.close();
      }
      const raw = new BetterSqlite3(file);
      try {
        const indexes = raw
          .prepare("select name from sqlite_master where type = 'index' and tbl_name = 'outbox'")
          .all() as { name: string }[];
        expect(indexes.map((i) => i.name)).toContain('outbox_due_idx');
        expect(() => raw.prepare("update outbox set status = 'lost' where id = 'msg-1'").run()).toThrow(
          /CHECK constraint failed/,
        );
        expect(() =>
          raw
            .prepare(
              "insert into outbox (id, recipient, payload_json, status, attempts, next_attempt_at, created_at) values ('m', 'USA', '{}', 'pending', 0, 'x', 'x')",
            )
            .run(),
        ).toThrow(/CHECK constraint failed/);
      } finally {
        raw.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects a malformed configuration before connecting', async () => {
    await rejection(
      openStore({ kind: 'postgres', url: PG_TEST_URL, schema: 'Robert"); drop table users;--' }),
      'STORE_CONFIG_INVALID',
    );
    await rejection(openStore({ kind: 'postgres', url: 'mysql://localhost/db' }), 'STORE_CONFIG_INVALID');
    await rejection(
      openStore({ kind: 'sqlite', file: ':memory:', maxAttachmentBytes: 0 }),
      'STORE_CONFIG_INVALID',
    );
  });

  it('reports an unreachable PostgreSQL server as SERVICE_UNAVAILABLE without echoing the password', async () => {
    const error = await rejection(
      openStore({ kind: 'postgres', url: 'postgres://accord:hunter2@127.0.0.1:1/none' }),
      'SERVICE_UNAVAILABLE',
    );
    expect(error.message).not.toContain('hunter2');
  });
});
