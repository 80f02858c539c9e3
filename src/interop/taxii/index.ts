export { type Fetch, objectsUrl, type PulledPage, type PullOptions, pullCollection } from './taxii-client.js';
export {
  DEFAULT_PAGE_LIMIT,
  filterEntries,
  MAX_PAGE_LIMIT,
  normaliseTimestamp,
  orderEntries,
  pageEntries,
  parseLimit,
  parseMatchList,
  parseVersionMatch,
  type TaxiiEntry,
  type TaxiiFilter,
  type TaxiiPage,
  type VersionMatch,
  versionStamp,
} from './taxii-query.js';
export {
  collectionIdOf,
  NODE_COLLECTION_ID,
  STIX_MEDIA_TYPE,
  TAXII_COLLECTION_NAMESPACE,
  type TaxiiCollection,
  TaxiiService,
  type TaxiiServiceDeps,
  type TaxiiStatus,
} from './taxii-service.js';
