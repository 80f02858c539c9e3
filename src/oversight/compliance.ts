import { DEFAULT_REGISTRY, type MarkingRegistry, parseMarking } from '../markings/index.js';
import type { RuleId } from '../policy/index.js';

// Issue 5's compliance report for one arrangement and one period, built from rows the service
// reads from the store. Pure: no I/O and no clock, so the same rows give the same report. The
// report holds metadata only (ids, partner codes, usernames, banner levels, rule ids, counts):
// the row types below carry no title, portion text, decision reason, recall reason or approval
// comment, so none of those can reach a report, its JSON or its HTML page.

/** One release decision (this node's own, or an onward release of a received product). */
export interface ComplianceReleaseRow {
  readonly id: string;
  readonly kind: 'release' | 'onward';
  readonly productId: string;
  readonly version: number;
  readonly arrangementId: string;
  /** The partner that released: this node. */
  readonly sender: string;
  readonly recipient: string;
  readonly effect: 'allow' | 'deny';
  /** The rules that denied it (empty when allowed). */
  readonly deniedBy: readonly RuleId[];
  /** Username of who decided it. */
  readonly by: string;
  readonly at: string;
  /** The banner of the version released, as stored; only its classification level is reported. */
  readonly banner: string;
  readonly discipline: string;
}

/** One approval decision on a product version released under the arrangement. */
export interface ComplianceApprovalRow {
  readonly productId: string;
  readonly version: number;
  readonly by: string;
  readonly decision: 'approved' | 'rejected';
  readonly at: string;
}

/** One recall of a product released under the arrangement, with its envelopes to that arrangement's recipients. */
export interface ComplianceRecallRow {
  readonly id: string;
  readonly productId: string;
  /** null: every version. */
  readonly version: number | null;
  readonly by: string;
  readonly at: string;
  readonly deliveries: readonly {
    readonly recipient: string;
    readonly status: 'pending' | 'delivered' | 'failed';
  }[];
}

/** One product read (the audit log's `product.read`) of a product released under the arrangement. */
export interface ComplianceReadRow {
  readonly username: string;
  readonly productId: string;
  readonly at: string;
}

export interface ComplianceInput {
  readonly arrangementId: string;
  /** [from, to): ISO 8601 instants in UTC. */
  readonly from: string;
  readonly to: string;
  readonly releases: readonly ComplianceReleaseRow[];
  readonly approvals: readonly ComplianceApprovalRow[];
  readonly recalls: readonly ComplianceRecallRow[];
  readonly reads: readonly ComplianceReadRow[];
  /** Breach incidents under the arrangement (optional for callers that have none to give). */
  readonly incidents?: readonly ComplianceIncidentRow[];
}

/** A breach incident under the arrangement, as this node holds it (never its description). */
export interface ComplianceIncidentRow {
  readonly id: string;
  readonly origin: string;
  readonly suspectedParty: string;
  readonly severity: string;
  readonly state: string;
  readonly reportedAt: string;
  readonly products: number;
  readonly steps: number;
}

/** When an anomaly is flagged. Every field has a default (DEFAULT_THRESHOLDS). */
export interface ComplianceThresholds {
  /** A reader is flagged above this multiple of the median of the other readers' counts. Default 3. */
  readonly readFactor: number;
  /** …and only with at least this many reads, so one read against peers' zero is not an anomaly. Default 20. */
  readonly minReads: number;
  /** The working day in UTC: a release at or after `dayStartHour` and before `dayEndHour` is usual. Defaults 7 and 19. */
  readonly dayStartHour: number;
  readonly dayEndHour: number;
  /** UTC days of the week (0 = Sunday) on which every release is unusual. Default Saturday and Sunday. */
  readonly weekendDays: readonly number[];
  /** A user with at least this many denied releases is flagged. Default 3. */
  readonly minDenials: number;
}

export const DEFAULT_THRESHOLDS: ComplianceThresholds = {
  readFactor: 3,
  minReads: 20,
  dayStartHour: 7,
  dayEndHour: 19,
  weekendDays: [0, 6],
  minDenials: 3,
};

export interface DecisionCounts {
  readonly total: number;
  readonly allowed: number;
  readonly denied: number;
}

export interface ComplianceReport {
  readonly kind: 'accord.compliance-report';
  readonly arrangement: string;
  readonly period: { readonly from: string; readonly to: string };
  readonly thresholds: ComplianceThresholds;
  readonly totals: DecisionCounts & {
    readonly onward: number;
    readonly approvals: number;
    readonly recalls: number;
    readonly reads: number;
    readonly incidents: number;
  };
  readonly byPair: readonly (DecisionCounts & { readonly sender: string; readonly recipient: string })[];
  /** By the classification level of the banner (`UNPARSED` for a banner that does not parse). */
  readonly byClassification: readonly (DecisionCounts & { readonly level: string })[];
  readonly byDiscipline: readonly (DecisionCounts & { readonly discipline: string })[];
  /** Each denial counts once for every rule that denied it. */
  readonly denialsByRule: readonly { readonly rule: RuleId; readonly count: number }[];
  readonly approvals: readonly {
    readonly approver: string;
    readonly approved: number;
    readonly rejected: number;
  }[];
  readonly recalls: readonly {
    readonly id: string;
    readonly productId: string;
    readonly version: number | 'all';
    readonly by: string;
    readonly at: string;
    readonly recipients: number;
    readonly acknowledged: number;
    readonly pending: number;
    readonly failed: number;
  }[];
  /** Breach incidents under the arrangement reported in the period, oldest first. */
  readonly incidents: { readonly recorded: true; readonly items: readonly ComplianceIncidentRow[] };
  readonly anomalies: {
    readonly heavyReaders: readonly {
      readonly username: string;
      readonly reads: number;
      readonly peerMedian: number;
    }[];
    readonly offHoursReleases: readonly {
      readonly releaseId: string;
      readonly productId: string;
      readonly recipient: string;
      readonly by: string;
      readonly at: string;
      readonly why: 'weekend' | 'night';
    }[];
    readonly repeatedDenials: readonly { readonly username: string; readonly denials: number }[];
  };
}

function inPeriod(at: string, from: string, to: string): boolean {
  // Compared as instants, not as text: a stored time may carry an offset or no milliseconds.
  const t = Date.parse(at);
  return t >= Date.parse(from) && t < Date.parse(to);
}

function levelOf(banner: string, registry: MarkingRegistry, cache: Map<string, string>): string {
  let level = cache.get(banner);
  if (level === undefined) {
    try {
      level = parseMarking(banner, registry).label.classification.level;
    } catch {
      level = 'UNPARSED';
    }
    cache.set(banner, level);
  }
  return level;
}

class Tally {
  readonly #rows = new Map<string, { total: number; allowed: number; denied: number }>();
  add(key: string, effect: 'allow' | 'deny'): void {
    const row = this.#rows.get(key) ?? { total: 0, allowed: 0, denied: 0 };
    row.total++;
    if (effect === 'allow') row.allowed++;
    else row.denied++;
    this.#rows.set(key, row);
  }
  /** Largest first, then by key, so equal inputs render equally. */
  entries(): [string, DecisionCounts][] {
    return [...this.#rows.entries()].sort((a, b) => b[1].total - a[1].total || cmp(a[0], b[0]));
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function countBy<T>(items: readonly T[], key: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}

/**
 * The compliance report of one arrangement over [from, to). Rows outside the period or of
 * another arrangement are ignored, so a caller may pass more than it filtered.
 */
export function buildComplianceReport(
  input: ComplianceInput,
  thresholds: Partial<ComplianceThresholds> = {},
  registry: MarkingRegistry = DEFAULT_REGISTRY,
): ComplianceReport {
  const limits: ComplianceThresholds = { ...DEFAULT_THRESHOLDS, ...thresholds };
  const { from, to } = input;
  const releases = input.releases.filter(
    (r) => r.arrangementId === input.arrangementId && inPeriod(r.at, from, to),
  );
  const approvals = input.approvals.filter((a) => inPeriod(a.at, from, to));
  const recalls = input.recalls.filter((r) => inPeriod(r.at, from, to));
  const reads = input.reads.filter((r) => inPeriod(r.at, from, to));
  const incidents = (input.incidents ?? []).filter((i) => inPeriod(i.reportedAt, from, to));

  const pairs = new Tally();
  const levels = new Tally();
  const disciplines = new Tally();
  const levelCache = new Map<string, string>();
  const rules = new Map<RuleId, number>();
  for (const r of releases) {
    // A JSON pair key: partner codes cannot contain the separator of a naive join, but a key
    // that cannot collide costs nothing.
    pairs.add(JSON.stringify([r.sender, r.recipient]), r.effect);
    levels.add(levelOf(r.banner, registry, levelCache), r.effect);
    disciplines.add(r.discipline, r.effect);
    if (r.effect === 'deny')
      for (const rule of new Set(r.deniedBy)) rules.set(rule, (rules.get(rule) ?? 0) + 1);
  }
  const allowed = releases.filter((r) => r.effect === 'allow').length;

  const approvers = new Map<string, { approved: number; rejected: number }>();
  for (const a of approvals) {
    const row = approvers.get(a.by) ?? { approved: 0, rejected: 0 };
    row[a.decision]++;
    approvers.set(a.by, row);
  }

  const readCounts = countBy(reads, (r) => r.username);
  const heavyReaders = [...readCounts.entries()]
    .map(([username, count]) => {
      const peers = [...readCounts.entries()].filter(([u]) => u !== username).map(([, n]) => n);
      return { username, reads: count, peerMedian: median(peers), peers: peers.length };
    })
    .filter((r) => r.peers > 0 && r.reads >= limits.minReads && r.reads > limits.readFactor * r.peerMedian)
    .map(({ username, reads: n, peerMedian }) => ({ username, reads: n, peerMedian }))
    .sort((a, b) => b.reads - a.reads || cmp(a.username, b.username));

  const offHoursReleases = releases.flatMap((r) => {
    const at = new Date(r.at);
    const hour = at.getUTCHours();
    const why = limits.weekendDays.includes(at.getUTCDay())
      ? ('weekend' as const)
      : hour < limits.dayStartHour || hour >= limits.dayEndHour
        ? ('night' as const)
        : undefined;
    return why === undefined
      ? []
      : [{ releaseId: r.id, productId: r.productId, recipient: r.recipient, by: r.by, at: r.at, why }];
  });

  const denialCounts = countBy(
    releases.filter((r) => r.effect === 'deny'),
    (r) => r.by,
  );
  const repeatedDenials = [...denialCounts.entries()]
    .filter(([, n]) => n >= limits.minDenials)
    .map(([username, denials]) => ({ username, denials }))
    .sort((a, b) => b.denials - a.denials || cmp(a.username, b.username));

  return {
    kind: 'accord.compliance-report',
    arrangement: input.arrangementId,
    period: { from, to },
    thresholds: limits,
    totals: {
      total: releases.length,
      allowed,
      denied: releases.length - allowed,
      onward: releases.filter((r) => r.kind === 'onward').length,
      approvals: approvals.length,
      recalls: recalls.length,
      reads: reads.length,
      incidents: incidents.length,
    },
    byPair: pairs.entries().map(([key, counts]) => {
      const [sender, recipient] = JSON.parse(key) as [string, string];
      return { sender, recipient, ...counts };
    }),
    byClassification: levels.entries().map(([level, counts]) => ({ level, ...counts })),
    byDiscipline: disciplines.entries().map(([discipline, counts]) => ({ discipline, ...counts })),
    denialsByRule: [...rules.entries()]
      .map(([rule, count]) => ({ rule, count }))
      .sort((a, b) => b.count - a.count || cmp(a.rule, b.rule)),
    approvals: [...approvers.entries()]
      .map(([approver, n]) => ({ approver, ...n }))
      .sort((a, b) => b.approved + b.rejected - (a.approved + a.rejected) || cmp(a.approver, b.approver)),
    recalls: recalls.map((r) => ({
      id: r.id,
      productId: r.productId,
      version: r.version ?? 'all',
      by: r.by,
      at: r.at,
      recipients: r.deliveries.length,
      acknowledged: r.deliveries.filter((d) => d.status === 'delivered').length,
      pending: r.deliveries.filter((d) => d.status === 'pending').length,
      failed: r.deliveries.filter((d) => d.status === 'failed').length,
    })),
    incidents: { recorded: true, items: incidents },
    anomalies: { heavyReaders, offHoursReleases, repeatedDenials },
  };
}
