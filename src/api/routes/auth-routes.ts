import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import type { AuthService } from '../../services/auth-service.js';
import { publicUser } from '../../services/directory-service.js';
import { actorOf, SESSION_COOKIE } from '../authenticate.js';

const LoginBody = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 64 }),
    password: Type.String({ minLength: 1, maxLength: 256 }),
  },
  { additionalProperties: false },
);

/** /api/v1/auth: sign in and out (session cookie), who am I, bearer tokens for scripts. */
export function registerAuthRoutes(root: FastifyInstance, auth: AuthService, secureCookies: boolean): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['auth'];

  app.post(
    '/api/v1/auth/login',
    {
      config: { access: { public: true } },
      schema: {
        tags,
        summary: 'Sign in: sets an HttpOnly session cookie; returns the CSRF token for writes',
        body: LoginBody,
      },
    },
    async (request, reply) => {
      const session = await auth.login(request.body.username, request.body.password, request.ip);
      void reply.setCookie(SESSION_COOKIE, session.sessionId, {
        httpOnly: true,
        sameSite: 'strict',
        secure: secureCookies || request.protocol === 'https',
        path: '/',
        expires: new Date(session.expiresAt),
      });
      return { user: publicUser(session.user), csrfToken: session.csrfToken, expiresAt: session.expiresAt };
    },
  );

  app.post(
    '/api/v1/auth/logout',
    {
      config: { access: { signedIn: true } },
      schema: { tags, summary: 'Sign out' },
    },
    async (request, reply) => {
      const session = request.cookies[SESSION_COOKIE];
      if (session !== undefined) await auth.logout(session);
      void reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return reply.code(204).send();
    },
  );

  app.get(
    '/api/v1/auth/me',
    {
      config: { access: { signedIn: true } },
      schema: { tags, summary: 'The signed-in user' },
    },
    async (request) => publicUser(actorOf(request).user),
  );

  app.post(
    '/api/v1/auth/tokens',
    {
      config: { access: { signedIn: true } },
      schema: {
        tags,
        summary: 'Issue a bearer token for the signed-in user (shown once)',
        body: Type.Object(
          { label: Type.String({ minLength: 1, maxLength: 100 }) },
          { additionalProperties: false },
        ),
      },
    },
    async (request, reply) => {
      const { token, record } = await auth.issueToken(actorOf(request).user.id, request.body.label);
      return reply.code(201).send({ token, label: record.label, createdAt: record.createdAt });
    },
  );
}
