import { type MarkingRegistry, renderBanner, renderPortionMark } from '../markings/index.js';
import type { DerivedProduct } from '../policy/index.js';

/**
 * What a reader is shown of a version torn to what they may read (decideRead's derived product),
 * markings rendered as the originator writes them. Own products (ProductService) and received
 * ones (ReceivedService) add their workflow state or provenance beside it.
 */
export function readableFieldsOf(derived: DerivedProduct, registry: MarkingRegistry) {
  const options = { originator: derived.originator, registry };
  return {
    id: derived.id,
    version: derived.version,
    originator: derived.originator,
    banner: renderBanner(derived.banner, options),
    title: derived.title,
    titleMarking: renderPortionMark(derived.titleLabel, options),
    titleWithheld: derived.titleWithheld,
    discipline: derived.discipline,
    categories: derived.categories,
    portions: derived.portions.map((p) => ({
      id: p.id,
      marking: renderPortionMark(p.label, options),
      text: p.text,
    })),
    withheldCount: derived.withheldCount,
    reliability: derived.reliability,
    credibility: derived.credibility,
    createdAt: derived.createdAt,
    geo: derived.geo,
  };
}
