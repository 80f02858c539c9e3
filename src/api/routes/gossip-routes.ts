import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import type { AuditLog } from '../../services/audit-log.js';

const size = (description: string) =>
  Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description });

const ConsistencyQuery = Type.Object(
  { first: size('the smaller tree'), second: size('the larger tree, at most the latest signed size') },
  { additionalProperties: false },
);

/**
 * Issue 5's gossip: the public head and consistency proofs partners fetch (no user auth: the head
 * is signed and reveals only a size, a root and a time; a proof only hashes a signed root commits
 * to). The incidents a fork opens are read under /api/v1/incidents (incident-routes.ts).
 */
export function registerGossipRoutes(root: FastifyInstance, audit: AuditLog): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const open = { access: { public: true } } as const;

  app.get(
    '/federation/v1/audit/tree-head',
    {
      config: open,
      schema: { tags: ['federation'], summary: "This node's latest signed audit tree head", security: [] },
    },
    async () => audit.publishedTreeHead(),
  );

  app.get(
    '/federation/v1/audit/consistency',
    {
      config: open,
      schema: {
        tags: ['federation'],
        summary: 'RFC 9162 consistency proof between two tree sizes, up to the latest signed one',
        querystring: ConsistencyQuery,
        security: [],
      },
    },
    async (request) => audit.publishedConsistencyProof(request.query.first, request.query.second),
  );
}
