import type { FastifyInstance } from 'fastify';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import type { Store } from '../../store/index.js';

/** /healthz (the process answers), /readyz (the store answers), /metrics (Prometheus). */
export function registerOpsRoutes(app: FastifyInstance, store: Store): void {
  // A registry per app, so several nodes in one process (tests, the demo) do not collide.
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'accord_http_requests_total',
    help: 'HTTP requests by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'accord_http_request_duration_seconds',
    help: 'HTTP request duration by route',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    duration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });

  const pub = { access: { public: true } } as const;
  app.get('/healthz', { config: pub, schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { config: pub, schema: { hide: true } }, async (_request, reply) => {
    try {
      await store.partners.list();
      return { status: 'ready' };
    } catch {
      return reply.code(503).type('application/problem+json').send({
        type: 'https://accord.example/problems/not-ready',
        title: 'Service unavailable',
        status: 503,
        detail: 'the store does not answer',
        code: 'NOT_READY',
      });
    }
  });
  app.get('/metrics', { config: pub, schema: { hide: true } }, async (_request, reply) =>
    reply.type(registry.contentType).send(await registry.metrics()),
  );
}
