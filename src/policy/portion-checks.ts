import {
  COMMON_SCHEME,
  isMemberAt,
  type Label,
  type MarkingRegistry,
  orderRelTo,
} from '../markings/index.js';

const DAY_MS = 86_400_000;
// Instants whose ISO year has four digits: 0000-01-01 up to, not including, 10000-01-01.
const FOUR_DIGIT_YEARS = { from: -62_167_219_200_000, until: 253_402_300_800_000 } as const;

/** ISO day of an instant, for reasons a person reads. */
export function dayOf(atMs: number): string {
  // Reasons name the day of every REL TO refusal, and a Date plus toISOString costs as much as
  // the rest of a portion's checks, so the civil date is worked out directly (H. Hinnant,
  // "chrono-compatible low-level date algorithms", civil_from_days). Date truncates a fractional
  // instant toward zero; other years and invalid instants go through Date as before.
  const ms = Math.trunc(atMs);
  if (!(ms >= FOUR_DIGIT_YEARS.from && ms < FOUR_DIGIT_YEARS.until)) {
    return new Date(atMs).toISOString().slice(0, 10);
  }
  const z = Math.floor(ms / DAY_MS) + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return `${String(year).padStart(4, '0')}-${month < 10 ? '0' : ''}${month}-${day < 10 ? '0' : ''}${day}`;
}

export function levelName(rank: number): string {
  return COMMON_SCHEME.levels[rank]?.name ?? `rank ${rank}`;
}

/**
 * Why `partner` may not have a portion with this label at `atMs`, or null when it may.
 * A partner is covered by its own trigraph in REL TO or by a community it belongs to at that
 * instant. NOFORN, and a classified label with no REL TO, release to nobody. The REL TO list in
 * the reason is written as the marking is, the originator first.
 */
export function releasabilityProblem(
  label: Label,
  rank: number,
  partner: string,
  atMs: number,
  registry: MarkingRegistry,
  originator: string,
): string | null {
  if (label.controls.includes('NOFORN')) return 'marked NOFORN';
  const relTo = label.relTo;
  if (relTo === null) return rank === 0 ? null : 'classified and not marked releasable (no REL TO)';
  for (const code of relTo) {
    if (code === partner) return null;
    if (code.length !== 3 && isMemberAt(registry, code, partner, atMs)) return null;
  }
  return `REL TO ${orderRelTo(relTo, originator).join(', ')} does not cover ${partner} on ${dayOf(atMs)}`;
}

/** Caveats of `label` not covered by `held` (an entry `SI` covers `SI` and its compartments `SI-…`), or null. */
export function missingCaveats(
  label: Label,
  held: ReadonlySet<string>,
  coverCompartments: boolean,
): string[] | null {
  let missing: string[] | null = null;
  for (const caveat of label.caveats) {
    if (held.has(caveat)) continue;
    const dash = caveat.indexOf('-');
    if (coverCompartments && dash > 0 && held.has(caveat.slice(0, dash))) continue;
    missing = appendTo(missing, caveat);
  }
  return missing;
}

/** Appends to a list created on first use, so passing checks allocate nothing. */
export function appendTo<T>(list: T[] | null, item: T): T[] {
  if (list === null) return [item];
  list.push(item);
  return list;
}
