import { bannerOf, type Label, type MarkingRegistry } from '../markings/index.js';
import type { Portion, Product } from '../products/index.js';
import type { DerivedProduct } from './decision.js';

/** Title given in place of one the recipient may not see. */
export const WITHHELD_TITLE = 'Title withheld';
const NEUTRAL_TITLE_LABEL: Label = {
  classification: { scheme: 'COMMON', level: 'UNCLASSIFIED' },
  relTo: null,
  caveats: [],
  controls: [],
  tlp: null,
  pap: null,
};

/**
 * The tear line: a derived version holding only `kept` portions, re-bannered from what remains
 * (communities read as their membership at `at`).
 * A withheld title is replaced by a neutral one (and the geo footprint, which carries the title's
 * label, goes with it).
 */
export function tearProduct(
  product: Product,
  kept: readonly Portion[],
  titleKept: boolean,
  registry: MarkingRegistry,
  at: number,
): DerivedProduct {
  const whole = titleKept && kept.length === product.portions.length;
  const titleLabel = titleKept ? product.titleLabel : NEUTRAL_TITLE_LABEL;
  // Always joined afresh, even when nothing is torn out: the product's own banner reads
  // communities as they were when it was written, and membership may have changed since.
  const banner = bannerOf(
    titleKept ? [product.titleLabel, ...kept.map((p) => p.label)] : kept.map((p) => p.label),
    registry,
    at,
  );
  return {
    id: product.id,
    version: product.version,
    derivedFrom: { id: product.id, version: product.version },
    originator: product.originator,
    title: titleKept ? product.title : WITHHELD_TITLE,
    titleLabel,
    titleWithheld: !titleKept,
    discipline: product.discipline,
    categories: product.categories,
    portions: whole ? product.portions : kept,
    banner,
    withheldCount: product.portions.length - kept.length,
    reliability: product.reliability,
    credibility: product.credibility,
    createdAt: product.createdAt,
    geo: titleKept ? product.geo : null,
  };
}
