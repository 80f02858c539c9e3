import { createHash } from 'node:crypto';
import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';

/**
 * The policy of every response the node sends: its HTML (the console, Swagger UI at /api/v1/docs)
 * loads only the node's own files, with no inline script or style and no CDN, font or tile server.
 * JSON answers carry it too, so one opened in a browser cannot run anything either. The compliance
 * report's page sets a narrower one of its own (report-routes.ts).
 */
export const CONTENT_SECURITY_POLICY = {
  'default-src': ["'self'"],
  'script-src': ["'self'"],
  'style-src': ["'self'"],
  // The console's favicon and Swagger UI's logo are data: URLs.
  'img-src': ["'self'", 'data:'],
  'connect-src': ["'self'"],
  'font-src': ["'self'"],
  'object-src': ["'none'"],
  'base-uri': ["'none'"],
  'frame-ancestors': ["'none'"],
  'form-action': ["'self'"],
} as const;

/**
 * Registers @fastify/helmet on every route: the CSP above, nosniff, no referrer, no framing,
 * same-origin opener and resource policies. `https` says the node is reached over TLS (its public
 * URL is https:, as for Secure cookies).
 */
export async function installSecurityHeaders(app: FastifyInstance, https: boolean): Promise<void> {
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        ...Object.fromEntries(Object.entries(CONTENT_SECURITY_POLICY).map(([k, v]) => [k, [...v]])),
        // Over plain http (a node on loopback) this would send the console's own requests to an
        // https port that does not exist; behind TLS it keeps every request on it.
        ...(https ? { 'upgrade-insecure-requests': [] } : {}),
      },
    },
    // HSTS only when the node's public URL is https. Browsers ignore it over plain http anyway
    // (RFC 6797 §8.1), and a node on loopback must not pin `localhost` to https for every other
    // local service should it ever be reached over TLS. No includeSubDomains: the node speaks for
    // its own host name only.
    strictTransportSecurity: https ? { maxAge: 31_536_000, includeSubDomains: false } : false,
    xFrameOptions: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
  });
}

// Swagger UI's page loads its script and styles from its own files; the one inline style it
// writes is the topbar logo's SVG <style> (swagger-ui-standalone-preset.js). It is allowed by its
// hash on the docs pages only (CSP Level 3 §8.3), not by 'unsafe-inline'. Should an upgrade change
// it, test/e2e/web-xss.test.ts sees the CSP violation and fails.
const SWAGGER_UI_LOGO_CSS = '.logo_small_svg__cls-2{fill:#fff}.logo_small_svg__cls-3{fill:#85ea2d}';

/** A CSP source allowing exactly the inline style sheet `css`. */
export function styleHashSource(css: string): string {
  return `'sha256-${createHash('sha256').update(css, 'utf8').digest('base64')}'`;
}

/** The node's policy as Swagger UI's pages (/api/v1/docs) get it: its logo's style allowed by hash. */
export function swaggerUiPolicy(header: string): string {
  return header.replace("style-src 'self'", `style-src 'self' ${styleHashSource(SWAGGER_UI_LOGO_CSS)}`);
}
