import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AccordNode, buildNode, startAuditLog } from '../../src/app/node.js';
import { type NodeKeys, partnerKeysOf, signerOf } from '../../src/app/node-keys.js';
import type { Role } from '../../src/auth/roles.js';
import { loadConfig } from '../../src/config/index.js';
import { createNodeIdentity, publicIdentity } from '../../src/crypto/index.js';
import { signArrangementAs, withPinnedKeys } from '../../src/federation/index.js';
import { OutboxWorker } from '../../src/services/outbox-worker.js';
import { openStore } from '../../src/store/index.js';
import { makeArrangement } from '../fixtures/builders.js';
import { requireOrSkip, type ServiceSpec } from '../fixtures/services.js';

// Issue 8 end to end, in Debian's chromium driven by playwright-core: two real nodes on loopback
// (USA and GBR, each with its keys, SQLite file and outbox worker) serving the built console. A USA
// analyst composes a product with three portions of different labels; the preview shows GBR gets two
// and names the rule that holds back the third; a release officer approves and releases; the GBR
// analyst's open console shows it arrive with the third portion withheld; the map shows its footprint.
// Each main page is screenshotted into test-output/screenshots/, and no page logs a console error.

const CHROMIUM_PATH = process.env.ACCORD_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM: ServiceSpec = {
  name: 'Chromium',
  howToStart: `install Debian's chromium (\`apt-get install -y chromium\`; .ci/run does) or set ACCORD_CHROMIUM to its path (looked for at ${CHROMIUM_PATH})`,
};
const ROOT = join(import.meta.dirname, '..', '..');
const WEB_ROOT = join(ROOT, 'dist', 'web');
const SHOTS = join(ROOT, 'test-output', 'screenshots');
const run = requireOrSkip(CHROMIUM, existsSync(CHROMIUM_PATH));

function nodeKeys(): NodeKeys {
  const identity = createNodeIdentity();
  return { identity, public: publicIdentity(identity) };
}
const KEYS = { USA: nodeKeys(), GBR: nodeKeys() } as const;
type Party = keyof typeof KEYS;
const PARTIES: readonly Party[] = ['USA', 'GBR'];

const ARRANGEMENT = (() => {
  const terms = withPinnedKeys(
    makeArrangement({
      id: 'usa-gbr-console',
      title: 'USA-GBR counter-terrorism sharing',
      parties: [...PARTIES],
      scope: {
        disciplines: ['SIGINT'],
        categories: ['counterterrorism'],
        ceiling: 'TOP SECRET',
        caveats: ['SI'],
        controls: ['ORCON'],
      },
    }),
    new Map(PARTIES.map((p) => [p, KEYS[p].public])),
  );
  return PARTIES.reduce(
    (doc, party) => signArrangementAs(doc, party, signerOf(KEYS[party]), '2025-01-01T00:00:00Z'),
    terms,
  );
})();

const PEOPLE: readonly { party: Party; username: string; role: Role; clearance: 'SECRET' | 'TOP SECRET' }[] =
  [
    { party: 'USA', username: 'analyst.usa', role: 'analyst', clearance: 'TOP SECRET' },
    { party: 'USA', username: 'officer.usa', role: 'release-officer', clearance: 'TOP SECRET' },
    { party: 'USA', username: 'auditor.usa', role: 'oversight-auditor', clearance: 'SECRET' },
    { party: 'GBR', username: 'analyst.gbr', role: 'analyst', clearance: 'SECRET' },
  ];
const passwordOf = (username: string) => `console e2e password of ${username}`;

interface Running {
  readonly node: AccordNode;
  readonly address: string;
  readonly worker: OutboxWorker;
  readonly dir: string;
}
const nodes = {} as Record<Party, Running>;

async function startNode(partner: Party): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), `accord-console-${partner.toLowerCase()}-`));
  const config = loadConfig({
    flags: { dataDir: dir, partner, log: { level: 'silent' }, http: { host: '127.0.0.1', port: 0 } },
  });
  const store = await openStore(
    { kind: 'sqlite', file: join(dir, 'accord.sqlite') },
    { now: () => new Date() },
  );
  const node = await buildNode(config, { store, keys: KEYS[partner], webRoot: WEB_ROOT });
  const address = await node.server.listen({ host: '127.0.0.1', port: 0 });
  const worker = new OutboxWorker({ store, keys: KEYS[partner], partner, now: Date.now, random: () => 0.5 });
  for (const person of PEOPLE.filter((p) => p.party === partner)) {
    await node.services.directory.createUser(null, {
      username: person.username,
      displayName: person.username,
      nationality: partner,
      clearance: person.clearance,
      caveats: person.clearance === 'TOP SECRET' ? ['SI'] : [],
      communities: [],
      roles: [person.role],
      password: passwordOf(person.username),
      ...(person.role === 'oversight-auditor' ? { oversightOf: [ARRANGEMENT.id] } : {}),
    });
  }
  return { node, address, worker, dir };
}

/** Runs both outbox workers until a round delivers nothing more. */
async function deliverAll(): Promise<number> {
  let delivered = 0;
  for (let round = 0; round < 10; round++) {
    let moved = 0;
    for (const p of PARTIES) moved += (await nodes[p].worker.runOnce()).delivered;
    delivered += moved;
    if (moved === 0) break;
  }
  return delivered;
}

let browser: Browser | undefined;
const errors: string[] = [];

async function openConsole(party: Party): Promise<{ context: BrowserContext; page: Page }> {
  if (browser === undefined) throw new Error('no browser');
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`${party} console: ${message.text()}`);
  });
  page.on('pageerror', (error) => errors.push(`${party} page: ${error.message}`));
  // Nothing is fetched from the internet at run time: every request stays on the node.
  page.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(nodes[party].address) && !url.startsWith('data:')) {
      errors.push(`${party} fetched ${url}`);
    }
  });
  page.setDefaultTimeout(30_000);
  await page.goto(nodes[party].address);
  return { context, page };
}

async function signIn(page: Page, username: string): Promise<void> {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(passwordOf(username));
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

/** Signs in with the keyboard alone: Tab through the page, type, Enter. */
async function signInByKeyboard(page: Page, username: string): Promise<void> {
  // A string, evaluated in the page: the test itself is compiled without the DOM library.
  const focused = () =>
    page.evaluate<string>('document.activeElement?.id || document.activeElement?.textContent || ""');
  await page.keyboard.press('Tab');
  expect(await focused()).toBe('Skip to content');
  await page.keyboard.press('Tab');
  expect(await focused()).toBe('username');
  await page.keyboard.type(username);
  await page.keyboard.press('Tab');
  expect(await focused()).toBe('password');
  await page.keyboard.type(passwordOf(username));
  await page.keyboard.press('Enter');
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

async function signOut(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** Sets one label picker (a fieldset named by its legend) to a level, REL TO list and controls. */
async function pick(
  page: Page,
  legend: string,
  label: { level: string; relTo?: readonly string[]; controls?: readonly string[] },
): Promise<void> {
  const picker = page.getByRole('group', { name: legend, exact: true });
  await picker.getByLabel('Classification').selectOption({ label: label.level });
  for (const code of label.relTo ?? []) {
    await picker.getByRole('group', { name: 'Releasable to' }).getByLabel(code, { exact: true }).check();
  }
  for (const control of label.controls ?? []) {
    await picker.getByRole('group', { name: 'Controls' }).getByLabel(control, { exact: true }).check();
  }
}

describe.runIf(run)('the web console across two nodes (chromium)', () => {
  let usa: { context: BrowserContext; page: Page };
  let gbr: { context: BrowserContext; page: Page };
  let productId = '';
  const title = 'Facilitator arranging hawala transfers near Karachi';

  beforeAll(async () => {
    if (!existsSync(join(WEB_ROOT, 'index.html'))) {
      execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
    }
    mkdirSync(SHOTS, { recursive: true });
    for (const p of PARTIES) nodes[p] = await startNode(p);
    for (const p of PARTIES) {
      for (const q of PARTIES) {
        await nodes[p].node.store.partners.upsert({
          code: q,
          name: q === 'USA' ? 'United States' : 'United Kingdom',
          endpoint: q === p ? null : nodes[q].address,
          keys: partnerKeysOf(KEYS[q].public),
        });
      }
      await nodes[p].node.store.arrangements.putVersion(ARRANGEMENT);
      // Signed tree heads for the oversight page's audit status.
      startAuditLog(nodes[p].node, 500);
    }
    browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    usa = await openConsole('USA');
    gbr = await openConsole('GBR');
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    for (const p of PARTIES) {
      await nodes[p]?.worker.stop();
      await nodes[p]?.node.close();
      if (nodes[p] !== undefined) rmSync(nodes[p].dir, { recursive: true, force: true });
    }
  });

  it('signs in (by mouse, and by keyboard alone), with classification banners at top and bottom', async () => {
    const { page } = usa;
    await expect(page.getByRole('heading', { name: 'Sign in to Accord' }).isVisible()).resolves.toBe(true);
    await shot(page, '01-login');
    await signIn(page, 'analyst.usa');
    await expect(page.getByTestId('banner-top').textContent()).resolves.toBe('UNCLASSIFIED');
    await expect(page.getByTestId('banner-bottom').textContent()).resolves.toBe('UNCLASSIFIED');
    await signInByKeyboard(gbr.page, 'analyst.gbr');
    await shot(gbr.page, '02-gbr-feed-empty');
  }, 120_000);

  it('composes three portions of different labels; the preview gives GBR two and says why not the third', async () => {
    const { page } = usa;
    await page.getByRole('link', { name: 'Compose', exact: true }).click();
    await page.getByLabel('Title', { exact: true }).fill(title);
    await page.getByLabel('Footprint longitude').fill('67.0099');
    await page.getByLabel('Footprint latitude').fill('24.8615');
    await pick(page, 'Title marking', { level: 'UNCLASSIFIED', relTo: ['USA', 'FVEY'] });
    await page.getByRole('button', { name: 'Add portion' }).click();
    await page.getByRole('button', { name: 'Add portion' }).click();
    await pick(page, 'Marking of portion p1', { level: 'SECRET', relTo: ['USA', 'GBR'] });
    await pick(page, 'Marking of portion p2', { level: 'CONFIDENTIAL', relTo: ['USA', 'FVEY'] });
    await pick(page, 'Marking of portion p3', { level: 'SECRET', controls: ['NOFORN'] });
    // NOFORN chosen: the picker no longer offers a REL TO for p3, an invalid combination.
    const p3 = page.getByRole('group', { name: 'Marking of portion p3', exact: true });
    await expect(
      p3.getByRole('group', { name: 'Releasable to' }).getByLabel('GBR').isDisabled(),
    ).resolves.toBe(true);
    await page.getByLabel('Text of portion p1').fill('A facilitator is arranging three transfers this week.');
    await page.getByLabel('Text of portion p2').fill('The transfers go through two hawala brokers.');
    await page.getByLabel('Text of portion p3').fill('Collection relied on a sensitive access.');
    // The live banner is the join of what is on screen: SECRET, and NOFORN from p3.
    await expect(page.getByTestId('banner-top').textContent()).resolves.toBe('SECRET//NOFORN');

    // The preview follows the draft as it is written, before anything is saved.
    const row = page.locator('[data-testid="preview-row"][data-recipient="GBR"]');
    await row.waitFor();
    await expect(row.getByTestId('preview-released').textContent()).resolves.toBe('p1, p2');
    const withheld = await row.getByTestId('preview-withheld').textContent();
    expect(withheld).toContain('p3');
    expect(withheld).toContain('portion.releasability');
    await shot(page, '03-compose-preview');
    // Live: mark p2 NOFORN too, and GBR would get p1 alone.
    await page
      .getByRole('group', { name: 'Marking of portion p2', exact: true })
      .getByRole('group', { name: 'Releasable to' })
      .getByLabel('FVEY', { exact: true })
      .uncheck();
    await page
      .getByRole('group', { name: 'Marking of portion p2', exact: true })
      .getByRole('group', { name: 'Releasable to' })
      .getByLabel('USA', { exact: true })
      .uncheck();
    await pick(page, 'Marking of portion p2', { level: 'CONFIDENTIAL', controls: ['NOFORN'] });
    await row.getByTestId('preview-released').getByText('p1', { exact: true }).waitFor();
    await pick(page, 'Marking of portion p2', { level: 'CONFIDENTIAL' });
    await page
      .getByRole('group', { name: 'Marking of portion p2', exact: true })
      .getByRole('group', { name: 'Controls' })
      .getByLabel('NOFORN', { exact: true })
      .uncheck();
    await pick(page, 'Marking of portion p2', { level: 'CONFIDENTIAL', relTo: ['USA', 'FVEY'] });
    await row.getByTestId('preview-released').getByText('p1, p2', { exact: true }).waitFor();

    await page.getByRole('button', { name: 'Save and submit for approval' }).click();
    await page.waitForURL(/\/products\//);
    productId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop() ?? '');
    await expect(page.getByTestId('product-state').textContent()).resolves.toBe('submitted');
    await expect(page.getByTestId('portion').count()).resolves.toBe(3);
    await shot(page, '04-product');
  }, 120_000);

  it('a release officer approves with a comment and releases to GBR', async () => {
    const { page } = usa;
    await signOut(page);
    await signIn(page, 'officer.usa');
    await page.getByRole('link', { name: 'Release queue', exact: true }).click();
    await page.getByRole('link', { name: title }).click();
    await page.getByLabel('Comment to the author').fill('Sourcing is sound; release p1 and p2 to GBR.');
    await page.getByRole('button', { name: 'Approve' }).click();
    await expect(page.getByTestId('queue-state').getByText('approved').waitFor()).resolves.toBeUndefined();
    await page.getByRole('button', { name: `Release to GBR under ${ARRANGEMENT.id}` }).click();
    await page.getByText('Released to GBR').waitFor();
    await shot(page, '05-queue-released');
    await page.goto(`${nodes.USA.address}/products/${encodeURIComponent(productId)}`);
    const decisions = await page.getByTestId('releases').textContent();
    expect(decisions).toContain('GBR');
    expect(decisions).toContain('released');
  }, 120_000);

  it('arrives live on the GBR console with the third portion withheld', async () => {
    const { page } = gbr;
    await page.getByRole('link', { name: 'Feed', exact: true }).click();
    // The feed follows the node's live stream (GET /api/v1/stream, Server-Sent Events).
    await page.getByText('Live: updates as they arrive.').waitFor();
    expect(await deliverAll()).toBeGreaterThan(0);
    // No reload: the open feed picks the product up by itself (stream or poll).
    const link = page.getByRole('link', { name: title });
    await link.waitFor();
    await shot(page, '06-gbr-feed-arrived');
    // The classification filter judges the banner the reader sees: SECRET goes under a CONFIDENTIAL ceiling.
    await page.getByLabel('Classification at most').selectOption('CONFIDENTIAL');
    await link.waitFor({ state: 'detached' });
    await page.getByLabel('Classification at most').selectOption('SECRET');
    await link.waitFor();
    await link.click();
    await page.getByTestId('withheld-notice').waitFor();
    await expect(page.getByTestId('portion').count()).resolves.toBe(2);
    const text = await page.locator('main').textContent();
    expect(text).not.toContain('sensitive access');
    expect(await page.getByTestId('withheld-notice').textContent()).toContain(
      '1 portion was withheld at release',
    );
    expect(await page.getByTestId('provenance').textContent()).toContain('verified');
    await expect(page.getByTestId('banner-top').textContent()).resolves.toBe('SECRET//REL TO USA, GBR');
    await shot(page, '07-gbr-product');
  }, 120_000);

  it('shows the footprint on the map, and clicks through to the product', async () => {
    const { page } = gbr;
    await page.getByRole('link', { name: 'Map', exact: true }).click();
    const footprint = page.locator(`[data-testid="footprint"] path[data-product="${productId}"]`);
    await footprint.waitFor();
    const box = await footprint.boundingBox();
    expect(box?.width).toBeGreaterThan(0);
    await shot(page, '08-gbr-map');
    await page.locator('[data-testid="footprint"]').first().click();
    await page.waitForURL(/\/received\//);
  }, 120_000);

  it('lists arrangements and opens one', async () => {
    const { page } = gbr;
    await page.getByRole('link', { name: 'Arrangements', exact: true }).click();
    await page.getByRole('link', { name: ARRANGEMENT.title }).click();
    await page.getByRole('heading', { name: ARRANGEMENT.title }).waitFor();
    await shot(page, '09-arrangement');
  }, 120_000);

  it('reports an incident through the form', async () => {
    const { page } = usa;
    await page.getByRole('link', { name: 'Report incident', exact: true }).click();
    await page.getByLabel('Suspected party').selectOption('GBR');
    await page.getByLabel('Products involved (ids, comma-separated)').fill(productId);
    await page.getByLabel('Severity').selectOption('high');
    await page
      .getByLabel('What happened')
      .fill('Portion p1 was quoted in a GBR briefing shared outside the arrangement.');
    await page.getByRole('button', { name: 'Report incident' }).click();
    await page
      .getByRole('status')
      .getByText(/Incident .* reported/)
      .waitFor();
    await shot(page, '10-incident-reported');
  }, 120_000);

  it('shows the oversight body audit status, sharing flows, denials by rule and incidents', async () => {
    const { page } = usa;
    await signOut(page);
    await signIn(page, 'auditor.usa');
    await page.getByRole('link', { name: 'Oversight', exact: true }).click();
    await page.getByTestId('flow-chart').waitFor();
    await page.getByTestId('audit-status').getByText('signed tree head').waitFor();
    await page.getByTestId('incidents').getByRole('cell', { name: 'breach' }).waitFor();
    const flows = await page.getByRole('table', { name: 'Releases by pair' }).textContent();
    expect(flows).toContain('USA');
    expect(flows).toContain('GBR');
    await shot(page, '11-oversight');
  }, 120_000);

  it('logged no console error on any page and fetched nothing from outside the node', () => {
    expect(errors).toEqual([]);
  });
});
