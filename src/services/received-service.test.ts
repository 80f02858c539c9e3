import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeArrangement, makeProduct } from '../../test/fixtures/builders.js';
import { arbReadCase } from '../../test/fixtures/policy-arbitraries.js';
import { type NodeKeys, partnerKeysOf, signerOf } from '../app/node-keys.js';
import type { ArrangementDocument } from '../arrangements/index.js';
import { createNodeIdentity, publicIdentity } from '../crypto/index.js';
import {
  type DerivedDocument,
  signArrangementAs,
  signProduct,
  type UnsignedDerivedDocument,
  withPinnedKeys,
} from '../federation/index.js';
import { DEFAULT_REGISTRY, renderBanner, renderPortionMark } from '../markings/index.js';
import { compileArrangement, decideRead, type Reader } from '../policy/index.js';
import type { Product } from '../products/index.js';
import { openStore, type Store } from '../store/index.js';
import type { Actor } from './actor.js';
import { ReceivedService } from './received-service.js';

// DESIGN.md §2 invariant 1 (No leak) for products received from partners: what ReceivedService
// shows a user is exactly what decideRead lets them read of the version as it arrived, after the
// round trip through the store; and invariant 4 (Authentic) checked again on every read.

const NOW = Date.parse('2026-11-26T12:00:00.000Z');

function nodeKeys(): NodeKeys {
  const identity = createNodeIdentity();
  return { identity, public: publicIdentity(identity) };
}

const usaKeys = nodeKeys();
const gbrKeys = nodeKeys();
const usaSigner = signerOf(usaKeys);

/** A USA-GBR arrangement pinning both nodes' real keys and signed by both. */
function signedArrangement(id: string): ArrangementDocument {
  const terms = withPinnedKeys(
    makeArrangement({ id }),
    new Map([
      ['USA', usaKeys.public],
      ['GBR', gbrKeys.public],
    ]),
  );
  const byUsa = signArrangementAs(terms, 'USA', usaSigner, '2025-01-01T00:00:00Z');
  return signArrangementAs(byUsa, 'GBR', signerOf(gbrKeys), '2025-01-01T00:00:00Z');
}

const MAIN = signedArrangement('usa-gbr-received');

let dir: string;
let store: Store;
let clock = NOW;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'accord-received-'));
  store = await openStore({ kind: 'sqlite', file: join(dir, 'accord.sqlite') });
  await store.migrate();
  await store.partners.upsert({
    code: 'USA',
    name: 'United States',
    endpoint: null,
    keys: partnerKeysOf(usaKeys.public),
  });
  await store.arrangements.putVersion(MAIN);
});

afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** GBR's view of what it received: its own signing key pinned for itself, as its inbox pins it. */
function service(): ReceivedService {
  return new ReceivedService({
    store,
    partner: 'GBR',
    registry: DEFAULT_REGISTRY,
    now: () => clock,
    ownSigningKey: gbrKeys.public.signing,
  });
}

let userSerial = 0;

/** A signed-in user reading as `reader` does; administrators read no product content. */
function actorOf(reader: Omit<Reader, 'id'>, roles: readonly string[] = ['analyst']): Actor {
  userSerial += 1;
  return {
    via: 'local',
    user: {
      id: `user-${userSerial}`,
      username: `reader-${userSerial}`,
      displayName: 'Reader',
      nationality: reader.nationality,
      clearance: reader.clearance,
      caveats: [...reader.caveats],
      communities: [...reader.communities],
      roles: [...roles],
      passwordHash: null,
      disabled: false,
      createdAt: new Date(NOW).toISOString(),
    },
  };
}

/**
 * The derived document a sender would have sent for `product`: portions with their rendered marks
 * (as ProductService renders them), texts unique to this document so a leak can be searched for.
 */
function derivedOf(product: Product, id: string): UnsignedDerivedDocument {
  const render = (label: Product['titleLabel']) =>
    renderPortionMark(label, { originator: product.originator, registry: DEFAULT_REGISTRY });
  return {
    id,
    version: product.version,
    derivedFrom: { id, version: product.version, digest: `sha256:${'0'.repeat(64)}` },
    originator: product.originator,
    title: `Title of ${id}`,
    titleMarking: render(product.titleLabel),
    discipline: product.discipline,
    categories: [...product.categories],
    portions: product.portions.map((p) => ({
      id: p.id,
      marking: render(p.label),
      text: `Text of ${p.id} in ${id}.`,
    })),
    banner: renderBanner(product.banner, { originator: product.originator, registry: DEFAULT_REGISTRY }),
    withheldCount: 0,
    reliability: product.reliability,
    credibility: product.credibility,
    createdAt: product.createdAt,
  };
}

/** Records an inbox entry and stores `document` under it, as the inbox does on arrival. */
async function receive(
  document: DerivedDocument,
  arrangement: { readonly id: string; readonly version: number } = MAIN,
  sender = document.originator,
): Promise<string> {
  const envelopeId = randomUUID();
  const receivedAt = new Date(clock).toISOString();
  await store.inbox.record({
    envelopeId,
    sender,
    kind: 'release',
    arrangementId: arrangement.id,
    arrangementVersion: arrangement.version,
    productId: document.id,
    productVersion: document.version,
    envelopeDigest: `sha256:${'1'.repeat(64)}`,
    remoteAddress: '127.0.0.1',
    outcome: 'stored',
    code: null,
    reason: null,
    receipt: null,
    receivedAt,
  });
  await store.receivedProducts.add({
    envelopeId,
    productId: document.id,
    productVersion: document.version,
    originator: document.originator,
    sender,
    arrangementId: arrangement.id,
    arrangementVersion: arrangement.version,
    document,
    banner: document.banner,
    rank: 3,
    receivedAt,
  });
  return envelopeId;
}

// Signatures are not what this property is about: a fixed, well-formed one that never verifies.
const DUMMY_SIGNATURE = { by: `sha256:${'2'.repeat(64)}`, value: Buffer.alloc(64, 7).toString('base64') };

describe('ReceivedService read policy', () => {
  it('shows exactly the portions decideRead lets a reader see, never a withheld one (property)', async () => {
    let serial = 0;
    await fc.assert(
      fc.asyncProperty(arbReadCase(), async ({ product, reader, at, arrangement }) => {
        serial += 1;
        const id = `recv-${serial}`;
        // A fresh id per run: the store keeps one set of terms per arrangement id and version.
        const governing = arrangement === undefined ? undefined : { ...arrangement, id: `arr-${serial}` };
        if (governing !== undefined) await store.arrangements.putVersion(governing);
        const held = governing ?? { id: `not-held-${serial}`, version: 1 };
        const document: DerivedDocument = { ...derivedOf(product, id), signature: DUMMY_SIGNATURE };
        await receive(document, held);

        // The oracle: decideRead on the product as generated. A derived document carries no
        // need-to-know and no recall (DerivedDocumentSchema), so neither is in the oracle.
        const { arrangements: _unused, ...userReader } = reader;
        const expected = decideRead({ ...product, needToKnow: null, recalled: false }, userReader, {
          at,
          registry: DEFAULT_REGISTRY,
          ...(governing === undefined
            ? {}
            : { arrangement: compileArrangement(governing, DEFAULT_REGISTRY) }),
        });
        clock = at;
        const actor = actorOf(userReader);
        const listed = await service().list(actor, { arrangement: held.id });
        if (expected.effect === 'deny' || expected.derived === null) {
          await expect(service().read(actor, id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
          expect(listed).toEqual({ items: [], total: 0 });
          return;
        }
        const view = await service().read(actor, id);
        expect(listed.items).toEqual([view]);
        expect(view.portions.map((p) => p.id)).toEqual(expected.derived.portions.map((p) => p.id));
        expect(view.withheldCount).toBe(expected.withheld.length);
        expect(view.titleWithheld).toBe(expected.derived.titleWithheld);
        const shown = JSON.stringify(view);
        for (const withheld of expected.withheld) {
          expect(shown).not.toContain(`Text of ${withheld.portionId} in ${id}.`);
        }
        if (expected.derived.titleWithheld) expect(shown).not.toContain(`Title of ${id}`);
      }),
      { numRuns: 150 },
    );
    clock = NOW;
  }, 60_000);
});

describe('ReceivedService provenance and signature', () => {
  const GBR_TOP_SECRET = { nationality: 'GBR', clearance: 'TOP SECRET', caveats: [], communities: [] };

  function signedDocument(id: string): DerivedDocument {
    const product = makeProduct({
      titleMarking: 'UNCLASSIFIED',
      portions: [['SECRET//REL TO USA, GBR'], ['CONFIDENTIAL//REL TO USA, GBR']],
    });
    return signProduct({ ...derivedOf(product, id), withheldCount: 1 }, usaSigner);
  }

  it('names sender, arrangement, envelope and arrival, and re-verifies the originator signature', async () => {
    const document = signedDocument('prov-1');
    const envelopeId = await receive(document);
    const view = await service().read(actorOf(GBR_TOP_SECRET), 'prov-1');
    expect(view.provenance).toEqual({
      originator: 'USA',
      sender: 'USA',
      arrangement: { id: MAIN.id, version: MAIN.version },
      envelopeId,
      receivedAt: new Date(clock).toISOString(),
      withheldAtRelease: 1,
      derivedFrom: {
        id: expect.any(String),
        version: expect.any(Number),
        digest: expect.stringMatching(/^sha256:/),
      },
      signature: { by: usaKeys.public.signing.fingerprint, verified: true, code: null, reason: null },
    });
  });

  it('reports a stored version whose content changed since it was signed', async () => {
    const document = signedDocument('prov-2');
    await receive({ ...document, title: 'Altered at rest' });
    const view = await service().read(actorOf(GBR_TOP_SECRET), 'prov-2');
    expect(view.title).toBe('Altered at rest');
    expect(view.provenance.signature).toMatchObject({
      verified: false,
      code: 'PRODUCT_SIGNATURE_INVALID',
      reason: expect.stringMatching(/does not verify/),
    });
  });

  it('reports a signature no key is pinned for: its arrangement not held here, or this node without its own key', async () => {
    await receive(signedDocument('prov-3'), { id: 'never-held', version: 1 });
    const unheld = await service().read(actorOf(GBR_TOP_SECRET), 'prov-3');
    expect(unheld.provenance.signature).toMatchObject({ verified: false, code: 'KEY_UNPINNED' });

    // A node without its own key pins nothing for the arrangements it is party to.
    await receive(signedDocument('prov-4'));
    const keyless = new ReceivedService({
      store,
      partner: 'GBR',
      registry: DEFAULT_REGISTRY,
      now: () => clock,
    });
    const view = await keyless.read(actorOf(GBR_TOP_SECRET), 'prov-4');
    expect(view.provenance.signature).toMatchObject({ verified: false, code: 'KEY_UNPINNED' });
  });

  it('refuses a reader without product:read before looking, and hides what a reader may not see', async () => {
    await receive(signedDocument('prov-5'));
    const admin = actorOf(GBR_TOP_SECRET, ['administrator']);
    await expect(service().read(admin, 'prov-5')).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(service().list(admin)).rejects.toMatchObject({ code: 'FORBIDDEN' });

    // Not received and not readable look the same.
    const stranger = actorOf({ ...GBR_TOP_SECRET, nationality: 'FRA' });
    await expect(service().read(stranger, 'prov-5')).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: "no received product 'prov-5'",
    });
    await expect(service().read(stranger, 'no-such')).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: "no received product 'no-such'",
    });
    expect(await service().list(stranger, { arrangement: MAIN.id })).toEqual({ items: [], total: 0 });
    await expect(service().read(actorOf(GBR_TOP_SECRET), 'prov-5', 2)).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });
});
