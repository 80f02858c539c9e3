import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SCHEMA_FILES } from './schema-files.js';

describe('published JSON Schemas', () => {
  it.each(SCHEMA_FILES.map((s) => [s.file, s.schema] as const))(
    '%s matches the schema the code validates with',
    (file, schema) => {
      const onDisk = JSON.parse(readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8'));
      // Regenerate with: npx tsx scripts/write-schemas.ts
      expect(onDisk).toEqual(JSON.parse(JSON.stringify(schema)));
    },
  );
});
