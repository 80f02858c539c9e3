import {
  type AuditEvent,
  canonicalAuditEntry,
  consistencyProofPlan,
  Frontier,
  inclusionProofPlan,
  leafHashesOf,
  type NodeId,
  type ProofPlan,
  type ProofSource,
  resolvePlan,
  type SignatureCheck,
  type SignedTreeHead,
  subtreesOf,
  treeHeadOf,
  treeHeadSigningBytes,
  verifyConsistency,
} from '../audit/index.js';
import { isValidSignature, type PublicKeyInfo, signDigest } from '../crypto/index.js';
import { AccordError, isAccordError } from '../errors/index.js';
import type { Signer } from '../federation/index.js';
import type {
  AuditEntryRecord,
  AuditNodeRecord,
  AuditRepository,
  Repositories,
  Store,
} from '../store/index.js';
import { type Actor, oversightScope, requirePermission } from './actor.js';
import { Periodic } from './periodic.js';

// Issue 5's audit log over the store. Events are queued in the transaction of the change they
// record (recordIn), so a change and its audit entry commit or roll back together and a business
// transaction never waits on the log. One sequencer per node (integrate) moves queued events into
// the RFC 9162 tree in batches: it assigns indices, hashes leaves, appends them to the frontier
// and stores every perfect subtree the batch completes, so appends never rebuild the tree and
// proofs are O(log n) lookups. With the node's key it signs tree heads: on a timer while there are
// new entries, and on demand.

/** What a service needs to log events. */
export interface AuditRecorder {
  /** Logs an event on its own (a read, a login: no other write to join). */
  record(event: AuditEvent): Promise<void>;
  /** Logs an event inside the caller's transaction, with the change it records. */
  recordIn(tx: Repositories, event: AuditEvent): Promise<void>;
}

export interface AuditLogDeps {
  readonly store: Store;
  /** The clock, epoch milliseconds. */
  readonly now: () => number;
  /** Names this node's log in its tree heads (the partner code). */
  readonly nodeId: string;
  /** The node's signing key; without it the log is kept but no tree head is signed. */
  readonly signer?: Signer;
  /** Queued events moved into the tree per transaction. */
  readonly batchSize?: number;
}

/** A page of entries as the API serves them. */
export interface AuditEntryPage {
  readonly treeSize: number;
  readonly start: number;
  readonly end: number;
  readonly entries: readonly {
    readonly index: number;
    readonly leafHash: string;
    /** The entry as stored; a row that is not JSON (tampered) is served as its text. */
    readonly entry: unknown;
    /** Set (and `entry` null) for an entry outside a scoped oversight auditor's arrangements. */
    readonly withheld?: true;
  }[];
}

/** The largest page of entries one request may ask for. */
export const MAX_AUDIT_PAGE = 1000;
/** How often a serving node moves queued events into the tree and signs a head if it grew. */
export const TREE_HEAD_INTERVAL_MS = 2000;
const DEFAULT_BATCH = 1000;

function badRange(message: string, details: Record<string, unknown>): AccordError<'AUDIT_INPUT_INVALID'> {
  return new AccordError('AUDIT_INPUT_INVALID', message, details);
}

function isIndex(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** Resolves a proof plan against the stored subtree hashes in one query; a missing node is AUDIT_STATE_CORRUPT. */
async function resolveStored(
  repo: AuditRepository,
  plan: ProofPlan,
  treeSize: number,
): Promise<Uint8Array[]> {
  const wanted = plan.flat();
  const found = new Map<string, Uint8Array>();
  for (const node of await repo.nodes(wanted)) found.set(`${node.level}/${node.index}`, node.hash);
  return resolvePlan(plan, ({ level, index }: NodeId) => {
    const hash = found.get(`${level}/${index}`);
    if (hash === undefined || hash.length !== 32) {
      throw new AccordError(
        'AUDIT_STATE_CORRUPT',
        `the audit store lacks subtree (level ${level}, index ${index}) of tree size ${treeSize}`,
        { level, index, treeSize },
      );
    }
    return hash;
  });
}

/** The frontier of the first `treeSize` entries, from the stored subtree hashes (O(log n)). */
export async function storedFrontier(repo: AuditRepository, treeSize: number): Promise<Frontier> {
  const ids = subtreesOf(0, treeSize);
  const hashes = await resolveStored(
    repo,
    ids.map((id) => [id]),
    treeSize,
  );
  return Frontier.of(treeSize, hashes);
}

/** Proofs from the stored subtree hashes, as a verifier reading the store directly uses them. */
export function storedProofSource(repo: AuditRepository): ProofSource {
  return {
    inclusionProof: (index, treeSize) => resolveStored(repo, inclusionProofPlan(index, treeSize), treeSize),
    consistencyProof: (size1, size2) => resolveStored(repo, consistencyProofPlan(size1, size2), size2),
  };
}

/** Checks tree-head signatures with a node's Ed25519 signing key (base64 signatures, as the node writes them). */
export function treeHeadSignatureCheck(signingKey: PublicKeyInfo): SignatureCheck {
  const key = Buffer.from(signingKey.publicKey, 'base64');
  return (bytes, signature) => {
    // attacker-controlled: the signature text. Canonical base64 only, one spelling per signature.
    const raw = Buffer.from(signature, 'base64');
    if (raw.toString('base64') !== signature) return false;
    return isValidSignature(key, bytes, raw);
  };
}

/** The audit log of one node; see the comment at the top of this file. */
export class AuditLog implements AuditRecorder {
  readonly #deps: AuditLogDeps;
  /** The sequencer's queue of work: integrate and sign never run twice at once in this process. */
  #chain: Promise<unknown> = Promise.resolve();
  readonly #rounds = new Periodic();
  #onError: (error: unknown) => void = () => undefined;
  #time: { readonly at: number; readonly text: string } = { at: Number.NaN, text: '' };

  constructor(deps: AuditLogDeps) {
    this.#deps = deps;
  }

  /** Whether this node signs tree heads (it has its key). */
  get signs(): boolean {
    return this.#deps.signer !== undefined;
  }

  async record(event: AuditEvent): Promise<void> {
    await this.recordIn(this.#deps.store, event);
  }

  async recordIn(tx: Repositories, event: AuditEvent): Promise<void> {
    const now = this.#deps.now();
    // Events come many to a millisecond at a high rate: the time text is made once per millisecond.
    if (now !== this.#time.at) this.#time = { at: now, text: new Date(now).toISOString() };
    const time = this.#time.text;
    // The closed schema is checked here, at the source: an entry with anything but metadata fails.
    // (time first: V8 gives `{ ...event, time }` a slow shape that makes the check ten times slower.)
    await tx.audit.enqueue(canonicalAuditEntry({ time, ...event }), time);
  }

  #serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(work, work);
    this.#chain = run.catch(() => undefined);
    return run;
  }

  /** Moves every queued event into the tree; returns how many it appended. */
  integrate(): Promise<number> {
    return this.#serially(() => this.#integrateAll());
  }

  async #integrateAll(): Promise<number> {
    let total = 0;
    let conflicts = 0;
    for (;;) {
      let appended: number;
      try {
        appended = await this.#integrateBatch();
      } catch (error) {
        // Another sequencer on the same store (a second replica, a CLI beside the server) took
        // these events or these indices first; its transaction stands, so read the queue again.
        if (isAccordError(error) && error.code === 'STORE_CONFLICT' && ++conflicts < 5) continue;
        throw error;
      }
      if (appended === 0) return total;
      total += appended;
    }
  }

  async #integrateBatch(): Promise<number> {
    const { store } = this.#deps;
    // An idle log (the timer's usual round) reads one row and opens no write transaction.
    if ((await store.audit.pending(1)).length === 0) return 0;
    return store.transaction(async (tx) => {
      // Claim and read in one statement: rows another sequencer removed first are simply not
      // returned, and a rollback of this batch puts its rows back in the queue.
      const queued = await tx.audit.claim(this.#deps.batchSize ?? DEFAULT_BATCH);
      if (queued.length === 0) return 0;
      const size = await tx.audit.size();
      const frontier = await storedFrontier(tx.audit, size);
      const nodes: AuditNodeRecord[] = [];
      const sink = {
        put(level: number, index: number, hash: Uint8Array) {
          // Leaves are kept with their entries; only the nodes above them go to audit_nodes.
          if (level > 0) nodes.push({ level, index, hash });
        },
      };
      // Batched hashing: the batch's leaves in one pass over one buffer (RFC 9162 §2.1.1 leaves).
      const leaves = leafHashesOf(queued.map((q) => q.entryJson));
      const entries = queued.map((q, i): AuditEntryRecord => {
        const leaf = leaves[i]!;
        frontier.append(leaf, sink);
        return { index: size + i, leafHash: leaf, entryJson: q.entryJson, recordedAt: q.queuedAt };
      });
      await tx.audit.append(entries, nodes);
      return queued.length;
    });
  }

  /**
   * Integrates queued events, then signs a head over the whole log now (a fresh timestamp even if
   * the size is unchanged). AUDIT_SIGNING_UNAVAILABLE on a node without keys.
   */
  signTreeHead(actor: Actor): Promise<SignedTreeHead> {
    requirePermission(actor, 'audit:sign');
    return this.#serially(async () => {
      await this.#integrateAll();
      return this.#sign();
    });
  }

  /** Integrates queued events and signs a head when the log grew past the latest head; the timer's round. */
  signIfGrown(): Promise<SignedTreeHead | undefined> {
    return this.#serially(async () => {
      await this.#integrateAll();
      if (this.#deps.signer === undefined) return undefined;
      const [size, latest] = await Promise.all([
        this.#deps.store.audit.size(),
        this.#deps.store.audit.latestTreeHead(),
      ]);
      if (latest !== undefined && latest.treeSize >= size) return undefined;
      return this.#sign();
    });
  }

  async #sign(): Promise<SignedTreeHead> {
    const signer = this.#deps.signer;
    if (signer === undefined) {
      throw new AccordError(
        'AUDIT_SIGNING_UNAVAILABLE',
        'this node runs without node keys and signs no tree heads (start it with its keys)',
        {},
      );
    }
    const repo = this.#deps.store.audit;
    const size = await repo.size();
    const frontier = await storedFrontier(repo, size);
    const head = treeHeadOf(frontier, this.#deps.nodeId, new Date(this.#deps.now()));
    const latest = await repo.latestTreeHead();
    if (latest !== undefined) {
      if (latest.treeSize === head.treeSize && latest.timestamp === head.timestamp) return latest;
      // Never sign a fork of this node's own history: the new tree must extend the last signed one.
      if (latest.treeSize > head.treeSize) {
        throw new AccordError(
          'AUDIT_STATE_CORRUPT',
          `the audit log holds ${head.treeSize} entries but a head of size ${latest.treeSize} was signed; refusing to sign`,
          { treeSize: head.treeSize, signedSize: latest.treeSize },
        );
      }
      try {
        verifyConsistency(
          latest.treeSize,
          head.treeSize,
          Buffer.from(latest.rootHash, 'hex'),
          Buffer.from(head.rootHash, 'hex'),
          await storedProofSource(repo).consistencyProof(latest.treeSize, head.treeSize),
        );
      } catch (error) {
        throw new AccordError(
          'AUDIT_STATE_CORRUPT',
          `the audit log no longer extends the head of size ${latest.treeSize} this node signed; refusing to sign`,
          { treeSize: head.treeSize, signedSize: latest.treeSize },
          { cause: error },
        );
      }
    }
    const signature = Buffer.from(signDigest(signer.privateKey, treeHeadSigningBytes(head))).toString(
      'base64',
    );
    const signed: SignedTreeHead = { ...head, signature };
    await repo.addTreeHead(signed);
    return signed;
  }

  /**
   * Runs signIfGrown every `intervalMs` (never two rounds at once) until close(). A node without
   * keys still integrates on the timer, so its log stays current for readers. `onError` is told
   * of a round that failed (the store unreachable, a refusal to sign a fork).
   */
  start(intervalMs: number = TREE_HEAD_INTERVAL_MS, onError?: (error: unknown) => void): void {
    if (this.#rounds.running) return;
    if (onError !== undefined) this.#onError = onError;
    this.#rounds.start(
      () => this.signIfGrown(),
      intervalMs,
      (error) => this.#onError(error),
    );
  }

  /** Stops the timer, then integrates what is queued and signs a last head if the log grew. */
  async close(): Promise<void> {
    await this.#rounds.stop();
    try {
      await this.signIfGrown();
    } catch (error) {
      this.#onError(error);
    }
  }

  // ------------------------------------------------------------ reads, for people with audit:read

  /** The newest signed tree head; AUDIT_NO_TREE_HEAD when there is none. */
  async latestTreeHead(actor: Actor): Promise<SignedTreeHead> {
    requirePermission(actor, 'audit:read');
    const head = await this.#deps.store.audit.latestTreeHead();
    if (head === undefined) {
      throw new AccordError(
        'AUDIT_NO_TREE_HEAD',
        this.signs
          ? 'this node has signed no tree head yet'
          : 'this node runs without node keys and signs no tree heads',
        {},
      );
    }
    return head;
  }

  /** Entries start <= index < end (at most MAX_AUDIT_PAGE; end is cut to the log's size). */
  async entries(actor: Actor, start: number, end?: number): Promise<AuditEntryPage> {
    requirePermission(actor, 'audit:read');
    const last = end ?? start + 100;
    if (!isIndex(start) || !isIndex(last) || last < start) {
      throw badRange(`entries ${start} to ${last} is not a range`, { start, end: last });
    }
    if (last - start > MAX_AUDIT_PAGE) {
      throw badRange(
        `a page holds at most ${MAX_AUDIT_PAGE} entries; ask for ${start} to ${start + MAX_AUDIT_PAGE}`,
        {
          start,
          end: last,
        },
      );
    }
    const repo = this.#deps.store.audit;
    const treeSize = await repo.size();
    if (start > treeSize) {
      throw badRange(`entry ${start} is beyond the log of ${treeSize} entries`, { start, treeSize });
    }
    const cut = Math.min(last, treeSize);
    const rows = await repo.entries(start, cut);
    // An auditor on one arrangement's oversight body reads the entries about that arrangement; of
    // the others only the leaf hash, which says nothing and still lets them check the tree.
    const scope = oversightScope(actor);
    return {
      treeSize,
      start,
      end: cut,
      entries: rows.map((row) => {
        const entry = entryValue(row.entryJson);
        const shown = scope === undefined || scope.includes(arrangementIdOf(entry) ?? '');
        return shown
          ? { index: row.index, leafHash: hex(row.leafHash), entry }
          : { index: row.index, leafHash: hex(row.leafHash), entry: null, withheld: true };
      }),
    };
  }

  /** The audit path of entry `index` in the tree of `treeSize` entries (the latest signed size by default). */
  async inclusionProof(actor: Actor, index: number, treeSize?: number) {
    requirePermission(actor, 'audit:read');
    const repo = this.#deps.store.audit;
    const size = treeSize ?? (await this.#defaultSize());
    await this.#checkSize(size);
    if (!isIndex(index) || index >= size) {
      throw badRange(`entry ${index} is not in a tree of size ${size}`, { index, treeSize: size });
    }
    const [leaf] = await repo.entries(index, index + 1);
    const proof = await resolveStored(repo, inclusionProofPlan(index, size), size);
    return {
      index,
      treeSize: size,
      leafHash: leaf === undefined ? null : hex(leaf.leafHash),
      proof: proof.map(hex),
    };
  }

  /** The consistency proof from the tree of `first` entries to that of `second` (the latest signed size by default). */
  async consistencyProof(actor: Actor, first: number, second?: number) {
    requirePermission(actor, 'audit:read');
    const size = second ?? (await this.#defaultSize());
    await this.#checkSize(size);
    if (!isIndex(first) || first > size) {
      throw badRange(`tree size ${first} is not a prefix of tree size ${size}`, { first, second: size });
    }
    const proof = await resolveStored(this.#deps.store.audit, consistencyProofPlan(first, size), size);
    return { first, second: size, proof: proof.map(hex) };
  }

  // ------------------------------------------------------------ public reads, for partners' gossip

  /**
   * The newest signed tree head for anyone (GET /federation/v1/audit/tree-head): it is signed and
   * reveals only a size, a root and a time, so partners can gossip it without an account here.
   */
  async publishedTreeHead(): Promise<SignedTreeHead> {
    const head = await this.#deps.store.audit.latestTreeHead();
    if (head === undefined) {
      throw new AccordError('AUDIT_NO_TREE_HEAD', 'this node has signed no tree head yet', {});
    }
    return head;
  }

  /**
   * The consistency proof between two sizes for anyone, as long as `second` is no larger than the
   * latest signed head: only hashes of subtrees a signed root already commits to are revealed.
   */
  async publishedConsistencyProof(first: number, second: number) {
    const signed = (await this.#deps.store.audit.latestTreeHead())?.treeSize ?? 0;
    if (!isIndex(second) || second > signed) {
      throw badRange(`tree size ${second} is beyond the latest signed head (size ${signed})`, {
        second,
        signed,
      });
    }
    if (!isIndex(first) || first > second) {
      throw badRange(`tree size ${first} is not a prefix of tree size ${second}`, { first, second });
    }
    const proof = await resolveStored(this.#deps.store.audit, consistencyProofPlan(first, second), second);
    return { first, second, proof: proof.map(hex) };
  }

  async #defaultSize(): Promise<number> {
    const repo = this.#deps.store.audit;
    return (await repo.latestTreeHead())?.treeSize ?? (await repo.size());
  }

  async #checkSize(size: number): Promise<void> {
    const treeSize = await this.#deps.store.audit.size();
    if (!isIndex(size) || size > treeSize) {
      throw badRange(`tree size ${size} is beyond the log of ${treeSize} entries`, { treeSize: size });
    }
  }
}

function entryValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The arrangement an entry names, if any (read defensively: a stored row may have been tampered with). */
function arrangementIdOf(entry: unknown): string | undefined {
  if (typeof entry !== 'object' || entry === null) return undefined;
  const arrangement = (entry as { arrangement?: unknown }).arrangement;
  if (typeof arrangement !== 'object' || arrangement === null) return undefined;
  const id = (arrangement as { id?: unknown }).id;
  return typeof id === 'string' ? id : undefined;
}
