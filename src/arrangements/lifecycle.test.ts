import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { errorOf } from '../../test/fixtures/errors.js';
import {
  type ArrangementDocument,
  allowedTransitions,
  amendArrangement,
  arrangementVersionHash,
  parseArrangement,
  setPartySuspended,
  signatureStatus,
  transitionArrangement,
} from './index.js';

function example(name: string): ArrangementDocument {
  return parseArrangement(
    JSON.parse(readFileSync(new URL(`../../examples/arrangements/${name}.json`, import.meta.url), 'utf8')),
  );
}

describe('parseArrangement', () => {
  it('accepts every example arrangement', () => {
    for (const name of ['fvey-multilateral', 'usa-gbr-sigint', 'ct-task-force']) {
      expect(example(name).status).toBe('active');
    }
  });

  it('turns the third-party rule on when the document is silent', () => {
    const { thirdPartyRule: _omitted, ...rest } = example('ct-task-force');
    expect(parseArrangement(rest).thirdPartyRule).toBe(true);
  });

  it.each([
    ['an unknown field', (d: Record<string, unknown>) => ({ ...d, colour: 'blue' }), '/colour'],
    ['a missing field', (d: Record<string, unknown>) => ({ ...d, legalBasis: undefined }), '/legalBasis'],
    [
      'an unknown partner',
      (d: ArrangementDocument) => ({
        ...d,
        parties: [...d.parties, { partner: 'XYZ', role: 'party', nodeKeys: [] }],
      }),
      '/parties/2/partner',
    ],
    [
      'a party listed twice',
      (d: ArrangementDocument) => ({ ...d, type: 'multilateral', parties: [...d.parties, d.parties[0]] }),
      '/parties/2/partner',
    ],
    [
      'expiry before effect',
      (d: ArrangementDocument) => ({ ...d, expires: '2020-01-01T00:00:00Z' }),
      '/expires',
    ],
    [
      'review after expiry',
      (d: ArrangementDocument) => ({ ...d, review: '2099-01-01T00:00:00Z' }),
      '/review',
    ],
    [
      'an equivalence for a non-party',
      (d: ArrangementDocument) => ({ ...d, equivalences: { FRA: { 'NATO SECRET': 'SECRET' } } }),
      '/equivalences/FRA',
    ],
    [
      'an unknown national level',
      (d: ArrangementDocument) => ({ ...d, equivalences: { GBR: { 'UK SUPER SECRET': 'SECRET' } } }),
      '/equivalences/GBR/UK SUPER SECRET',
    ],
    [
      'an unknown caveat',
      (d: ArrangementDocument) => ({ ...d, scope: { ...d.scope, caveats: ['ZZZ'] } }),
      '/scope/caveats/0',
    ],
    [
      'a signature from an unpinned key',
      (d: ArrangementDocument) => ({
        ...d,
        signatures: [{ ...d.signatures[0]!, fingerprint: `sha256:${'0'.repeat(64)}` }],
      }),
      '/signatures/0/fingerprint',
    ],
  ])('rejects %s, naming the field', (_what, mutate, path) => {
    const doc = mutate(example('usa-gbr-sigint') as ArrangementDocument & Record<string, unknown>);
    const error = errorOf(() => parseArrangement(JSON.parse(JSON.stringify(doc))));
    expect(error.code).toBe('ARRANGEMENT_INVALID');
    expect(error.details.path).toBe(path);
    expect(error.message).toContain(path);
  });

  it('rejects a bilateral arrangement with three parties', () => {
    const doc = example('usa-gbr-sigint');
    const error = errorOf(() =>
      parseArrangement({
        ...doc,
        parties: [...doc.parties, { partner: 'CAN', role: 'party', nodeKeys: [] }],
      }),
    );
    expect(error.message).toContain('exactly two parties');
  });
});

describe('signatureStatus', () => {
  it('counts every party of a signed example', () => {
    const doc = example('fvey-multilateral');
    expect(signatureStatus(doc)).toEqual({
      versionHash: arrangementVersionHash(doc),
      signed: ['USA', 'GBR', 'CAN', 'AUS', 'NZL'],
      missing: [],
    });
  });

  it('does not count a signature over another version hash', () => {
    const doc = example('usa-gbr-sigint');
    const changed = { ...doc, title: 'Changed after signing' };
    expect(signatureStatus(changed).missing).toEqual(['USA', 'GBR']);
  });

  it('ignores status, suspensions and signatures when hashing', () => {
    const doc = example('usa-gbr-sigint');
    const hash = arrangementVersionHash(doc);
    expect(
      arrangementVersionHash({ ...doc, status: 'suspended', suspendedParties: ['GBR'], signatures: [] }),
    ).toBe(hash);
    expect(arrangementVersionHash({ ...doc, version: 2 })).not.toBe(hash);
  });
});

describe('transitionArrangement', () => {
  it('allows only the documented transitions', () => {
    expect(allowedTransitions('draft')).toEqual(['active', 'terminated']);
    expect(allowedTransitions('active')).toEqual(['suspended', 'terminated']);
    expect(allowedTransitions('suspended')).toEqual(['active', 'terminated']);
    expect(allowedTransitions('terminated')).toEqual([]);
  });

  it('suspends, reactivates and terminates a signed arrangement', () => {
    const doc = example('usa-gbr-sigint');
    const suspended = transitionArrangement(doc, 'suspended');
    expect(suspended.status).toBe('suspended');
    expect(transitionArrangement(suspended, 'active').status).toBe('active');
    const terminated = transitionArrangement(suspended, 'terminated');
    const error = errorOf(() => transitionArrangement(terminated, 'active'));
    expect(error.code).toBe('ARRANGEMENT_TRANSITION_INVALID');
    expect(error.message).toContain('from terminated to active');
  });

  it('refuses to activate a version not every party has signed', () => {
    const draft = amendArrangement(example('usa-gbr-sigint'), { title: 'Amended SIGINT arrangement' });
    const error = errorOf(() => transitionArrangement(draft, 'active'));
    expect(error.code).toBe('ARRANGEMENT_NOT_SIGNED');
    expect(error.details.missing).toEqual(['USA', 'GBR']);
  });
});

describe('amendArrangement', () => {
  it('starts a new draft version with every signature slot empty', () => {
    const doc = example('fvey-multilateral');
    const next = amendArrangement(doc, { scope: { ...doc.scope, ceiling: 'CONFIDENTIAL' } });
    expect(next.version).toBe(doc.version + 1);
    expect(next.status).toBe('draft');
    expect(next.signatures).toEqual([]);
    expect(arrangementVersionHash(next)).not.toBe(arrangementVersionHash(doc));
  });

  it('validates the amended terms', () => {
    const error = errorOf(() =>
      amendArrangement(example('fvey-multilateral'), { expires: '2000-01-01T00:00:00Z' }),
    );
    expect(error.code).toBe('ARRANGEMENT_INVALID');
  });

  it('refuses to amend a terminated arrangement', () => {
    const terminated = transitionArrangement(example('ct-task-force'), 'terminated');
    expect(errorOf(() => amendArrangement(terminated, { title: 'x' })).code).toBe(
      'ARRANGEMENT_TRANSITION_INVALID',
    );
  });
});

describe('setPartySuspended', () => {
  it('suspends and reinstates one party', () => {
    const doc = setPartySuspended(example('fvey-multilateral'), 'NZL', true);
    expect(doc.suspendedParties).toEqual(['NZL']);
    expect(setPartySuspended(doc, 'NZL', false).suspendedParties).toEqual([]);
  });

  it('refuses a partner that is not a party', () => {
    expect(errorOf(() => setPartySuspended(example('usa-gbr-sigint'), 'FRA', true)).code).toBe(
      'ARRANGEMENT_INVALID',
    );
  });
});
