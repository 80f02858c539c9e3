import { Frontier } from '../../src/audit/index.js';

// The judgements of a chaos run over what the nodes' stores hold, apart from reading them, so that
// each can be shown to fail on a made-up store (chaos-checks.test.ts). Each returns its offenders,
// one line each; none means the property holds.

/** One release as the originator's store holds it (allowed, so committed with its outbox row). */
export interface CommittedRelease {
  readonly origin: string;
  readonly id: string;
  readonly productId: string;
  readonly recipient: string;
}

/** What every node's store holds that the delivery checks read; `at` is the node holding the row. */
export interface Holdings {
  readonly releases: readonly CommittedRelease[];
  readonly outbox: readonly {
    readonly origin: string;
    readonly releaseId: string;
    readonly status: string;
    readonly lastError: string | null;
  }[];
  readonly received: readonly {
    readonly at: string;
    readonly sender: string;
    readonly productId: string;
    readonly envelopeId: string;
  }[];
  readonly inbox: readonly {
    readonly at: string;
    readonly sender: string;
    readonly productId: string;
    readonly outcome: string;
  }[];
}

const keyOf = (at: string, sender: string, productId: string) => `${at}<-${sender}:${productId}`;

/** Committed releases not (yet) stored at their recipient. */
export function undelivered(h: Holdings): CommittedRelease[] {
  const held = new Set(h.received.map((r) => keyOf(r.at, r.sender, r.productId)));
  return h.releases.filter((r) => !held.has(keyOf(r.recipient, r.origin, r.productId)));
}

/** The first few offenders on one line. */
export function sample(items: readonly string[], count = 3): string {
  return items.slice(0, count).join('; ') + (items.length > count ? `; … (${items.length} in all)` : '');
}

function tally(keys: Iterable<string>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1);
  return counts;
}

/**
 * DESIGN.md §2.5 over the final stores. `answered`: every release an API call answered 201 for
 * (release id → originator) is in its originator's store. `exactlyOnce`: every committed release
 * is stored at its recipient once. `noDuplicate`: nothing stored that no originator committed, one
 * outbox row per release and each delivered, and no envelope refused.
 */
export function judgeDelivery(
  h: Holdings,
  answeredIds: ReadonlyMap<string, string>,
): { answered: string[]; exactlyOnce: string[]; noDuplicate: string[] } {
  const committedIds = new Set(h.releases.map((r) => r.id));
  const copies = tally(h.received.map((r) => keyOf(r.at, r.sender, r.productId)));
  const committedKeys = new Set(h.releases.map((r) => keyOf(r.recipient, r.origin, r.productId)));
  const outboxRows = tally(h.outbox.map((m) => m.releaseId));
  return {
    answered: [...answeredIds]
      .filter(([id]) => !committedIds.has(id))
      .map(([id, origin]) => `${origin} answered 201 for release ${id}, which its store does not hold`),
    exactlyOnce: h.releases.flatMap((r) => {
      const n = copies.get(keyOf(r.recipient, r.origin, r.productId)) ?? 0;
      if (n === 1) return [];
      return [`${r.origin}→${r.recipient} ${r.productId} ${n === 0 ? 'not stored' : `stored ${n} times`}`];
    }),
    noDuplicate: [
      ...h.received
        .filter((r) => !committedKeys.has(keyOf(r.at, r.sender, r.productId)))
        .map((r) => `${r.at} holds ${r.productId} from ${r.sender}, which committed no such release`),
      ...[...outboxRows].filter(([, n]) => n > 1).map(([id, n]) => `release ${id} has ${n} outbox rows`),
      ...h.releases.filter((r) => !outboxRows.has(r.id)).map((r) => `release ${r.id} has no outbox row`),
      ...h.outbox
        .filter((m) => m.status !== 'delivered')
        .map((m) => `${m.origin} release ${m.releaseId} ${m.status}: ${m.lastError ?? 'no error'}`),
      ...h.inbox
        .filter((e) => e.outcome !== 'stored')
        .map((e) => `${e.at} ${e.outcome} ${e.productId} from ${e.sender}`),
    ],
  };
}

/** One node's audit log, the heads it kept of its partners through gossip, and its fork incidents. */
export interface NodeGossip {
  readonly partner: string;
  /** Its log's leaf hashes, in index order. */
  readonly leaves: readonly Uint8Array[];
  readonly kept: readonly {
    readonly partner: string;
    readonly treeSize: number;
    readonly rootHash: string;
  }[];
  readonly forkIncidents: number;
}

/**
 * Every head a node kept of a partner must be the root of the partner's own log at that size (so
 * all of them are heads of one history), every node must have kept some head of every other, and
 * no node may have opened an audit-fork incident.
 */
export function judgeGossip(nodes: readonly NodeGossip[]): { heads: number; offenders: string[] } {
  const offenders: string[] = [];
  let heads = 0;
  for (const node of nodes) {
    if (node.forkIncidents > 0)
      offenders.push(`${node.partner} opened ${node.forkIncidents} audit-fork incidents`);
    for (const other of nodes) {
      if (other !== node && !node.kept.some((k) => k.partner === other.partner)) {
        offenders.push(`${node.partner} kept no head of ${other.partner}: gossip never reached it`);
      }
    }
  }
  for (const node of nodes) {
    const wanted = nodes
      .flatMap((holder) =>
        holder.kept.filter((k) => k.partner === node.partner).map((k) => ({ holder: holder.partner, ...k })),
      )
      .sort((a, b) => a.treeSize - b.treeSize);
    heads += wanted.length;
    const frontier = Frontier.empty();
    for (const head of wanted) {
      if (head.treeSize > node.leaves.length) {
        offenders.push(
          `${head.holder} kept a head of ${node.partner} at size ${head.treeSize}, beyond its log (${node.leaves.length})`,
        );
        continue;
      }
      while (frontier.treeSize < head.treeSize) frontier.append(node.leaves[frontier.treeSize] as Uint8Array);
      const root = Buffer.from(frontier.root()).toString('hex');
      if (root !== head.rootHash) {
        offenders.push(
          `${head.holder} kept root ${head.rootHash.slice(0, 12)}… for ${node.partner} at size ${head.treeSize}; its log has ${root.slice(0, 12)}…`,
        );
      }
    }
  }
  return { heads, offenders };
}
