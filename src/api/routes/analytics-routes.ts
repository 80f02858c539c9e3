import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import type { CorrelationService } from '../../services/correlation-service.js';
import { actorOf } from '../authenticate.js';

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });
const ProductParams = Type.Object({ productId: Type.String({ minLength: 1, maxLength: 128 }) });

/** Issue 9 analytics over what the caller may read: correlation of products by shared entities. */
export function registerAnalyticsRoutes(root: FastifyInstance, correlation: CorrelationService): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['analytics'];

  app.get(
    '/api/v1/products/:id/related',
    {
      config: { access: { permission: 'product:read' } },
      schema: {
        tags,
        summary:
          'Products sharing an entity with this one, where the caller may read the portion holding it in both',
        params: IdParams,
      },
    },
    async (request) => ({ items: await correlation.related(actorOf(request), 'own', request.params.id) }),
  );

  app.get(
    '/api/v1/received/:productId/related',
    {
      config: { access: { permission: 'product:read' } },
      schema: {
        tags,
        summary: 'Products sharing an entity with this received one, where the caller may read it in both',
        params: ProductParams,
      },
    },
    async (request) => ({
      items: await correlation.related(actorOf(request), 'received', request.params.productId),
    }),
  );
}
