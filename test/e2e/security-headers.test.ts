import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMPLIANCE_HTML_POLICY } from '../../src/api/routes/report-routes.js';
import { type AccordNode, buildNode } from '../../src/app/node.js';
import { loadConfig } from '../../src/config/index.js';

// Issue 10: every response carries the security headers (@fastify/helmet), and every policy the
// node sends, for its console, Swagger UI, JSON and error answers alike, allows no inline script or
// style. HSTS is sent only by a node whose public URL is https.

async function nodeAt(
  publicUrl: string | undefined,
  webRoot: string,
): Promise<{ node: AccordNode; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'accord-headers-'));
  const config = loadConfig({
    flags: {
      dataDir: dir,
      partner: 'USA',
      log: { level: 'silent' },
      ...(publicUrl === undefined ? {} : { http: { publicUrl } }),
    },
  });
  return { node: await buildNode(config, { webRoot }), dir };
}

/** Parses a Content-Security-Policy header into directive → sources. */
function directivesOf(response: LightMyRequestResponse): Map<string, string[]> {
  const header = String(response.headers['content-security-policy'] ?? '');
  return new Map(
    header
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((parts) => parts[0] !== '')
      .map(([name, ...sources]) => [name!, sources]),
  );
}

/** What every answer carries, whatever its route or status. */
function expectHardened(response: LightMyRequestResponse, what: string): void {
  const csp = directivesOf(response);
  expect(csp.size, `${what}: no content-security-policy`).toBeGreaterThan(0);
  for (const [directive, sources] of csp) {
    expect(sources, `${what}: ${directive}`).not.toContain("'unsafe-inline'");
    expect(sources, `${what}: ${directive}`).not.toContain("'unsafe-eval'");
    expect(sources, `${what}: ${directive}`).not.toContain('*');
  }
  // No script from anywhere but the node (or none at all); no plugins; no framing.
  const scripts = csp.get('script-src') ?? csp.get('default-src');
  expect(
    scripts?.every((s) => s === "'self'" || s === "'none'"),
    `${what}: script-src ${scripts}`,
  ).toBe(true);
  expect(csp.get('frame-ancestors'), what).toEqual(["'none'"]);
  expect(response.headers['x-content-type-options'], what).toBe('nosniff');
  expect(response.headers['x-frame-options'], what).toBe('DENY');
  expect(response.headers['referrer-policy'], what).toBe('no-referrer');
  expect(response.headers['cross-origin-opener-policy'], what).toBe('same-origin');
  expect(response.headers['x-powered-by'], what).toBeUndefined();
}

describe('security headers', () => {
  const webRoot = mkdtempSync(join(tmpdir(), 'accord-headers-web-'));
  let plain: { node: AccordNode; dir: string };
  let behindTls: { node: AccordNode; dir: string };

  beforeAll(async () => {
    mkdirSync(join(webRoot, 'assets'));
    writeFileSync(join(webRoot, 'index.html'), '<!doctype html><title>console</title>');
    writeFileSync(join(webRoot, 'assets', 'app-1234.js'), 'console.log(1)');
    plain = await nodeAt(undefined, webRoot);
    behindTls = await nodeAt('https://accord.usa.example', webRoot);
  });
  afterAll(async () => {
    for (const n of [plain, behindTls]) {
      await n?.node.close();
      if (n !== undefined) rmSync(n.dir, { recursive: true, force: true });
    }
    rmSync(webRoot, { recursive: true, force: true });
  });

  const URLS = [
    ['the console page', 'GET', '/'],
    ['a console deep link', 'GET', '/products/usa-1'],
    ['a console asset', 'GET', '/assets/app-1234.js'],
    ['Swagger UI', 'GET', '/api/v1/docs'],
    ["Swagger UI's initializer", 'GET', '/api/v1/docs/static/swagger-initializer.js'],
    ['the OpenAPI document', 'GET', '/api/v1/openapi.json'],
    ['a health check', 'GET', '/healthz'],
    ['an unauthenticated API call', 'GET', '/api/v1/products'],
    ['an unknown API path', 'GET', '/api/v1/nothing'],
    ['a malformed login', 'POST', '/api/v1/auth/login'],
    ['a TAXII discovery without credentials', 'GET', '/taxii2/'],
    ['an envelope to a node without keys', 'POST', '/federation/v1/inbox'],
  ] as const;

  const request = (method: 'GET' | 'POST', url: string): InjectOptions =>
    method === 'POST' ? { method, url, payload: {} } : { method, url };

  it.each(URLS)('sends them on %s, with no HSTS over plain http', async (what, method, url) => {
    const response = await plain.node.server.inject(request(method, url));
    // Answers of every kind: pages, files, JSON, 401/404 problems, the inbox's 503 without keys.
    expect(response.statusCode, `${what}: ${response.body.slice(0, 200)}`).toBeGreaterThanOrEqual(200);
    expectHardened(response, what);
    expect(response.headers['strict-transport-security'], what).toBeUndefined();
    expect(directivesOf(response).has('upgrade-insecure-requests'), what).toBe(false);
  });

  it('sends HSTS (one year, this host only) and upgrade-insecure-requests when the public URL is https', async () => {
    for (const [what, method, url] of URLS) {
      const response = await behindTls.node.server.inject(request(method, url));
      expectHardened(response, what);
      expect(response.headers['strict-transport-security'], what).toBe('max-age=31536000');
      expect(directivesOf(response).has('upgrade-insecure-requests'), what).toBe(true);
    }
  });

  it("allows Swagger UI's logo style by its hash on the docs pages only", async () => {
    const docs = directivesOf(await plain.node.server.inject({ method: 'GET', url: '/api/v1/docs' }));
    expect(docs.get('style-src')?.[0]).toBe("'self'");
    expect(docs.get('style-src')?.slice(1)).toEqual([expect.stringMatching(/^'sha256-[A-Za-z0-9+/]{43}='$/)]);
    const page = directivesOf(await plain.node.server.inject({ method: 'GET', url: '/' }));
    expect(page.get('style-src')).toEqual(["'self'"]);
  });

  it("allows the compliance report's one style sheet by its hash, and nothing else", () => {
    const policy = new Map(
      COMPLIANCE_HTML_POLICY.split(';').map((d) => {
        const [name, ...sources] = d.trim().split(/\s+/);
        return [name!, sources];
      }),
    );
    expect(policy.get('default-src')).toEqual(["'none'"]);
    expect(policy.get('style-src')).toHaveLength(1);
    expect(policy.get('style-src')?.[0]).toMatch(/^'sha256-[A-Za-z0-9+/]{43}='$/);
    expect(policy.has('script-src')).toBe(false);
  });
});
