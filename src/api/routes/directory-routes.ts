import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { PartnerCode } from '../../products/index.js';
import {
  type DirectoryService,
  PartnerInputSchema,
  UserInputSchema,
} from '../../services/directory-service.js';
import { actorOf } from '../authenticate.js';

/** /api/v1/partners and /api/v1/users. */
export function registerDirectoryRoutes(root: FastifyInstance, directory: DirectoryService): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/api/v1/partners',
    {
      config: { access: { permission: 'partner:read' } },
      schema: { tags: ['partners'], summary: 'Known partners' },
    },
    async (request) => directory.listPartners(actorOf(request)),
  );

  app.get(
    '/api/v1/partners/:code',
    {
      config: { access: { permission: 'partner:read' } },
      schema: { tags: ['partners'], summary: 'One partner', params: Type.Object({ code: PartnerCode }) },
    },
    async (request) => directory.getPartner(actorOf(request), request.params.code),
  );

  app.put(
    '/api/v1/partners/:code',
    {
      config: { access: { permission: 'partner:write' } },
      schema: {
        tags: ['partners'],
        summary: 'Create or update a partner',
        params: Type.Object({ code: PartnerCode }),
        body: Type.Omit(PartnerInputSchema, ['code']),
      },
    },
    async (request) =>
      directory.upsertPartner(actorOf(request), { ...request.body, code: request.params.code }),
  );

  app.get(
    '/api/v1/users',
    {
      config: { access: { permission: 'user:read' } },
      schema: { tags: ['users'], summary: 'Users of this node' },
    },
    async (request) => directory.listUsers(actorOf(request)),
  );

  app.post(
    '/api/v1/users',
    {
      config: { access: { permission: 'user:write' } },
      schema: { tags: ['users'], summary: 'Create a user', body: UserInputSchema },
    },
    async (request, reply) =>
      reply.code(201).send(await directory.createUser(actorOf(request), request.body)),
  );
}
