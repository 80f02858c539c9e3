import type { InjectOptions } from 'fastify';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMPLIANCE_HTML_POLICY } from '../../src/api/routes/report-routes.js';
import type { ComplianceReport } from '../../src/oversight/compliance.js';
import { escapeHtml, renderComplianceHtml } from '../../src/oversight/compliance-html.js';
import {
  buildConsoleIfMissing,
  type ConsoleNode,
  type ConsolePerson,
  chromiumAvailable,
  deliverAll,
  launchChromium,
  makeNodeKeys,
  openConsole,
  passwordOf,
  signedArrangement,
  signIn,
  signOut,
  startConsoleNodes,
  stopConsoleNodes,
} from '../fixtures/console-nodes.js';

// Issue 10, the browser side: text that a user or a partner stored (a product's title and portion
// text, a received product, an incident's description, a compliance report's names) and that holds
// script is shown as that text and never runs, in Debian's chromium against two real nodes. Every
// payload would set window.__pwned and fetch a marker path of the node if it ran; the pages must show
// the payloads literally, run none, fetch no marker, and log no error (a CSP violation would be one:
// the console's own code must need no exception to the policy).

const run = chromiumAvailable();

/** Each sets window.__pwned and fetches /__pwned?… if a browser ever runs it. */
const PAYLOADS = [
  `<script>window.__pwned=1;fetch('/__pwned?script')</script>`,
  `<img src=x onerror="window.__pwned=1;fetch('/__pwned?img')">`,
  `<a href="javascript:window.__pwned=1;fetch('/__pwned?link')">open</a>`,
  `javascript:window.__pwned=1;fetch('/__pwned?url')//`,
  `<svg onload="window.__pwned=1;fetch('/__pwned?svg')"></svg>`,
  `<iframe srcdoc="<script>parent.__pwned=1;fetch('/__pwned?iframe')</script>"></iframe>`,
  `"><style>body{display:none}</style><script src="/__pwned?src"></script>`,
  `{{constructor.constructor('window.__pwned=1')()}} \${window.__pwned=1}`,
] as const;

const KEYS = { USA: makeNodeKeys(), GBR: makeNodeKeys() } as const;
type Party = keyof typeof KEYS;
const ARRANGEMENT = signedArrangement(KEYS, {
  id: 'usa-gbr-xss',
  title: 'USA-GBR sharing under hostile text',
  scope: { disciplines: ['SIGINT'], categories: ['counterterrorism'], ceiling: 'SECRET' },
});
const PEOPLE: readonly ConsolePerson[] = [
  { party: 'USA', username: 'analyst.usa', role: 'analyst', clearance: 'SECRET' },
  { party: 'USA', username: 'officer.usa', role: 'release-officer', clearance: 'SECRET' },
  { party: 'USA', username: 'auditor.usa', role: 'oversight-auditor', clearance: 'SECRET' },
  { party: 'GBR', username: 'analyst.gbr', role: 'analyst', clearance: 'SECRET' },
];

const TITLE = `Hostile title ${PAYLOADS[0]} ${PAYLOADS[1]}`;
const PORTION_TEXTS = PAYLOADS.map((p, i) => `Portion ${i + 1}: ${p}`);
const DESCRIPTION = `Leak seen. ${PAYLOADS.join(' ')}`;

// Playwright evaluates these in the page: the test is compiled without the DOM library.
const WATCH_VIOLATIONS = `
  window.__violations = [];
  document.addEventListener('securitypolicyviolation', (e) =>
    window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));
`;
const PWNED = 'window.__pwned ?? null';
const VIOLATIONS = 'window.__violations ?? []';
// Elements a payload would have become had it been parsed as markup rather than shown as text.
const INJECTED = `[...document.querySelectorAll('*')].filter((e) =>
  e.matches('img[src="x"], iframe, a[href^="javascript:"], script[src*="__pwned"]') ||
  [...e.attributes].some((a) => a.name.startsWith('on'))).map((e) => e.outerHTML.slice(0, 120))`;

let nodes = {} as Record<Party, ConsoleNode>;
let browser: Browser | undefined;
const errors: string[] = [];
const markers: string[] = [];

async function open(party: Party): Promise<{ context: BrowserContext; page: Page }> {
  if (browser === undefined) throw new Error('no browser');
  const opened = await openConsole(browser, nodes[party].address, errors, party);
  await opened.page.addInitScript(WATCH_VIOLATIONS);
  opened.page.on('request', (request) => {
    // The test's own navigations may name the marker (a hostile deep link); anything else is a payload running.
    const ownNavigation = request.isNavigationRequest() && request.frame() === opened.page.mainFrame();
    if (request.url().includes('__pwned') && !ownNavigation) markers.push(`${party}: ${request.url()}`);
  });
  // The init script runs from the next document on: load the page again under it.
  await opened.page.reload();
  return opened;
}

/** Asserts that nothing ran on the page: no flag, no injected element, no CSP violation. */
async function expectNothingRan(page: Page, where: string): Promise<void> {
  expect(await page.evaluate<unknown>(PWNED), `${where}: window.__pwned`).toBeNull();
  expect(await page.evaluate<string[]>(INJECTED), `${where}: injected elements`).toEqual([]);
  expect(await page.evaluate<string[]>(VIOLATIONS), `${where}: CSP violations`).toEqual([]);
}

/** Session headers (cookie and CSRF token) of a console user, through the node's own login route. */
async function sessionOf(party: Party, username: string): Promise<Record<string, string>> {
  const response = await nodes[party].node.server.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    payload: { username, password: passwordOf(username) },
  });
  expect(response.statusCode, response.body).toBe(200);
  const cookie = response.cookies.find((c) => c.name === 'accord_session');
  const { csrfToken } = JSON.parse(response.body) as { csrfToken: string };
  return { cookie: `accord_session=${cookie?.value}`, 'x-csrf-token': csrfToken };
}

async function api(party: Party, headers: Record<string, string>, options: InjectOptions) {
  const response = await nodes[party].node.server.inject({ ...options, headers });
  expect(response.statusCode, `${options.method} ${options.url}: ${response.body}`).toBeLessThan(300);
  return JSON.parse(response.body || '{}') as Record<string, unknown>;
}

describe.runIf(run)('stored script in the web console and the compliance report (chromium)', () => {
  let usa: { context: BrowserContext; page: Page };
  let productId = '';

  beforeAll(async () => {
    buildConsoleIfMissing();
    nodes = (await startConsoleNodes(
      KEYS,
      { USA: 'United States', GBR: 'United Kingdom' },
      ARRANGEMENT,
      PEOPLE,
    )) as Record<Party, ConsoleNode>;
    browser = await launchChromium();
    // The hostile product goes in through the API, as any client could send it, and out to GBR.
    const analyst = await sessionOf('USA', 'analyst.usa');
    const created = await api('USA', analyst, {
      method: 'POST',
      url: '/api/v1/products',
      payload: {
        title: TITLE,
        titleMarking: '(U//REL TO USA, GBR)',
        discipline: 'SIGINT',
        categories: ['counterterrorism'],
        portions: PORTION_TEXTS.map((text) => ({ marking: '(S//REL TO USA, GBR)', text })),
        reliability: 'B',
        credibility: 2,
        geo: { type: 'Point', coordinates: [67.0099, 24.8615] },
      },
    });
    productId = String(created.id);
    const path = `/api/v1/products/${encodeURIComponent(productId)}`;
    await api('USA', analyst, { method: 'POST', url: `${path}/submit` });
    const officer = await sessionOf('USA', 'officer.usa');
    await api('USA', officer, { method: 'POST', url: `${path}/approve`, payload: {} });
    await api('USA', officer, {
      method: 'POST',
      url: `${path}/releases`,
      payload: { to: 'GBR', arrangement: ARRANGEMENT.id },
    });
    expect(await deliverAll(nodes)).toBeGreaterThan(0);
    usa = await open('USA');
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await stopConsoleNodes(nodes);
  });

  it('shows the stored title and every portion as literal text on the product page, the feed and the map', async () => {
    const { page } = usa;
    await signIn(page, 'analyst.usa');
    await page.goto(`${nodes.USA.address}/products/${encodeURIComponent(productId)}`);
    await page.getByTestId('portion').first().waitFor();
    await expect(page.getByTestId('portion').count()).resolves.toBe(PAYLOADS.length);
    const main = (await page.locator('main').textContent()) ?? '';
    expect(main).toContain(TITLE);
    for (const text of PORTION_TEXTS) expect(main).toContain(text);
    await expect(page.getByRole('heading', { name: TITLE }).isVisible()).resolves.toBe(true);
    await expectNothingRan(page, 'USA product page');

    await page.getByRole('link', { name: 'Feed', exact: true }).click();
    await page.getByRole('link', { name: TITLE }).waitFor();
    await expectNothingRan(page, 'USA feed');
    await page.getByRole('link', { name: 'Map', exact: true }).click();
    await page.locator(`[data-testid="footprint"] path[data-product="${productId}"]`).waitFor();
    await expectNothingRan(page, 'USA map');
  }, 120_000);

  it('shows the product received from the partner as literal text on the GBR console', async () => {
    const gbr = await open('GBR');
    const { page } = gbr;
    await signIn(page, 'analyst.gbr');
    const link = page.getByRole('link', { name: TITLE });
    await link.waitFor();
    await expectNothingRan(page, 'GBR feed');
    await link.click();
    await page.getByTestId('portion').first().waitFor();
    const main = (await page.locator('main').textContent()) ?? '';
    expect(main).toContain(TITLE);
    for (const text of PORTION_TEXTS) expect(main).toContain(text);
    await expectNothingRan(page, 'GBR received product');
    await gbr.context.close();
  }, 120_000);

  it('takes an incident description full of script through the form, and runs none of it', async () => {
    const { page } = usa;
    await page.getByRole('link', { name: 'Report incident', exact: true }).click();
    await page.getByLabel('Suspected party').selectOption('GBR');
    await page.getByLabel('Products involved (ids, comma-separated)').fill(productId);
    await page.getByLabel('Severity').selectOption('high');
    await page.getByLabel('What happened').fill(DESCRIPTION);
    await page.getByRole('button', { name: 'Report incident' }).click();
    await page
      .getByRole('status')
      .getByText(/Incident .* reported/)
      .waitFor();
    await expectNothingRan(page, 'incident form');
    // The oversight page lists incidents (not their description); it runs nothing either.
    await signOut(page);
    await signIn(page, 'auditor.usa');
    await page.getByRole('link', { name: 'Oversight', exact: true }).click();
    await page.getByTestId('incidents').getByRole('cell', { name: 'breach' }).waitFor();
    await expectNothingRan(page, 'oversight');
  }, 120_000);

  it('answers a console path holding markup with its not-found page, running nothing', async () => {
    const { page } = usa;
    await page.goto(
      `${nodes.USA.address}/${encodeURIComponent(PAYLOADS[1])}?q=${encodeURIComponent(PAYLOADS[0])}`,
    );
    const alert = await page.getByRole('alert').textContent();
    // The browser hands the app the path percent-encoded; it is shown as such, as text.
    expect(alert).toContain(
      `There is no page at /${encodeURIComponent(PAYLOADS[1]).replaceAll('%3D', '=')}`.slice(0, 30),
    );
    await expectNothingRan(page, 'not-found page');
  }, 120_000);

  it('serves the HTML compliance report under its hash policy: styled, and nothing blocked', async () => {
    const { page } = usa;
    const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
    // The auditor's session cookie from the console signs the GET in.
    await page.goto(
      `${nodes.USA.address}/api/v1/reports/compliance?arrangement=${ARRANGEMENT.id}&from=${day(-1)}&to=${day(1)}&format=html`,
    );
    await page.getByRole('heading', { name: `Compliance report: ${ARRANGEMENT.id}` }).waitFor();
    // The inline style sheet applied (allowed by its hash): table headers are grey.
    const background = await page.evaluate<string>(
      "getComputedStyle(document.querySelector('th')).backgroundColor",
    );
    expect(background).toBe('rgb(238, 238, 238)');
    expect(await page.evaluate<string[]>(VIOLATIONS)).toEqual([]);
  }, 120_000);

  it('escapes every name in a compliance report whose strings are all hostile', async () => {
    const { page } = usa;
    // The real report of the arrangement, every string in it replaced by a payload in turn.
    const auditor = await sessionOf('USA', 'auditor.usa');
    const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
    const real = await api('USA', auditor, {
      method: 'GET',
      url: `/api/v1/reports/compliance?arrangement=${ARRANGEMENT.id}&from=${day(-1)}&to=${day(1)}`,
    });
    let n = 0;
    const hostile = (value: unknown): unknown => {
      if (typeof value === 'string') return `${PAYLOADS[n++ % PAYLOADS.length]}`;
      if (Array.isArray(value)) return value.map(hostile);
      if (typeof value === 'object' && value !== null)
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, hostile(v)]));
      return value;
    };
    const html = renderComplianceHtml(hostile(real) as ComplianceReport);
    expect(n).toBeGreaterThan(PAYLOADS.length);
    const url = `${nodes.USA.address}/hostile-compliance-report`;
    await page.route(url, (route) =>
      route.fulfill({
        status: 200,
        contentType: 'text/html; charset=utf-8',
        headers: { 'content-security-policy': COMPLIANCE_HTML_POLICY },
        body: html,
      }),
    );
    await page.goto(url);
    await page.locator('h1').waitFor();
    const text = (await page.locator('body').textContent()) ?? '';
    const shown = PAYLOADS.filter((p) => html.includes(escapeHtml(p)));
    expect(shown.length).toBe(PAYLOADS.length);
    for (const payload of shown) expect(text).toContain(payload);
    await expectNothingRan(page, 'hostile compliance report');
  }, 120_000);

  it("renders Swagger UI at /api/v1/docs under the node's strict policy, with no violation", async () => {
    const { page } = usa;
    await page.goto(`${nodes.USA.address}/api/v1/docs`);
    await page.locator('.opblock').first().waitFor();
    expect(await page.locator('.opblock').count()).toBeGreaterThan(20);
    expect(await page.evaluate<string[]>(VIOLATIONS)).toEqual([]);
  }, 120_000);

  it('ran no payload anywhere: no marker fetched, no console error, nothing fetched from outside the node', () => {
    expect(markers).toEqual([]);
    expect(errors).toEqual([]);
  });
});
