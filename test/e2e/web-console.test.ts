import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildConsoleIfMissing,
  type ConsoleNode,
  type ConsolePerson,
  chromiumAvailable,
  deliverAll,
  launchChromium,
  makeNodeKeys,
  openConsole as openConsoleAt,
  passwordOf,
  signedArrangement,
  signIn,
  signOut,
  startConsoleNodes,
  stopConsoleNodes,
} from '../fixtures/console-nodes.js';

// Issue 8 end to end, in Debian's chromium driven by playwright-core: two real nodes on loopback
// (USA and GBR, each with its keys, SQLite file and outbox worker) serving the built console. A USA
// analyst composes a product with three portions of different labels; the preview shows GBR gets two
// and names the rule that holds back the third; a release officer approves and releases; the GBR
// analyst's open console shows it arrive with the third portion withheld; the map shows its footprint.
// Each main page is screenshotted into test-output/screenshots/, and no page logs a console error.

const SHOTS = join(import.meta.dirname, '..', '..', 'test-output', 'screenshots');
const run = chromiumAvailable();

const KEYS = { USA: makeNodeKeys(), GBR: makeNodeKeys() } as const;
type Party = keyof typeof KEYS;

const ARRANGEMENT = signedArrangement(KEYS, {
  id: 'usa-gbr-console',
  title: 'USA-GBR counter-terrorism sharing',
  scope: {
    disciplines: ['SIGINT'],
    categories: ['counterterrorism'],
    ceiling: 'TOP SECRET',
    caveats: ['SI'],
    controls: ['ORCON'],
  },
});

const PEOPLE: readonly ConsolePerson[] = [
  { party: 'USA', username: 'analyst.usa', role: 'analyst', clearance: 'TOP SECRET' },
  { party: 'USA', username: 'officer.usa', role: 'release-officer', clearance: 'TOP SECRET' },
  { party: 'USA', username: 'auditor.usa', role: 'oversight-auditor', clearance: 'SECRET' },
  { party: 'GBR', username: 'analyst.gbr', role: 'analyst', clearance: 'SECRET' },
];

let nodes = {} as Record<Party, ConsoleNode>;
let browser: Browser | undefined;
const errors: string[] = [];

async function openConsole(party: Party): Promise<{ context: BrowserContext; page: Page }> {
  if (browser === undefined) throw new Error('no browser');
  return openConsoleAt(browser, nodes[party].address, errors, party);
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
    buildConsoleIfMissing();
    mkdirSync(SHOTS, { recursive: true });
    nodes = (await startConsoleNodes(
      KEYS,
      { USA: 'United States', GBR: 'United Kingdom' },
      ARRANGEMENT,
      PEOPLE,
    )) as Record<Party, ConsoleNode>;
    browser = await launchChromium();
    usa = await openConsole('USA');
    gbr = await openConsole('GBR');
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await stopConsoleNodes(nodes);
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
    expect(await deliverAll(nodes)).toBeGreaterThan(0);
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
