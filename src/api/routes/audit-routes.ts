import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import type { NodeKeys } from '../../app/node-keys.js';
import { AccordError } from '../../errors/index.js';
import { type AuditLog, MAX_AUDIT_PAGE } from '../../services/audit-log.js';
import { actorOf } from '../authenticate.js';

const index = (description?: string) =>
  Type.Integer({
    minimum: 0,
    maximum: Number.MAX_SAFE_INTEGER,
    ...(description === undefined ? {} : { description }),
  });

const EntriesQuery = Type.Object(
  {
    start: Type.Optional(index('first index (default 0)')),
    end: Type.Optional(
      index(`one past the last index (default start + 100; at most start + ${MAX_AUDIT_PAGE})`),
    ),
  },
  { additionalProperties: false },
);
const InclusionQuery = Type.Object(
  {
    index: index('the entry'),
    treeSize: Type.Optional(index('the tree to prove it in (default: the latest signed size)')),
  },
  { additionalProperties: false },
);
const ConsistencyQuery = Type.Object(
  {
    first: index('the smaller tree'),
    second: Type.Optional(index('the larger tree (default: the latest signed size)')),
  },
  { additionalProperties: false },
);

/**
 * /api/v1/audit (issue 5): the node's signed tree heads, its entries by range and RFC 9162 proofs.
 * Audit metadata only (actors, actions, ids, labels), for administrators and oversight auditors.
 */
export function registerAuditRoutes(root: FastifyInstance, audit: AuditLog): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['audit'];
  const read = { access: { permission: 'audit:read' } } as const;

  app.get(
    '/api/v1/audit/tree-head',
    {
      config: read,
      schema: { tags, summary: 'The latest signed tree head (size, root hash, time, signature)' },
    },
    async (request) => audit.latestTreeHead(actorOf(request)),
  );

  app.post(
    '/api/v1/audit/tree-head',
    {
      config: { access: { permission: 'audit:sign' } },
      schema: { tags, summary: 'Append what is queued and sign a tree head now' },
    },
    async (request, reply) => reply.code(201).send(await audit.signTreeHead(actorOf(request))),
  );

  app.get(
    '/api/v1/audit/entries',
    {
      config: read,
      schema: {
        tags,
        summary: `Entries start <= index < end, at most ${MAX_AUDIT_PAGE}, with their leaf hashes`,
        querystring: EntriesQuery,
      },
    },
    async (request) => audit.entries(actorOf(request), request.query.start ?? 0, request.query.end),
  );

  app.get(
    '/api/v1/audit/proofs/inclusion',
    {
      config: read,
      schema: {
        tags,
        summary: 'RFC 9162 inclusion proof (audit path) of one entry',
        querystring: InclusionQuery,
      },
    },
    async (request) => audit.inclusionProof(actorOf(request), request.query.index, request.query.treeSize),
  );

  app.get(
    '/api/v1/audit/proofs/consistency',
    {
      config: read,
      schema: {
        tags,
        summary: 'RFC 9162 consistency proof between two tree sizes',
        querystring: ConsistencyQuery,
      },
    },
    async (request) => audit.consistencyProof(actorOf(request), request.query.first, request.query.second),
  );
}

/**
 * GET /federation/v1/identity: the node's partner and public keys, so a peer or an auditor can
 * check what it signed (tree heads, receipts). Public, as keys are; trust still comes from an
 * arrangement's pinned fingerprints or a key obtained out of band.
 */
export function registerIdentityRoute(
  app: FastifyInstance,
  node: { readonly partner: string; readonly nodeName: string },
  keys: NodeKeys | undefined,
): void {
  app.get(
    '/federation/v1/identity',
    {
      config: { access: { public: true } },
      schema: {
        tags: ['federation'],
        summary: "This node's partner and public signing and encryption keys",
        security: [],
      },
    },
    async () => {
      if (keys === undefined) {
        throw new AccordError(
          'FEDERATION_NOT_CONFIGURED',
          'this node runs without node keys and has no identity to show',
          {},
        );
      }
      return { partner: node.partner, nodeName: node.nodeName, keys: keys.public };
    },
  );
}
