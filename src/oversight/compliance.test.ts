import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RULE_IDS } from '../policy/index.js';
import {
  buildComplianceReport,
  type ComplianceInput,
  type ComplianceReadRow,
  type ComplianceReleaseRow,
  DEFAULT_THRESHOLDS,
} from './compliance.js';
import { escapeHtml, renderComplianceHtml } from './compliance-html.js';

const FROM = '2026-03-01T00:00:00.000Z';
const TO = '2026-04-01T00:00:00.000Z';

let serial = 0;
function release(overrides: Partial<ComplianceReleaseRow> = {}): ComplianceReleaseRow {
  serial++;
  return {
    id: `rel-${serial}`,
    kind: 'release',
    productId: `USA-2026-${serial}`,
    version: 1,
    arrangementId: 'usa-gbr-sigint',
    sender: 'USA',
    recipient: 'GBR',
    effect: 'allow',
    deniedBy: [],
    by: 'officer.usa',
    // A Tuesday, mid-morning UTC.
    at: '2026-03-10T10:00:00.000Z',
    banner: 'SECRET//REL TO USA, GBR',
    discipline: 'SIGINT',
    ...overrides,
  };
}

function input(overrides: Partial<ComplianceInput> = {}): ComplianceInput {
  return {
    arrangementId: 'usa-gbr-sigint',
    from: FROM,
    to: TO,
    releases: [],
    approvals: [],
    recalls: [],
    reads: [],
    ...overrides,
  };
}

function reads(username: string, n: number): ComplianceReadRow[] {
  return Array.from({ length: n }, (_, i) => ({
    username,
    productId: `USA-2026-${i}`,
    at: '2026-03-05T12:00:00.000Z',
  }));
}

describe('buildComplianceReport', () => {
  it('counts releases by pair, classification level and discipline, and denials by rule', () => {
    const report = buildComplianceReport(
      input({
        releases: [
          release(),
          release({ recipient: 'CAN', banner: 'TOP SECRET//SI//REL TO USA, CAN', discipline: 'HUMINT' }),
          release({
            effect: 'deny',
            deniedBy: ['portion.releasability', 'release-approval'],
            banner: 'TOP SECRET//NOFORN',
          }),
          release({ effect: 'deny', deniedBy: ['portion.releasability'], kind: 'onward' }),
        ],
      }),
    );
    expect(report.totals).toMatchObject({ total: 4, allowed: 2, denied: 2, onward: 1, incidents: 0 });
    expect(report.byPair).toEqual([
      { sender: 'USA', recipient: 'GBR', total: 3, allowed: 1, denied: 2 },
      { sender: 'USA', recipient: 'CAN', total: 1, allowed: 1, denied: 0 },
    ]);
    expect(report.byClassification).toEqual([
      { level: 'SECRET', total: 2, allowed: 1, denied: 1 },
      { level: 'TOP SECRET', total: 2, allowed: 1, denied: 1 },
    ]);
    expect(report.byDiscipline).toEqual([
      { discipline: 'SIGINT', total: 3, allowed: 1, denied: 2 },
      { discipline: 'HUMINT', total: 1, allowed: 1, denied: 0 },
    ]);
    expect(report.denialsByRule).toEqual([
      { rule: 'portion.releasability', count: 2 },
      { rule: 'release-approval', count: 1 },
    ]);
    expect(report.incidents).toEqual({ recorded: true, items: [] });
  });

  it('keeps only the arrangement and the half-open period [from, to)', () => {
    const report = buildComplianceReport(
      input({
        releases: [
          release({ at: FROM }),
          release({ at: TO }),
          release({ at: '2026-02-28T23:59:59.999Z' }),
          release({ arrangementId: 'other' }),
        ],
        approvals: [
          {
            productId: 'p',
            version: 1,
            by: 'chief.usa',
            decision: 'approved',
            at: '2026-03-02T09:00:00.000Z',
          },
          {
            productId: 'p',
            version: 1,
            by: 'deputy.usa',
            decision: 'rejected',
            at: '2026-03-02T09:00:00.000Z',
          },
          {
            productId: 'q',
            version: 1,
            by: 'chief.usa',
            decision: 'approved',
            at: '2026-03-03T09:00:00.000Z',
          },
          { productId: 'r', version: 1, by: 'chief.usa', decision: 'approved', at: TO },
        ],
      }),
    );
    expect(report.totals.total).toBe(1);
    expect(report.approvals).toEqual([
      { approver: 'chief.usa', approved: 2, rejected: 0 },
      { approver: 'deputy.usa', approved: 0, rejected: 1 },
    ]);
  });

  it('sums each recall’s deliveries by status', () => {
    const report = buildComplianceReport(
      input({
        recalls: [
          {
            id: 'rc-1',
            productId: 'USA-2026-1',
            version: null,
            by: 'officer.usa',
            at: '2026-03-20T10:00:00.000Z',
            deliveries: [
              { recipient: 'GBR', status: 'delivered' },
              { recipient: 'CAN', status: 'pending' },
              { recipient: 'AUS', status: 'failed' },
            ],
          },
        ],
      }),
    );
    expect(report.recalls).toEqual([
      {
        id: 'rc-1',
        productId: 'USA-2026-1',
        version: 'all',
        by: 'officer.usa',
        at: '2026-03-20T10:00:00.000Z',
        recipients: 3,
        acknowledged: 1,
        pending: 1,
        failed: 1,
      },
    ]);
  });

  it('flags a reader above 3× the median of their peers and at least 20 reads, and nobody else', () => {
    const rows = [...reads('heavy', 31), ...reads('a', 10), ...reads('b', 10), ...reads('c', 12)];
    const report = buildComplianceReport(input({ reads: rows }));
    expect(report.anomalies.heavyReaders).toEqual([{ username: 'heavy', reads: 31, peerMedian: 10 }]);
    // Exactly 3× the median is not "more than".
    const edge = buildComplianceReport(
      input({ reads: [...reads('x', 30), ...reads('a', 10), ...reads('b', 10)] }),
    );
    expect(edge.anomalies.heavyReaders).toEqual([]);
    // Far above peers but under the floor of 20 reads.
    const few = buildComplianceReport(input({ reads: [...reads('x', 19), ...reads('a', 1)] }));
    expect(few.anomalies.heavyReaders).toEqual([]);
    // A lone reader has no peers to compare with.
    expect(buildComplianceReport(input({ reads: reads('x', 500) })).anomalies.heavyReaders).toEqual([]);
    // Thresholds are parameters.
    const strict = buildComplianceReport(input({ reads: [...reads('x', 5), ...reads('a', 2)] }), {
      readFactor: 2,
      minReads: 5,
    });
    expect(strict.anomalies.heavyReaders).toEqual([{ username: 'x', reads: 5, peerMedian: 2 }]);
  });

  it('flags releases before 07:00, from 19:00 UTC and at weekends', () => {
    const report = buildComplianceReport(
      input({
        releases: [
          release({ id: 'early', at: '2026-03-10T06:59:59.999Z' }),
          release({ id: 'start', at: '2026-03-10T07:00:00.000Z' }),
          release({ id: 'last', at: '2026-03-10T18:59:59.999Z' }),
          release({ id: 'late', at: '2026-03-10T19:00:00.000Z' }),
          release({ id: 'saturday', at: '2026-03-14T12:00:00.000Z' }),
          release({ id: 'sunday', at: '2026-03-15T12:00:00.000Z' }),
        ],
      }),
    );
    expect(report.anomalies.offHoursReleases.map((r) => [r.releaseId, r.why])).toEqual([
      ['early', 'night'],
      ['late', 'night'],
      ['saturday', 'weekend'],
      ['sunday', 'weekend'],
    ]);
    const shifted = buildComplianceReport(
      input({ releases: [release({ at: '2026-03-14T12:00:00.000Z' })] }),
      { weekendDays: [5] },
    );
    expect(shifted.anomalies.offHoursReleases).toEqual([]);
  });

  it('flags users with at least 3 denials', () => {
    const deny = (by: string) => release({ by, effect: 'deny', deniedBy: ['need-to-know'] });
    const report = buildComplianceReport(
      input({ releases: [deny('a'), deny('a'), deny('a'), deny('b'), deny('b'), release({ by: 'b' })] }),
    );
    expect(report.anomalies.repeatedDenials).toEqual([{ username: 'a', denials: 3 }]);
    expect(report.thresholds).toEqual(DEFAULT_THRESHOLDS);
  });

  it('reports a banner that does not parse as UNPARSED rather than failing', () => {
    const report = buildComplianceReport(input({ releases: [release({ banner: 'NOT A MARKING' })] }));
    expect(report.byClassification.map((c) => c.level)).toEqual(['UNPARSED']);
  });
});

describe('renderComplianceHtml', () => {
  const hostile = '<script>alert("x")</script>';
  const report = buildComplianceReport(
    input({
      releases: [
        release({ recipient: hostile, by: `o'neil&<b>`, at: '2026-03-14T12:00:00.000Z' }),
        release({ effect: 'deny', deniedBy: ['need-to-know'] }),
      ],
      approvals: [
        { productId: 'p', version: 1, by: hostile, decision: 'approved', at: '2026-03-02T09:00:00.000Z' },
      ],
    }),
  );
  const html = renderComplianceHtml(report);

  it('escapes every text from the report', () => {
    expect(html).not.toContain('<script');
    expect(html).not.toContain(`o'neil&<b>`);
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(html).toContain('o&#39;neil&amp;&lt;b&gt;');
  });

  it('is one self-contained page with its figures, SVG charts and print CSS', () => {
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain('<b>2</b>'); // two release decisions
    expect(html).toContain('<td>need-to-know</td><td class="n">1</td>');
    expect(html).toContain('<svg');
    expect(html).toContain('@media print');
    expect(html).toContain('size:A4');
    expect(html).toContain('break-before:page');
    // No external asset: nothing is fetched from anywhere.
    expect(html).not.toMatch(/\b(src|href)\s*=/i);
    expect(html).not.toMatch(/url\(/i);
    expect(html).not.toMatch(/@import/i);
  });

  it('escapeHtml leaves no markup character', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        expect(escapeHtml(text)).not.toMatch(/[<>"']/);
        expect(escapeHtml(text).replace(/&(amp|lt|gt|quot|#39);/g, '')).not.toContain('&');
      }),
    );
  });
});

// ---------------------------------------------------------------- properties

const code = fc.constantFrom('USA', 'GBR', 'CAN', 'AUS', 'NZL');
const user = fc.constantFrom('alice', 'bob', 'carol', 'dave');
const instant = fc
  .integer({ min: Date.parse('2026-02-15T00:00:00Z'), max: Date.parse('2026-04-15T00:00:00Z') })
  .map((ms) => new Date(ms).toISOString());
// Content a store row might carry beside the metadata: a marker no report field could produce by chance.
const secret = fc.string({ minLength: 4, maxLength: 20 }).map((s) => `§CONTENT§${s}`);

const arbRelease = fc.record({
  id: fc.uuid(),
  kind: fc.constantFrom('release' as const, 'onward' as const),
  productId: fc.constantFrom('P1', 'P2', 'P3'),
  version: fc.integer({ min: 1, max: 3 }),
  arrangementId: fc.constantFrom('usa-gbr-sigint', 'other'),
  sender: code,
  recipient: code,
  effect: fc.constantFrom('allow' as const, 'deny' as const),
  deniedBy: fc.subarray([...RULE_IDS], { maxLength: 3 }),
  by: user,
  at: instant,
  banner: fc.constantFrom('SECRET//REL TO USA, GBR', 'UNCLASSIFIED', 'TOP SECRET//SI', 'garbage'),
  discipline: fc.constantFrom('SIGINT', 'HUMINT', 'OSINT'),
  // Fields the builder must never copy out.
  title: secret,
  reason: secret,
});

const arbInput = fc.record({
  releases: fc.array(arbRelease, { maxLength: 40 }),
  approvals: fc.array(
    fc.record({
      productId: fc.constantFrom('P1', 'P2'),
      version: fc.integer({ min: 1, max: 3 }),
      by: user,
      decision: fc.constantFrom('approved' as const, 'rejected' as const),
      at: instant,
      comment: secret,
    }),
    { maxLength: 10 },
  ),
  recalls: fc.array(
    fc.record({
      id: fc.uuid(),
      productId: fc.constantFrom('P1', 'P2'),
      version: fc.option(fc.integer({ min: 1, max: 3 }), { nil: null }),
      by: user,
      at: instant,
      reason: secret,
      deliveries: fc.array(
        fc.record({
          recipient: code,
          status: fc.constantFrom('pending' as const, 'delivered' as const, 'failed' as const),
        }),
        { maxLength: 4 },
      ),
    }),
    { maxLength: 5 },
  ),
  reads: fc.array(
    fc.record({ username: user, productId: fc.constantFrom('P1', 'P2'), at: instant, title: secret }),
    {
      maxLength: 60,
    },
  ),
});

describe('compliance report properties', () => {
  it('the pair, classification and discipline counts each sum to the releases of the period', () => {
    fc.assert(
      fc.property(arbInput, (rows) => {
        const report = buildComplianceReport(input(rows));
        const expected = rows.releases.filter(
          (r) => r.arrangementId === 'usa-gbr-sigint' && r.at >= FROM && r.at < TO,
        );
        const sum = (xs: readonly { total: number }[]) => xs.reduce((n, x) => n + x.total, 0);
        expect(report.totals.total).toBe(expected.length);
        expect(sum(report.byPair)).toBe(expected.length);
        expect(sum(report.byClassification)).toBe(expected.length);
        expect(sum(report.byDiscipline)).toBe(expected.length);
        expect(report.totals.allowed + report.totals.denied).toBe(expected.length);
        for (const p of report.byPair) expect(p.allowed + p.denied).toBe(p.total);
        const denials = report.denialsByRule.reduce((n, r) => n + r.count, 0);
        expect(denials).toBe(
          expected.filter((r) => r.effect === 'deny').reduce((n, r) => n + new Set(r.deniedBy).size, 0),
        );
      }),
    );
  });

  it('never carries a title, reason, comment or other content given as input, in JSON or HTML', () => {
    fc.assert(
      fc.property(arbInput, (rows) => {
        const report = buildComplianceReport(input(rows), { minReads: 1, readFactor: 1 });
        expect(JSON.stringify(report)).not.toContain('§CONTENT§');
        expect(renderComplianceHtml(report)).not.toContain('§CONTENT§');
      }),
    );
  });
});
