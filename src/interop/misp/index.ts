export {
  type Distribution,
  type MispAttribute,
  type MispEvent,
  type MispObject,
  type MispTag,
  parseMispEvents,
} from './event-shape.js';
export {
  type ImportedDraft,
  MAX_ATTRIBUTES_PER_EVENT,
  type MappedEvent,
  type MispMappingOptions,
  mapMispEvent,
  UNCLASSIFIED,
} from './mapping.js';
export {
  type MachineTag,
  parseTaxonomy,
  type ReadTag,
  readTag,
  splitMachineTag,
  type Taxonomy,
  type TaxonomySet,
  taxonomySetOf,
} from './taxonomy.js';
export { BUNDLED_TAXONOMY_DIR, loadTaxonomies } from './taxonomy-files.js';
