import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  dropPgSchema,
  freshPgSchemaName,
  PG_TEST_URL,
  POSTGRES_SERVICE,
  pgAvailable,
  requireOrSkip,
} from '../../test/fixtures/services.js';
import { toProblem } from '../api/problem.js';
import { type NodeKeys, partnerKeysOf } from '../app/node-keys.js';
import { createServices, type Services } from '../app/services.js';
import { loadConfig } from '../config/index.js';
import { canonicalJson, createNodeIdentity, type NodeIdentity, publicIdentity } from '../crypto/index.js';
import { AccordError } from '../errors/index.js';
import {
  type Envelope,
  EnvelopeSchema,
  type KeyResolver,
  openEnvelope,
  parseDerivedDocument,
  parseReleasePayload,
  productDigest,
  type SenderKeyResolver,
  verifyDerivedFrom,
  verifyProductSignature,
} from '../federation/index.js';
import { openStore, type Repositories, type Store, type StoreDialect } from '../store/index.js';
import { createValidator } from '../validation/index.js';
import type { Actor } from './actor.js';
import type { DraftInput, ReleaseMessage, SealedRelease, UnsealedRelease } from './product-service.js';

// The originator signs each version it writes; a release is torn, signed, sealed to the recipient
// and queued in the outbox in the release's own transaction (DESIGN.md §2 invariants 1, 4, 5).
// Over both store dialects, as test/integration does; PostgreSQL only when it answers.

const NOW = Date.parse('2026-11-26T12:00:00.000Z');
const ROOT = join(import.meta.dirname, '..', '..');

function example(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(ROOT, 'examples', path), 'utf8')) as Record<string, unknown>;
}

// examples/products/usa-sigint-ct.json: p1 (S//REL TO USA, GBR), p2 (C//REL TO USA, FVEY), p3 (S//NF).
const SOURCE = example('products/usa-sigint-ct.json') as unknown as DraftInput;
const DRAFT: DraftInput = {
  title: SOURCE.title,
  titleMarking: SOURCE.titleMarking,
  discipline: SOURCE.discipline,
  categories: SOURCE.categories,
  portions: SOURCE.portions.map(({ id, marking, text }) => ({
    ...(id === undefined ? {} : { id }),
    marking,
    text,
  })),
  reliability: SOURCE.reliability,
  credibility: SOURCE.credibility,
  ...(SOURCE.geo === undefined ? {} : { geo: SOURCE.geo }),
};
const P3_TEXT = 'sensitive access that must not be disclosed';

const PEOPLE = [
  { username: 'analyst.usa', roles: ['analyst'] as const },
  { username: 'officer.usa', roles: ['release-officer'] as const },
  { username: 'admin.usa', roles: ['administrator'] as const },
];

function nodeKeysOf(identity: NodeIdentity): NodeKeys {
  return { identity, public: publicIdentity(identity) };
}

const usa = nodeKeysOf(createNodeIdentity());
const gbr = nodeKeysOf(createNodeIdentity());

/** Only USA's signing key, under its fingerprint: what a GBR node pins for USA. */
const pinnedUsa: KeyResolver = (fingerprint) =>
  fingerprint === usa.public.signing.fingerprint ? usa.identity.signing.publicKey : undefined;
const usaSender: SenderKeyResolver = (from, fingerprint) =>
  from === 'USA' ? pinnedUsa(fingerprint) : undefined;

const isEnvelope = createValidator<Envelope>(EnvelopeSchema, 'ENVELOPE_MALFORMED', 'envelope');

function errorOf(promise: Promise<unknown>): Promise<AccordError> {
  return promise.then(
    () => {
      throw new Error('expected an AccordError');
    },
    (error: unknown) => {
      if (error instanceof AccordError) return error;
      throw error;
    },
  );
}

interface TestNode {
  readonly store: Store;
  readonly services: Services;
  readonly analyst: Actor;
  readonly officer: Actor;
}

const runPostgres = requireOrSkip(POSTGRES_SERVICE, await pgAvailable());

const DIALECTS: readonly { readonly dialect: StoreDialect; readonly enabled: boolean }[] = [
  { dialect: 'sqlite', enabled: true },
  { dialect: 'postgres', enabled: runPostgres },
];

describe.each(DIALECTS)('ProductService over $dialect', ({ dialect, enabled }) => {
  let dataDir: string;
  let schema: string | undefined;
  const opened: Store[] = [];

  beforeEach(({ skip }) => {
    if (!enabled) skip();
    dataDir = mkdtempSync(join(tmpdir(), 'accord-products-'));
    schema = dialect === 'postgres' ? freshPgSchemaName() : undefined;
  });

  afterEach(async () => {
    if (!enabled) return;
    for (const store of opened.splice(0)) await store.close();
    rmSync(dataDir, { recursive: true, force: true });
    if (schema !== undefined) await dropPgSchema(schema);
    schema = undefined;
  });

  /** A USA node (with `keys`, or none) holding the FVEY arrangement, three users and the partners. */
  async function startNode(keys: NodeKeys | undefined): Promise<TestNode> {
    const config = loadConfig({ flags: { dataDir, partner: 'USA', log: { level: 'silent' } } });
    const store = await openStore(
      dialect === 'sqlite'
        ? { kind: 'sqlite', file: join(dataDir, 'accord.sqlite') }
        : { kind: 'postgres', url: PG_TEST_URL, ...(schema === undefined ? {} : { schema }) },
    );
    opened.push(store);
    const services = createServices(config, store, () => NOW, keys);
    for (const { username, roles } of PEOPLE) {
      await services.directory.createUser(null, {
        username,
        displayName: username,
        nationality: 'USA',
        clearance: 'TOP SECRET',
        caveats: ['SI', 'TK'],
        communities: ['FVEY'],
        roles: [...roles],
      });
    }
    const actor = async (username: string): Promise<Actor> => {
      const user = await store.users.getByUsername(username);
      if (user === undefined) throw new Error(`no user ${username}`);
      return { user, via: 'local' };
    };
    await services.directory.upsertPartner(null, {
      code: 'USA',
      name: 'United States',
      endpoint: null,
      ...(keys === undefined ? {} : { keys: partnerKeysOf(keys.public) }),
    });
    await services.directory.upsertPartner(null, {
      code: 'GBR',
      name: 'United Kingdom',
      endpoint: 'http://127.0.0.1:7402',
      keys: partnerKeysOf(gbr.public),
    });
    // Canada is a party to the arrangement, but its node's keys are not on record here.
    await services.directory.upsertPartner(null, { code: 'CAN', name: 'Canada', endpoint: null, keys: [] });
    await services.arrangements.create(
      await actor('admin.usa'),
      example('arrangements/fvey-multilateral.json'),
    );
    return { store, services, analyst: await actor('analyst.usa'), officer: await actor('officer.usa') };
  }

  /** A product drafted, submitted and approved: ready for release. */
  async function approvedProduct(node: TestNode): Promise<string> {
    const { id } = await node.services.products.createDraft(node.analyst, DRAFT);
    await node.services.products.submit(node.analyst, id);
    await node.services.products.decide(node.officer, id, 'approved');
    return id;
  }

  describe('on a node with keys', () => {
    it('signs every version it writes, so the stored versions verify against the originator key', async () => {
      const node = await startNode(usa);
      const { id } = await node.services.products.createDraft(node.analyst, DRAFT);
      await node.services.products.edit(node.analyst, id, { ...DRAFT, title: `${DRAFT.title} (revised)` });
      for (const version of [1, 2]) {
        const stored = await node.store.products.getVersion(id, version);
        expect(stored?.document.signature?.by).toBe(usa.public.signing.fingerprint);
        expect(verifyProductSignature(stored?.document ?? {}, pinnedUsa)).toBe(
          productDigest(stored?.document ?? {}),
        );
      }
    });

    it('queues one envelope the recipient opens, holding a signed derived version of the stored source', async () => {
      const node = await startNode(usa);
      const id = await approvedProduct(node);
      const before = await node.store.counts();

      const outcome = await node.services.products.release(node.officer, id, 'GBR', 'fvey-multilateral');

      const after = await node.store.counts();
      expect(after.releases).toBe(before.releases + 1);
      expect(after.outbox).toBe(before.outbox + 1);
      const [row, ...others] = await node.store.outbox.listPending();
      expect(others).toEqual([]);
      expect(row).toMatchObject({ releaseId: outcome.releaseId, recipient: 'GBR', status: 'pending' });
      const sealed = row?.payload as SealedRelease;
      const envelope = isEnvelope(sealed.envelope);
      // The row is the envelope: one id, so a redelivery is recognised by the recipient's inbox.
      expect(row?.id).toBe(envelope.header.envelopeId);

      const arrangement = await node.store.arrangements.latest('fvey-multilateral');
      expect(envelope.header).toMatchObject({
        kind: 'release',
        from: 'USA',
        to: 'GBR',
        arrangement: { id: 'fvey-multilateral', version: 1, versionHash: arrangement?.versionHash },
        product: { id, version: 1 },
        senderKey: usa.public.signing.fingerprint,
        createdAt: new Date(NOW).toISOString(),
      });

      const opened = openEnvelope(JSON.parse(JSON.stringify(envelope)), {
        self: 'GBR',
        recipientPrivateKey: gbr.identity.encryption.privateKey,
        resolveSenderKey: usaSender,
        now: NOW,
        hasSeen: () => false,
      });
      const message = opened.payload as ReleaseMessage;
      expect(message.kind).toBe('release');
      expect(message.arrangement).toEqual(envelope.header.arrangement);
      const derived = parseDerivedDocument(message.product);
      expect(verifyProductSignature(derived, pinnedUsa)).toBe(productDigest(derived));
      // What the recipient's inbox reads out of it: the same document, agreeing with the header.
      expect(parseReleasePayload(opened.payload, opened.header)).toEqual(derived);

      // derivedFrom names the source version exactly as the originator stored and signed it.
      const source = await node.store.products.getVersion(id, 1);
      expect(source).toBeDefined();
      expect(verifyProductSignature(source?.document ?? {}, pinnedUsa)).toBe(derived.derivedFrom.digest);
      expect(derived.derivedFrom).toEqual({ id, version: 1, digest: productDigest(source?.document ?? {}) });
      expect(() => verifyDerivedFrom(derived, source?.document ?? { id: '', version: 0 })).not.toThrow();

      // Exactly the kept portions: the NOFORN one is torn out, and nothing of it is in the plaintext.
      expect(derived.portions.map((p) => [p.id, p.marking])).toEqual([
        ['p1', '(S//REL TO USA, GBR)'],
        ['p2', '(C//REL TO USA, FVEY)'],
      ]);
      expect(derived.withheldCount).toBe(1);
      expect(derived.banner).toBe(outcome.banner);
      const plaintext = canonicalJson(opened.payload);
      expect(plaintext).not.toContain(P3_TEXT);
      expect(plaintext).not.toContain('S//NF');
      // What the worker re-seals from when the envelope goes stale: the same header and message.
      expect(sealed.release.payload).toEqual(opened.payload);
      expect(sealed.release.header).toEqual({
        kind: 'release',
        from: 'USA',
        to: 'GBR',
        arrangement: envelope.header.arrangement,
        product: envelope.header.product,
        senderKey: envelope.header.senderKey,
      });
      // And the clear parts of the envelope hold no product text at all.
      expect(JSON.stringify(envelope)).not.toContain('Intercepted communications');
    });

    it('seals to the recipient alone: another node cannot open the envelope', async () => {
      const node = await startNode(usa);
      const id = await approvedProduct(node);
      await node.services.products.release(node.officer, id, 'GBR', 'fvey-multilateral');
      const [row] = await node.store.outbox.listPending();
      const stranger = createNodeIdentity();
      const error = (() => {
        try {
          openEnvelope((row?.payload as SealedRelease | undefined)?.envelope, {
            self: 'GBR',
            recipientPrivateKey: stranger.encryption.privateKey,
            resolveSenderKey: usaSender,
            now: NOW,
            hasSeen: () => false,
          });
        } catch (caught) {
          return caught;
        }
        return undefined;
      })();
      expect(error).toMatchObject({ code: 'ENVELOPE_DECRYPT_FAILED' });
    });

    it('refuses a release to a partner with no encryption key on record, naming it, and writes nothing', async () => {
      const node = await startNode(usa);
      const id = await approvedProduct(node);
      const before = await node.store.counts();

      const error = await errorOf(
        node.services.products.release(node.officer, id, 'CAN', 'fvey-multilateral'),
      );
      expect(error.code).toBe('PARTNER_KEY_MISSING');
      expect(error.message).toMatch(/CAN has no encryption key on record/);
      expect(error.details.partner).toBe('CAN');
      expect(toProblem(error)).toMatchObject({ status: 409, code: 'PARTNER_KEY_MISSING' });

      // Rolled back whole: no decision, no outbox row, the product still awaiting release.
      expect(await node.store.counts()).toEqual(before);
      expect((await node.store.products.get(id))?.state).toBe('approved');
    });

    it('refuses a release to a party missing from the partner directory the same way', async () => {
      const node = await startNode(usa);
      const id = await approvedProduct(node);
      const before = await node.store.counts();
      const error = await errorOf(
        node.services.products.release(node.officer, id, 'NZL', 'fvey-multilateral'),
      );
      expect(error.code).toBe('PARTNER_KEY_MISSING');
      expect(error.message).toMatch(/NZL is not in the partner directory/);
      expect(await node.store.counts()).toEqual(before);
    });

    it('refuses an encryption key on record that is not the one its fingerprint names', async () => {
      const node = await startNode(usa);
      const id = await approvedProduct(node);
      const [signing, encryption] = partnerKeysOf(gbr.public);
      const other = publicIdentity(createNodeIdentity()).encryption;
      if (signing === undefined || encryption === undefined) throw new Error('fixture: no GBR keys');
      await node.store.partners.upsert({
        code: 'GBR',
        name: 'United Kingdom',
        endpoint: null,
        keys: [signing, { ...encryption, publicKey: other.publicKey }],
      });
      const before = await node.store.counts();
      const error = await errorOf(
        node.services.products.release(node.officer, id, 'GBR', 'fvey-multilateral'),
      );
      expect(error.code).toBe('KEY_INVALID');
      expect(error.details.partner).toBe('GBR');
      expect(await node.store.counts()).toEqual(before);
    });

    it('commits a release and its outbox row together: a failed enqueue leaves no decision behind', async () => {
      const node = await startNode(usa);
      const id = await approvedProduct(node);
      const before = await node.store.counts();
      // The same store, but the outbox refuses inside a transaction, as a full disk or a lost
      // connection would, after the release row has been written.
      const failing: Store = Object.create(node.store, {
        transaction: {
          value: <T>(work: (tx: Repositories) => Promise<T>) =>
            node.store.transaction((tx) =>
              work(
                Object.create(tx, {
                  outbox: {
                    value: {
                      ...tx.outbox,
                      enqueue: () => Promise.reject(new AccordError('STORE_FAILED', 'outbox write failed')),
                    },
                  },
                }) as Repositories,
              ),
            ),
        },
      }) as Store;
      const config = loadConfig({ flags: { dataDir, partner: 'USA', log: { level: 'silent' } } });
      const services = createServices(config, failing, () => NOW, usa);

      const error = await errorOf(services.products.release(node.officer, id, 'GBR', 'fvey-multilateral'));
      expect(error.code).toBe('STORE_FAILED');
      expect(await node.store.counts()).toEqual(before);
      expect((await node.store.products.get(id))?.state).toBe('approved');
    });

    it('stores a denied release with its rules and queues nothing, whatever keys the recipient has', async () => {
      const node = await startNode(usa);
      const id = await approvedProduct(node);
      const before = await node.store.counts();
      // FRA is no party to the arrangement and has no keys here: the policy answers first.
      const error = await errorOf(
        node.services.products.release(node.officer, id, 'FRA', 'fvey-multilateral'),
      );
      expect(error.code).toBe('POLICY_DENIED');
      expect(error.details.deniedBy).toContain('arrangement.parties');
      const after = await node.store.counts();
      expect(after.releases).toBe(before.releases + 1);
      expect(after.outbox).toBe(before.outbox);
      expect(await node.store.releases.list({ productId: id })).toMatchObject([
        { recipient: 'FRA', effect: 'deny' },
      ]);
    });
  });

  describe('on a node without keys', () => {
    it('stores versions unsigned and queues the release in clear, marked sealed: false', async () => {
      const node = await startNode(undefined);
      const id = await approvedProduct(node);
      const source = await node.store.products.getVersion(id, 1);
      expect(source?.document).not.toHaveProperty('signature');

      // No key is needed for the recipient: CAN has none on record.
      await node.services.products.release(node.officer, id, 'CAN', 'fvey-multilateral');
      const [row] = await node.store.outbox.listPending();
      const payload = row?.payload as UnsealedRelease;
      expect(payload).toMatchObject({
        sealed: false,
        kind: 'release',
        arrangement: { id: 'fvey-multilateral' },
      });
      expect(payload.product).not.toHaveProperty('signature');
      expect(payload.product.derivedFrom).toEqual({
        id,
        version: 1,
        digest: productDigest(source?.document ?? {}),
      });
      expect(canonicalJson(payload)).not.toContain(P3_TEXT);
    });
  });
});
