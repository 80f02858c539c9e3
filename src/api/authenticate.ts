import type { FastifyInstance, FastifyRequest } from 'fastify';
import { authorise, type Permission } from '../auth/roles.js';
import { AccordError } from '../errors/index.js';
import type { Actor } from '../services/actor.js';
import type { AuthService } from '../services/auth-service.js';

export const SESSION_COOKIE = 'accord_session';

/** What every route must declare: a permission, or that it is public. Deny by default. */
export type RouteAccess =
  | { readonly permission: Permission }
  | { readonly public: true }
  | { readonly signedIn: true };

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: RouteAccess;
    /** The route also takes HTTP Basic credentials (TAXII clients); others take bearer tokens only. */
    basicAuth?: boolean;
  }
  interface FastifyRequest {
    actor: Actor | null;
  }
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The actor, or AUTH_REQUIRED. Routes behind `permission`/`signedIn` always have one. */
export function actorOf(request: FastifyRequest): Actor {
  if (request.actor === null) throw new AccordError('AUTH_REQUIRED', 'sign in or send a bearer token', {});
  return request.actor;
}

/** RFC 7617: base64 of "user-id:password", split at the first colon. */
async function fromBasic(auth: AuthService, credentials: string, ip: string): Promise<Actor> {
  // attacker-controlled
  const decoded = Buffer.from(credentials, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0 || decoded.length > 1024) {
    throw new AccordError('AUTH_INVALID', 'Basic credentials must be "username:password"', {});
  }
  return auth.fromBasic(decoded.slice(0, colon), decoded.slice(colon + 1), ip);
}

/**
 * The one place authorisation is decided for every route: each route declares its access in
 * `config.access` (registration fails without it), and this hook authenticates the caller
 * (bearer token, HTTP Basic where the route takes it, or session cookie with CSRF on writes) and checks the permission before the
 * handler runs — before any lookup, so forbidden and absent answer alike.
 */
export function installAuthentication(app: FastifyInstance, auth: AuthService): void {
  app.decorateRequest('actor', null);
  app.addHook('onRoute', (route) => {
    const access = route.config?.access;
    if (access === undefined && !route.url.startsWith('/api/v1/docs')) {
      throw new Error(`route ${route.method} ${route.url} declares no access; every route must`);
    }
  });
  // onRequest, the first stage: the caller is known and authorised before the body is read, parsed
  // or validated, so an anonymous or unpermitted caller learns nothing from a 400 or 413, and is not
  // served by the parser at all. @fastify/cookie parses cookies in its own onRequest hook, registered
  // before this one.
  app.addHook('onRequest', async (request) => {
    const access: RouteAccess = request.routeOptions.config.access ?? { public: true };
    if ('public' in access) return;
    const header = request.headers.authorization;
    if (header !== undefined) {
      const basicAllowed = request.routeOptions.config.basicAuth === true;
      const basic = basicAllowed ? /^Basic ([A-Za-z0-9+/]+=*)$/i.exec(header) : null;
      if (basic !== null) {
        request.actor = await fromBasic(auth, basic[1]!, request.ip);
      } else {
        const match = /^Bearer ([A-Za-z0-9_\-.~+/]+=*)$/.exec(header);
        if (match === null)
          throw new AccordError(
            'AUTH_INVALID',
            basicAllowed
              ? 'Authorization must be "Bearer <token>" or "Basic <credentials>"'
              : 'Authorization must be "Bearer <token>"',
            {},
          );
        request.actor = await auth.fromToken(match[1]!);
      }
    } else {
      const session = request.cookies[SESSION_COOKIE];
      if (session === undefined) throw new AccordError('AUTH_REQUIRED', 'sign in or send a bearer token', {});
      const csrf = request.headers['x-csrf-token'];
      request.actor = await auth.fromSession(
        session,
        UNSAFE.has(request.method),
        typeof csrf === 'string' ? csrf : undefined,
      );
    }
    if ('permission' in access) {
      const outcome = authorise(request.actor.user.roles, access.permission);
      if (!outcome.allowed)
        throw new AccordError('FORBIDDEN', outcome.reason, { permission: access.permission });
    }
  });
}
