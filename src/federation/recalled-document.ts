import type { Discipline, ProductSignature } from '../products/index.js';
import { type DerivedDocument, type DerivedFrom, productDigest } from './product-signature.js';

// Issue 4: a recipient of a recalled version "erases its content, keeps its metadata". What stays
// is what says which version was held, how it was marked and that it was genuine: ids, originator,
// markings (banner, title and portion marks), discipline, categories, source evaluation, the
// source it was torn from, the digest of the document as it arrived and the originator's signature
// over that digest. What goes is everything the originator wrote: the title, every portion's text
// and the geographic footprint (which says where the intelligence is about).

/** What a recipient keeps of a recalled derived version: its metadata, none of its content. */
export interface RecalledDocument {
  /** Always true: tells a tombstone from a DerivedDocument, which has no such field. */
  readonly recalled: true;
  readonly id: string;
  readonly version: number;
  readonly originator: string;
  readonly titleMarking: string;
  readonly banner: string;
  readonly discipline: Discipline;
  readonly categories: readonly string[];
  /** Each portion's id and rendered mark, in order; the text is gone. */
  readonly portions: readonly { readonly id: string; readonly marking: string }[];
  readonly withheldCount: number;
  readonly reliability: DerivedDocument['reliability'];
  readonly credibility: number;
  readonly createdAt: string;
  readonly derivedFrom: DerivedFrom;
  /**
   * productDigest of the document as it arrived: with `signature` (the originator's, over this
   * digest) it still proves which version was held, and matches the digest in the stored receipt.
   */
  readonly digest: string;
  readonly signature: ProductSignature;
}

/** Whether a stored document is a recall's tombstone rather than a held derived version. */
export function isRecalledDocument(
  document: DerivedDocument | RecalledDocument,
): document is RecalledDocument {
  return (document as { recalled?: unknown }).recalled === true;
}

/**
 * The tombstone of a held derived version: its metadata and digest, without title, portion text or
 * geo. Built field by field from a whitelist, so a field added to DerivedDocument later is dropped
 * until someone decides it is metadata. A tombstone passed in is returned as it is.
 */
export function recalledDocumentOf(document: DerivedDocument | RecalledDocument): RecalledDocument {
  if (isRecalledDocument(document)) return document;
  return {
    recalled: true,
    id: document.id,
    version: document.version,
    originator: document.originator,
    titleMarking: document.titleMarking,
    banner: document.banner,
    discipline: document.discipline,
    categories: [...document.categories],
    portions: document.portions.map((p) => ({ id: p.id, marking: p.marking })),
    withheldCount: document.withheldCount,
    reliability: document.reliability,
    credibility: document.credibility,
    createdAt: document.createdAt,
    derivedFrom: { ...document.derivedFrom },
    digest: productDigest(document),
    signature: { ...document.signature },
  };
}
