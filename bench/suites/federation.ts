// Federation (issue 4): what one node takes in from a peer, and how long a release takes to reach
// the peer. Both run on real node keys and an arrangement signed by both parties' keys, USA to GBR.
//
// Envelope ingest: GBR's InboxService.receive over its real store (a SQLite file, and PostgreSQL
// when it is reachable) takes release envelopes USA sealed beforehand, each with its own envelope
// id and product (so none is a duplicate, and each is refused nothing): authentication, replay
// and skew checks, decryption, the originator's product signature, the release policy run again
// as the recipient, one transaction storing the inbox row and the product, a signed receipt. The
// ceiling is what no inbox can skip per envelope, timed in the same run on a like envelope: one
// Ed25519 verify of its signing bytes and one HPKE open (X25519, HKDF-SHA256, AES-256-GCM) of its
// ciphertext, so ceiling = 1 / (t_verify + t_open) (issue 4: ratio at least 0.5). The latency
// columns give one receive at a time.
//
// Release to stored: two nodes in this process, each with its SQLite file, listening on loopback,
// USA's outbox worker running (a committed release wakes it at once). One release at a time:
// timed from the call to USA's ProductService.release until GBR's inbox has committed the product
// (its receive resolves after the commit; the bench hooks that, no polling or sleeping). The next
// release waits, untimed, for the worker to record GBR's receipt, so each is timed on its own;
// the throughput figure counts whole cycles, receipt included. The ceiling is the same message's
// trip with nothing of Accord around it: sealed and signed into a fresh envelope (sealEnvelope),
// posted by the same fetch client (undici, keep-alive) to a bare Fastify route on loopback that
// verifies its signature, opens it and answers with a receipt captured from GBR. That is the
// crypto the protocol cannot do without (sign and seal, verify and open) plus the transport; what
// Accord adds is two durable transactions, the policy run twice, the product signed and verified,
// and the outbox worker's wake-up and round. Target (issue 4): p99 at most 50 ms.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { type AccordNode, buildNode, startOutboxWorker } from '../../src/app/node.js';
import { type NodeKeys, partnerKeysOf, signerOf } from '../../src/app/node-keys.js';
import {
  type ArrangementDocument,
  arrangementVersionHash,
  parseArrangement,
} from '../../src/arrangements/index.js';
import { loadConfig } from '../../src/config/index.js';
import {
  createNodeIdentity,
  isValidSignature,
  open,
  type PublicIdentity,
  publicIdentity,
} from '../../src/crypto/index.js';
import {
  type DerivedDocument,
  derivedFromOf,
  ENVELOPE_INFO,
  type Envelope,
  type EnvelopeArrangement,
  type EnvelopeHeaderFields,
  envelopeHeaderBytes,
  envelopeSigningBytes,
  newEnvelopeHeader,
  parseDerivedDocument,
  type Signer,
  sealEnvelope,
  signArrangementAs,
  signProduct,
  type UnsignedDerivedDocument,
  withPinnedKeys,
} from '../../src/federation/index.js';
import { DEFAULT_REGISTRY, renderBanner, renderPortionMark } from '../../src/markings/index.js';
import { compileArrangement, decideRelease } from '../../src/policy/index.js';
import { type ProductDocument, parseProduct } from '../../src/products/index.js';
import type { Actor } from '../../src/services/actor.js';
import type { DraftInput, SealedRelease } from '../../src/services/product-service.js';
import { type BenchStoreKind, Cleanup, openBenchStore, unavailable } from '../bench-store.js';
import {
  type AsyncBenchCase,
  type AsyncCaseOperations,
  type AsyncMeasureOptions,
  maxAsyncOperations,
  measure,
  type Suite,
} from '../harness.js';

const SENDER = 'USA';
const RECIPIENT = 'GBR';
const ARRANGEMENT_ID = 'bench-usa-gbr-sigint';
/** receive() calls in flight at once while ingest throughput is measured. */
const INGEST_CLIENTS = 4;
/**
 * Warm-up before each figure and ceiling: Kysely, ajv, Fastify and undici are still being
 * optimised in the first second (see http.ts).
 */
const INGEST_WARMUP_MS = 1000;
const LATENCY_WARMUP_MS = 2000;
/**
 * Envelopes sealed for the ingest figure: as many as measureAsync can take at this many times the
 * ceiling's rate measured in set-up. The figure cannot beat its ceiling (it does the same verify
 * and open and more), the margin is for a ceiling that speeds up once warm.
 */
const POOL_MARGIN = 1.25;
/** Releases timed one at a time for p50 / p99, unless that takes longer than LATENCY_MAX_MS. */
const LATENCY_SAMPLES = 500;
const LATENCY_MAX_MS = 20_000;
/** How long a release may take to be stored before the bench gives up on it (a fault, not a figure). */
const DELIVERY_TIMEOUT_MS = 10_000;
const INFO = new TextEncoder().encode(ENVELOPE_INFO);

// A fixed start instant that then moves with real time, shared by both nodes and the envelopes,
// so the arrangement's validity and the envelopes' skew are judged the same way on every run.
const EPOCH = Date.parse('2026-11-26T12:00:00.000Z');

/** A clock starting at EPOCH now. */
function benchClock(): () => number {
  const started = Date.now();
  return () => EPOCH + (Date.now() - started);
}

/** The draft both cases release: p1 S//REL TO USA, GBR; p2 C//REL TO USA, FVEY; p3 S//NF (withheld). */
const DRAFT: DraftInput = {
  title: 'Facilitation network moving funds through hawala brokers',
  titleMarking: '(U//REL TO USA, FVEY)',
  discipline: 'SIGINT',
  categories: ['counterterrorism'],
  portions: [
    {
      id: 'p1',
      marking: '(S//REL TO USA, GBR)',
      text: 'Intercepted communications indicate a facilitator in the region arranging three transfers this week.',
    },
    {
      id: 'p2',
      marking: '(C//REL TO USA, FVEY)',
      text: 'The transfers are routed through two hawala brokers previously reported by partner services.',
    },
    {
      id: 'p3',
      marking: '(S//NF)',
      text: 'Collection was enabled by a sensitive access that must not be disclosed to foreign partners.',
    },
  ],
  reliability: 'B',
  credibility: 2,
  geo: { type: 'Point', coordinates: [67.0099, 24.8615] },
};

function nodeKeys(): NodeKeys {
  const identity = createNodeIdentity();
  return { identity, public: publicIdentity(identity) };
}

/** The arrangement's terms before any key is pinned: USA-GBR SIGINT on counterterrorism up to TOP SECRET. */
const TERMS: ArrangementDocument = parseArrangement({
  id: ARRANGEMENT_ID,
  version: 1,
  title: 'USA-GBR SIGINT counterterrorism sharing (benchmark)',
  type: 'bilateral',
  legalBasis: 'UKUSA Agreement',
  parties: [SENDER, RECIPIENT].map((partner, i) => ({
    partner,
    role: i === 0 ? 'lead' : 'party',
    // Placeholders: withPinnedKeys puts each node's real keys here before anyone signs.
    nodeKeys: [{ use: 'signing', fingerprint: `sha256:${'0'.repeat(63)}${i}` }],
  })),
  scope: {
    disciplines: ['SIGINT', 'CYBINT'],
    categories: ['counterterrorism', 'cyber'],
    ceiling: 'TOP SECRET',
    caveats: ['SI'],
    controls: ['ORCON'],
  },
  equivalences: {},
  effective: '2025-01-01T00:00:00Z',
  expires: '2030-12-31T23:59:59Z',
  review: '2027-01-01T00:00:00Z',
  thirdPartyRule: true,
  // The sender's workflow: one approval from SECRET up (the recipient does not judge it).
  releaseApproval: { fromLevel: 'SECRET', approvals: 1 },
  oversight: { body: 'Joint oversight board' },
  breachProtocol: { notifyWithinHours: 24, autoSuspendOnConfirmedBreach: true, recall: true },
  status: 'active',
  signatures: [],
});

/** TERMS with both nodes' keys pinned, signed by both nodes for real. */
function signedArrangement(usa: NodeKeys, gbr: NodeKeys): ArrangementDocument {
  const pinned = withPinnedKeys(
    TERMS,
    new Map<string, PublicIdentity>([
      [SENDER, usa.public],
      [RECIPIENT, gbr.public],
    ]),
  );
  const signedAt = new Date(EPOCH).toISOString();
  return signArrangementAs(
    signArrangementAs(pinned, SENDER, signerOf(usa), signedAt),
    RECIPIENT,
    signerOf(gbr),
    signedAt,
  );
}

function onWire(doc: ArrangementDocument): EnvelopeArrangement {
  return { id: doc.id, version: doc.version, versionHash: arrangementVersionHash(doc) };
}

/** USA's product `id` as stored at USA, approved. */
function sourceDocument(id: string): ProductDocument {
  return {
    ...DRAFT,
    portions: DRAFT.portions.map((p, i) => ({ ...p, id: p.id ?? `p${i + 1}` })),
    id,
    version: 1,
    originator: SENDER,
    author: 'analyst.usa',
    createdAt: '2026-11-20T09:30:00Z',
    approvals: [{ by: 'officer.usa', version: 1, at: '2026-11-20T11:00:00Z', decision: 'approved' }],
  };
}

/**
 * The unsigned derived version of `source` for GBR, as ProductService.release writes it: the
 * decision's torn product, markings rendered, naming the source version it came from. Checks the
 * decision is the one described (an allow withholding p3).
 */
function derivedFor(
  source: ProductDocument,
  arrangement: ArrangementDocument,
  at: number,
): UnsignedDerivedDocument {
  const registry = DEFAULT_REGISTRY;
  const decision = decideRelease(
    parseProduct(source, registry),
    compileArrangement(arrangement, registry),
    RECIPIENT,
    {
      at,
      sender: SENDER,
    },
  );
  const derived = decision.derived;
  if (decision.effect !== 'allow' || derived === null || derived.withheldCount !== 1) {
    throw new Error(
      `federation bench: expected an allow withholding p3, got ${JSON.stringify(decision.rules)}`,
    );
  }
  const options = { originator: derived.originator, registry };
  return {
    id: derived.id,
    version: derived.version,
    derivedFrom: derivedFromOf(source),
    originator: derived.originator,
    title: derived.title,
    titleMarking: renderPortionMark(derived.titleLabel, options),
    discipline: derived.discipline,
    categories: [...derived.categories],
    portions: derived.portions.map((p) => ({
      id: p.id,
      marking: renderPortionMark(p.label, options),
      text: p.text,
    })),
    banner: renderBanner(derived.banner, options),
    withheldCount: derived.withheldCount,
    reliability: derived.reliability,
    credibility: derived.credibility,
    createdAt: derived.createdAt,
    ...(derived.geo === null ? {} : { geo: derived.geo as NonNullable<DerivedDocument['geo']> }),
  };
}

/**
 * A release envelope from USA to GBR for product `id`: the derived version of the template, renamed
 * to `id` (its source renamed too, so derivedFrom names it), signed by USA, sealed to GBR.
 */
function releaseEnvelope(
  template: UnsignedDerivedDocument,
  id: string,
  arrangement: EnvelopeArrangement,
  signer: Signer,
  gbr: NodeKeys,
  now: number,
): Envelope {
  const derived = parseDerivedDocument(
    signProduct({ ...template, id, derivedFrom: derivedFromOf(sourceDocument(id)) }, signer),
  );
  const header = newEnvelopeHeader(
    {
      kind: 'release',
      from: SENDER,
      to: RECIPIENT,
      arrangement,
      product: { id, version: derived.version },
      senderKey: signer.fingerprint,
    },
    { now, randomBytes: (n) => randomBytes(n) },
  );
  return sealEnvelope({
    header,
    payload: { kind: 'release', arrangement, product: derived },
    signer,
    recipientEncryptionKey: gbr.identity.encryption.publicKey,
  });
}

/** The parts of an envelope its ceiling works on: signing bytes, signature, enc, ciphertext, aad. */
interface Unwrapped {
  readonly signed: Uint8Array;
  readonly signature: Uint8Array;
  readonly enc: Uint8Array;
  readonly ciphertext: Uint8Array;
  readonly aad: Uint8Array;
}

function unwrapped(envelope: Envelope): Unwrapped {
  const enc = Buffer.from(envelope.enc, 'base64url');
  const ciphertext = Buffer.from(envelope.ciphertext, 'base64url');
  return {
    signed: envelopeSigningBytes(envelope.header, enc, ciphertext),
    signature: Buffer.from(envelope.signature, 'base64url'),
    enc,
    ciphertext,
    aad: envelopeHeaderBytes(envelope.header),
  };
}

/** The per-envelope crypto no inbox can skip: one Ed25519 verify, one HPKE open. Throws if either fails. */
function verifyAndOpen(parts: Unwrapped, sender: NodeKeys, recipient: NodeKeys): Uint8Array {
  if (!isValidSignature(sender.identity.signing.publicKey, parts.signed, parts.signature)) {
    throw new Error('federation bench: the ceiling envelope does not verify');
  }
  return open(recipient.identity.encryption.privateKey, parts.enc, INFO, parts.aad, parts.ciphertext);
}

/** A node of `partner` on `store`, with its keys, quiet. */
async function nodeOf(
  partner: string,
  dataDir: string,
  kind: BenchStoreKind,
  keys: NodeKeys,
  now: () => number,
  cleanup: Cleanup,
): Promise<AccordNode> {
  const store = await openBenchStore(kind, dataDir, now, cleanup);
  let storeClosed = false;
  cleanup.add(async () => {
    if (!storeClosed) await store.close();
  });
  const config = loadConfig({
    flags: { dataDir, partner, log: { level: 'silent' }, http: { host: '127.0.0.1', port: 0 } },
  });
  const node = await buildNode(config, { store, now, keys });
  // node.close closes the server and then the store.
  cleanup.add(async () => {
    storeClosed = true;
    await node.close();
  });
  return node;
}

/** Both partners in `node`'s directory with their keys, and the signed arrangement. */
async function introduce(
  node: AccordNode,
  keys: { readonly usa: NodeKeys; readonly gbr: NodeKeys },
  endpoints: { readonly usa: string | null; readonly gbr: string | null },
  arrangement: ArrangementDocument,
): Promise<void> {
  await node.store.partners.upsert({
    code: SENDER,
    name: 'United States',
    endpoint: endpoints.usa,
    keys: partnerKeysOf(keys.usa.public),
  });
  await node.store.partners.upsert({
    code: RECIPIENT,
    name: 'United Kingdom',
    endpoint: endpoints.gbr,
    keys: partnerKeysOf(keys.gbr.public),
  });
  await node.store.arrangements.putVersion(arrangement);
}

function tempDir(label: string, cleanup: Cleanup): string {
  const dir = mkdtempSync(join(tmpdir(), `accord-bench-federation-${label}-`));
  cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function productIdOf(n: number): string {
  return `USA-2026-${String(n).padStart(10, '0')}`;
}

// ---------------------------------------------------------------- envelope ingest

async function setUpIngest(
  kind: BenchStoreKind,
  plan: AsyncMeasureOptions,
): Promise<AsyncCaseOperations | { readonly skipped: string }> {
  const skipped = await unavailable(kind);
  if (skipped !== undefined) return { skipped };
  const cleanup = new Cleanup('federation bench');
  try {
    const usa = nodeKeys();
    const gbr = nodeKeys();
    const now = benchClock();
    const gbrNode = await nodeOf(RECIPIENT, tempDir('ingest', cleanup), kind, gbr, now, cleanup);
    const inbox = gbrNode.services.inbox;
    if (inbox === undefined) throw new Error('federation bench: GBR has keys but no inbox');
    const arrangement = signedArrangement(usa, gbr);
    await introduce(gbrNode, { usa, gbr }, { usa: null, gbr: null }, arrangement);

    const usaSigner = signerOf(usa);
    const template = derivedFor(sourceDocument(productIdOf(0)), arrangement, now());
    const wire = onWire(arrangement);
    const envelopeFor = (n: number) => releaseEnvelope(template, productIdOf(n), wire, usaSigner, gbr, now());

    // One envelope, checked, before anything is timed: GBR must store it, and it is the one the
    // ceiling verifies and opens.
    const sample = envelopeFor(0);
    const answer = await inbox.receive(sample, '127.0.0.1');
    if (answer.outcome !== 'stored') throw new Error(`federation bench: the sample was ${answer.outcome}`);
    const parts = unwrapped(sample);
    const ceiling = () => verifyAndOpen(parts, usa, gbr);

    const rate = measure('ceiling estimate', ceiling, { runs: 3, minMs: 50, warmupMs: 100 }).max;
    const count = maxAsyncOperations(rate * POOL_MARGIN, plan);
    const pool: Envelope[] = [];
    for (let n = 1; n <= count; n++) pool.push(envelopeFor(n));

    return {
      run: async (i) => {
        const envelope = pool[i];
        if (envelope === undefined) {
          throw new Error(`federation bench: all ${count} envelopes sealed for the figure are used up`);
        }
        const { outcome } = await inbox.receive(envelope, '127.0.0.1');
        if (outcome !== 'stored') throw new Error(`federation bench: envelope ${i} was ${outcome}`);
      },
      ceiling: async () => ceiling(),
      close: () => cleanup.run(),
    };
  } catch (error) {
    await cleanup.run().catch(() => undefined);
    throw error;
  }
}

function ingestCase(kind: BenchStoreKind, label: string): AsyncBenchCase {
  return {
    name: `envelopes ingested/s, ${label} (verify, decrypt, policy, store; ${INGEST_CLIENTS} clients)`,
    ceiling: '1 / (Ed25519 verify + HPKE open)',
    target: { ratio: 0.5, source: 'issue 4' },
    clients: INGEST_CLIENTS,
    warmupMs: INGEST_WARMUP_MS,
    setupAsync: (plan) => setUpIngest(kind, plan),
  };
}

// ---------------------------------------------------------------- release to stored

/** Awaits GBR's commit of a product: its inbox's receive is wrapped to say which product it stored. */
class StoredSignal {
  readonly #waiting = new Map<string, (envelopeId: string) => void>();

  /**
   * Resolves with the envelope id once `productId` is stored, or rejects after `timeoutMs` with
   * what `why` says.
   */
  next(productId: string, timeoutMs: number, why: () => Promise<string>): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(productId);
        why().then(
          (reason) => reject(new Error(`federation bench: ${productId} was not stored in time: ${reason}`)),
          reject,
        );
      }, timeoutMs);
      this.#waiting.set(productId, (envelopeId) => {
        clearTimeout(timer);
        this.#waiting.delete(productId);
        resolve(envelopeId);
      });
    });
  }

  stored(productId: string, envelopeId: string): void {
    this.#waiting.get(productId)?.(envelopeId);
  }
}

async function setUpLatency(): Promise<AsyncCaseOperations> {
  const cleanup = new Cleanup('federation bench');
  try {
    const keys = { usa: nodeKeys(), gbr: nodeKeys() };
    const now = benchClock();
    const usaNode = await nodeOf(SENDER, tempDir('usa', cleanup), 'sqlite', keys.usa, now, cleanup);
    const gbrNode = await nodeOf(RECIPIENT, tempDir('gbr', cleanup), 'sqlite', keys.gbr, now, cleanup);
    const usaUrl = await usaNode.server.listen({ host: '127.0.0.1', port: 0 });
    const gbrUrl = await gbrNode.server.listen({ host: '127.0.0.1', port: 0 });
    const arrangement = signedArrangement(keys.usa, keys.gbr);
    const endpoints = { usa: usaUrl, gbr: gbrUrl };
    await introduce(usaNode, keys, endpoints, arrangement);
    await introduce(gbrNode, keys, endpoints, arrangement);

    const inbox = gbrNode.services.inbox;
    if (inbox === undefined) throw new Error('federation bench: GBR has keys but no inbox');
    const signal = new StoredSignal();
    const receive = inbox.receive.bind(inbox);
    inbox.receive = async (body, remoteAddress) => {
      const answer = await receive(body, remoteAddress);
      if (answer.outcome === 'stored') {
        const { receipt } = answer.receipt;
        signal.stored(receipt.product.id, receipt.envelopeId);
      }
      return answer;
    };

    const actors: Actor[] = [];
    for (const [username, role] of [
      ['analyst.usa', 'analyst'],
      ['officer.usa', 'release-officer'],
    ] as const) {
      const user = await usaNode.services.directory.createUser(null, {
        username,
        displayName: username,
        nationality: 'USA',
        clearance: 'TOP SECRET',
        caveats: ['SI'],
        communities: [],
        roles: [role],
      });
      const stored = await usaNode.store.users.getById(user.id);
      if (stored === undefined) throw new Error(`federation bench: ${username} was not stored`);
      actors.push({ user: stored, via: 'local' });
    }
    const [analyst, officer] = actors as [Actor, Actor];

    // A few approved products, released in turn: each release is a fresh envelope all the same.
    const products = usaNode.services.products;
    const productIds: string[] = [];
    for (let n = 0; n < 8; n++) {
      const draft = await products.createDraft(analyst, DRAFT);
      await products.submit(analyst, draft.id);
      await products.decide(officer, draft.id, 'approved');
      productIds.push(draft.id);
    }

    const worker = startOutboxWorker(usaNode);
    if (worker === undefined) throw new Error('federation bench: USA has keys but no outbox worker');
    cleanup.add(() => worker.stop());
    // The worker's round in flight, which records GBR's receipt once the product is stored.
    let round: Promise<unknown> = Promise.resolve();
    const runOnce = worker.runOnce.bind(worker);
    worker.runOnce = () => {
      const current = runOnce();
      round = current;
      return current;
    };

    const lastError = async (): Promise<string> => {
      const rows = await usaNode.store.outbox.list({ limit: 1 });
      return rows[0]?.lastError ?? 'no delivery error recorded';
    };
    /** The envelope id of each release, by operation, for settle to check its delivery. */
    const envelopes = new Map<number, string>();
    const releaseAndWait = async (productId: string): Promise<string> => {
      const stored = signal.next(productId, DELIVERY_TIMEOUT_MS, lastError);
      await products.release(officer, productId, RECIPIENT, ARRANGEMENT_ID);
      return stored;
    };
    /** Waits for the round that delivered `envelopeId` to end, and checks it recorded the receipt. */
    const delivered = async (envelopeId: string) => {
      await round;
      const row = await usaNode.store.outbox.get(envelopeId);
      if (row?.status !== 'delivered') {
        throw new Error(`federation bench: envelope ${envelopeId} is ${row?.status}: ${row?.lastError}`);
      }
      return row;
    };

    // One release, checked, before anything is timed: it must reach GBR, and its outbox row holds
    // the message the ceiling seals and the receipt the bare route answers with.
    const row = await delivered(await releaseAndWait(productIds[0]!));
    const { release } = row.payload as SealedRelease;
    const receipt = row.receipt;

    const bare = Fastify();
    cleanup.add(() => bare.close());
    bare.post('/federation/v1/inbox', async (request, reply) => {
      verifyAndOpen(unwrapped(request.body as Envelope), keys.usa, keys.gbr);
      return reply.code(201).send(receipt);
    });
    const bareUrl = `${await bare.listen({ host: '127.0.0.1', port: 0 })}/federation/v1/inbox`;
    const usaSigner = signerOf(keys.usa);
    const fields: EnvelopeHeaderFields = release.header;

    return {
      run: async (i) => {
        envelopes.set(i, await releaseAndWait(productIds[i % productIds.length]!));
      },
      settle: async (i) => {
        const envelopeId = envelopes.get(i);
        envelopes.delete(i);
        if (envelopeId !== undefined) await delivered(envelopeId);
      },
      ceiling: async () => {
        const header = newEnvelopeHeader(fields, { now: now(), randomBytes: (n) => randomBytes(n) });
        const envelope = sealEnvelope({
          header,
          payload: release.payload,
          signer: usaSigner,
          recipientEncryptionKey: keys.gbr.identity.encryption.publicKey,
        });
        const response = await fetch(bareUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(envelope),
        });
        const text = await response.text();
        if (response.status !== 201)
          throw new Error(`federation bench: the bare route answered ${response.status}: ${text}`);
        return JSON.parse(text);
      },
      close: () => cleanup.run(),
    };
  } catch (error) {
    await cleanup.run().catch(() => undefined);
    throw error;
  }
}

const latencyCase: AsyncBenchCase = {
  name: 'releases delivered/s, SQLite (release to stored at GBR over loopback; 1 at a time)',
  ceiling: 'seal+sign, bare Fastify POST, verify+open',
  target: { p99Ms: 50, source: 'issue 4' },
  clients: 1,
  warmupMs: LATENCY_WARMUP_MS,
  latencySamples: LATENCY_SAMPLES,
  latencyMaxMs: LATENCY_MAX_MS,
  setupAsync: () => setUpLatency(),
};

/** Envelope ingest at one node (SQLite, PostgreSQL) and release-to-stored latency between two. */
export const federationSuite: Suite = {
  name: 'federation',
  cases: [ingestCase('sqlite', 'SQLite'), ingestCase('postgres', 'PostgreSQL'), latencyCase],
};
