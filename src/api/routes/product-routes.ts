import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import Type from 'typebox';
import { AccordError } from '../../errors/index.js';
import { DISCIPLINES, PartnerCode } from '../../products/index.js';
import { DraftInputSchema, type ProductService } from '../../services/product-service.js';
import { actorOf } from '../authenticate.js';

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });
const CommentBody = Type.Object(
  { comment: Type.Optional(Type.String({ maxLength: 2000 })) },
  { additionalProperties: false },
);
// Fastify validates an absent body against the object schema and refuses it ("body must be
// object"); the comment is optional, so an approval or rejection sent without a body has none.
async function absentBodyAsEmpty(request: FastifyRequest): Promise<void> {
  request.body ??= {};
}
const ReleaseBody = Type.Object(
  { to: PartnerCode, arrangement: Type.String({ minLength: 1, maxLength: 128 }) },
  { additionalProperties: false },
);
const SearchQuery = Type.Object(
  {
    discipline: Type.Optional(Type.Enum(DISCIPLINES)),
    category: Type.Optional(Type.String({ maxLength: 64 })),
    classification: Type.Optional(Type.String({ maxLength: 64, description: 'at most this common level' })),
    originator: Type.Optional(PartnerCode),
    from: Type.Optional(Type.String({ format: 'date-time' })),
    until: Type.Optional(Type.String({ format: 'date-time' })),
    text: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    bbox: Type.Optional(Type.String({ description: 'minLon,minLat,maxLon,maxLat', maxLength: 100 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000 })),
  },
  { additionalProperties: false },
);

/** Parses `minLon,minLat,maxLon,maxLat`; INPUT_INVALID naming the field otherwise. */
export function parseBbox(raw: string) {
  const parts = raw.split(',').map((p) => Number(p.trim()));
  const [minLon, minLat, maxLon, maxLat] = parts;
  const valid =
    parts.length === 4 &&
    parts.every((n) => Number.isFinite(n)) &&
    minLon! >= -180 &&
    maxLon! <= 180 &&
    minLat! >= -90 &&
    maxLat! <= 90 &&
    minLon! <= maxLon! &&
    minLat! <= maxLat!;
  if (!valid) {
    throw new AccordError(
      'INPUT_INVALID',
      'querystring/bbox must be minLon,minLat,maxLon,maxLat in degrees',
      { path: 'querystring/bbox' },
    );
  }
  return { minLon: minLon!, minLat: minLat!, maxLon: maxLon!, maxLat: maxLat! };
}

/** /api/v1/products: drafts, versions, approval, release and policy-filtered reads. */
export function registerProductRoutes(root: FastifyInstance, products: ProductService): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['products'];

  app.get(
    '/api/v1/products',
    {
      config: { access: { permission: 'product:read' } },
      schema: { tags, summary: 'Search products the caller may read', querystring: SearchQuery },
    },
    async (request) => {
      const { bbox, ...rest } = request.query;
      return products.search(actorOf(request), {
        ...rest,
        ...(bbox === undefined ? {} : { bbox: parseBbox(bbox) }),
      });
    },
  );

  app.post(
    '/api/v1/products',
    {
      config: { access: { permission: 'product:create' } },
      schema: { tags, summary: 'Create a draft', body: DraftInputSchema },
    },
    async (request, reply) =>
      reply.code(201).send(await products.createDraft(actorOf(request), request.body)),
  );

  app.get(
    '/api/v1/products/:id',
    {
      config: { access: { permission: 'product:read' } },
      schema: { tags, summary: 'Read a product, torn to what the caller may see', params: IdParams },
    },
    async (request) => products.read(actorOf(request), request.params.id),
  );

  app.put(
    '/api/v1/products/:id',
    {
      config: { access: { permission: 'product:edit' } },
      schema: {
        tags,
        summary: 'Edit a draft or rejected product (a new version)',
        params: IdParams,
        body: DraftInputSchema,
      },
    },
    async (request) => products.edit(actorOf(request), request.params.id, request.body),
  );

  app.post(
    '/api/v1/products/:id/submit',
    {
      config: { access: { permission: 'product:submit' } },
      schema: { tags, summary: 'Submit for release approval', params: IdParams },
    },
    async (request) => products.submit(actorOf(request), request.params.id),
  );

  app.post(
    '/api/v1/products/:id/approve',
    {
      config: { access: { permission: 'product:approve' } },
      preValidation: absentBodyAsEmpty,
      schema: {
        tags,
        summary: 'Approve the submitted version (not its author)',
        params: IdParams,
        body: Type.Optional(CommentBody),
      },
    },
    async (request) =>
      products.decide(actorOf(request), request.params.id, 'approved', request.body?.comment),
  );

  app.post(
    '/api/v1/products/:id/reject',
    {
      config: { access: { permission: 'product:approve' } },
      preValidation: absentBodyAsEmpty,
      schema: {
        tags,
        summary: 'Reject the submitted version',
        params: IdParams,
        body: Type.Optional(CommentBody),
      },
    },
    async (request) =>
      products.decide(actorOf(request), request.params.id, 'rejected', request.body?.comment),
  );

  app.post(
    '/api/v1/products/:id/releases',
    {
      config: { access: { permission: 'product:release' } },
      schema: {
        tags,
        summary: 'Release to a partner under an arrangement (policy-checked)',
        params: IdParams,
        body: ReleaseBody,
      },
    },
    async (request, reply) => {
      const outcome = await products.release(
        actorOf(request),
        request.params.id,
        request.body.to,
        request.body.arrangement,
      );
      return reply.code(201).send({
        releaseId: outcome.releaseId,
        effect: outcome.decision.effect,
        banner: outcome.banner,
        withheldCount: outcome.decision.withheld.length,
        rules: outcome.decision.rules,
        withheld: outcome.decision.withheld,
      });
    },
  );

  app.post(
    '/api/v1/products/release-preview',
    {
      config: { access: { permission: 'product:create' } },
      schema: {
        tags,
        summary:
          'Dry run on an unsaved draft: what a release would give each party of each arrangement, and why not the rest (nothing is stored)',
        body: DraftInputSchema,
      },
    },
    async (request) => ({ previews: await products.previewDraft(actorOf(request), request.body) }),
  );

  app.get(
    '/api/v1/products/:id/release-preview',
    {
      config: { access: { permission: 'product:read' } },
      schema: {
        tags,
        summary:
          'Dry run: what releasing the current version would give each party of each arrangement, and the rules that hold the rest back (nothing is released or recorded)',
        params: IdParams,
      },
    },
    async (request) => ({ previews: await products.previewRelease(actorOf(request), request.params.id) }),
  );

  app.get(
    '/api/v1/products/:id/releases',
    {
      config: { access: { permission: 'product:read' } },
      schema: { tags, summary: 'Release decisions on a product', params: IdParams },
    },
    async (request) => products.releases(actorOf(request), request.params.id),
  );
}
