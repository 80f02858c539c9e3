import { randomUUID } from 'node:crypto';
import {
  parseSignedTreeHead,
  type SignedTreeHead,
  treeHeadSigningBytes,
  verifyConsistency,
} from '../audit/index.js';
import { isValidSignature, type PublicKeyInfo } from '../crypto/index.js';
import { AccordError, isAccordError } from '../errors/index.js';
import { decodeBase64 } from '../federation/wire-format.js';
import type { IncidentRecord, Partner, PeerTreeHead, Store } from '../store/index.js';
import { pinsOf } from './arrangement-trust.js';
import { incidentEvent } from './audit-events.js';
import type { AuditRecorder } from './audit-log.js';
import { Periodic } from './periodic.js';

// Issue 5's gossip: a node asks each partner it shares an active arrangement with for its latest
// signed tree head, checks the signature under the key that arrangement pins, and checks that the
// head extends the last one it kept for that partner (same size: same root; larger: a consistency
// proof; smaller: a rollback). A partner that showed two histories has forked its log, and that
// opens an incident. Each node checks its partners, so a fork shown to any of them is caught.

/** How often a serving node gossips, unless its config says otherwise. */
export const GOSSIP_INTERVAL_MS = 60_000;
const DEFAULT_TIMEOUT_MS = 10_000;
/** A head or a proof is a few hundred bytes to a few kilobytes; anything far larger is refused unread. */
const MAX_RESPONSE_BYTES = 64 * 1024;
/** A consistency proof holds at most about 2·log2(size) hashes. */
const MAX_PROOF_HASHES = 130;

export type GossipOutcome =
  | 'first' // the first head kept for this partner
  | 'consistent' // extends the head kept before
  | 'fork' // contradicts the head kept before: an incident is open
  | 'rejected' // not signed by a pinned key, or not a head: nothing kept
  | 'unreachable' // no answer, or not a 2xx: skipped until the next round
  | 'no-pinned-key'; // no active arrangement pins a verified signing key of the partner

export interface GossipCheck {
  readonly partner: string;
  readonly outcome: GossipOutcome;
  readonly treeSize?: number;
  readonly detail?: string;
  /** The incident opened in this round (a fork seen again opens none). */
  readonly incident?: string;
}

export interface AuditGossipDeps {
  readonly store: Store;
  /** This node's partner code. */
  readonly partner: string;
  /** This node's signing key, which its side of an arrangement's pins needs. */
  readonly ownSigningKey: PublicKeyInfo | undefined;
  readonly now: () => number;
  readonly fetch?: typeof globalThis.fetch;
  readonly timeoutMs?: number;
  /** One line per partner skipped or rejected, and per fork. */
  readonly log?: (line: string) => void;
  /** The audit log: a fork's incident is logged in the transaction that opens it. */
  readonly audit?: AuditRecorder;
}

class Unreachable extends Error {}

export class AuditGossip {
  readonly #deps: AuditGossipDeps;
  readonly #rounds = new Periodic();
  #log: ((line: string) => void) | undefined;

  constructor(deps: AuditGossipDeps) {
    this.#deps = deps;
    this.#log = deps.log;
  }

  /** One gossip round over every partner this node shares an active arrangement with. */
  async round(): Promise<readonly GossipCheck[]> {
    const { store, partner: self, ownSigningKey } = this.#deps;
    const [arrangements, partners] = await Promise.all([store.arrangements.list(), store.partners.list()]);
    const active = arrangements.filter(
      (a) => a.status === 'active' && a.document.parties.some((p) => p.partner === self),
    );
    const checks: GossipCheck[] = [];
    for (const partner of partners) {
      if (partner.code === self || partner.endpoint === null) continue;
      const shared = active.filter((a) => a.document.parties.some((p) => p.partner === partner.code));
      if (shared.length === 0) continue;
      // Only keys an arrangement pins with every party's signature verified: deny by default.
      const keys: Uint8Array[] = [];
      for (const arrangement of shared) {
        const pins = pinsOf(arrangement.document, partners, self, ownSigningKey);
        const party = arrangement.document.parties.find((p) => p.partner === partner.code);
        for (const nodeKey of party?.nodeKeys ?? []) {
          if (nodeKey.use !== 'signing') continue;
          const key = pins.keyFor(partner.code, nodeKey.fingerprint);
          if (key !== undefined) keys.push(key);
        }
      }
      if (keys.length === 0) {
        checks.push({ partner: partner.code, outcome: 'no-pinned-key' });
        continue;
      }
      const check = await this.#checkPartner(partner, partner.endpoint, keys);
      if (check.outcome !== 'first' && check.outcome !== 'consistent') {
        this.#log?.(`audit gossip: ${check.partner} ${check.outcome}: ${check.detail ?? ''}`);
      }
      checks.push(check);
    }
    return checks;
  }

  async #checkPartner(partner: Partner, endpoint: string, keys: readonly Uint8Array[]): Promise<GossipCheck> {
    const code = partner.code;
    let head: SignedTreeHead;
    try {
      // attacker-controlled: the partner's answer, until parsed and its signature checked.
      head = parseSignedTreeHead(await this.#get(endpoint, '/federation/v1/audit/tree-head'));
      if (head.nodeId !== code) {
        throw new AccordError('AUDIT_TREE_HEAD_INVALID', `the head names ${head.nodeId}, not ${code}`, {});
      }
      const bytes = treeHeadSigningBytes(head);
      const signature = decodeBase64(head.signature);
      if (signature === undefined || !keys.some((key) => isValidSignature(key, bytes, signature))) {
        throw new AccordError(
          'AUDIT_SIGNATURE_INVALID',
          `the head of size ${head.treeSize} does not verify under a signing key pinned for ${code}`,
          {},
        );
      }
    } catch (error) {
      if (error instanceof Unreachable)
        return { partner: code, outcome: 'unreachable', detail: error.message };
      if (isAccordError(error)) return { partner: code, outcome: 'rejected', detail: error.message };
      throw error;
    }

    const gossip = this.#deps.store.gossip;
    const kept = await gossip.latestPeerHead(code);
    const fetchedAt = new Date(this.#deps.now()).toISOString();
    const keep = async (outcome: 'first' | 'consistent'): Promise<GossipCheck> => {
      await gossip.addPeerHead({ ...head, partner: code, fetchedAt });
      return { partner: code, outcome, treeSize: head.treeSize };
    };
    if (kept === undefined) return keep('first');

    if (head.treeSize < kept.treeSize) {
      // A node's latest head is never smaller than one it signed before: serving one is a rollback.
      return this.#fork(code, kept, head, `rolled back from size ${kept.treeSize} to ${head.treeSize}`);
    }
    if (head.treeSize === kept.treeSize) {
      if (head.rootHash !== kept.rootHash) {
        return this.#fork(code, kept, head, `two roots for tree size ${head.treeSize}`);
      }
      return keep('consistent');
    }
    let proof: Uint8Array[];
    try {
      proof = parseProof(
        await this.#get(
          endpoint,
          `/federation/v1/audit/consistency?first=${kept.treeSize}&second=${head.treeSize}`,
        ),
      );
    } catch (error) {
      if (error instanceof Unreachable)
        return { partner: code, outcome: 'unreachable', detail: error.message };
      throw error;
    }
    try {
      verifyConsistency(
        kept.treeSize,
        head.treeSize,
        Buffer.from(kept.rootHash, 'hex'),
        Buffer.from(head.rootHash, 'hex'),
        proof,
      );
    } catch (error) {
      const why = isAccordError(error) ? error.message : String(error);
      return this.#fork(
        code,
        kept,
        head,
        `size ${head.treeSize} does not extend size ${kept.treeSize}: ${why}`,
      );
    }
    return keep('consistent');
  }

  /**
   * Opens the incident for a fork. The head that contradicts the kept one is not kept, so later
   * rounds still compare with the history this node saw first; the incident is keyed by the kept
   * head it contradicts, so the same fork seen again (or extended) opens no second one.
   */
  async #fork(
    partner: string,
    kept: PeerTreeHead,
    head: SignedTreeHead,
    reason: string,
  ): Promise<GossipCheck> {
    const signed = (h: SignedTreeHead) => ({
      treeSize: h.treeSize,
      rootHash: h.rootHash,
      timestamp: h.timestamp,
      nodeId: h.nodeId,
      signature: h.signature,
    });
    const id = randomUUID();
    const incident: IncidentRecord = {
      id,
      kind: 'audit-fork',
      partner,
      detectedAt: new Date(this.#deps.now()).toISOString(),
      evidence: { reason, kept: signed(kept), conflicting: signed(head) },
      state: 'reported',
      origin: null,
      arrangement: null,
      reporter: null,
      severity: null,
      description: null,
      products: [],
      notifyBy: null,
      updatedAt: null,
    };
    const opened = await this.#deps.store.transaction(async (tx) => {
      const fresh = await tx.incidents.open(
        incident,
        `audit-fork|${partner}|${kept.treeSize}|${kept.rootHash}`,
      );
      if (fresh)
        await this.#deps.audit?.recordIn(
          tx,
          incidentEvent('incident.audit-fork', { kind: 'node' }, incident),
        );
      return fresh;
    });
    return {
      partner,
      outcome: 'fork',
      treeSize: head.treeSize,
      detail: reason,
      ...(opened ? { incident: id } : {}),
    };
  }

  async #get(endpoint: string, path: string): Promise<unknown> {
    const url = new URL(path, endpoint.endsWith('/') ? endpoint : `${endpoint}/`).toString();
    let text: string;
    try {
      const response = await (this.#deps.fetch ?? globalThis.fetch)(url, {
        headers: { accept: 'application/json' },
        signal: AbortSignal.timeout(this.#deps.timeoutMs ?? DEFAULT_TIMEOUT_MS),
      });
      if (!response.ok) throw new Unreachable(`${url} answered ${response.status}`);
      text = await response.text();
    } catch (error) {
      if (error instanceof Unreachable) throw error;
      throw new Unreachable(`${url}: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (text.length > MAX_RESPONSE_BYTES) {
      throw new AccordError(
        'AUDIT_TREE_HEAD_INVALID',
        `${url} answered more than ${MAX_RESPONSE_BYTES} bytes`,
        {},
      );
    }
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new AccordError('AUDIT_TREE_HEAD_INVALID', `${url} answered something that is not JSON`, {});
    }
  }

  /** Runs a round every `intervalMs` (never two at once) until stop(); a failed round is logged. */
  start(
    intervalMs: number = GOSSIP_INTERVAL_MS,
    onError?: (error: unknown) => void,
    log?: (line: string) => void,
  ): void {
    if (this.#rounds.running) return;
    if (log !== undefined) this.#log = log;
    this.#rounds.start(
      () => this.round(),
      intervalMs,
      (error) => onError?.(error),
    );
  }

  async stop(): Promise<void> {
    await this.#rounds.stop();
  }
}

/** The proof hashes of a consistency answer; a malformed answer is an empty proof, which then fails to verify. */
function parseProof(input: unknown): Uint8Array[] {
  const proof = (input as { proof?: unknown } | null)?.proof;
  if (!Array.isArray(proof) || proof.length > MAX_PROOF_HASHES) return [];
  const hashes: Uint8Array[] = [];
  for (const item of proof) {
    if (typeof item !== 'string' || !/^[0-9a-f]{64}$/.test(item)) return [];
    hashes.push(Buffer.from(item, 'hex'));
  }
  return hashes;
}
