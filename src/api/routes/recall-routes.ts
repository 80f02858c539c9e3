import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { MAX_RECALL_REASON } from '../../federation/index.js';
import type { RecallService } from '../../services/recall-service.js';
import { actorOf } from '../authenticate.js';

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });
const RecallBody = Type.Object(
  {
    reason: Type.String({
      minLength: 1,
      maxLength: MAX_RECALL_REASON,
      description: 'why the product is recalled; every recipient is told',
    }),
    version: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: Number.MAX_SAFE_INTEGER,
        description: 'the one version to recall; every version when absent',
      }),
    ),
  },
  { additionalProperties: false },
);

/** /api/v1/products/:id/recall(s): an originator recalls a product and follows each recipient's answer. */
export function registerRecallRoutes(root: FastifyInstance, recalls: RecallService): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['products'];

  app.post(
    '/api/v1/products/:id/recall',
    {
      config: { access: { permission: 'product:recall' } },
      schema: {
        tags,
        summary: 'Recall a product: every recipient of it is told to erase its content',
        description:
          'Queues one recall envelope per recipient and arrangement an allowed release went under, withdraws ' +
          'releases still waiting for delivery and marks the product recalled, in one transaction. 201 with the ' +
          'recall and its deliveries (none for a product never released).',
        params: IdParams,
        body: RecallBody,
      },
    },
    async (request, reply) => {
      const { reason, version } = request.body;
      const status = await recalls.recall(actorOf(request), request.params.id, {
        reason,
        ...(version === undefined ? {} : { version }),
      });
      return reply.code(201).send(status);
    },
  );

  app.get(
    '/api/v1/products/:id/recalls',
    {
      config: { access: { permission: 'product:read' } },
      schema: {
        tags,
        summary: 'Recalls of a product and their status per recipient',
        description:
          'Each recipient is pending (not yet acknowledged; lastError says why), acknowledged (with its signed ' +
          'receipt, acknowledgedAt and how many received versions it erased) or failed (lastError says why).',
        params: IdParams,
      },
    },
    async (request) => recalls.list(actorOf(request), request.params.id),
  );
}
