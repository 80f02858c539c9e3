import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import type { SimilarityService } from '../../services/similarity-service.js';
import { actorOf } from '../authenticate.js';

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });
const ProductParams = Type.Object({ productId: Type.String({ minLength: 1, maxLength: 128 }) });
const SimilarQuery = Type.Object(
  { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })) },
  { additionalProperties: false },
);
const DuplicatesQuery = Type.Object(
  {
    threshold: Type.Optional(
      Type.Number({ minimum: 0.5, maximum: 1, description: 'word-shingle Jaccard, default 0.8' }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
  },
  { additionalProperties: false },
);

/** Issue 9: related products by TF-IDF cosine and near-duplicates across partners, over readable text. */
export function registerSimilarityRoutes(root: FastifyInstance, similarity: SimilarityService): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['analytics'];
  const read = { access: { permission: 'product:read' } } as const;

  app.get(
    '/api/v1/products/:id/similar',
    {
      config: read,
      schema: {
        tags,
        summary: 'Products most similar to this one by TF-IDF cosine over the text the caller may read',
        params: IdParams,
        querystring: SimilarQuery,
      },
    },
    async (request) => ({
      items: await similarity.similar(actorOf(request), 'own', request.params.id, request.query),
    }),
  );

  app.get(
    '/api/v1/received/:productId/similar',
    {
      config: read,
      schema: {
        tags,
        summary:
          'Products most similar to this received one by TF-IDF cosine over the text the caller may read',
        params: ProductParams,
        querystring: SimilarQuery,
      },
    },
    async (request) => ({
      items: await similarity.similar(actorOf(request), 'received', request.params.productId, request.query),
    }),
  );

  app.get(
    '/api/v1/duplicates',
    {
      config: read,
      schema: {
        tags,
        summary: 'Near-duplicate products from different partners, judged on the text the caller may read',
        querystring: DuplicatesQuery,
      },
    },
    async (request) => ({ items: await similarity.duplicates(actorOf(request), request.query) }),
  );
}
