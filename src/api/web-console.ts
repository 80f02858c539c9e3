import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { AccordError } from '../errors/index.js';

/** Where `npm run build` writes the web console (vite.config.ts: build.outDir). */
export const DEFAULT_WEB_ROOT = resolve(import.meta.dirname, '..', '..', 'dist', 'web');

// Paths the console never answers: the API, federation, TAXII and ops routes keep their own 404.
const RESERVED = ['/api/', '/federation/', '/taxii2', '/metrics', '/healthz', '/readyz'];

/**
 * Whether a request that matched no route is a deep link into the console (served index.html): a
 * GET or HEAD outside the API, federation, TAXII, ops and asset paths. Everything else keeps its
 * 404 (a problem, or a TAXII error body under /taxii2/).
 */
export function isConsolePath(method: string, url: string): boolean {
  if (method !== 'GET' && method !== 'HEAD') return false;
  const path = url.split('?')[0] ?? '/';
  return (
    !path.startsWith('/assets/') && !RESERVED.some((p) => path === p.replace(/\/$/, '') || path.startsWith(p))
  );
}

/** Sends the console's page (index.html), or throws SERVICE_UNAVAILABLE when it is not built. */
export type ConsolePageSender = (reply: FastifyReply) => Promise<FastifyReply>;

/**
 * Serves the built single-page console: `/` and the hashed files under `/assets/`; returns the
 * sender of index.html for the node's not-found handler to answer deep links with (the app routes
 * in the browser). Without a build the node still starts, and `/` answers 503 naming the command
 * that builds it.
 */
export async function registerWebConsole(app: FastifyInstance, root: string): Promise<ConsolePageSender> {
  const built = existsSync(join(root, 'index.html'));
  if (built) {
    // serve: false: the plugin only decorates reply.sendFile; the routes below declare their
    // access, as every route must (authenticate.ts).
    await app.register(fastifyStatic, {
      root,
      serve: false,
      index: false,
      dotfiles: 'deny',
      // The routes set cache-control themselves: immutable for hashed assets, no-cache for the page.
      cacheControl: false,
    });
  }
  const sendPage: ConsolePageSender = async (reply) => {
    if (!built) {
      throw new AccordError(
        'SERVICE_UNAVAILABLE',
        'the web console is not built; run `npm run build` and restart the node',
        { service: 'web console' },
      );
    }
    // Its content security policy is the node's own (security-headers.ts): only its own files, no inline script or style.
    return reply.header('cache-control', 'no-cache').type('text/html').sendFile('index.html');
  };
  const config = { access: { public: true } } as const;
  app.get('/', { config, schema: { hide: true } }, async (_request, reply) => sendPage(reply));
  app.get<{ Params: { '*': string } }>(
    '/assets/*',
    { config, schema: { hide: true } },
    async (request, reply) => {
      const file = request.params['*'];
      // Only the build's own flat asset names: no traversal, no dot files, nothing else on disk.
      if (
        !built ||
        !/^[A-Za-z0-9_.-]+$/.test(file) ||
        file.startsWith('.') ||
        !existsSync(join(root, 'assets', file))
      ) {
        throw new AccordError('NOT_FOUND', `no console asset ${file.slice(0, 100)}`, {});
      }
      // Hashed names never change content; the page itself is fetched afresh each time.
      return reply.header('cache-control', 'public, max-age=31536000, immutable').sendFile(`assets/${file}`);
    },
  );
  return sendPage;
}
