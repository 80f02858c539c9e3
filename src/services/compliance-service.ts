import { AccordError } from '../errors/index.js';
import type { MarkingRegistry } from '../markings/index.js';
import {
  buildComplianceReport,
  type ComplianceApprovalRow,
  type ComplianceIncidentRow,
  type ComplianceReadRow,
  type ComplianceRecallRow,
  type ComplianceReleaseRow,
  type ComplianceReport,
  type ComplianceThresholds,
} from '../oversight/compliance.js';
import { RULE_IDS, type RuleId } from '../policy/index.js';
import type { Repositories, Store } from '../store/index.js';
import { type Actor, requireOversightOf, requirePermission } from './actor.js';

// Issue 5: the compliance report of one arrangement over a period, read from the store. Oversight
// reads metadata, never content: the rows handed to the pure builder carry ids, partner codes,
// usernames, banners, disciplines and rule ids, and nothing of a title, portion, reason or comment.

export interface ComplianceServiceDeps {
  readonly store: Store;
  /** This node's partner code: the sender of its releases. */
  readonly partner: string;
  readonly registry: MarkingRegistry;
}

/** What a report is asked for, as it arrives from a query string or the command line. */
export interface ComplianceQuery {
  readonly arrangement: string;
  readonly from: string;
  readonly to: string;
}

// A calendar day (taken as 00:00 UTC) or an instant with a zone, `Z` or an offset: a time without
// a zone would be read in the server's local time, which a report must not depend on.
const INSTANT = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;
const ARRANGEMENT_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const AUDIT_PAGE = 1000;
const MAX_QUEUED = 100_000;

function invalid(field: string, message: string): AccordError<'INPUT_INVALID'> {
  return new AccordError('INPUT_INVALID', message, { field });
}

function instantOf(field: string, value: string): string {
  // attacker-controlled: query string and command line.
  const shown = JSON.stringify(value.slice(0, 40));
  if (!INSTANT.test(value)) {
    throw invalid(field, `${field}: ${shown} is not a date (2026-01-31) or an instant with a zone`);
  }
  const ms = Date.parse(value.length === 10 ? `${value}T00:00:00Z` : value);
  // Date.parse rolls 2026-02-30 over to March; a round trip of the day catches it.
  if (Number.isNaN(ms) || (value.length === 10 && new Date(ms).toISOString().slice(0, 10) !== value)) {
    throw invalid(field, `${field}: ${shown} is not a valid date`);
  }
  return new Date(ms).toISOString();
}

/** Checks a report request: a plausible arrangement id and a non-empty period [from, to). INPUT_INVALID otherwise. */
export function parseComplianceQuery(query: ComplianceQuery): ComplianceQuery {
  if (!ARRANGEMENT_ID.test(query.arrangement)) {
    throw invalid(
      'arrangement',
      `arrangement: ${JSON.stringify(query.arrangement.slice(0, 40))} is not an arrangement id`,
    );
  }
  const from = instantOf('from', query.from);
  const to = instantOf('to', query.to);
  if (Date.parse(from) >= Date.parse(to)) {
    throw invalid('to', `to (${to}) must be after from (${from})`);
  }
  return { arrangement: query.arrangement, from, to };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The rule ids a stored decision says denied it; anything else in the JSON is not read. */
function deniedByOf(decision: unknown): RuleId[] {
  if (!isRecord(decision) || !Array.isArray(decision.deniedBy)) return [];
  return decision.deniedBy.filter((r): r is RuleId => (RULE_IDS as readonly unknown[]).includes(r));
}

/** Compliance reports per arrangement and period, for oversight auditors and administrators. */
export class ComplianceService {
  readonly #deps: ComplianceServiceDeps;

  constructor(deps: ComplianceServiceDeps) {
    this.#deps = deps;
  }

  /** The report, for an actor holding report:read. INPUT_INVALID for a bad query, NOT_FOUND for an unknown arrangement. */
  async report(
    actor: Actor,
    query: ComplianceQuery,
    thresholds: Partial<ComplianceThresholds> = {},
  ): Promise<ComplianceReport> {
    requirePermission(actor, 'report:read');
    // A scoped oversight auditor reads the reports of their arrangements only.
    requireOversightOf(actor, query.arrangement, `arrangement ${query.arrangement}`);
    return this.build(query, thresholds);
  }

  /** The report without a permission check: for the node's operator on its data directory. */
  async build(
    query: ComplianceQuery,
    thresholds: Partial<ComplianceThresholds> = {},
  ): Promise<ComplianceReport> {
    const { arrangement, from, to } = parseComplianceQuery(query);
    const { store, registry } = this.#deps;
    if ((await store.arrangements.latest(arrangement)) === undefined) {
      throw new AccordError('NOT_FOUND', `arrangement ${arrangement} is not held on this node`, {
        id: arrangement,
      });
    }
    const releases = await this.#releases(store, arrangement);
    const released = new Map<string, Set<number>>();
    for (const r of releases) {
      const versions = released.get(r.productId) ?? new Set<number>();
      versions.add(r.version);
      released.set(r.productId, versions);
    }
    const ownProducts = [...new Set(releases.filter((r) => r.kind === 'release').map((r) => r.productId))];
    const releaseIds = new Set(releases.map((r) => r.id));
    return buildComplianceReport(
      {
        arrangementId: arrangement,
        from,
        to,
        releases,
        approvals: await this.#approvals(store, ownProducts, released),
        recalls: await this.#recalls(store, ownProducts, releaseIds),
        reads: await this.#reads(store, new Set(released.keys()), from, to),
        incidents: await this.#incidents(store, arrangement),
      },
      thresholds,
      registry,
    );
  }

  /** Breach incidents under the arrangement, with how many steps each has had. */
  async #incidents(store: Repositories, arrangement: string): Promise<ComplianceIncidentRow[]> {
    const rows: ComplianceIncidentRow[] = [];
    for (const i of await store.incidents.list({ arrangementIds: [arrangement] })) {
      if (i.kind !== 'breach') continue;
      rows.push({
        id: i.id,
        origin: i.origin ?? '',
        suspectedParty: i.partner,
        severity: i.severity ?? '',
        state: i.state,
        reportedAt: i.detectedAt,
        products: i.products.length,
        steps: (await store.incidents.steps(i.id)).length,
      });
    }
    return rows;
  }

  /** Every release decision under the arrangement (own and onward), with its version's banner and discipline. */
  async #releases(store: Repositories, arrangement: string): Promise<ComplianceReleaseRow[]> {
    const { partner } = this.#deps;
    const labels = new Map<string, { banner: string; discipline: string }>();
    const rows: ComplianceReleaseRow[] = [];
    for (const r of await store.releases.list()) {
      if (r.arrangementId !== arrangement) continue;
      const key = `${r.productId}\u0000${r.version}`;
      let label = labels.get(key);
      if (label === undefined) {
        const version = await store.products.getVersion(r.productId, r.version);
        label = { banner: version?.banner ?? '', discipline: version?.discipline ?? 'unknown' };
        labels.set(key, label);
      }
      rows.push({
        id: r.id,
        kind: 'release',
        productId: r.productId,
        version: r.version,
        arrangementId: arrangement,
        sender: partner,
        recipient: r.recipient,
        effect: r.effect,
        deniedBy: deniedByOf(r.decision),
        by: r.by,
        at: r.at,
        ...label,
      });
    }
    for (const r of await store.onwardReleases.list()) {
      if (r.arrangementId !== arrangement) continue;
      const held = await store.receivedProducts.get(r.productId, r.productVersion);
      const discipline = isRecord(held?.document) ? held.document.discipline : undefined;
      rows.push({
        id: r.id,
        kind: 'onward',
        productId: r.productId,
        version: r.productVersion,
        arrangementId: arrangement,
        sender: partner,
        recipient: r.recipient,
        effect: r.effect,
        deniedBy: deniedByOf(r.decision),
        by: r.by,
        at: r.at,
        banner: held?.banner ?? '',
        discipline: typeof discipline === 'string' ? discipline : 'unknown',
      });
    }
    return rows;
  }

  /** Approval decisions on the versions released under the arrangement. */
  async #approvals(
    store: Repositories,
    products: readonly string[],
    released: ReadonlyMap<string, ReadonlySet<number>>,
  ): Promise<ComplianceApprovalRow[]> {
    const rows: ComplianceApprovalRow[] = [];
    for (const id of products) {
      for (const a of await store.approvals.list(id)) {
        if (!released.get(id)?.has(a.version)) continue;
        rows.push({ productId: a.productId, version: a.version, by: a.by, decision: a.decision, at: a.at });
      }
    }
    return rows;
  }

  /** Recalls of products released under the arrangement, with the envelopes sent under it (never the reason). */
  async #recalls(
    store: Repositories,
    products: readonly string[],
    releaseIds: ReadonlySet<string>,
  ): Promise<ComplianceRecallRow[]> {
    const rows: ComplianceRecallRow[] = [];
    for (const id of products) {
      for (const recall of await store.recalls.list(id)) {
        const messages = await store.outbox.list({ recallId: recall.id, limit: 500 });
        rows.push({
          id: recall.id,
          productId: recall.productId,
          version: recall.version,
          by: recall.by,
          at: recall.at,
          deliveries: messages
            .filter((m) => m.releaseId !== null && releaseIds.has(m.releaseId))
            .map((m) => ({ recipient: m.recipient, status: m.status })),
        });
      }
    }
    return rows;
  }

  /**
   * Users' reads of the products released under the arrangement, from the audit log: the entries
   * appended to the tree and those still queued. A row that is not JSON or not a user's read is
   * skipped here; `audit verify` is what reports a tampered log.
   */
  async #reads(
    store: Store,
    products: ReadonlySet<string>,
    from: string,
    to: string,
  ): Promise<ComplianceReadRow[]> {
    const rows: ComplianceReadRow[] = [];
    const start = Date.parse(from);
    const end = Date.parse(to);
    const take = (json: string): void => {
      // Cheap test first: most entries are not reads.
      if (!json.includes('"product.read"')) return;
      let entry: unknown;
      try {
        entry = JSON.parse(json);
      } catch {
        return;
      }
      if (!isRecord(entry) || entry.action !== 'product.read') return;
      const { actor, product, time } = entry;
      if (!isRecord(actor) || actor.kind !== 'user' || typeof actor.username !== 'string') return;
      if (!isRecord(product) || typeof product.id !== 'string' || !products.has(product.id)) return;
      if (typeof time !== 'string') return;
      const t = Date.parse(time);
      if (!(t >= start && t < end)) return;
      rows.push({ username: actor.username, productId: product.id, at: time });
    };
    if (products.size === 0) return rows;
    const size = await store.audit.size();
    for (let i = 0; i < size; i += AUDIT_PAGE) {
      for (const e of await store.audit.entries(i, Math.min(size, i + AUDIT_PAGE))) take(e.entryJson);
    }
    for (const q of await store.audit.pending(MAX_QUEUED)) take(q.entryJson);
    return rows;
  }
}
