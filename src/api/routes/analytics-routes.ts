import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { AlertRuleInputSchema, type AlertService } from '../../services/alert-service.js';
import type { CorrelationService } from '../../services/correlation-service.js';
import { actorOf } from '../authenticate.js';

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });
const ProductParams = Type.Object({ productId: Type.String({ minLength: 1, maxLength: 128 }) });

/** Issue 9 analytics over what the caller may read: correlation of products by shared entities. */
const AlertListQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000 })),
  },
  { additionalProperties: false },
);

export function registerAnalyticsRoutes(
  root: FastifyInstance,
  correlation: CorrelationService,
  alerts: AlertService,
): void {
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

  app.post(
    '/api/v1/alert-rules',
    {
      config: { access: { permission: 'product:read' } },
      schema: { tags, summary: 'Add an early-warning rule of the caller', body: AlertRuleInputSchema },
    },
    async (request, reply) => reply.code(201).send(await alerts.addRule(actorOf(request), request.body)),
  );

  app.get(
    '/api/v1/alert-rules',
    {
      config: { access: { permission: 'product:read' } },
      schema: { tags, summary: "The caller's early-warning rules" },
    },
    async (request) => ({ items: await alerts.rules(actorOf(request)) }),
  );

  app.delete(
    '/api/v1/alert-rules/:id',
    {
      config: { access: { permission: 'product:read' } },
      schema: { tags, summary: "Delete one of the caller's rules", params: IdParams },
    },
    async (request, reply) => {
      await alerts.deleteRule(actorOf(request), request.params.id);
      return reply.code(204).send();
    },
  );

  app.get(
    '/api/v1/alerts',
    {
      config: { access: { permission: 'product:read' } },
      schema: {
        tags,
        summary: "The caller's alerts, newest first, naming only products they may read now",
        querystring: AlertListQuery,
      },
    },
    async (request) => ({ items: await alerts.list(actorOf(request), request.query) }),
  );
}
