import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import type { OutboxService } from '../../services/outbox-service.js';
import { OUTBOX_STATUSES } from '../../store/index.js';
import { actorOf } from '../authenticate.js';

const OutboxQuery = Type.Object(
  {
    status: Type.Optional(Type.Enum(OUTBOX_STATUSES)),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000 })),
  },
  { additionalProperties: false },
);

/** /api/v1/outbox: deliveries of releases to partners, pending and past. */
export function registerOutboxRoutes(root: FastifyInstance, outbox: OutboxService): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/api/v1/outbox',
    {
      config: { access: { permission: 'outbox:read' } },
      schema: {
        tags: ['federation'],
        summary: 'Deliveries to partners: status, attempts, next attempt and last error (no content)',
        querystring: OutboxQuery,
      },
    },
    async (request) => {
      const { status, limit, offset } = request.query;
      return outbox.list(actorOf(request), {
        ...(status === undefined ? {} : { status }),
        ...(limit === undefined ? {} : { limit }),
        ...(offset === undefined ? {} : { offset }),
      });
    },
  );
}
