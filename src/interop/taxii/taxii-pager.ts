import type { StixObjectRecord, StixObjectRepository } from '../../store/index.js';
import { type CollectionParts, type StixEntry, storedEntry } from '../stix/index.js';
import {
  chosenVersions,
  decodeCursor,
  encodeCursor,
  MAX_PAGE_LIMIT,
  matchesFilter,
  normaliseTimestamp,
  rankedStamp,
  type TaxiiEntry,
  type TaxiiFilter,
  type TaxiiPage,
  taxiiEntryOf,
  versionStamp,
} from './taxii-query.js';

// One TAXII page read in SQL (issue 6). A collection is two parts (StixService.collectionParts):
// the stored objects of products a reader is served as imported — possibly millions, read here a
// batch at a time by keyset on (date added, id, version) — and a small set of other objects in
// memory. The page is the merge of both in collection order, with exactly the answer of the
// in-memory reference (orderEntries → filterEntries → pageEntries over everything visible): the
// date_added rank of an object is counted over both parts within its millisecond, and
// `match[version]=first|last` is judged over every visible version of an id.

type Key = readonly [string, string, string];

interface Keyed {
  readonly key: Key;
  readonly entry: StixEntry;
}

function compareKeys(a: Key, b: Key): number {
  for (let i = 0; i < 3; i++) {
    const x = a[i] as string;
    const y = b[i] as string;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** The stored form of a key's instant: `…T12:00:00.123` + `000000Z` → `…T12:00:00.123Z`. */
function storedInstant(stamp: string): string {
  return stamp === '' ? '' : `${stamp.slice(0, 23)}Z`;
}

/** The page after `next` (or the first) of what `parts` holds that passes `filter`. */
export async function pageCollection(
  stored: StixObjectRepository,
  parts: CollectionParts,
  filter: TaxiiFilter,
  options: { readonly limit: number; readonly next?: string },
): Promise<TaxiiPage> {
  const limit = Math.min(Math.max(1, Math.trunc(options.limit)), MAX_PAGE_LIMIT);
  const products = parts.importedProducts;
  const stamps = new Map<string, string>();
  const keyOf = (e: StixEntry): Key => {
    let stamp = stamps.get(e.dateAdded);
    if (stamp === undefined) {
      stamp = normaliseTimestamp(e.dateAdded, 'date_added');
      stamps.set(e.dateAdded, stamp);
    }
    return [stamp, e.id, e.version];
  };
  const memory: Keyed[] = parts.entries
    .map((entry) => ({ key: keyOf(entry), entry }))
    .sort((a, b) => compareKeys(a.key, b.key));
  const shown = (r: StixObjectRecord) => !parts.hidden.has(`${r.stixId}@${r.version}`);

  // Where the page starts (exclusive): after the cursor, and not before added_after's millisecond
  // (objects of that millisecond ranked at or below it are skipped as they are met).
  let from: Key = ['', '', ''];
  if (options.next !== undefined) from = decodeCursor(options.next);
  if (filter.addedAfter !== undefined) {
    const group: Key = [`${filter.addedAfter.slice(0, 23)}000000Z`, '', ''];
    if (compareKeys(group, from) > 0) from = group;
  }

  // The rank of each visible object within its millisecond, counted over both parts.
  const ranks = new Map<string, Map<string, number>>();
  const rankIn = async (millisecond: string): Promise<Map<string, number>> => {
    let table = ranks.get(millisecond);
    if (table !== undefined) return table;
    const keys: Key[] = (await stored.keysAddedAt(`${millisecond}Z`, products))
      .filter((k) => !parts.hidden.has(`${k.stixId}@${k.version}`))
      .map((k) => [`${millisecond}000000Z`, k.stixId, k.version]);
    for (const held of memory) if (held.key[0].startsWith(millisecond)) keys.push(held.key);
    keys.sort(compareKeys);
    table = new Map(keys.map((k, rank) => [`${k[1]}\u0000${k[2]}`, rank]));
    ranks.set(millisecond, table);
    return table;
  };

  const versionKind = filter.versions.kind;
  const items: TaxiiEntry[] = [];
  const batch = Math.min(MAX_PAGE_LIMIT * 2, Math.max(100, (limit + 1) * 2));
  let storedAfter: Key = [storedInstant(from[0]), from[1], from[2]];
  let storedDone = products.length === 0;
  let m = memory.findIndex((x) => compareKeys(x.key, from) > 0);
  if (m < 0) m = memory.length;
  const types = filter.types === undefined ? undefined : [...filter.types];
  const ids = filter.ids === undefined ? undefined : [...filter.ids];

  while (items.length <= limit && (!storedDone || m < memory.length)) {
    const rows = storedDone
      ? []
      : await stored.collectionPage({
          productIds: products,
          after: storedAfter,
          limit: batch,
          ...(types === undefined ? {} : { types }),
          ...(ids === undefined ? {} : { ids }),
        });
    const lastRow = rows.at(-1);
    if (lastRow !== undefined) storedAfter = [lastRow.dateAdded, lastRow.stixId, lastRow.version];
    if (rows.length < batch) storedDone = true;
    const chunk: Keyed[] = rows.filter(shown).map((r) => {
      const entry = storedEntry(r);
      return { key: keyOf(entry), entry };
    });
    // The memory part up to the last stored key read (all of it once the stored part is done).
    const bound = lastRow === undefined || storedDone ? undefined : keyOf(storedEntry(lastRow));
    while (m < memory.length && (bound === undefined || compareKeys((memory[m] as Keyed).key, bound) <= 0)) {
      chunk.push(memory[m] as Keyed);
      m++;
    }
    chunk.sort((a, b) => compareKeys(a.key, b.key));
    const candidates = chunk.filter((c) => matchesFilter(c.entry, filter));
    const chosen =
      versionKind === 'first' || versionKind === 'last'
        ? await chosenAmong(stored, parts, memory, candidates, filter, versionKind, keyOf)
        : undefined;
    for (const { key, entry } of candidates) {
      const millisecond = key[0].slice(0, 23);
      const rank = (await rankIn(millisecond)).get(`${key[1]}\u0000${key[2]}`) ?? 0;
      const dateAdded = rankedStamp(millisecond, rank);
      if (filter.addedAfter !== undefined && dateAdded <= filter.addedAfter) continue;
      if (filter.versions.kind === 'these' && !filter.versions.versions.has(versionStamp(entry.version)))
        continue;
      if (chosen !== undefined && chosen.get(entry.id) !== entry.version) continue;
      items.push(taxiiEntryOf(entry, dateAdded, key));
      if (items.length > limit) break;
    }
  }
  const more = items.length > limit;
  const page = items.slice(0, limit);
  const last = page.at(-1);
  return more && last !== undefined
    ? { items: page, more, next: encodeCursor(last.key) }
    : { items: page, more };
}

/** For `match[version]=first|last`: the chosen version of each candidate's id, over every visible version. */
async function chosenAmong(
  stored: StixObjectRepository,
  parts: CollectionParts,
  memory: readonly Keyed[],
  candidates: readonly Keyed[],
  filter: TaxiiFilter,
  kind: 'first' | 'last',
  keyOf: (e: StixEntry) => Key,
): Promise<ReadonlyMap<string, string>> {
  const ids = new Set(candidates.map((c) => c.entry.id));
  const objects = filter.specVersions !== undefined;
  const versions: Keyed[] = (await stored.versionsOf([...ids], parts.importedProducts, { objects }))
    .filter((r) => !parts.hidden.has(`${r.stixId}@${r.version}`))
    .map((r) => {
      const entry = storedEntry(r);
      return { key: keyOf(entry), entry };
    });
  for (const x of memory) if (ids.has(x.entry.id)) versions.push(x);
  versions.sort((a, b) => compareKeys(a.key, b.key));
  return chosenVersions(
    versions.filter((v) => matchesFilter(v.entry, filter)).map((v) => v.entry),
    kind,
  );
}
