import { randomBytes, randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeArrangement } from '../../test/fixtures/builders.js';
import { type IncidentNotice, type IncidentStepNotice, newEnvelopeHeader } from '../federation/index.js';
import { DEFAULT_REGISTRY } from '../markings/index.js';
import { type ArrangementVersion, openStore, type Store } from '../store/index.js';
import { ArrangementService } from './arrangement-service.js';
import { IncidentService } from './incident-service.js';
import { RecallService } from './recall-service.js';

// The steps of an incident reach a party as separate envelopes, each retried on its own, so they
// may arrive in any order and more than once. Whatever the order, the party ends holding every step
// once and the state of the last one, and it suspends the suspected party exactly when a
// confirmation (under an auto-suspending protocol) or a suspension step is among them.

const NOW = Date.parse('2026-11-26T12:00:00.000Z');
let store: Store;
let service: IncidentService;
let stored: ArrangementVersion;

beforeAll(async () => {
  store = await openStore({ kind: 'sqlite', file: ':memory:' });
  const doc = makeArrangement({ id: 'steps-arrangement', parties: ['USA', 'GBR', 'NZL'] });
  stored = await store.arrangements.putVersion(doc);
  const now = () => NOW;
  const recalls = new RecallService({ store, partner: 'GBR', registry: DEFAULT_REGISTRY, now });
  const arrangements = new ArrangementService({ store, registry: DEFAULT_REGISTRY });
  service = new IncidentService({ store, partner: 'GBR', now, recalls, arrangements });
});

afterAll(async () => {
  await store?.close();
});

/** The steps of one incident at its origin: the report, maybe a review, then an ending or not. */
const arbPath = fc
  .record({
    review: fc.boolean(),
    ending: fc.constantFrom('none', 'confirmed', 'resolved'),
    suspendAt: fc.constantFrom('never', 'start', 'end'),
  })
  .map(({ review, ending, suspendAt }) => {
    const actions: IncidentStepNotice['action'][] = ['reported'];
    if (suspendAt === 'start') actions.push('party-suspended');
    if (review) actions.push('review-opened');
    if (ending !== 'none') actions.push(ending as 'confirmed' | 'resolved');
    if (suspendAt === 'end' && ending !== 'resolved') actions.push('party-suspended');
    let state: IncidentStepNotice['state'] = 'reported';
    return actions.map((action, i) => {
      state =
        action === 'review-opened'
          ? 'under-review'
          : action === 'confirmed' || action === 'resolved'
            ? action
            : action === 'reported'
              ? 'reported'
              : state;
      return { seq: i + 1, action, state, at: new Date(NOW + i * 1000).toISOString(), by: 'analyst.usa' };
    });
  });

/** Every step delivered at least once, some twice, in any order. */
const arbDelivery = arbPath.chain((steps) =>
  fc
    .array(fc.integer({ min: 0, max: steps.length - 1 }), { maxLength: 4 })
    .chain((again) =>
      fc.shuffledSubarray([...steps, ...again.map((i) => steps[i]!)], {
        minLength: steps.length + again.length,
      }),
    )
    .map((order) => ({ steps, order })),
);

async function deliver(id: string, step: IncidentStepNotice): Promise<void> {
  const arrangement = { id: stored.id, version: stored.version, versionHash: stored.versionHash };
  const notice: IncidentNotice = {
    kind: 'incident',
    arrangement,
    incident: {
      id,
      origin: 'USA',
      reportedAt: new Date(NOW).toISOString(),
      reporter: 'analyst.usa',
      suspectedParty: 'NZL',
      products: [],
      severity: 'medium',
      description: 'steps in any order',
      notifyBy: new Date(NOW + 3_600_000).toISOString(),
    },
    step,
  };
  const header = newEnvelopeHeader(
    {
      kind: 'incident',
      from: 'USA',
      to: 'GBR',
      arrangement,
      product: { id, version: step.seq },
      senderKey: `sha256:${'ab'.repeat(32)}`,
    },
    { now: NOW, randomBytes: (n) => new Uint8Array(randomBytes(n)) },
  );
  const accepted = await service.accept(header, notice, stored);
  await store.transaction((tx) => accepted.persist(tx, new Date(NOW).toISOString()));
}

describe('IncidentService.accept', () => {
  it('ends with every step once and the last step state, whatever the order of arrival', async () => {
    await fc.assert(
      fc.asyncProperty(arbDelivery, async ({ steps, order }) => {
        // A fresh copy of the arrangement, with NZL not suspended, for each run.
        await store.arrangements.putVersion({ ...stored.document, suspendedParties: [] });
        const id = randomUUID();
        for (const step of order) await deliver(id, step);
        const held = await store.incidents.get(id);
        const kept = await store.incidents.steps(id);
        expect(kept.map((s) => s.seq)).toEqual(steps.map((s) => s.seq));
        expect(held?.state).toBe(steps.at(-1)?.state);
        const suspends = steps.some(
          (s) =>
            s.action === 'party-suspended' ||
            (s.action === 'confirmed' && stored.document.breachProtocol.autoSuspendOnConfirmedBreach),
        );
        const latest = await store.arrangements.latest(stored.id);
        expect(latest?.document.suspendedParties ?? []).toEqual(suspends ? ['NZL'] : []);
        // The suspension is made once, by the first step that calls for it.
        expect(kept.filter((s) => s.effects.suspended !== undefined)).toHaveLength(suspends ? 1 : 0);
      }),
      { numRuns: 60 },
    );
  });
});
