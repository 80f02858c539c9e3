import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUsaUser, expectOneLineFailure, initUsaWithGbr, ok } from '../../test/fixtures/cli.js';
import type { IncidentView } from '../services/incident-service.js';
import { runCaptured } from './captured-run.js';

// `accord incident report|list|show|review|confirm|resolve|suspend` on a USA node that holds the
// FVEY arrangement with GBR's keys on record: a report queues a sealed notice to GBR (so it needs
// the passphrase), an auditor scoped to FVEY reviews and confirms it, and bad input fails on one
// line with nothing stored.

const KEY_ENV = { ACCORD_KEY_PASSPHRASE: 'a passphrase for the test node keys' } as const;
const FVEY = 'examples/arrangements/fvey-multilateral.json';
const root = mkdtempSync(join(tmpdir(), 'accord-incident-cli-'));
const usa = join(root, 'usa');
const gbr = join(root, 'gbr');

beforeAll(async () => {
  await initUsaWithGbr(root, usa, gbr, KEY_ENV);
  const people = [
    ['ann', 'analyst', []],
    ['ollie', 'oversight-auditor', ['--oversight-of', 'fvey-multilateral']],
    ['otto', 'oversight-auditor', ['--oversight-of', 'usa-gbr-sigint']],
  ] as const;
  for (const [username, role, extra] of people) await addUsaUser(usa, username, role, 'SECRET', extra);
  await ok(['arrangement', 'add', FVEY, '--dir', usa, '--as', 'admin']);
}, 60_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('accord incident', () => {
  let id: string;

  it('reports an incident, notifying the parties whose keys are on record', async () => {
    const run = await ok(
      [
        'incident',
        'report',
        '--arrangement',
        'fvey-multilateral',
        '--suspect',
        'gbr',
        '--severity',
        'medium',
        '--description',
        'A report was forwarded outside the arrangement.',
        '--dir',
        usa,
        '--as',
        'ann',
        '--json',
      ],
      KEY_ENV,
    );
    const view = JSON.parse(run.stdout) as IncidentView;
    id = view.id;
    expect(view).toMatchObject({ state: 'reported', partner: 'GBR', origin: 'USA', reporter: 'ann' });
    // GBR is told through the outbox; CAN, AUS and NZL have no keys on record here, and the step says so.
    expect(view.notifications.find((n) => n.partner === 'GBR')?.status).toBe('pending');
    expect(view.steps[0]?.effects.notSent?.map((n) => n.partner)).toEqual(['CAN', 'AUS', 'NZL']);
  });

  it('lets the auditor of the arrangement review and confirm it, and hides it from another', async () => {
    const review = await ok(
      ['incident', 'review', id, '--note', 'Opened.', '--dir', usa, '--as', 'ollie'],
      KEY_ENV,
    );
    expect(review.stdout).toMatch(/^ {2}2\. \S+ review-opened by USA\/ollie -> under-review: Opened\.$/m);
    const confirm = await ok(['incident', 'confirm', id, '--dir', usa, '--as', 'ollie'], KEY_ENV);
    expect(confirm.stdout).toMatch(/suspended GBR under fvey-multilateral v1/);
    const listed = await ok(['incident', 'list', '--dir', usa, '--as', 'ollie']);
    expect(listed.stdout).toContain(`${id}  breach medium  confirmed  suspect GBR under fvey-multilateral`);
    const hidden = await ok(['incident', 'list', '--dir', usa, '--as', 'otto']);
    expect(hidden.stdout).toBe('no incidents\n');
    expectOneLineFailure(
      await runCaptured(['incident', 'show', id, '--dir', usa, '--as', 'otto']),
      /no incident .*\[NOT_FOUND\]$/,
    );
  });

  it('refuses a bad report or step on one line and stores nothing', async () => {
    expectOneLineFailure(
      await runCaptured(
        [
          'incident',
          'report',
          '--arrangement',
          'fvey-multilateral',
          '--suspect',
          'GBR',
          '--severity',
          'huge',
          '--description',
          'x',
          '--dir',
          usa,
          '--as',
          'ann',
        ],
        { env: KEY_ENV },
      ),
      /--severity: 'huge' is not one of low, medium, high, critical/,
    );
    expectOneLineFailure(
      await runCaptured(
        [
          'incident',
          'report',
          '--arrangement',
          'fvey-multilateral',
          '--suspect',
          'FRA',
          '--severity',
          'low',
          '--description',
          'x',
          '--dir',
          usa,
          '--as',
          'ann',
        ],
        { env: KEY_ENV },
      ),
      /FRA is not a party to fvey-multilateral/,
    );
    expectOneLineFailure(
      await runCaptured(['incident', 'resolve', id, '--dir', usa, '--as', 'ollie'], { env: KEY_ENV }),
      /is confirmed; resolved needs it reported or under-review .*\[INCIDENT_STATE_INVALID\]$/,
    );
    const listed = await ok(['incident', 'list', '--dir', usa, '--as', 'ollie', '--json']);
    expect(JSON.parse(listed.stdout)).toHaveLength(1);
  });
});
