import cookie from '@fastify/cookie';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Services } from '../app/services.js';
import { installAuthentication } from './authenticate.js';
import { sendProblem } from './problem.js';
import { installRateLimits, type RateLimitSettings } from './rate-limits.js';
import { registerAnalyticsRoutes } from './routes/analytics-routes.js';
import { registerArrangementRoutes } from './routes/arrangement-routes.js';
import { registerAuditRoutes, registerIdentityRoute } from './routes/audit-routes.js';
import { registerAuthRoutes } from './routes/auth-routes.js';
import { registerConsentRoutes } from './routes/consent-routes.js';
import { registerDirectoryRoutes } from './routes/directory-routes.js';
import { registerFederationRoutes } from './routes/federation-routes.js';
import { registerGossipRoutes } from './routes/gossip-routes.js';
import { registerInboxRoutes } from './routes/inbox-routes.js';
import { registerIncidentRoutes } from './routes/incident-routes.js';
import { registerOpsRoutes } from './routes/ops-routes.js';
import { registerOutboxRoutes } from './routes/outbox-routes.js';
import { registerProductRoutes } from './routes/product-routes.js';
import { registerRecallRoutes } from './routes/recall-routes.js';
import { registerReceivedRoutes } from './routes/received-routes.js';
import { registerReportRoutes } from './routes/report-routes.js';
import { registerSimilarityRoutes } from './routes/similarity-routes.js';
import { registerStreamRoutes } from './routes/stream-routes.js';
import { isTaxiiPath, registerTaxiiRoutes, sendTaxiiError } from './routes/taxii-routes.js';
import { installSecurityHeaders, swaggerUiPolicy } from './security-headers.js';
import {
  type ConsolePageSender,
  DEFAULT_WEB_ROOT,
  isConsolePath,
  registerWebConsole,
} from './web-console.js';

// ajv-formats is CommonJS; its default export arrives wrapped under NodeNext.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

export interface ServerOptions {
  readonly bodyLimitBytes: number;
  readonly logLevel: string;
  /** The node is reached over https (its public URL): Secure cookies, HSTS, upgrade-insecure-requests. */
  readonly secureCookies: boolean;
  /** Sign-in, write and federation inbox rate limits (config `rateLimits`). */
  readonly rateLimits: RateLimitSettings;
  readonly nodeName: string;
  readonly partner: string;
  /** How often GET /api/v1/stream sends a heartbeat comment; 15 s when absent. */
  readonly streamHeartbeatMs?: number;
  /** The built web console (`npm run build`); default dist/web of this checkout. */
  readonly webRoot?: string;
}

/**
 * The node's HTTP API: /api/v1 (REST, OpenAPI at /api/v1/openapi.json, docs at /api/v1/docs), the
 * federation endpoints under /federation/v1, TAXII 2.1 under /taxii2/, ops routes, and the web
 * console at `/`.
 */
export async function buildServer(services: Services, options: ServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    bodyLimit: options.bodyLimitBytes,
    logger: { level: options.logLevel, redact: ['req.headers.authorization', 'req.headers.cookie'] },
    return503OnClosing: true,
    // A path Fastify cannot decode (`%ED%A0%80`, a lone surrogate) is answered before any route or
    // error handler runs: answer it as every other bad request is, a problem body, and under
    // /taxii2/ as TAXII answers every error (TAXII 2.1 §3.6.1), with its error body and media type.
    frameworkErrors: (error, request, reply) => {
      if (isTaxiiPath(request.url)) void sendTaxiiError(error, request, reply);
      else void sendProblem(error, request, reply);
    },
  });
  // Unknown fields are rejected, not silently dropped. Query strings and path parameters arrive
  // as text and are coerced to the declared types; JSON bodies must have the right types already.
  const body = addFormats(
    new Ajv({ removeAdditional: false, coerceTypes: false, useDefaults: true, strict: false }),
  );
  const text = addFormats(
    new Ajv({ removeAdditional: false, coerceTypes: 'array', useDefaults: true, strict: false }),
  );
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? body : text).compile(schema));
  // JSON only: a text/plain body is refused with 415 rather than parsed.
  app.removeContentTypeParser('text/plain');
  app.setErrorHandler((error, request, reply) => sendProblem(error, request, reply));
  // A GET for a console path that is no route is a deep link into the web console: its page
  // answers, and the app routes in the browser. Everything else is a 404 problem.
  let sendConsolePage: ConsolePageSender | undefined;
  app.setNotFoundHandler((request, reply) => {
    if (sendConsolePage !== undefined && isConsolePath(request.method, request.url)) {
      return sendConsolePage(reply);
    }
    return reply
      .code(404)
      .type('application/problem+json')
      .send({
        type: 'https://accord.example/problems/not-found',
        title: 'Not found',
        status: 404,
        detail: `no route ${request.method} ${request.url.split('?')[0]}`,
        code: 'NOT_FOUND',
      });
  });
  await installSecurityHeaders(app, options.secureCookies);
  await app.register(cookie);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Accord node API',
        version: '1',
        description: `Node ${options.nodeName} of partner ${options.partner}. Errors are RFC 9457 problem+json with a stable \`code\`.`,
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          session: { type: 'apiKey', in: 'cookie', name: 'accord_session' },
        },
      },
      security: [{ bearer: [] }, { session: [] }],
    },
  });
  // Swagger UI runs under the node's strict policy, with its logo's inline style allowed by hash
  // on its own pages (security-headers.ts).
  await app.register(swaggerUi, {
    routePrefix: '/api/v1/docs',
    staticCSP: false,
    transformStaticCSP: swaggerUiPolicy,
  });
  installAuthentication(app, services.auth);
  await installRateLimits(app, options.rateLimits);
  app.get(
    '/api/v1/openapi.json',
    { config: { access: { public: true } }, schema: { hide: true } },
    async () => app.swagger(),
  );
  registerOpsRoutes(app, services.store);
  registerAuthRoutes(app, services.auth, options.secureCookies);
  registerDirectoryRoutes(app, services.directory);
  registerArrangementRoutes(app, services.arrangements);
  registerProductRoutes(app, services.products);
  registerRecallRoutes(app, services.recalls);
  registerFederationRoutes(app, services.inbox);
  registerOutboxRoutes(app, services.outbox);
  registerInboxRoutes(app, services.inboxLog);
  registerReceivedRoutes(app, services.received);
  registerAnalyticsRoutes(app, services.correlation, services.alerts, services.search);
  registerSimilarityRoutes(app, services.similarity);
  registerConsentRoutes(app, services.consents);
  registerAuditRoutes(app, services.audit);
  registerReportRoutes(app, services.compliance);
  registerIdentityRoute(app, options, services.keys);
  registerGossipRoutes(app, services.audit);
  registerIncidentRoutes(app, services.incidents);
  registerStreamRoutes(app, services.events, services.stream, {
    heartbeatMs: options.streamHeartbeatMs ?? 15_000,
  });
  await registerTaxiiRoutes(app, services.taxii, {
    nodeName: options.nodeName,
    partner: options.partner,
    maxContentLength: options.bodyLimitBytes,
  });
  sendConsolePage = await registerWebConsole(app, options.webRoot ?? DEFAULT_WEB_ROOT);
  return app;
}
