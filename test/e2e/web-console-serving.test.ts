import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AccordNode, buildNode } from '../../src/app/node.js';
import { loadConfig } from '../../src/config/index.js';

// The node serves the built console at `/` and every non-API path (the SPA routes in the browser),
// leaves /api, /federation and /taxii2 to their own routes and 404s, and answers 503 without a build.

async function nodeWith(webRoot: string): Promise<{ node: AccordNode; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'accord-web-'));
  const config = loadConfig({ flags: { dataDir: dir, partner: 'USA', log: { level: 'silent' } } });
  return { node: await buildNode(config, { webRoot }), dir };
}

describe('the web console route', () => {
  let built: { node: AccordNode; dir: string };
  let unbuilt: { node: AccordNode; dir: string };
  const webRoot = mkdtempSync(join(tmpdir(), 'accord-web-root-'));

  beforeAll(async () => {
    mkdirSync(join(webRoot, 'assets'));
    writeFileSync(join(webRoot, 'index.html'), '<!doctype html><title>console</title>');
    writeFileSync(join(webRoot, 'assets', 'app-1234.js'), 'console.log(1)');
    built = await nodeWith(webRoot);
    unbuilt = await nodeWith(join(webRoot, 'absent'));
  });
  afterAll(async () => {
    for (const n of [built, unbuilt]) {
      await n.node.close();
      rmSync(n.dir, { recursive: true, force: true });
    }
    rmSync(webRoot, { recursive: true, force: true });
  });

  it('serves index.html at / and at any console path, with a strict content security policy', async () => {
    for (const url of ['/', '/products/usa-1', '/map?focus=x', '/compose']) {
      const response = await built.node.server.inject({ method: 'GET', url });
      expect(response.statusCode, url).toBe(200);
      expect(response.headers['content-type']).toMatch(/^text\/html/);
      expect(response.body).toContain('<title>console</title>');
      expect(response.headers['content-security-policy']).toContain("default-src 'self'");
      expect(response.headers['content-security-policy']).toContain("script-src 'self'");
    }
  });

  it('serves hashed assets as immutable files', async () => {
    const response = await built.node.server.inject({ method: 'GET', url: '/assets/app-1234.js' });
    expect(response.statusCode).toBe(200);
    expect(response.body).toBe('console.log(1)');
    expect(response.headers['cache-control']).toContain('immutable');
  });

  it('never serves files outside the build', async () => {
    for (const url of [
      '/assets/../../../etc/passwd',
      '/%2e%2e/%2e%2e/etc/passwd',
      '/..%2f..%2fetc/passwd',
      '/%E0%A4%A',
    ]) {
      const response = await built.node.server.inject({ method: 'GET', url });
      expect(response.body, url).not.toContain('root:');
    }
  });

  it('leaves API, federation, TAXII and asset paths to their own 404s, and writes to them', async () => {
    for (const url of [
      '/api/v1/no-such-route',
      '/federation/v1/nothing',
      '/api',
      '/assets/missing.js',
      '/metrics/x',
    ]) {
      const response = await built.node.server.inject({ method: 'GET', url });
      expect(response.statusCode, url).toBe(404);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(JSON.parse(response.body).code).toBe('NOT_FOUND');
    }
    // Under /taxii2/ the TAXII error body, as before the console.
    const taxii = await built.node.server.inject({ method: 'GET', url: '/taxii2/nothing/here/at/all' });
    expect(taxii.statusCode).toBe(404);
    expect(taxii.headers['content-type']).not.toMatch(/^text\/html/);
    // Only GET and HEAD reach the console; other methods on an unknown path stay 404 problems.
    const post = await built.node.server.inject({ method: 'POST', url: '/products/x', payload: {} });
    expect(post.statusCode).toBe(404);
    expect(post.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('answers 503 naming `npm run build` when the console is not built, and the API still works', async () => {
    const response = await unbuilt.node.server.inject({ method: 'GET', url: '/' });
    expect(response.statusCode).toBe(503);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    const body = JSON.parse(response.body);
    expect(body.code).toBe('SERVICE_UNAVAILABLE');
    expect(body.detail).toContain('npm run build');
    const health = await unbuilt.node.server.inject({ method: 'GET', url: '/healthz' });
    expect(health.statusCode).toBe(200);
  });
});
