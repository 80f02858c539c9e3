import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { ARRANGEMENT_STATUSES, ArrangementDocumentSchema } from '../../arrangements/index.js';
import { PartnerCode } from '../../products/index.js';
import { type ArrangementService, SignatureInputSchema } from '../../services/arrangement-service.js';
import { actorOf } from '../authenticate.js';

// The published schema carries an $id; the route embeds it without one so Fastify does not register it twice.
const { $id: _id, ...ArrangementBody } = ArrangementDocumentSchema as typeof ArrangementDocumentSchema & {
  $id?: string;
};
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });
const VersionParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 128 }),
  version: Type.Integer({ minimum: 1 }),
});
// Terms a new version may change; the service validates the merged document.
const AmendBody = Type.Object(
  { changes: Type.Record(Type.String(), Type.Unknown()) },
  { additionalProperties: false },
);

/** /api/v1/arrangements: create, amend, sign, change status, suspend a party; every version kept. */
export function registerArrangementRoutes(root: FastifyInstance, arrangements: ArrangementService): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['arrangements'];
  const read = { access: { permission: 'arrangement:read' } } as const;
  const write = { access: { permission: 'arrangement:write' } } as const;

  app.get(
    '/api/v1/arrangements',
    { config: read, schema: { tags, summary: 'Latest version of every arrangement' } },
    async (request) => arrangements.list(actorOf(request)),
  );

  app.post(
    '/api/v1/arrangements',
    {
      config: write,
      schema: { tags, summary: 'Create an arrangement (version 1)', body: ArrangementBody },
    },
    async (request, reply) => reply.code(201).send(await arrangements.create(actorOf(request), request.body)),
  );

  app.get(
    '/api/v1/arrangements/:id',
    {
      config: read,
      schema: { tags, summary: 'Latest version', params: IdParams },
    },
    async (request) => arrangements.get(actorOf(request), request.params.id),
  );

  app.get(
    '/api/v1/arrangements/:id/versions',
    {
      config: read,
      schema: { tags, summary: 'Every version, oldest first', params: IdParams },
    },
    async (request) => arrangements.history(actorOf(request), request.params.id),
  );

  app.get(
    '/api/v1/arrangements/:id/versions/:version',
    {
      config: read,
      schema: { tags, summary: 'One version', params: VersionParams },
    },
    async (request) => arrangements.get(actorOf(request), request.params.id, request.params.version),
  );

  app.post(
    '/api/v1/arrangements/:id/versions',
    {
      config: write,
      schema: {
        tags,
        summary: 'Amend: a new draft version every party must sign again',
        params: IdParams,
        body: AmendBody,
      },
    },
    async (request, reply) =>
      reply
        .code(201)
        .send(await arrangements.amend(actorOf(request), request.params.id, request.body.changes)),
  );

  app.post(
    '/api/v1/arrangements/:id/versions/:version/signatures',
    {
      config: write,
      schema: {
        tags,
        summary: "Fill a party's signature slot",
        params: VersionParams,
        body: SignatureInputSchema,
      },
    },
    async (request) =>
      arrangements.sign(actorOf(request), request.params.id, request.params.version, request.body),
  );

  app.post(
    '/api/v1/arrangements/:id/versions/:version/status',
    {
      config: write,
      schema: {
        tags,
        summary: 'Change status (draft → active → suspended/terminated)',
        params: VersionParams,
        body: Type.Object({ status: Type.Enum(ARRANGEMENT_STATUSES) }, { additionalProperties: false }),
      },
    },
    async (request) =>
      arrangements.transition(
        actorOf(request),
        request.params.id,
        request.params.version,
        request.body.status,
      ),
  );

  app.post(
    '/api/v1/arrangements/:id/versions/:version/suspensions',
    {
      config: write,
      schema: {
        tags,
        summary: 'Suspend or reinstate one party',
        params: VersionParams,
        body: Type.Object(
          { partner: PartnerCode, suspended: Type.Boolean() },
          { additionalProperties: false },
        ),
      },
    },
    async (request) =>
      arrangements.suspendParty(
        actorOf(request),
        request.params.id,
        request.params.version,
        request.body.partner,
        request.body.suspended,
      ),
  );
}
