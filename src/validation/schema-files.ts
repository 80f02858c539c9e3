import { ArrangementDocumentSchema } from '../arrangements/index.js';
import { AuditEntrySchema } from '../audit/index.js';
import { ProductDocumentSchema } from '../products/index.js';

/** The published JSON Schema files and the TypeBox definitions they are generated from. */
export const SCHEMA_FILES: readonly { readonly file: string; readonly schema: object }[] = [
  {
    file: 'schemas/arrangement.schema.json',
    schema: { $schema: 'https://json-schema.org/draft/2020-12/schema', ...ArrangementDocumentSchema },
  },
  {
    file: 'schemas/product.schema.json',
    schema: { $schema: 'https://json-schema.org/draft/2020-12/schema', ...ProductDocumentSchema },
  },
  // What an oversight body reads in GET /api/v1/audit/entries: closed, metadata only.
  {
    file: 'schemas/audit-entry.schema.json',
    schema: { $schema: 'https://json-schema.org/draft/2020-12/schema', ...AuditEntrySchema },
  },
];
