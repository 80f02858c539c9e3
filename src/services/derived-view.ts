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

/**
 * What the live stream tells a reader of a recalled version: which version, under which marking
 * they could read it, and its metadata; never its title or text (a recall says "stop using this",
 * and a received version's content is erased by then).
 */
export interface RecallNotice {
  readonly id: string;
  readonly version: number;
  readonly originator: string;
  /** The banner of what this reader could read of it before the recall. */
  readonly banner: string;
  readonly discipline: string;
  readonly categories: readonly string[];
  readonly reliability: string;
  readonly credibility: number;
  readonly createdAt: string;
}

/** The recall notice of a version torn to what the reader could read (decideRead as if not recalled). */
export function recallNoticeOf(derived: DerivedProduct, registry: MarkingRegistry): RecallNotice {
  const fields = readableFieldsOf(derived, registry);
  return {
    id: fields.id,
    version: fields.version,
    originator: fields.originator,
    banner: fields.banner,
    discipline: fields.discipline,
    categories: fields.categories,
    reliability: fields.reliability,
    credibility: fields.credibility,
    createdAt: fields.createdAt,
  };
}
