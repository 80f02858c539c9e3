import type { AuditPeerHeadsTable, IncidentsTable } from '../schema.js';
import type { GossipRepository, IncidentRecord, PeerTreeHead } from '../store.js';
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

function toIncident(row: IncidentsTable): IncidentRecord {
  return {
    id: row.id,
    kind: 'audit-fork',
    partner: row.partner,
    detectedAt: row.detected_at,
    evidence: JSON.parse(row.evidence_json) as unknown,
    state: 'reported',
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

    async openIncident(incident, dedupeKey) {
      const result = await db
        .insertInto('incidents')
        .values({
          id: incident.id,
          kind: incident.kind,
          partner: incident.partner,
          detected_at: incident.detectedAt,
          evidence_json: JSON.stringify(incident.evidence),
          state: incident.state,
          dedupe_key: dedupeKey,
        })
        .onConflict((oc) => oc.column('dedupe_key').doNothing())
        .executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
    },

    async incidents() {
      const rows = await db
        .selectFrom('incidents')
        .selectAll()
        .orderBy('detected_at')
        .orderBy('id')
        .execute();
      return rows.map(toIncident);
    },
  };
}
