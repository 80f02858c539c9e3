import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { errorOf } from '../../test/fixtures/errors.js';
import { canonicalJson } from '../crypto/index.js';
import {
  AUDIT_ACTIONS,
  type AuditEntry,
  auditEntryBytes,
  canonicalAuditEntry,
  parseAuditEntry,
  readStoredAuditEntry,
} from './index.js';

const RELEASE: AuditEntry = {
  time: '2026-11-26T12:00:00.000Z',
  action: 'release.decided',
  actor: { kind: 'user', username: 'officer.usa', via: 'token' },
  outcome: 'allow',
  product: { id: 'USA-2026-0a1b2c3d4e', version: 2 },
  arrangement: { id: 'fvey-multilateral', version: 1 },
  partner: 'GBR',
  release: '3f2a8c1e-6c1d-4b7a-9a57-2b1f0f6c9d11',
  banner: 'TOP SECRET//SI//ORCON/REL TO USA, GBR, FVEY',
  rules: [
    { rule: 'arrangement.active', outcome: 'pass' },
    { rule: 'portion.releasability', outcome: 'withhold' },
  ],
};

describe('AuditEntrySchema', () => {
  it('takes metadata: actor, time, action, subject ids, labels, rule outcomes and codes', () => {
    expect(parseAuditEntry(RELEASE)).toEqual(RELEASE);
    for (const entry of [
      {
        time: RELEASE.time,
        action: 'auth.login-failed',
        actor: { kind: 'anonymous' },
        code: 'AUTH_INVALID',
        ip: '::1',
      },
      {
        time: RELEASE.time,
        action: 'envelope.delivered',
        actor: { kind: 'node' },
        envelope: 'e-1',
        partner: 'CAN',
      },
      {
        time: RELEASE.time,
        action: 'envelope.refused',
        actor: { kind: 'partner', partner: 'GBR' },
        code: 'FEDERATION_REFUSED',
        banner: 'UNCLASSIFIED//TLP:AMBER+STRICT',
      },
    ]) {
      expect(() => parseAuditEntry(entry)).not.toThrow();
    }
  });

  // Product content has nowhere to go: no field is free text.
  it.each([
    ['a title', { title: 'Facilitation network moving funds' }],
    ['portion text in the banner', { banner: 'Two frigates alongside the northern quay.' }],
    ['a rule reason', { rules: [{ rule: 'portion.ceiling', outcome: 'fail', reason: 'p2 is SECRET' }] }],
    ['an error message as the code', { code: 'the envelope was refused because its text said …' }],
    ['a sentence as a product id', { product: { id: 'the agent met the courier at noon' } }],
    [
      'a sentence as a username',
      { actor: { kind: 'user', username: 'Agent Smith met the courier', via: 'token' } },
    ],
    ['an extra actor field', { actor: { kind: 'node', note: 'free text' } }],
    ['an unknown action', { action: 'product.exported-with-text' }],
    ['a time in another spelling', { time: '2026-11-26T12:00:00Z' }],
  ])('refuses %s', (_what, change) => {
    expect(errorOf(() => parseAuditEntry({ ...RELEASE, ...change })).code).toBe('AUDIT_ENTRY_INVALID');
  });

  it('refuses any field beyond the schema, whatever its name (property)', () => {
    const known = new Set(Object.keys(RELEASE).concat(['ip', 'user', 'envelope', 'code']));
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 20 }).filter((k) => !known.has(k) && k !== '__proto__'),
        fc.string(),
        (key, value) => {
          expect(errorOf(() => parseAuditEntry({ ...RELEASE, [key]: value })).code).toBe(
            'AUDIT_ENTRY_INVALID',
          );
        },
      ),
    );
  });

  it('takes no string with a lower-case word in the banner (property)', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z]{2,12}$/), (word) => {
        const banner = `SECRET//REL TO USA ${word}`;
        expect(errorOf(() => parseAuditEntry({ ...RELEASE, banner })).code).toBe('AUDIT_ENTRY_INVALID');
      }),
    );
  });

  it('lists each action once', () => {
    expect(new Set(AUDIT_ACTIONS).size).toBe(AUDIT_ACTIONS.length);
  });
});

describe('canonical entry bytes', () => {
  it('are the RFC 8785 form, the same whatever the key order', () => {
    const reordered = Object.fromEntries(Object.entries(RELEASE).reverse()) as AuditEntry;
    expect(canonicalAuditEntry(reordered)).toBe(canonicalAuditEntry(RELEASE));
    expect(
      canonicalAuditEntry(RELEASE).startsWith('{"action":"release.decided","actor":{"kind":"user"'),
    ).toBe(true);
    expect(new TextDecoder().decode(auditEntryBytes(RELEASE))).toBe(canonicalAuditEntry(RELEASE));
  });

  it('equal the general RFC 8785 canonicalJson on any entry (property)', () => {
    const username = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{1,20}$/);
    const id = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,30}$/);
    const arbEntry = fc.record(
      {
        time: fc.constant(RELEASE.time),
        action: fc.constantFrom(...AUDIT_ACTIONS),
        actor: fc.oneof(
          fc.record({
            kind: fc.constant('user' as const),
            username,
            via: fc.constantFrom('session', 'token', 'basic', 'local'),
          }),
          fc.record({ kind: fc.constant('partner' as const), partner: fc.stringMatching(/^[A-Z]{3}$/) }),
          fc.constant({ kind: 'node' as const }),
        ),
        user: username,
        product: fc.record(
          { id, version: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }) },
          { requiredKeys: ['id'] },
        ),
        banner: fc.stringMatching(/^[A-Z][A-Z0-9 ,/:+()-]{0,40}$/),
        rules: fc.array(
          fc.record({
            rule: fc.constantFrom('arrangement.active', 'portion.ceiling', 'need-to-know'),
            outcome: fc.constantFrom('pass', 'fail', 'withhold'),
          }),
          { maxLength: 4 },
        ),
      },
      { requiredKeys: ['time', 'action', 'actor'] },
    );
    fc.assert(
      fc.property(arbEntry, (entry) => {
        expect(canonicalAuditEntry(entry)).toBe(canonicalJson(entry));
      }),
    );
  });

  it('read back only in canonical form', () => {
    const text = canonicalAuditEntry(RELEASE);
    expect(readStoredAuditEntry(text)).toEqual(RELEASE);
    expect(errorOf(() => readStoredAuditEntry(JSON.stringify(RELEASE, null, 1))).code).toBe(
      'AUDIT_ENTRY_INVALID',
    );
    expect(errorOf(() => readStoredAuditEntry('{"action":')).code).toBe('AUDIT_ENTRY_INVALID');
  });
});
