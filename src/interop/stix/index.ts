export {
  centreOf,
  DESCRIPTION_PORTION,
  type KeptStixIds,
  type ProductStixInput,
  partnerIdentityId,
  partnerObjects,
  productToStix,
} from './export.js';
export { ACCORD_STIX_NAMESPACE, type StixObject, stixIdOf, stixTimestamp, uuidV5 } from './ids.js';
export {
  type ImportPlan,
  type PlannedObject,
  type PlannedProduct,
  planImport,
  productIdOfReport,
  versionOf,
} from './import.js';
export {
  ACCORD_MARKING_CREATED,
  type LabelMarkings,
  labelOfMarkingRefs,
  labelOfStatementMarking,
  markingsOfLabel,
  statementMarkingDefinition,
  statementMarkingId,
  statementOf,
} from './markings.js';
export {
  type CollectionParts,
  DEFAULT_IMPORT_MARKING,
  type StixEntry,
  type StixImportOptions,
  type StixImportSummary,
  StixService,
  type StixServiceDeps,
  type StixViewer,
  storedEntry,
} from './stix-service.js';
export { TLP2_EXTENSION_ID, TLP2_MARKING_IDS, tlp2MarkingDefinition, tlpOfMarkingId } from './tlp.js';
export { checkStixObject, MAX_IMPORT_OBJECTS, parseStixObjects, selectorResolves } from './validate.js';
