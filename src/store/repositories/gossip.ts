import type { AuditPeerHeadsTable } from '../schema.js';
import type { GossipRepository, PeerTreeHead } from '../store.js';
import type { RepositoryContext } from './context.js';

function toPeerHead(row: AuditPeerHeadsTable): PeerTreeHead {
  return {
    partner: row.partner,
    treeSize: Number(row.tree_size),
    rootHash: row.root_hash,
    timestamp: row.signed_at,
    nodeId: row.node_id,
    signature: row.signature,
    fetchedAt: row.fetched_at,
  };
}

export function createGossipRepository(ctx: RepositoryContext): GossipRepository {
  const { db } = ctx;
  return {
    async addPeerHead(head) {
      await db
        .insertInto('audit_peer_heads')
        .values({
          partner: head.partner,
          tree_size: head.treeSize,
          root_hash: head.rootHash,
          signed_at: head.timestamp,
          node_id: head.nodeId,
          signature: head.signature,
          fetched_at: head.fetchedAt,
        })
        // The same head fetched again (the partner signed nothing new) is kept once.
        .onConflict((oc) => oc.doNothing())
        .execute();
    },

    async latestPeerHead(partner) {
      const row = await db
        .selectFrom('audit_peer_heads')
        .selectAll()
        .where('partner', '=', partner)
        .orderBy('tree_size', 'desc')
        .orderBy('signed_at', 'desc')
        .limit(1)
        .executeTakeFirst();
      return row === undefined ? undefined : toPeerHead(row);
    },

    async peerHeadsOfSize(partner, treeSize) {
      const rows = await db
        .selectFrom('audit_peer_heads')
        .selectAll()
        .where('partner', '=', partner)
        .where('tree_size', '=', treeSize)
        .orderBy('signed_at')
        .execute();
      return rows.map(toPeerHead);
    },
  };
}
