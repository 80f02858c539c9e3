import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { AccordError } from '../errors/index.js';

/** Where `npm run build` writes the web console (vite.config.ts: build.outDir). */
export const DEFAULT_WEB_ROOT = resolve(import.meta.dirname, '..', '..', 'dist', 'web');

// Paths the console never answers: the API, federation, TAXII and ops routes keep their own 404.
const RESERVED = ['/api/', '/federation/', '/taxii2', '/metrics', '/healthz', '/readyz'];

// The console loads only its own files: no CDN, font or tile server, no inline script.
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join('; ');

function isReserved(path: string): boolean {
  return RESERVED.some((prefix) => path === prefix.replace(/\/$/, '') || path.startsWith(prefix));
}

function withConsoleHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', CONTENT_SECURITY_POLICY)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer');
}

/**
 * Serves the built single-page console at `/`: files under `root` as they are, every other
 * non-API path as index.html (the app routes in the browser). Without a build the node still
 * starts, and `/` answers 503 naming the command that builds it.
 */
export async function registerWebConsole(app: FastifyInstance, root: string): Promise<void> {
  const built = existsSync(join(root, 'index.html'));
  if (built) {
    // serve: false: the plugin only decorates reply.sendFile; the one route below declares its
    // access, as every route must (authenticate.ts).
    await app.register(fastifyStatic, {
      root,
      serve: false,
      index: false,
      dotfiles: 'deny',
      // The route sets cache-control itself: immutable for hashed assets, no-cache for the page.
      cacheControl: false,
    });
  }
  app.get('/*', { config: { access: { public: true } }, schema: { hide: true } }, async (request, reply) => {
    const path = decodeURIComponent(request.url.split('?')[0] ?? '/');
    if (isReserved(path)) return reply.callNotFound();
    if (!built) {
      throw new AccordError(
        'SERVICE_UNAVAILABLE',
        'the web console is not built; run `npm run build` and restart the node',
        { service: 'web console' },
      );
    }
    const file = path.replace(/^\/+/, '');
    // Hashed assets never change under one name; index.html must be fetched afresh.
    if (file.startsWith('assets/') && existsSync(join(root, file)) && !file.includes('..')) {
      return withConsoleHeaders(reply)
        .header('cache-control', 'public, max-age=31536000, immutable')
        .sendFile(file);
    }
    if (file !== '' && file !== 'index.html' && !file.includes('..') && existsSync(join(root, file))) {
      return withConsoleHeaders(reply).header('cache-control', 'no-cache').sendFile(file);
    }
    return withConsoleHeaders(reply)
      .header('cache-control', 'no-cache')
      .type('text/html')
      .sendFile('index.html');
  });
}
