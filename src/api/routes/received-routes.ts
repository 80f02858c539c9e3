import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { PartnerCode } from '../../products/index.js';
import type { ReceivedService } from '../../services/received-service.js';
import { actorOf } from '../authenticate.js';

const ProductParams = Type.Object({ productId: Type.String({ minLength: 1, maxLength: 128 }) });
const VersionQuery = Type.Object(
  { version: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })) },
  { additionalProperties: false },
);
const ListQuery = Type.Object(
  {
    originator: Type.Optional(PartnerCode),
    sender: Type.Optional(PartnerCode),
    arrangement: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    q: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'text in the readable title or portions' }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000 })),
  },
  { additionalProperties: false },
);

/**
 * /api/v1/received: products that arrived from partners, torn to what the caller may read, with
 * their provenance. Kept apart from /api/v1/products, which is this node's own products and their
 * workflow (state, author, edit, approval, release) that received versions do not have.
 */
export function registerReceivedRoutes(root: FastifyInstance, received: ReceivedService): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['federation'];

  app.get(
    '/api/v1/received',
    {
      config: { access: { permission: 'product:read' } },
      schema: {
        tags,
        summary: 'Received versions the caller may read, most recently received first',
        querystring: ListQuery,
      },
    },
    async (request) => {
      const { q, ...rest } = request.query;
      return received.list(actorOf(request), { ...rest, ...(q === undefined ? {} : { text: q }) });
    },
  );

  app.get(
    '/api/v1/received/:productId',
    {
      config: { access: { permission: 'product:read' } },
      schema: {
        tags,
        summary: 'A received product (latest version, or ?version=N), torn to what the caller may see',
        params: ProductParams,
        querystring: VersionQuery,
      },
    },
    async (request) => received.read(actorOf(request), request.params.productId, request.query.version),
  );
}
