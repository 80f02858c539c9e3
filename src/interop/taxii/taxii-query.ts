import { AccordError } from '../../errors/index.js';
import type { StixEntry, StixObject } from '../stix/index.js';

/** TAXII 2.1 §3.3.1: servers page by `limit`; ours defaults to 100 and never sends more than 1,000. */
export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 1000;

/** What the `match[...]` filters read of an object version. */
interface StixEntryLike {
  readonly object: Readonly<Record<string, unknown>>;
  readonly id: string;
  readonly type: string;
}

/** One object version as a TAXII collection serves it. */
export interface TaxiiEntry {
  readonly object: StixObject;
  readonly id: string;
  readonly type: string;
  readonly version: string;
  /**
   * TAXII `date_added`, unique within what one viewer sees: the instant the node added the version
   * (9 fraction digits, milliseconds first), its last six digits the version's rank among those the
   * viewer sees that were added in the same millisecond. Unique stamps are what let a client resume
   * with `added_after` = X-TAXII-Date-Added-Last without missing or repeating an object (§3.4.2).
   */
  readonly dateAdded: string;
  /** The order key: (stored instant, id, version). */
  readonly key: readonly [string, string, string];
}

/** `match[version]` (§3.4.4): the latest, the earliest, every version, or the versions named. */
export type VersionMatch =
  | { readonly kind: 'last' }
  | { readonly kind: 'first' }
  | { readonly kind: 'all' }
  | { readonly kind: 'these'; readonly versions: ReadonlySet<string> };

export interface TaxiiFilter {
  /** A normalised stamp (`normaliseTimestamp`): only versions added strictly after it. */
  readonly addedAfter?: string;
  readonly ids?: ReadonlySet<string>;
  readonly types?: ReadonlySet<string>;
  readonly versions: VersionMatch;
  readonly specVersions?: ReadonlySet<string>;
}

export interface TaxiiPage {
  readonly items: readonly TaxiiEntry[];
  readonly more: boolean;
  /** The opaque cursor of the next page, when `more`. */
  readonly next?: string;
}

// The first part of an order key: a stored instant (whole milliseconds) with 9 fraction digits.
const KEY_STAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}000000Z$/;

const STAMP = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/i;

function invalid(field: string, message: string): AccordError {
  return new AccordError('INPUT_INVALID', `${field}: ${message}`, { path: field });
}

/**
 * An RFC 3339 timestamp as a UTC stamp with 9 fraction digits, which compare as text in time order.
 * Digits past the ninth are dropped: for "strictly after" that never changes an answer, since
 * every stamp we hand out has 9 digits.
 */
export function normaliseTimestamp(text: string, field = 'added_after'): string {
  const match = STAMP.exec(text);
  const seconds = match === null ? Number.NaN : Date.parse(`${match[1]}${match[3]}`);
  if (match === null || Number.isNaN(seconds)) throw invalid(field, 'is not an RFC 3339 timestamp');
  const whole = new Date(seconds).toISOString().slice(0, 19);
  return `${whole}.${(match[2] ?? '').padEnd(9, '0').slice(0, 9)}Z`;
}

/** The millisecond part of a stamp: its first 23 characters. */
function millisecondOf(stamp: string): string {
  return stamp.slice(0, 23);
}

function compareKeys(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? '';
    const y = b[i] ?? '';
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/**
 * What a viewer sees as TAXII entries, in collection order (date added, then id, then version),
 * each with its unique `date_added`. Pure: the same entries give the same stamps.
 */
export function orderEntries(entries: readonly StixEntry[]): TaxiiEntry[] {
  // Versions added together share their stamp: normalise each distinct one once.
  const stamps = new Map<string, string>();
  const keyed = entries.map((e) => {
    let added = stamps.get(e.dateAdded);
    if (added === undefined) {
      added = normaliseTimestamp(e.dateAdded, 'date_added');
      stamps.set(e.dateAdded, added);
    }
    return { entry: e, key: [added, e.id, e.version] as const };
  });
  keyed.sort((a, b) => compareKeys(a.key, b.key));
  const out: TaxiiEntry[] = [];
  let group = '';
  let rank = 0;
  for (const { entry, key } of keyed) {
    const ms = millisecondOf(key[0]);
    rank = ms === group ? rank + 1 : 0;
    group = ms;
    // More than a million versions added in one millisecond would overflow the rank; an import
    // stores far fewer per transaction (MAX_IMPORT_OBJECTS).
    out.push(taxiiEntryOf(entry, rankedStamp(ms, rank), key));
  }
  return out;
}

/** A version's unique date_added: its millisecond, then its rank among those added in it. */
export function rankedStamp(millisecond: string, rank: number): string {
  return `${millisecond}${String(Math.min(rank, 999_999)).padStart(6, '0')}Z`;
}

/** An entry as a collection serves it; its object is read only when the page is written (an imported one parsed only if served). */
export function taxiiEntryOf(
  entry: StixEntry,
  dateAdded: string,
  key: readonly [string, string, string],
): TaxiiEntry {
  return {
    get object() {
      return entry.object;
    },
    id: entry.id,
    type: entry.type,
    version: entry.version,
    dateAdded,
    key,
  };
}

/**
 * §3.4: `match[id]`, `match[type]`, `match[spec_version]` and `match[version]` (judged over each
 * id's versions the viewer sees, so "last" is the latest the viewer may see), then `added_after`.
 * The input and output are in collection order.
 */
export function filterEntries(entries: readonly TaxiiEntry[], filter: TaxiiFilter): TaxiiEntry[] {
  const matching = entries.filter((e) => matchesFilter(e, filter));
  let kept: TaxiiEntry[];
  const versions = filter.versions;
  switch (versions.kind) {
    case 'all':
      kept = matching;
      break;
    case 'these':
      kept = matching.filter((e) => versions.versions.has(versionStamp(e.version)));
      break;
    case 'first':
    case 'last': {
      const chosen = chosenVersions(matching, versions.kind);
      kept = matching.filter((e) => chosen.get(e.id) === e.version);
      break;
    }
  }
  const after = filter.addedAfter;
  return after === undefined ? kept : kept.filter((e) => e.dateAdded > after);
}

/**
 * `match[version]=first|last` over versions in collection order: for each id, the version with the
 * earliest or latest stamp (the first in collection order among equal stamps).
 */
export function chosenVersions(
  entries: readonly { readonly id: string; readonly version: string }[],
  kind: 'first' | 'last',
): ReadonlyMap<string, string> {
  const chosen = new Map<string, { stamp: string; version: string }>();
  for (const e of entries) {
    const stamp = versionStamp(e.version);
    const held = chosen.get(e.id);
    if (held === undefined || (kind === 'last' ? stamp > held.stamp : stamp < held.stamp)) {
      chosen.set(e.id, { stamp, version: e.version });
    }
  }
  return new Map([...chosen].map(([id, c]) => [id, c.version]));
}

/** Whether an entry passes `match[id]`, `match[type]` and `match[spec_version]`. */
export function matchesFilter(e: StixEntryLike, filter: TaxiiFilter): boolean {
  return (
    (filter.ids === undefined || filter.ids.has(e.id)) &&
    (filter.types === undefined || filter.types.has(e.type)) &&
    (filter.specVersions === undefined || filter.specVersions.has(specVersionOf(e.object)))
  );
}

/** STIX 2.1 objects say so; one without `spec_version` is read as 2.1, the only version this node holds. */
function specVersionOf(object: Readonly<Record<string, unknown>>): string {
  return typeof object.spec_version === 'string' ? object.spec_version : '2.1';
}

// Stamps of versions lately compared: a page compares thousands, most of them the same few.
const stampsOf = new Map<string, string>();
const STAMPS_KEPT = 10_000;

/** A STIX version (an instant, or '' for unversioned objects) as a comparable stamp. */
export function versionStamp(version: string): string {
  if (version === '') return '';
  let stamp = stampsOf.get(version);
  if (stamp !== undefined) return stamp;
  try {
    stamp = normaliseTimestamp(version, 'version');
  } catch {
    stamp = version;
  }
  if (stampsOf.size >= STAMPS_KEPT) stampsOf.clear();
  stampsOf.set(version, stamp);
  return stamp;
}

// The cursor is opaque to clients (§3.4.3): the key of the last entry served, so a page starts
// after it whatever was added or hidden since. It names only an object the viewer was served.
export function encodeCursor(key: readonly string[]): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

export function decodeCursor(next: string): readonly [string, string, string] {
  // attacker-controlled
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(next, 'base64url').toString('utf8'));
  } catch {
    throw invalid('next', 'is not a cursor this server gave');
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 3 ||
    !parsed.every((p): p is string => typeof p === 'string' && p.length <= 300) ||
    !KEY_STAMP.test(parsed[0] as string)
  ) {
    throw invalid('next', 'is not a cursor this server gave');
  }
  return [parsed[0] as string, parsed[1] as string, parsed[2] as string];
}

/** The page after cursor `next` (or the first), at most `limit` entries. */
export function pageEntries(
  entries: readonly TaxiiEntry[],
  options: { readonly limit: number; readonly next?: string },
): TaxiiPage {
  const limit = Math.min(Math.max(1, Math.trunc(options.limit)), MAX_PAGE_LIMIT);
  let start = 0;
  if (options.next !== undefined) {
    const after = decodeCursor(options.next);
    // Binary search: the first entry whose key is greater than the cursor.
    let lo = 0;
    let hi = entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareKeys((entries[mid] as TaxiiEntry).key, after) <= 0) lo = mid + 1;
      else hi = mid;
    }
    start = lo;
  }
  const items = entries.slice(start, start + limit);
  const more = start + limit < entries.length;
  const last = items.at(-1);
  return more && last !== undefined ? { items, more, next: encodeCursor(last.key) } : { items, more };
}

/** The `limit` query parameter: a positive integer, at most MAX_PAGE_LIMIT served. */
export function parseLimit(text: string | undefined): number {
  if (text === undefined) return DEFAULT_PAGE_LIMIT;
  // attacker-controlled
  if (!/^\d{1,9}$/.test(text) || Number(text) < 1) throw invalid('limit', 'must be a positive integer');
  return Math.min(Number(text), MAX_PAGE_LIMIT);
}

/** `match[version]`: comma-separated `last`, `first`, `all` or timestamps (§3.4.4). */
export function parseVersionMatch(text: string | undefined, fallback: VersionMatch): VersionMatch {
  if (text === undefined) return fallback;
  const parts = text.split(',').map((p) => p.trim());
  if (parts.includes('all')) return { kind: 'all' };
  if (parts.length === 1 && parts[0] === 'last') return { kind: 'last' };
  if (parts.length === 1 && parts[0] === 'first') return { kind: 'first' };
  if (parts.some((p) => p === 'last' || p === 'first')) {
    throw invalid('match[version]', 'combine "first" or "last" with nothing else, or use "all"');
  }
  return { kind: 'these', versions: new Set(parts.map((p) => normaliseTimestamp(p, 'match[version]'))) };
}

/** A comma-separated `match[...]` list, or undefined when absent. */
export function parseMatchList(text: string | undefined, field: string): ReadonlySet<string> | undefined {
  if (text === undefined) return undefined;
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (parts.length === 0 || parts.length > 100) throw invalid(field, 'must list 1 to 100 values');
  return new Set(parts);
}
