export {
  ENTITY_TYPES,
  type Entity,
  type EntityType,
  extractEntities,
  type FoundEntity,
  findEntities,
  type PortionText,
  refang,
} from './extract.js';
export {
  clusterNearDuplicates,
  type DuplicateCluster,
  jaccard,
  queryTermsOf,
  rankBySimilarity,
  type ShingledDocument,
  type SimilarDocument,
  shinglesOf,
  type TermDocument,
  termCountsOf,
  termsOf,
} from './text-similarity.js';
