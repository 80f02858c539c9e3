import { AccordError, isAccordError } from '../errors/index.js';
import {
  bannerOf,
  DEFAULT_REGISTRY,
  type Label,
  type MarkingRegistry,
  parseMarking,
} from '../markings/index.js';
import { createValidator } from '../validation/index.js';
import { type Product, type ProductDocument, ProductDocumentSchema } from './model.js';

const validateDocument = createValidator<ProductDocument>(
  ProductDocumentSchema,
  'PRODUCT_INVALID',
  'product',
);

function labelAt(marking: string, path: string, registry: MarkingRegistry): Label {
  try {
    return parseMarking(marking, registry).label;
  } catch (error) {
    if (!isAccordError(error)) throw error;
    throw new AccordError(
      'PRODUCT_INVALID',
      `product ${path}: ${error.message}`,
      { ...error.details, path },
      { cause: error },
    );
  }
}

/**
 * Validates a product document (attacker-controlled JSON) and parses its markings.
 * Throws PRODUCT_INVALID naming the first offending field.
 */
export function parseProduct(input: unknown, registry: MarkingRegistry = DEFAULT_REGISTRY): Product {
  const doc = validateDocument(input);
  const seen = new Set<string>();
  const portions = doc.portions.map((p, i) => {
    if (seen.has(p.id)) {
      throw new AccordError(
        'PRODUCT_INVALID',
        `product /portions/${i}/id: portion id '${p.id}' is used twice`,
        {
          path: `/portions/${i}/id`,
        },
      );
    }
    seen.add(p.id);
    return { id: p.id, text: p.text, label: labelAt(p.marking, `/portions/${i}/marking`, registry) };
  });
  const titleLabel = labelAt(doc.titleMarking, '/titleMarking', registry);
  const ntk = doc.needToKnow;
  return {
    id: doc.id,
    version: doc.version,
    originator: doc.originator,
    author: doc.author,
    title: doc.title,
    titleLabel,
    discipline: doc.discipline,
    categories: doc.categories,
    portions,
    // Communities in REL TO read as their membership when the product was written.
    banner: bannerOf([titleLabel, ...portions.map((p) => p.label)], registry, Date.parse(doc.createdAt)),
    reliability: doc.reliability,
    credibility: doc.credibility,
    createdAt: doc.createdAt,
    geo: doc.geo ?? null,
    approvals: doc.approvals ?? [],
    consents: doc.consents ?? [],
    needToKnow:
      ntk === undefined ? null : { communities: ntk.communities ?? [], arrangements: ntk.arrangements ?? [] },
    recalled: doc.recalled ?? false,
  };
}
