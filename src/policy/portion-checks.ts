import {
  COMMON_SCHEME,
  isMemberAt,
  type Label,
  type MarkingRegistry,
  orderRelTo,
} from '../markings/index.js';

/** ISO day of an instant, for reasons a person reads. */
export function dayOf(atMs: number): string {
  return new Date(atMs).toISOString().slice(0, 10);
}

export function levelName(rank: number): string {
  return COMMON_SCHEME.levels[rank]?.name ?? `rank ${rank}`;
}

/**
 * Why `partner` may not have a portion with this label at `atMs`, or null when it may.
 * A partner is covered by its own trigraph in REL TO or by a community it belongs to at that
 * instant. NOFORN, and a classified label with no REL TO, release to nobody.
 */
export function releasabilityProblem(
  label: Label,
  rank: number,
  partner: string,
  atMs: number,
  registry: MarkingRegistry,
): string | null {
  if (label.controls.includes('NOFORN')) return 'marked NOFORN';
  const relTo = label.relTo;
  if (relTo === null) return rank === 0 ? null : 'classified and not marked releasable (no REL TO)';
  for (const code of relTo) {
    if (code === partner) return null;
    if (code.length !== 3 && isMemberAt(registry, code, partner, atMs)) return null;
  }
  return `REL TO ${orderRelTo(relTo).join(', ')} does not cover ${partner} on ${dayOf(atMs)}`;
}

/** Caveats of `label` not covered by `held` (an entry `SI` covers `SI` and its compartments `SI-…`), or null. */
export function missingCaveats(label: Label, held: ReadonlySet<string>, coverCompartments: boolean): string[] | null {
  let missing: string[] | null = null;
  for (const caveat of label.caveats) {
    if (held.has(caveat)) continue;
    const dash = caveat.indexOf('-');
    if (coverCompartments && dash > 0 && held.has(caveat.slice(0, dash))) continue;
    (missing ??= []).push(caveat);
  }
  return missing;
}
