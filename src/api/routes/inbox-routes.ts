import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { PartnerCode } from '../../products/index.js';
import type { InboxLogService } from '../../services/inbox-log-service.js';
import { INBOX_OUTCOMES } from '../../store/index.js';
import { actorOf } from '../authenticate.js';

const InboxQuery = Type.Object(
  {
    status: Type.Optional(Type.Enum(INBOX_OUTCOMES)),
    sender: Type.Optional(PartnerCode),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000 })),
  },
  { additionalProperties: false },
);

/** /api/v1/inbox: envelopes from partners and what this node did with them. */
export function registerInboxRoutes(root: FastifyInstance, inbox: InboxLogService): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/api/v1/inbox',
    {
      config: { access: { permission: 'inbox:read' } },
      schema: {
        tags: ['federation'],
        summary: 'Envelopes received from partners: stored or refused, with the code and reason (no content)',
        querystring: InboxQuery,
      },
    },
    async (request) => {
      const { status, sender, limit, offset } = request.query;
      return inbox.list(actorOf(request), {
        ...(status === undefined ? {} : { outcome: status }),
        ...(sender === undefined ? {} : { sender }),
        ...(limit === undefined ? {} : { limit }),
        ...(offset === undefined ? {} : { offset }),
      });
    },
  );
}
