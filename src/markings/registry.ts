import countries from 'i18n-iso-countries';
import { BUILTIN_COMMUNITIES } from './communities.js';
import type { Classification, Community } from './model.js';
import { BUILTIN_SCHEMES, type ClassificationScheme } from './schemes.js';

/** Caveats and compartment bases every node knows (US SCI control systems and NATO special categories). */
export const BUILTIN_CAVEATS: readonly string[] = [
  'SI',
  'TK',
  'HCS',
  'KDK',
  'RSV',
  'ATOMAL',
  'BOHEMIA',
  'CRYPTO',
];

interface LevelEntry {
  readonly classification: Classification;
  readonly rank: number;
  readonly abbrev: string;
}

interface Span {
  readonly from: number;
  readonly until: number;
}

/**
 * Everything a marking may name: classification schemes, caveats, countries and communities.
 * Built once (from configuration) and passed to the parser and the policy; never global state.
 */
export interface MarkingRegistry {
  readonly schemes: readonly ClassificationScheme[];
  readonly caveats: ReadonlySet<string>;
  readonly communities: ReadonlyMap<string, Community>;
  /** Level lookup by upper-case full name or abbreviation. */
  readonly levels: ReadonlyMap<string, LevelEntry>;
  readonly extraCountries: ReadonlySet<string>;
  readonly membership: ReadonlyMap<string, ReadonlyMap<string, readonly Span[]>>;
}

/** Options to extend the built-in registry from configuration. */
export interface RegistryOptions {
  readonly schemes?: readonly ClassificationScheme[];
  readonly caveats?: readonly string[];
  readonly communities?: readonly Community[];
  /** Partner codes accepted beside ISO 3166-1 alpha-3 (e.g. `XKX`), three upper-case letters each. */
  readonly countries?: readonly string[];
}

const DAY_PATTERN = /^\d{4}-\d{2}-\d{2}$/;

function dayToMs(day: string, what: string): number {
  const ms = DAY_PATTERN.test(day) ? Date.parse(`${day}T00:00:00Z`) : Number.NaN;
  // Date.parse rolls impossible days over ('2023-02-30' is 2 March), so read the day back.
  if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== day) {
    throw new RangeError(`${what}: '${day}' is not an ISO date (YYYY-MM-DD)`);
  }
  return ms;
}

/** Builds a registry from the built-in data plus any additions. Later communities replace earlier ones of the same code. */
export function createRegistry(options: RegistryOptions = {}): MarkingRegistry {
  const schemes = [...BUILTIN_SCHEMES, ...(options.schemes ?? [])];
  const levels = new Map<string, LevelEntry>();
  for (const scheme of schemes) {
    for (const level of scheme.levels) {
      const entry = {
        classification: { scheme: scheme.id, level: level.name },
        rank: level.rank,
        abbrev: level.abbrev,
      };
      levels.set(level.name, entry);
      levels.set(level.abbrev, entry);
    }
  }
  const communities = new Map<string, Community>();
  for (const community of [...BUILTIN_COMMUNITIES, ...(options.communities ?? [])]) {
    if (!/^[A-Z]{2}$|^[A-Z]{4,8}$/.test(community.code)) {
      throw new RangeError(`community code '${community.code}' must be 2 or 4-8 upper-case letters`);
    }
    communities.set(community.code, community);
  }
  const membership = new Map<string, Map<string, Span[]>>();
  for (const community of communities.values()) {
    const byPartner = new Map<string, Span[]>();
    for (const m of community.members) {
      const span = {
        from: dayToMs(m.from, `${community.code}/${m.partner}`),
        until:
          m.until === undefined
            ? Number.POSITIVE_INFINITY
            : dayToMs(m.until, `${community.code}/${m.partner}`),
      };
      byPartner.set(m.partner, [...(byPartner.get(m.partner) ?? []), span]);
    }
    membership.set(community.code, byPartner);
  }
  return {
    schemes,
    caveats: new Set([...BUILTIN_CAVEATS, ...(options.caveats ?? [])]),
    communities,
    levels,
    extraCountries: new Set(options.countries ?? []),
    membership,
  };
}

/** The registry with only the built-in data. */
export const DEFAULT_REGISTRY: MarkingRegistry = createRegistry();

/** Whether `code` is an ISO 3166-1 alpha-3 code (or a registered extra partner code). */
export function isCountryCode(registry: MarkingRegistry, code: string): boolean {
  return /^[A-Z]{3}$/.test(code) && (registry.extraCountries.has(code) || countries.isValid(code));
}

export function isCommunityCode(registry: MarkingRegistry, code: string): boolean {
  return registry.communities.has(code);
}

/** Whether `partner` belongs to `community` at instant `atMs` (epoch milliseconds). */
export function isMemberAt(
  registry: MarkingRegistry,
  community: string,
  partner: string,
  atMs: number,
): boolean {
  const spans = registry.membership.get(community)?.get(partner);
  if (spans === undefined) return false;
  for (const span of spans) if (atMs >= span.from && atMs < span.until) return true;
  return false;
}

/** The partners that belong to `community` at instant `atMs`. */
export function membersAt(registry: MarkingRegistry, community: string, atMs: number): string[] {
  return [...membersDuring(registry, community, atMs)];
}

/** A community's members over the window `[from, until)`, in which no membership starts or ends. */
interface MembersWindow {
  readonly from: number;
  readonly until: number;
  readonly members: readonly string[];
}

// Joins read communities at an instant many times per decision (once per label and step of a
// banner fold), and reading one means walking every member's spans. Membership is constant
// between consecutive span boundaries, so the last answer per community is kept with the window
// it holds for. The cache hangs off the registry's membership table (immutable once built), so
// registries never share answers and a dropped registry takes its cache with it.
const membersCache = new WeakMap<MarkingRegistry['membership'], Map<string, MembersWindow>>();

/**
 * {@link membersAt} as a shared, frozen array: the same array is returned for every instant in
 * the window where the community's membership is unchanged.
 */
export function membersDuring(registry: MarkingRegistry, community: string, atMs: number): readonly string[] {
  let windows = membersCache.get(registry.membership);
  if (windows === undefined) {
    windows = new Map();
    membersCache.set(registry.membership, windows);
  }
  const cached = windows.get(community);
  if (cached !== undefined && atMs >= cached.from && atMs < cached.until) return cached.members;
  // The window is bounded by the nearest span boundaries at or before atMs and after it.
  let from = Number.NEGATIVE_INFINITY;
  let until = Number.POSITIVE_INFINITY;
  const members: string[] = [];
  for (const [partner, spans] of registry.membership.get(community) ?? []) {
    let member = false;
    for (const span of spans) {
      if (atMs >= span.from && atMs < span.until) member = true;
      for (const edge of [span.from, span.until]) {
        if (edge <= atMs) from = Math.max(from, edge);
        else until = Math.min(until, edge);
      }
    }
    if (member) members.push(partner);
  }
  const window = { from, until, members: Object.freeze(members) };
  windows.set(community, window);
  return window.members;
}

const trigraphMembership = new WeakMap<MarkingRegistry['membership'], boolean>();

/**
 * Whether every partner in every community's membership is written as a three-letter code.
 * Then expanding the codes a join writes back gives exactly the partners it wrote (a code of
 * another length would be read as a community), which lets a banner fold skip the re-expansion.
 */
export function hasTrigraphMembers(registry: MarkingRegistry): boolean {
  let known = trigraphMembership.get(registry.membership);
  if (known === undefined) {
    known = true;
    for (const byPartner of registry.membership.values()) {
      for (const partner of byPartner.keys()) if (partner.length !== 3) known = false;
    }
    trigraphMembership.set(registry.membership, known);
  }
  return known;
}

/** Nominal common-scale rank of a classification, or undefined when the scheme or level is unknown. */
export function nominalRank(registry: MarkingRegistry, classification: Classification): number | undefined {
  const entry = registry.levels.get(classification.level);
  return entry !== undefined && entry.classification.scheme === classification.scheme
    ? entry.rank
    : undefined;
}

/** Portion-mark abbreviation of a classification level. */
export function levelAbbrev(registry: MarkingRegistry, classification: Classification): string {
  return registry.levels.get(classification.level)?.abbrev ?? classification.level;
}

/** ISO 3166-1 alpha-2 code for an alpha-3 trigraph (for STIX `location.country`), or undefined. */
export function alpha3ToAlpha2(code: string): string | undefined {
  return countries.alpha3ToAlpha2(code);
}
