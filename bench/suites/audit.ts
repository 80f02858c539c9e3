// The audit log (issue 5): appends per second beside bare SHA-256 of the same bytes, measured in
// the same run; RFC 9162 inclusion and consistency proofs at 1,000,000 entries, from the subtree
// hashes in memory and as the node stores them in SQLite, each beside the bare reads of the nodes
// the proof is made of; and `accord audit verify` over a data directory, beside hashing the same
// entries. The 1,000,000-entry store is filled directly (a frontier over generated entries, its
// subtree hashes written by prepared statements), not through a million service calls.
import { hash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { createNodeKeys, signerOf } from '../../src/app/node-keys.js';
import {
  type AuditEvent,
  canonicalAuditEntry,
  consistencyProofFromStore,
  consistencyProofPlan,
  Frontier,
  inclusionProofFromStore,
  inclusionProofPlan,
  LeafHashList,
  leafHash,
  leafHashesOf,
  MemorySubtreeStore,
  parseAuditEntry,
} from '../../src/audit/index.js';
import { writeNodeConfig } from '../../src/cli/local-node.js';
import { runCli } from '../../src/cli/run-cli.js';
import { AuditLog, storedProofSource } from '../../src/services/audit-log.js';
import { openStore, type Store } from '../../src/store/index.js';
import type { AsyncBenchCase, BenchCase, Suite } from '../harness.js';

const MILLION = 1_000_000;
const VERIFY_ENTRIES = 100_000;
const BATCH = 1000;
const APPEND_TARGET = {
  opsPerSec: 50_000,
  source: 'issue 5: audit appends/s on one core with batched hashing',
};
const T = '2026-11-26T12:00:00.000Z';
const PASSPHRASE = 'audit bench passphrase';

/** A product read by one of a few users: a typical entry (about 180 bytes of canonical JSON). */
function event(i: number): AuditEvent {
  return {
    action: 'product.read',
    actor: { kind: 'user', username: `analyst${i % 17}.usa`, via: 'token' },
    product: { id: `USA-2026-${(i % 100_000).toString(16).padStart(10, '0')}`, version: 1 + (i % 3) },
    banner: 'SECRET//REL TO USA, GBR',
  };
}

/** The canonical text of entry `i`, written out directly (the form canonicalAuditEntry gives). */
function entryText(i: number): string {
  const e = event(i) as Required<Pick<AuditEvent, 'actor' | 'product' | 'banner'>>;
  const actor = e.actor as { username: string };
  return (
    `{"action":"product.read","actor":{"kind":"user","username":"${actor.username}","via":"token"},` +
    `"banner":"${e.banner}","product":{"id":"${e.product.id}","version":${e.product.version}},"time":"${T}"}`
  );
}

// entryText must be what the log itself would store, or the figures measure something else.
for (const i of [0, 12_345]) {
  if (canonicalAuditEntry(parseAuditEntry(JSON.parse(entryText(i)))) !== entryText(i)) {
    throw new Error(`audit bench: entryText(${i}) is not the canonical entry`);
  }
}

/** The ceiling: node:crypto's fastest SHA-256 (one-shot, no Hash object) over the same bytes. */
function sha256(bytes: Uint8Array): Buffer {
  return hash('sha256', bytes, 'buffer');
}

// ---------------------------------------------------------------- appends

const memoryAppends: BenchCase = {
  name: 'audit appends/s in memory (schema check, canonical JSON, leaf hash, frontier, batches of 1000)',
  ceiling: 'SHA-256 of the same entry bytes',
  target: APPEND_TARGET,
  setup() {
    const events = Array.from({ length: BATCH }, (_, i) => event(i));
    const bytes = events.map((e) => Buffer.from(canonicalAuditEntry({ time: T, ...e }), 'utf8'));
    const frontier = Frontier.empty();
    // The nodes a batch completes, as integrate() collects them for its inserts; cleared per batch.
    let batch: Uint8Array[] = [];
    const sink = { put: (_level: number, _index: number, hash: Uint8Array) => void batch.push(hash) };
    let texts: string[] = [];
    return {
      run: (i) => {
        // What AuditLog.recordIn does per event (schema check, canonical JSON) ...
        texts.push(canonicalAuditEntry({ time: T, ...events[i % BATCH]! }));
        if (texts.length < BATCH) return undefined;
        // ... and integrate per batch, without the database: leaves hashed in one pass, frontier.
        for (const leaf of leafHashesOf(texts)) frontier.append(leaf, sink);
        texts = [];
        batch = [];
        return frontier.treeSize;
      },
      ceiling: (i) => sha256(bytes[i % BATCH]!),
    };
  },
};

async function tempStore(): Promise<{ store: Store; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'accord-bench-audit-'));
  const store = await openStore({ kind: 'sqlite', file: join(dir, 'accord.sqlite') });
  return { store, dir };
}

/**
 * The service's own append path on a SQLite file (WAL, synchronous FULL): AuditLog.recordIn in a
 * store transaction, as services log an event in the transaction of the change it records, and
 * AuditLog.integrate, the sequencer's batch (claim, leaf and node hashes, entries and subtree
 * hashes inserted, commit). The events share a transaction 1000 at a time: that commit stands for
 * the commits of the business changes, which an audited change makes anyway.
 */
const sqliteAppends: AsyncBenchCase = {
  name: 'audit appends/s to SQLite (queued 1000 to a transaction, integrated 1000 to a batch)',
  ceiling: 'SHA-256 of the same entry bytes',
  target: APPEND_TARGET,
  warmupMs: 1000,
  async setupAsync() {
    const { store, dir } = await tempStore();
    const log = new AuditLog({ store, now: () => Date.parse(T), nodeId: 'USA', batchSize: BATCH });
    const bytes = Array.from({ length: BATCH }, (_, i) => Buffer.from(entryText(i), 'utf8'));
    let pending: AuditEvent[] = [];
    return {
      run: async (i) => {
        pending.push(event(i));
        if (pending.length < BATCH) return undefined;
        const events = pending;
        pending = [];
        await store.transaction(async (tx) => {
          for (const e of events) await log.recordIn(tx, e);
        });
        return log.integrate();
      },
      ceiling: async (i) => sha256(bytes[i % BATCH]!),
      close: async () => {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

// ---------------------------------------------------------------- proofs at a million entries

/** Spreads proof requests over the whole tree: a fixed stride through the indices. */
const indexAt = (i: number, n: number) => (i * 7919 + 13) % n;
/** Sizes for consistency proofs: first below second, both in the upper half of the million. */
const sizesAt = (i: number): [number, number] => {
  const first = 1 + ((i * 104_729) % (MILLION - 1));
  return [first, MILLION];
};

let memoryTree: MemorySubtreeStore | undefined;

/** The subtree hashes of a million entries, in memory (built once per process). */
function millionInMemory(): MemorySubtreeStore {
  if (memoryTree !== undefined) return memoryTree;
  const store = new MemorySubtreeStore();
  const frontier = Frontier.empty();
  for (let i = 0; i < MILLION; i++) frontier.append(leafHash(Buffer.from(entryText(i), 'utf8')), store);
  memoryTree = store;
  return store;
}

function memoryProofCase(kind: 'inclusion' | 'consistency'): BenchCase {
  return {
    name: `${kind} proofs/s at 1,000,000 entries (subtree hashes in memory)`,
    ceiling: 'reading the same ⌈log₂ n⌉ nodes',
    setup() {
      const store = millionInMemory();
      const plans = Array.from({ length: 1024 }, (_, i) =>
        (kind === 'inclusion'
          ? inclusionProofPlan(indexAt(i, MILLION), MILLION)
          : consistencyProofPlan(...sizesAt(i))
        ).flat(),
      );
      return {
        run: (i) =>
          kind === 'inclusion'
            ? inclusionProofFromStore(store, indexAt(i % 1024, MILLION), MILLION)
            : consistencyProofFromStore(store, ...sizesAt(i % 1024)),
        ceiling: (i) => plans[i % 1024]!.map(({ level, index }) => store.get(level, index)),
      };
    },
  };
}

/**
 * A data directory (config, keys, SQLite) whose audit log holds `n` entries and a head over them
 * signed with its key: the tables are filled with prepared statements in one transaction.
 */
async function auditDataDir(n: number): Promise<{ dir: string; store: Store; leaves: LeafHashList }> {
  const dir = mkdtempSync(join(tmpdir(), 'accord-bench-audit-'));
  await writeNodeConfig(dir, { partner: 'USA', nodeName: 'bench' });
  const keys = await createNodeKeys(dir, PASSPHRASE);
  const file = join(dir, 'accord.sqlite');
  await (await openStore({ kind: 'sqlite', file })).close();
  const db = new BetterSqlite3(file);
  const leaves = new LeafHashList();
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const insertEntry = db.prepare(
    'insert into audit_entries (idx, leaf_hash, entry_json, recorded_at) values (?, ?, ?, ?)',
  );
  const insertNode = db.prepare('insert into audit_nodes (level, idx, hash) values (?, ?, ?)');
  const frontier = Frontier.empty();
  db.transaction(() => {
    const sink = {
      put: (level: number, index: number, hash: Uint8Array) => {
        if (level > 0) insertNode.run(level, index, Buffer.from(hash));
      },
    };
    for (let i = 0; i < n; i++) {
      const text = entryText(i);
      const leaf = leafHash(Buffer.from(text, 'utf8'));
      leaves.push(leaf);
      insertEntry.run(i, Buffer.from(leaf), text, T);
      frontier.append(leaf, sink);
    }
  })();
  db.close();
  const store = await openStore({ kind: 'sqlite', file });
  // The node signs a head over what it holds, checking it against the stored subtree hashes.
  await new AuditLog({
    store,
    now: () => Date.parse(T),
    nodeId: 'USA',
    signer: signerOf(keys),
  }).signIfGrown();
  return { dir, store, leaves };
}

function sqliteProofCase(kind: 'inclusion' | 'consistency'): AsyncBenchCase {
  return {
    name: `${kind} proofs/s at 1,000,000 entries (subtree hashes in SQLite)`,
    ceiling: 'one SELECT of the same nodes',
    async setupAsync() {
      const { dir, store } = await auditDataDir(MILLION);
      const proofs = storedProofSource(store.audit);
      const plans = Array.from({ length: 1024 }, (_, i) =>
        (kind === 'inclusion'
          ? inclusionProofPlan(indexAt(i, MILLION), MILLION)
          : consistencyProofPlan(...sizesAt(i))
        ).flat(),
      );
      return {
        run: (i) =>
          kind === 'inclusion'
            ? proofs.inclusionProof(indexAt(i % 1024, MILLION), MILLION)
            : proofs.consistencyProof(...sizesAt(i % 1024)),
        ceiling: (i) => store.audit.nodes(plans[i % 1024]!),
        close: async () => {
          await store.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  };
}

// ---------------------------------------------------------------- verify

/**
 * `accord audit verify DIR` in-process, counted per entry: every VERIFY_ENTRIES-th call runs the
 * whole command (open the store, read and hash every entry, recompute the root, check the signed
 * head), the calls between cost nothing, so ops/s is entries verified per second.
 */
const verifyCase: AsyncBenchCase = {
  name: `audit verify entries/s (accord audit verify on a data directory of ${VERIFY_ENTRIES.toLocaleString('en-GB')} entries)`,
  ceiling: 'SHA-256 of each entry',
  warmupMs: 1000,
  async setupAsync() {
    const { dir, store } = await auditDataDir(VERIFY_ENTRIES);
    await store.close();
    const texts = Array.from({ length: VERIFY_ENTRIES }, (_, i) => Buffer.from(entryText(i), 'utf8'));
    let out = '';
    const io = {
      stdout: { write: (chunk: string) => (out = chunk) },
      stderr: { write: (chunk: string) => (out = chunk) },
      env: {},
      cwd: dir,
    };
    return {
      run: async (i) => {
        if (i % VERIFY_ENTRIES !== VERIFY_ENTRIES - 1) return undefined;
        const code = await runCli(['audit', 'verify', dir], io);
        if (code !== 0) throw new Error(`audit verify failed: ${out}`);
        return code;
      },
      ceiling: async (i) => sha256(texts[i % VERIFY_ENTRIES]!),
      close: async () => rmSync(dir, { recursive: true, force: true }),
    };
  },
};

export const auditSuite: Suite = {
  name: 'audit',
  cases: [
    memoryAppends,
    sqliteAppends,
    memoryProofCase('inclusion'),
    memoryProofCase('consistency'),
    sqliteProofCase('inclusion'),
    sqliteProofCase('consistency'),
    verifyCase,
  ],
};
