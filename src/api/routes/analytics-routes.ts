import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { AccordError } from '../../errors/index.js';
import { AlertRuleInputSchema, type AlertService } from '../../services/alert-service.js';
import type { CorrelationService } from '../../services/correlation-service.js';
import type { SearchService } from '../../services/search-service.js';
import { actorOf } from '../authenticate.js';
import { parseBbox } from './product-routes.js';

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

const SearchQuery = Type.Object(
  {
    q: Type.String({
      minLength: 1,
      maxLength: 200,
      description: 'words, all required; a chunk like 203.0.113.7 is one phrase',
    }),
    source: Type.Optional(Type.Union([Type.Literal('own'), Type.Literal('received')])),
    discipline: Type.Optional(Type.String({ minLength: 1, maxLength: 16 })),
    category: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    originator: Type.Optional(Type.String({ minLength: 2, maxLength: 16 })),
    bbox: Type.Optional(Type.String({ description: 'minLon,minLat,maxLon,maxLat', maxLength: 100 })),
    near: Type.Optional(Type.String({ description: 'lat,lon', maxLength: 60 })),
    radiusKm: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 20_000 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000 })),
  },
  { additionalProperties: false },
);

/** `lat,lon` in degrees and a radius, or INPUT_INVALID naming the field. */
function parseNear(raw: string | undefined, radiusKm: number | undefined) {
  if (raw === undefined && radiusKm === undefined) return undefined;
  const parts = (raw ?? '').split(',').map((p) => (p.trim() === '' ? Number.NaN : Number(p)));
  const [lat, lon] = parts as [number, number];
  if (parts.length !== 2 || !(Math.abs(lat) <= 90) || !(Math.abs(lon) <= 180) || radiusKm === undefined) {
    throw new AccordError('INPUT_INVALID', 'querystring/near must be lat,lon in degrees, with radiusKm', {
      path: 'querystring/near',
    });
  }
  return { lat, lon, radiusKm };
}

export function registerAnalyticsRoutes(
  root: FastifyInstance,
  correlation: CorrelationService,
  alerts: AlertService,
  search: SearchService,
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

  app.get(
    '/api/v1/search',
    {
      config: { access: { permission: 'product:read' } },
      schema: {
        tags,
        summary:
          'Full-text and geo search over what the caller may read, filtered before it is ranked, counted or paged',
        querystring: SearchQuery,
      },
    },
    async (request) => {
      const { bbox, near, radiusKm, ...rest } = request.query;
      const point = parseNear(near, radiusKm);
      return search.search(actorOf(request), {
        ...rest,
        ...(bbox === undefined ? {} : { bbox: parseBbox(bbox) }),
        ...(point === undefined ? {} : { near: point }),
      });
    },
  );
}
