// Writes the JSON Schemas of the documents Accord reads, generated from the TypeBox
// definitions the code validates with, so the published files cannot drift from the code.
// Usage: npx tsx scripts/write-schemas.ts   (a test fails when the files are stale)
import { writeFileSync } from 'node:fs';
import { SCHEMA_FILES } from '../src/validation/schema-files.js';

for (const { file, schema } of SCHEMA_FILES) {
  writeFileSync(new URL(`../${file}`, import.meta.url), `${JSON.stringify(schema, null, 2)}\n`);
  console.log(`wrote ${file}`);
}
