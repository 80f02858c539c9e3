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
