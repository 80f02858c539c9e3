import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { errorOf } from '../../test/fixtures/errors.js';
import { type EnvelopeHeader, newEnvelopeHeader } from './envelope.js';
import {
  INCIDENT_STEP_ACTIONS,
  type IncidentNotice,
  incidentNoticeDigest,
  parseIncidentNotice,
  STATE_AFTER,
} from './incident-notice.js';

const ARRANGEMENT = { id: 'fvey-multilateral', version: 1, versionHash: `sha256:${'ab'.repeat(32)}` };
const INCIDENT_ID = '0b6e2f9a-5c1d-4e8f-9a7b-3c2d1e0f4a5b';

function headerOf(fields: { from?: string; id?: string; seq?: number; kind?: EnvelopeHeader['kind'] } = {}) {
  return newEnvelopeHeader(
    {
      kind: fields.kind ?? 'incident',
      from: fields.from ?? 'USA',
      to: 'GBR',
      arrangement: ARRANGEMENT,
      product: { id: fields.id ?? INCIDENT_ID, version: fields.seq ?? 1 },
      senderKey: `sha256:${'cd'.repeat(32)}`,
    },
    { now: Date.parse('2026-11-26T12:00:00.000Z'), randomBytes: (n) => new Uint8Array(randomBytes(n)) },
  );
}

function noticeOf(
  seq: number,
  action: IncidentNotice['step']['action'],
  state: IncidentNotice['step']['state'],
) {
  return {
    kind: 'incident',
    arrangement: ARRANGEMENT,
    incident: {
      id: INCIDENT_ID,
      origin: 'USA',
      reportedAt: '2026-11-26T11:00:00.000Z',
      reporter: 'analyst.usa',
      suspectedParty: 'NZL',
      products: ['USA-2026-0001'],
      severity: 'high',
      description: 'A product appeared where it should not have.',
      notifyBy: '2026-11-27T11:00:00.000Z',
    },
    step: { seq, action, state, at: '2026-11-26T11:00:00.000Z', by: 'analyst.usa' },
  } satisfies IncidentNotice;
}

/** A consistent step: the report as step 1, any other action later, with the state it leaves. */
const consistentStep = fc.oneof(
  fc.constant({ seq: 1, action: 'reported' as const, state: 'reported' as const }),
  fc
    .record({
      seq: fc.integer({ min: 2, max: 1000 }),
      action: fc.constantFrom(...INCIDENT_STEP_ACTIONS.filter((a) => a !== 'reported')),
      prior: fc.constantFrom('reported', 'under-review', 'confirmed', 'resolved' as const),
    })
    .map(({ seq, action, prior }) => ({ seq, action, state: STATE_AFTER[action] ?? prior })),
);

describe('parseIncidentNotice', () => {
  it('takes every consistent step of the origin, and its digest changes with any field', () => {
    fc.assert(
      fc.property(consistentStep, ({ seq, action, state }) => {
        const notice = noticeOf(seq, action, state);
        expect(parseIncidentNotice(notice, headerOf({ seq }))).toEqual(notice);
        const other = { ...notice, step: { ...notice.step, by: 'officer.usa' } };
        expect(incidentNoticeDigest(other)).not.toBe(incidentNoticeDigest(notice));
      }),
      { numRuns: 200 },
    );
  });

  it('refuses a step that contradicts its envelope or itself, naming the field', () => {
    // Each tampering of a consistent notice and its header, and the payload field the refusal names.
    const tamperings: [
      string,
      (n: IncidentNotice, h: EnvelopeHeader) => [unknown, EnvelopeHeader],
      string,
    ][] = [
      [
        'another origin than the sender',
        (n) => [n, headerOf({ from: 'CAN', seq: n.step.seq })],
        '/payload/incident/origin',
      ],
      [
        'another incident than the header',
        (n) => [n, headerOf({ id: 'other', seq: n.step.seq })],
        '/payload/step/seq',
      ],
      [
        'another step number than the header',
        (n) => [n, headerOf({ seq: n.step.seq + 1 })],
        '/payload/step/seq',
      ],
      [
        'another kind of envelope',
        (n) => [n, headerOf({ kind: 'recall', seq: n.step.seq })],
        '/payload/kind',
      ],
      [
        'a state the action does not leave',
        (n, h) => [{ ...n, step: { ...n.step, action: 'confirmed', state: 'resolved' } }, h],
        '/payload/step',
      ],
      [
        'a description too long',
        (n, h) => [{ ...n, incident: { ...n.incident, description: 'x'.repeat(4001) } }, h],
        '/payload/incident/description',
      ],
      ['an unknown field', (n, h) => [{ ...n, extra: true }, h], '/payload/extra'],
      [
        'another arrangement',
        (n, h) => [{ ...n, arrangement: { ...ARRANGEMENT, version: 2 } }, h],
        '/payload/arrangement',
      ],
      [
        'an impossible date',
        (n, h) => [{ ...n, step: { ...n.step, at: '2026-02-30T00:00:00.000Z' } }, h],
        '/payload/step/at',
      ],
    ];
    fc.assert(
      fc.property(
        consistentStep,
        fc.constantFrom(...tamperings),
        ({ seq, action, state }, [, tamper, path]) => {
          const notice = noticeOf(seq, action, state);
          // A report cannot take a state its action does not leave and still be step 1: skip the overlap.
          const [payload, header] = tamper(notice, headerOf({ seq }));
          const error = errorOf(() => parseIncidentNotice(payload, header));
          expect(error.code).toBe('ENVELOPE_MALFORMED');
          expect(String(error.details.path)).toContain(path);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses a report that is not step 1, and step 1 that is not the report', () => {
    expect(
      errorOf(() => parseIncidentNotice(noticeOf(2, 'reported', 'reported'), headerOf({ seq: 2 }))).details
        .path,
    ).toBe('/payload/step/action');
    expect(
      errorOf(() => parseIncidentNotice(noticeOf(1, 'review-opened', 'under-review'), headerOf({ seq: 1 })))
        .details.path,
    ).toBe('/payload/step/action');
  });
});
