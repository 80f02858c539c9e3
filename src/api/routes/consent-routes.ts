import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import Type from 'typebox';
import {
  ConsentDenyInputSchema,
  ConsentGrantInputSchema,
  ConsentRequestInputSchema,
  type ConsentService,
  OnwardReleaseInputSchema,
} from '../../services/consent-service.js';
import { CONSENT_REQUEST_DIRECTIONS, CONSENT_REQUEST_STATUSES } from '../../store/index.js';
import { actorOf } from '../authenticate.js';

const ProductParams = Type.Object({ productId: Type.String({ minLength: 1, maxLength: 128 }) });
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });
const ListQuery = Type.Object(
  {
    direction: Type.Optional(Type.Enum(CONSENT_REQUEST_DIRECTIONS)),
    status: Type.Optional(Type.Enum(CONSENT_REQUEST_STATUSES)),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000 })),
  },
  { additionalProperties: false },
);

// A grant may come without a body (no expiry): Fastify would refuse the absent body against the
// object schema, so it is read as an empty one.
async function absentBodyAsEmpty(request: FastifyRequest): Promise<void> {
  request.body ??= {};
}

/**
 * The third-party rule by federation (issue 4): a holder asks an originator for consent to pass a
 * received product on and, once granted, passes it on; the originator lists, grants and denies.
 */
export function registerConsentRoutes(root: FastifyInstance, consents: ConsentService): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['consent'];
  const access = { permission: 'product:release' } as const;

  app.post(
    '/api/v1/received/:productId/consent-requests',
    {
      config: { access },
      schema: {
        tags,
        summary: "Ask a received product's originator for consent to pass it on to another partner",
        description:
          'Queues a consent-request envelope to the originator. 201 with the request (outgoing, pending); ' +
          'the answer arrives by federation and shows in GET /api/v1/consent-requests?direction=outgoing.',
        params: ProductParams,
        body: ConsentRequestInputSchema,
      },
    },
    async (request, reply) =>
      reply.code(201).send(await consents.request(actorOf(request), request.params.productId, request.body)),
  );

  app.post(
    '/api/v1/received/:productId/releases',
    {
      config: { access },
      schema: {
        tags,
        summary: "Pass a received product on, as it arrived, with its originator's signed consent",
        description:
          "The third-party rule needs the originator's consent for this recipient unless the arrangement waives " +
          "it; a version not wholly releasable to the recipient is refused (the originator's signature covers it " +
          'whole). A deny is 403 POLICY_DENIED naming the rules.',
        params: ProductParams,
        body: OnwardReleaseInputSchema,
      },
    },
    async (request, reply) =>
      reply
        .code(201)
        .send(await consents.releaseOnward(actorOf(request), request.params.productId, request.body)),
  );

  app.get(
    '/api/v1/consent-requests',
    {
      config: { access },
      schema: {
        tags,
        summary: 'Consent requests, newest first: incoming ones to decide and outgoing ones asked',
        querystring: ListQuery,
      },
    },
    async (request) => {
      const { direction, status, limit, offset } = request.query;
      return consents.list(actorOf(request), {
        ...(direction === undefined ? {} : { direction }),
        ...(status === undefined ? {} : { status }),
        ...(limit === undefined ? {} : { limit }),
        ...(offset === undefined ? {} : { offset }),
      });
    },
  );

  app.post(
    '/api/v1/consent-requests/:id/grant',
    {
      config: { access },
      preValidation: absentBodyAsEmpty,
      schema: {
        tags,
        summary: "Grant an incoming consent request (only when this node's own release policy allows it)",
        description:
          'Signs the consent and queues it to the holder. A policy deny is 403 POLICY_DENIED naming the rules; ' +
          'the request then stays pending.',
        params: IdParams,
        body: Type.Optional(ConsentGrantInputSchema),
      },
    },
    async (request) => consents.grant(actorOf(request), request.params.id, request.body ?? {}),
  );

  app.post(
    '/api/v1/consent-requests/:id/deny',
    {
      config: { access },
      schema: {
        tags,
        summary: 'Deny an incoming consent request; the reason travels to the holder',
        params: IdParams,
        body: ConsentDenyInputSchema,
      },
    },
    async (request) => consents.deny(actorOf(request), request.params.id, request.body),
  );
}
