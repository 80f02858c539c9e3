export {
  type Approval,
  Category,
  type Consent,
  DISCIPLINES,
  type Discipline,
  GeoJson,
  Identifier,
  PartnerCode,
  type Portion,
  type Product,
  type ProductDocument,
  ProductDocumentSchema,
  RELIABILITY,
  type Reliability,
  Timestamp,
} from './model.js';
export { parseProduct } from './parse.js';
