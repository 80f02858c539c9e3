import { randomUUID } from 'node:crypto';
import Type, { type Static } from 'typebox';
import { ENTITY_TYPES } from '../analytics/index.js';
import type { BusErrorSink, BusSubscription, EventBus, StreamEvent } from '../bus/index.js';
import { AccordError, isAccordError } from '../errors/index.js';
import { Identifier, PartnerCode, RELIABILITY } from '../products/index.js';
import type { AlertRecord, AlertRuleRecord, EntitySource, Store, User } from '../store/index.js';
import { createValidator } from '../validation/index.js';
import { type Actor, requirePermission } from './actor.js';
import type { CorrelationService, ReadableProduct } from './correlation-service.js';
import { bboxOf, intersects } from './product-service.js';

// Issue 9, early warning. Rules belong to one user, or to a team (a community users hold), and
// are judged as that user, or as each member of the team in turn: every product an alert names
// passed decideRead for the user it is stored for (through CorrelationService.readable), and an
// entity counts only where that user may read the portion holding it. A team rule therefore raises
// one alert per member, each naming only what that member may read, and none for a member who may
// read none of it. Listing and the live stream judge each alert again as the user is now, so a
// product they may no longer read is dropped from it, and an alert with none left is not shown.

const Bbox = Type.Object(
  {
    minLon: Type.Number({ minimum: -180, maximum: 180 }),
    minLat: Type.Number({ minimum: -90, maximum: 90 }),
    maxLon: Type.Number({ minimum: -180, maximum: 180 }),
    maxLat: Type.Number({ minimum: -90, maximum: 90 }),
  },
  { additionalProperties: false },
);

// A team rule names the community that owns it; its author must be a member.
const team = Type.Optional(Identifier);

/** A rule as a user writes it: their own, or with `team` their team's. */
export const AlertRuleInputSchema = Type.Union([
  Type.Object(
    {
      kind: Type.Literal('entity-by-partners'),
      team,
      minPartners: Type.Integer({ minimum: 2, maximum: 50 }),
      windowHours: Type.Integer({ minimum: 1, maximum: 24 * 90 }),
      entityTypes: Type.Optional(
        Type.Array(Type.Union(ENTITY_TYPES.map((t) => Type.Literal(t))), { minItems: 1, uniqueItems: true }),
      ),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      kind: Type.Literal('watched-area'),
      team,
      bbox: Bbox,
      categories: Type.Optional(
        Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 20 }),
      ),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      kind: Type.Literal('reliable-source'),
      team,
      partner: PartnerCode,
      minReliability: Type.Union(RELIABILITY.map((r) => Type.Literal(r))),
    },
    { additionalProperties: false },
  ),
]);
export type AlertRuleInput = Static<typeof AlertRuleInputSchema>;

const validateRule = createValidator<AlertRuleInput>(AlertRuleInputSchema, 'INPUT_INVALID', 'alert rule');

/** A rule as listed. */
export interface AlertRuleView {
  readonly id: string;
  readonly rule: AlertRuleInput;
  readonly createdAt: string;
}

/** A product an alert names, as its owner may see it. */
export interface AlertProduct {
  readonly source: EntitySource;
  readonly id: string;
  readonly version: number;
  readonly originator: string;
  readonly title: string;
}

/** An alert as its owner sees it now. */
export interface AlertView {
  readonly id: string;
  readonly ruleId: string;
  readonly kind: AlertRuleInput['kind'];
  readonly firedAt: string;
  /** What fired it, in one line. */
  readonly summary: string;
  readonly entity?: { readonly type: string; readonly value: string };
  readonly products: readonly AlertProduct[];
}

interface StoredDetail {
  readonly kind: AlertRuleInput['kind'];
  readonly entity?: { readonly type: string; readonly value: string };
  readonly products: readonly { readonly source: EntitySource; readonly id: string }[];
}

export interface AlertServiceDeps {
  readonly store: Store;
  readonly correlation: CorrelationService;
  readonly events?: EventBus;
  readonly now: () => number;
}

/** Whose rules an actor holds: their own and their teams' (their communities). */
function holderOf(actor: Actor): { readonly userId: string; readonly teams: readonly string[] } {
  return { userId: actor.user.id, teams: actor.user.communities };
}

/** The stream topic of a stored alert: the alert's id, so the stream can send it to its owner only. */
export function alertTopicOf(alertId: string): string {
  return `alert.${alertId}`;
}

/** The alert id a stream topic names, or undefined for any other topic. */
export function alertIdOf(topic: string | undefined): string | undefined {
  return topic?.startsWith('alert.') ? topic.slice('alert.'.length) : undefined;
}

const HOUR = 3_600_000;
const EVALUATED = new Set(['product.created', 'product.version', 'product.submitted', 'product.received']);

/** Early-warning rules per user, their evaluation after each stored version, and the alerts raised. */
export class AlertService {
  readonly #deps: AlertServiceDeps;
  #queue: Promise<void> = Promise.resolve();

  constructor(deps: AlertServiceDeps) {
    this.#deps = deps;
  }

  async addRule(actor: Actor, input: unknown): Promise<AlertRuleView> {
    requirePermission(actor, 'product:read');
    const rule = validateRule(input);
    if (
      rule.kind === 'watched-area' &&
      (rule.bbox.minLon > rule.bbox.maxLon || rule.bbox.minLat > rule.bbox.maxLat)
    ) {
      throw new AccordError('INPUT_INVALID', 'alert rule: bbox min must not exceed max', { path: '/bbox' });
    }
    const { kind, team: owningTeam, ...params } = rule;
    if (owningTeam !== undefined && !actor.user.communities.includes(owningTeam)) {
      throw new AccordError(
        'FORBIDDEN',
        `alert rule: only a member of team '${owningTeam}' may add its rules`,
        {
          permission: 'product:read',
        },
      );
    }
    const stored = await this.#deps.store.alerts.addRule({
      id: randomUUID(),
      ownerId: actor.user.id,
      team: owningTeam ?? null,
      kind,
      params,
      createdAt: new Date(this.#deps.now()).toISOString(),
    });
    return this.#ruleView(stored);
  }

  #ruleView(record: AlertRuleRecord): AlertRuleView {
    return {
      id: record.id,
      rule: {
        kind: record.kind,
        ...record.params,
        ...(record.team === null ? {} : { team: record.team }),
      } as AlertRuleInput,
      createdAt: record.createdAt,
    };
  }

  async rules(actor: Actor): Promise<readonly AlertRuleView[]> {
    requirePermission(actor, 'product:read');
    return (await this.#deps.store.alerts.rules(holderOf(actor))).map((r) => this.#ruleView(r));
  }

  /**
   * Deletes one of the actor's rules or one of their teams' (any member may); another user's rule,
   * or another team's, is NOT_FOUND, as if it did not exist.
   */
  async deleteRule(actor: Actor, id: string): Promise<void> {
    requirePermission(actor, 'product:read');
    if (!(await this.#deps.store.alerts.deleteRule(id, holderOf(actor)))) {
      throw new AccordError('NOT_FOUND', `no alert rule '${id}'`, { id });
    }
  }

  /** The actor's alerts, newest first, each judged again as they are now. */
  async list(actor: Actor, page: { limit?: number; offset?: number } = {}): Promise<readonly AlertView[]> {
    requirePermission(actor, 'product:read');
    const views: AlertView[] = [];
    for (const record of await this.#deps.store.alerts.list(actor.user.id, page)) {
      const view = await this.#visible(actor, record);
      if (view !== undefined) views.push(view);
    }
    return views;
  }

  /** One alert for the live stream: undefined unless it is the actor's and names something they may read. */
  async visibleAlert(actor: Actor, id: string): Promise<AlertView | undefined> {
    const record = await this.#deps.store.alerts.get(id);
    if (record === undefined || record.ownerId !== actor.user.id) return undefined;
    return this.#visible(actor, record);
  }

  async #visible(actor: Actor, record: AlertRecord): Promise<AlertView | undefined> {
    const detail = record.detail as unknown as StoredDetail;
    const products: AlertProduct[] = [];
    for (const ref of detail.products) {
      const seen = await this.#deps.correlation.readable(actor, ref.source, ref.id);
      if (seen === undefined) continue;
      if (detail.entity !== undefined) {
        const held = await this.#deps.correlation.entitiesOf(actor, seen);
        if (!held.some((e) => e.type === detail.entity?.type && e.value === detail.entity.value)) continue;
      }
      products.push({
        source: seen.source,
        id: seen.id,
        version: seen.version,
        originator: seen.originator,
        title: seen.title,
      });
    }
    if (products.length === 0) return undefined;
    const partners = [...new Set(products.map((p) => p.originator))].sort();
    const summary =
      detail.kind === 'entity-by-partners' && detail.entity !== undefined
        ? `${detail.entity.type} ${detail.entity.value} reported by ${partners.join(', ')}`
        : detail.kind === 'watched-area'
          ? `${products[0]?.id} in a watched area`
          : `${products[0]?.id} from ${partners.join(', ')} above the reliability threshold`;
    return {
      id: record.id,
      ruleId: record.ruleId,
      kind: detail.kind,
      firedAt: record.firedAt,
      summary,
      ...(detail.entity === undefined ? {} : { entity: detail.entity }),
      products,
    };
  }

  /**
   * Evaluates every rule on each product event from `bus`, one event at a time, after the change
   * committed (the bus is told only then). Errors go to `onError`; the subscription is returned.
   */
  async watch(bus: EventBus, onError: BusErrorSink): Promise<BusSubscription> {
    return bus.subscribe((event) => {
      if (!EVALUATED.has(event.kind)) return;
      this.#queue = this.#queue
        .then(async () => {
          await this.evaluate(event.product);
        })
        .catch((error: unknown) => onError(`alert evaluation of ${event.product.id} failed`, error));
    });
  }

  /** Resolves once every event handed to watch() so far has been evaluated (tests, the demo). */
  async settled(): Promise<void> {
    await this.#queue;
  }

  /** Evaluates every rule on one stored version; returns the alerts raised (each stored and published). */
  async evaluate(product: Pick<StreamEvent['product'], 'id' | 'source'>): Promise<readonly AlertRecord[]> {
    const raised: AlertRecord[] = [];
    let everyone: readonly User[] | undefined;
    const judgesOf = async (rule: AlertRuleRecord): Promise<readonly User[]> => {
      if (rule.team === null) {
        const owner = await this.#deps.store.users.getById(rule.ownerId);
        return owner === undefined ? [] : [owner];
      }
      everyone ??= await this.#deps.store.users.list();
      const members = everyone.filter((u) => rule.team !== null && u.communities.includes(rule.team));
      return members.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    };
    for (const rule of await this.#deps.store.alerts.rules()) {
      for (const judge of await judgesOf(rule))
        raised.push(...(await this.#evaluateAs(rule, judge, product)));
    }
    return raised;
  }

  /** Evaluates one rule on one stored version as `user` (its owner, or a member of its team). */
  async #evaluateAs(
    rule: AlertRuleRecord,
    user: User,
    product: Pick<StreamEvent['product'], 'id' | 'source'>,
  ): Promise<readonly AlertRecord[]> {
    const raised: AlertRecord[] = [];
    if (user.disabled) return raised;
    const actor: Actor = { user, via: 'local' };
    try {
      requirePermission(actor, 'product:read');
    } catch (error) {
      if (isAccordError(error)) return raised;
      throw error;
    }
    const seen = await this.#deps.correlation.readable(actor, product.source, product.id);
    if (seen === undefined) return raised;
    for (const candidate of await this.#fires(
      actor,
      { kind: rule.kind, ...rule.params } as AlertRuleInput,
      seen,
    )) {
      const stored = await this.#deps.store.alerts.add({
        id: randomUUID(),
        ruleId: rule.id,
        ownerId: user.id,
        // A team rule's alert is its member's: one per member and condition.
        dedupeKey:
          rule.team === null ? `${rule.id}|${candidate.key}` : `${rule.id}|${user.id}|${candidate.key}`,
        product: { source: seen.source, id: seen.id, version: seen.version },
        detail: candidate.detail as unknown as Record<string, unknown>,
        firedAt: new Date(this.#deps.now()).toISOString(),
      });
      if (stored === undefined) continue;
      raised.push(stored);
      await this.#deps.events?.publish({
        kind: 'alert',
        product: { id: seen.id, version: seen.version, source: seen.source },
        topic: alertTopicOf(stored.id),
      });
    }
    return raised;
  }

  /** What the rule raises on `seen` (as the judging user reads it): a dedupe key and the stored detail each. */
  async #fires(
    actor: Actor,
    rule: AlertRuleInput,
    seen: ReadableProduct,
  ): Promise<{ readonly key: string; readonly detail: StoredDetail }[]> {
    const self = { source: seen.source, id: seen.id };
    switch (rule.kind) {
      case 'watched-area': {
        const box = bboxOf(seen.geo);
        if (box === null || !intersects(box, rule.bbox)) return [];
        if (rule.categories !== undefined && !seen.categories.some((c) => rule.categories?.includes(c)))
          return [];
        return [{ key: `${seen.source}:${seen.id}`, detail: { kind: rule.kind, products: [self] } }];
      }
      case 'reliable-source': {
        const rank = RELIABILITY.findIndex((r) => r === seen.reliability);
        if (seen.originator !== rule.partner || rank < 0 || rank > RELIABILITY.indexOf(rule.minReliability))
          return [];
        return [{ key: `${seen.source}:${seen.id}`, detail: { kind: rule.kind, products: [self] } }];
      }
      case 'entity-by-partners': {
        const since = this.#deps.now() - rule.windowHours * HOUR;
        const out: { key: string; detail: StoredDetail }[] = [];
        const entities = (await this.#deps.correlation.entitiesOf(actor, seen)).filter(
          (e) => rule.entityTypes === undefined || rule.entityTypes.some((t) => t === e.type),
        );
        for (const entity of entities) {
          const related = (await this.#deps.correlation.relatedTo(actor, seen, [entity])).filter(
            (r) => Date.parse(r.reportedAt) >= since,
          );
          const partners = new Set([seen.originator, ...related.map((r) => r.originator)]);
          if (partners.size < rule.minPartners) continue;
          out.push({
            key: `${entity.type}:${entity.value}|${[...partners].sort().join(',')}`,
            detail: {
              kind: rule.kind,
              entity,
              products: [self, ...related.map((r) => ({ source: r.source, id: r.id }))],
            },
          });
        }
        return out;
      }
    }
  }
}
