import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useState } from 'react';
import {
  DEFAULT_REGISTRY,
  joinLabels,
  type Label,
  nominalRank,
  parseMarking,
  renderBanner,
} from '../../src/markings/index.js';

/** Banner colours by common level (rank 0 UNCLASSIFIED … 4 TOP SECRET), each with text of ≥ 4.5:1 contrast. */
const LEVEL_STYLES: readonly { readonly name: string; readonly className: string }[] = [
  { name: 'UNCLASSIFIED', className: 'level-u' },
  { name: 'RESTRICTED', className: 'level-r' },
  { name: 'CONFIDENTIAL', className: 'level-c' },
  { name: 'SECRET', className: 'level-s' },
  { name: 'TOP SECRET', className: 'level-ts' },
];

/** The label of a rendered banner or portion mark, or null when it does not parse. */
export function labelOf(marking: string): Label | null {
  try {
    return parseMarking(marking, DEFAULT_REGISTRY).label;
  } catch {
    return null;
  }
}

/** The CSS class of a label's level; unknown levels show as the highest, never the lowest. */
export function levelClassOf(label: Label | null): string {
  const rank = label === null ? undefined : nominalRank(DEFAULT_REGISTRY, label.classification);
  return LEVEL_STYLES[rank ?? LEVEL_STYLES.length - 1]?.className ?? 'level-ts';
}

/** The join of every marking given: the banner a page holding all of them must carry. */
export function highestOf(
  markings: readonly string[],
  originator?: string,
): { readonly text: string; readonly label: Label | null } {
  let joined: Label | null = null;
  // Community codes (FVEY, NATO) are read as their membership now, as the node renders banners.
  const at = Date.now();
  for (const marking of markings) {
    const label = labelOf(marking);
    // A marking the console cannot read is not guessed at: the banner says so at the top level.
    if (label === null) return { text: 'UNREADABLE MARKING ON PAGE', label: null };
    joined = joined === null ? label : joinLabels(joined, label, DEFAULT_REGISTRY, at);
  }
  if (joined === null) return { text: 'UNCLASSIFIED', label: labelOf('UNCLASSIFIED') };
  // CAPCO lists the originator first in REL TO; with one originator on screen, so does the banner.
  const options =
    originator === undefined ? { registry: DEFAULT_REGISTRY } : { registry: DEFAULT_REGISTRY, originator };
  return { text: renderBanner(joined, options), label: joined };
}

interface OnScreen {
  readonly markings: readonly string[];
  readonly originator: string | undefined;
}

interface BannerRegistry {
  readonly set: (owner: string, markings: readonly string[], originator?: string) => void;
  readonly clear: (owner: string) => void;
}

const BannerContext = createContext<BannerRegistry>({ set: () => undefined, clear: () => undefined });
const BannerText = createContext<{ readonly text: string; readonly label: Label | null }>(highestOf([]));

/** Holds what every part of the page has on screen; the banners show their join. */
export function ClassificationProvider({ children }: { readonly children: ReactNode }) {
  const [byOwner, setByOwner] = useState<ReadonlyMap<string, OnScreen>>(new Map());
  const set = useCallback((owner: string, markings: readonly string[], originator?: string) => {
    setByOwner((current) => {
      const previous = current.get(owner);
      if (
        previous !== undefined &&
        previous.originator === originator &&
        previous.markings.join('\n') === markings.join('\n')
      )
        return current;
      const next = new Map(current);
      next.set(owner, { markings, originator });
      return next;
    });
  }, []);
  const clear = useCallback((owner: string) => {
    setByOwner((current) => {
      if (!current.has(owner)) return current;
      const next = new Map(current);
      next.delete(owner);
      return next;
    });
  }, []);
  const registry = useMemo(() => ({ set, clear }), [set, clear]);
  const highest = useMemo(() => {
    const all = [...byOwner.values()];
    const originators = new Set(all.filter((o) => o.markings.length > 0).map((o) => o.originator));
    const [only] = originators;
    return highestOf(
      all.flatMap((o) => o.markings),
      originators.size === 1 ? only : undefined,
    );
  }, [byOwner]);
  return (
    <BannerContext.Provider value={registry}>
      <BannerText.Provider value={highest}>{children}</BannerText.Provider>
    </BannerContext.Provider>
  );
}

/** Declares the markings a component has on screen, for as long as it is mounted. */
export function useOnScreen(owner: string, markings: readonly string[], originator?: string): void {
  const { set, clear } = useContext(BannerContext);
  const key = markings.join('\n');
  // biome-ignore lint/correctness/useExhaustiveDependencies: the joined key stands for the list
  useEffect(() => {
    set(owner, markings, originator);
  }, [owner, key, originator, set]);
  useEffect(() => () => clear(owner), [owner, clear]);
}

/** A classification banner: the highest label on screen, coloured by its level. */
export function ClassificationBanner({ position }: { readonly position: 'top' | 'bottom' }) {
  const { text, label } = useContext(BannerText);
  return (
    <section
      className={`banner ${levelClassOf(label)} banner-${position}`}
      aria-label={`Classification of this page (${position})`}
      data-testid={`banner-${position}`}
    >
      {text}
    </section>
  );
}

/** A portion mark or banner inline, coloured by its level. */
export function Marking({ value }: { readonly value: string }) {
  return <span className={`marking ${levelClassOf(labelOf(value))}`}>{value}</span>;
}
