import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildNode } from '../../src/app/node.js';
import { REPO_ROOT, runCaptured } from '../../src/cli/captured-run.js';
import type { CliIo } from '../../src/cli/cli-io.js';
import { loadNodeConfig } from '../../src/cli/local-node.js';
import type { ComplianceReport } from '../../src/oversight/compliance.js';
import {
  type AuthHeaders,
  jsonOf,
  makeDraft,
  readExample,
  startTestNode,
  type TestNode,
  USERS,
} from './harness.js';

// Issue 5's compliance report end to end: a product approved, released to GBR (allowed) and to
// FRA (denied: not a party) under fvey-multilateral and read; the report over the API as JSON
// and as HTML, its permission, its bad input; and `accord report compliance` on a data directory.

const PERIOD = 'from=2026-11-26&to=2026-11-27';
const TITLE = makeDraft().title;

describe('GET /api/v1/reports/compliance', () => {
  let t: TestNode;
  let auditor: AuthHeaders;
  let analyst: AuthHeaders;
  let productId: string;

  beforeAll(async () => {
    t = await startTestNode();
    auditor = await t.tokenFor(USERS.auditor.username);
    analyst = await t.tokenFor(USERS.analyst.username);
    const officer = await t.tokenFor(USERS.officer.username);
    const created = await t.server.inject({
      method: 'POST',
      url: '/api/v1/products',
      headers: analyst,
      payload: makeDraft(),
    });
    expect(created.statusCode, created.body).toBe(201);
    productId = String(jsonOf(created).id);
    // The release to FRA is decided, recorded and refused (403 POLICY_DENIED): a denial to report.
    for (const [headers, path, payload, status] of [
      [analyst, 'submit', undefined, 200],
      [officer, 'approve', { comment: 'fine' }, 200],
      [officer, 'releases', { to: 'GBR', arrangement: 'fvey-multilateral' }, 201],
      [officer, 'releases', { to: 'FRA', arrangement: 'fvey-multilateral' }, 403],
    ] as const) {
      const r = await t.server.inject({
        method: 'POST',
        url: `/api/v1/products/${productId}/${path}`,
        headers,
        ...(payload === undefined ? {} : { payload }),
      });
      expect(r.statusCode, `${path}: ${r.body}`).toBe(status);
    }
    const read = await t.server.inject({
      method: 'GET',
      url: `/api/v1/products/${productId}`,
      headers: officer,
    });
    expect(read.statusCode, read.body).toBe(200);
  });
  afterAll(() => t?.close());

  const get = (query: string, headers: AuthHeaders) =>
    t.server.inject({ method: 'GET', url: `/api/v1/reports/compliance?${query}`, headers });

  it('gives the oversight auditor the figures of the arrangement, metadata only', async () => {
    const response = await get(`arrangement=fvey-multilateral&${PERIOD}`, auditor);
    expect(response.statusCode, response.body).toBe(200);
    const report = jsonOf(response) as unknown as ComplianceReport;
    expect(report.totals).toMatchObject({
      total: 2,
      allowed: 1,
      denied: 1,
      approvals: 1,
      recalls: 0,
      reads: 1,
    });
    expect(report.byPair).toEqual([
      { sender: 'USA', recipient: 'FRA', total: 1, allowed: 0, denied: 1 },
      { sender: 'USA', recipient: 'GBR', total: 1, allowed: 1, denied: 0 },
    ]);
    expect(report.byClassification).toEqual([{ level: 'SECRET', total: 2, allowed: 1, denied: 1 }]);
    expect(report.byDiscipline.map((d) => [d.discipline, d.total])).toEqual([['SIGINT', 2]]);
    expect(report.denialsByRule.map((r) => r.rule)).toContain('arrangement.parties');
    expect(report.approvals).toEqual([{ approver: USERS.officer.username, approved: 1, rejected: 0 }]);
    expect(response.body).not.toContain(TITLE);
  });

  it('counts nothing outside the period or for another arrangement', async () => {
    const before = jsonOf(await get('arrangement=fvey-multilateral&from=2026-01-01&to=2026-11-26', auditor));
    expect(before.totals).toMatchObject({ total: 0, approvals: 0, reads: 0 });
    const other = jsonOf(await get(`arrangement=usa-gbr-sigint&${PERIOD}`, auditor));
    expect(other.totals).toMatchObject({ total: 0, reads: 0 });
  });

  it('serves a printable HTML page with a policy that allows no script', async () => {
    const response = await get(`arrangement=fvey-multilateral&${PERIOD}&format=html`, auditor);
    expect(response.statusCode, response.body).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/html/);
    expect(response.headers['content-security-policy']).toContain("default-src 'none'");
    expect(response.body).toContain('<td>USA</td><td>GBR</td>');
    expect(response.body).toContain('@media print');
    expect(response.body).not.toContain(TITLE);
  });

  it('refuses an analyst and an anonymous caller', async () => {
    expect((await get(`arrangement=fvey-multilateral&${PERIOD}`, analyst)).statusCode).toBe(403);
    expect((await get(`arrangement=fvey-multilateral&${PERIOD}`, {})).statusCode).toBe(401);
  });

  it.each([
    [
      'a date that is not one',
      'arrangement=fvey-multilateral&from=2026-02-30&to=2026-03-01',
      400,
      'INPUT_INVALID',
    ],
    [
      'an instant without a zone',
      'arrangement=fvey-multilateral&from=2026-01-01T10:00&to=2026-03-01',
      400,
      'INPUT_INVALID',
    ],
    ['an empty period', 'arrangement=fvey-multilateral&from=2026-03-01&to=2026-03-01', 400, 'INPUT_INVALID'],
    [
      'a reversed period',
      'arrangement=fvey-multilateral&from=2026-03-02&to=2026-03-01',
      400,
      'INPUT_INVALID',
    ],
    ['no period', 'arrangement=fvey-multilateral', 400, 'INPUT_INVALID'],
    ['another format', `arrangement=fvey-multilateral&${PERIOD}&format=pdf`, 400, 'INPUT_INVALID'],
    ['an unknown arrangement', `arrangement=no-such&${PERIOD}`, 404, 'NOT_FOUND'],
  ])('answers %s with a problem', async (_what, query, status, code) => {
    const response = await get(query, auditor);
    expect(response.statusCode, response.body).toBe(status);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(jsonOf(response).code).toBe(code);
  });
});

describe('accord report compliance', () => {
  const quietIo: CliIo = {
    stdout: { write: () => true },
    stderr: { write: () => true },
    env: {},
    cwd: REPO_ROOT,
  };
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'accord-report-'));
    const init = await runCaptured(['init', '--dir', dir, '--partner', 'USA', '--json'], {
      env: { ACCORD_KEY_PASSPHRASE: 'a passphrase for the report test node' },
    });
    expect(init.code, init.stderr).toBe(0);
    const node = await buildNode(await loadNodeConfig(quietIo, dir, { log: { level: 'silent' } }));
    try {
      const people = [
        ['admin.usa', 'administrator'],
        ['analyst.usa', 'analyst'],
      ] as const;
      for (const [username, role] of people) {
        await node.services.directory.createUser(null, {
          username,
          displayName: username,
          nationality: 'USA',
          clearance: 'SECRET',
          caveats: [],
          communities: [],
          roles: [role],
        });
      }
      const admin = await node.store.users.getByUsername('admin.usa');
      await node.services.arrangements.create(
        { user: admin!, via: 'local' },
        readExample('arrangements/fvey-multilateral.json'),
      );
    } finally {
      await node.close();
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const run = (...args: string[]) =>
    runCaptured(['report', 'compliance', '--dir', dir, '--arrangement', 'fvey-multilateral', ...args]);

  it('prints the report as JSON, and as HTML', async () => {
    const json = await run('--from', '2026-01-01', '--to', '2027-01-01', '--as', 'admin.usa');
    expect(json.code, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as ComplianceReport;
    expect(report).toMatchObject({
      kind: 'accord.compliance-report',
      arrangement: 'fvey-multilateral',
      period: { from: '2026-01-01T00:00:00.000Z', to: '2027-01-01T00:00:00.000Z' },
      totals: { total: 0 },
    });
    const html = await run('--from', '2026-01-01', '--to', '2027-01-01', '--format', 'html');
    expect(html.code, html.stderr).toBe(0);
    expect(html.stdout).toMatch(/^<!DOCTYPE html>/);
  });

  it.each([
    ['a bad date', ['--from', 'yesterday', '--to', '2027-01-01']],
    ['a reversed period', ['--from', '2027-01-01', '--to', '2026-01-01']],
    ['another format', ['--from', '2026-01-01', '--to', '2027-01-01', '--format', 'pdf']],
    ['a user without report:read', ['--from', '2026-01-01', '--to', '2027-01-01', '--as', 'analyst.usa']],
  ])('refuses %s with exit 2 and one line', async (_what, args) => {
    const result = await run(...args);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^accord: /);
  });
});
