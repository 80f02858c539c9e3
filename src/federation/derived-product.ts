import type { MarkingRegistry } from '../markings/index.js';
import { type Product, parseProduct } from '../products/index.js';
import type { DerivedDocument } from './product-signature.js';

/**
 * A derived (released) document as the policy sees it: what its portions and title say, nothing
 * more. The document names no author; approvals, the only use of one, are the originator's, so
 * the originator stands in. The inbox re-decides a release on this, and a holder's reads, consent
 * requests and onward releases judge the same view of it.
 */
export function productOfDerived(document: DerivedDocument, registry: MarkingRegistry): Product {
  return parseProduct(
    {
      id: document.id,
      version: document.version,
      originator: document.originator,
      author: document.originator,
      title: document.title,
      titleMarking: document.titleMarking,
      discipline: document.discipline,
      categories: document.categories,
      portions: document.portions,
      reliability: document.reliability,
      credibility: document.credibility,
      createdAt: document.createdAt,
      ...(document.geo === undefined ? {} : { geo: document.geo }),
    },
    registry,
  );
}
