import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

/**
 * Test helper: validates STIX objects against the OASIS STIX 2.1 JSON schemas
 * (cti-stix2-json-schemas, draft 2020-12) kept in ../shared/data/stix2.1-schemas, each object
 * against the schema of its own type, as that folder's README advises (bundle.json lacks several
 * types). Not used at run time: the importer checks objects itself (validate.ts).
 */
export interface OasisValidator {
  /** Errors of one object against its type's schema (and the TLP 2.0 schema for TLP 2.0 markings); [] when valid. */
  errorsOf(object: Readonly<Record<string, unknown>>): string[];
}

const BASE = 'http://raw.githubusercontent.com/oasis-open/cti-stix2-json-schemas/stix2.1/schemas/';
const FOLDERS = ['common', 'sdos', 'sros', 'observables'] as const;
const TLP2_SCHEMA = 'extensions/tlp-2.0/extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d.json';
const TLP2_EXTENSION = 'extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d';

// ajv-formats is CommonJS; under NodeNext its default export is the module object.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (
  ajv: Ajv2020,
) => Ajv2020;

function render(errors: readonly ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? e.keyword}`);
}

/** The validator over the schemas in `schemasDir`, or undefined when that folder is absent. */
export function loadOasisValidator(schemasDir: string): OasisValidator | undefined {
  if (!existsSync(join(schemasDir, 'common', 'core.json'))) return undefined;
  // README: unicodeRegExp false, or core.json's type-name pattern fails to compile.
  const ajv = new Ajv2020({ strict: false, allErrors: true, unicodeRegExp: false });
  addFormats(ajv);
  const typeSchema = new Map<string, string>();
  for (const folder of FOLDERS) {
    for (const file of readdirSync(join(schemasDir, folder)).filter((f) => f.endsWith('.json'))) {
      const schema = JSON.parse(readFileSync(join(schemasDir, folder, file), 'utf8')) as { $id: string };
      ajv.addSchema(schema);
      if (
        folder !== 'common' ||
        ['marking-definition.json', 'language-content.json', 'extension-definition.json'].includes(file)
      ) {
        typeSchema.set(file.replace(/\.json$/, ''), schema.$id ?? `${BASE}${folder}/${file}`);
      }
    }
  }
  const tlp2 = ajv.compile(JSON.parse(readFileSync(join(schemasDir, TLP2_SCHEMA), 'utf8')) as object);
  const compiled = new Map<string, ValidateFunction>();
  return {
    errorsOf(object) {
      const type = typeof object.type === 'string' ? object.type : '';
      const id = typeSchema.get(type);
      if (id === undefined) return [`/type no OASIS schema for type '${type}'`];
      let validate = compiled.get(id);
      if (validate === undefined) {
        validate = ajv.getSchema(id);
        if (validate === undefined) return [`/type schema ${id} did not compile`];
        compiled.set(id, validate);
      }
      const errors = validate(object) ? [] : render(validate.errors);
      const extensions = object.extensions as Record<string, unknown> | undefined;
      if (type === 'marking-definition' && extensions?.[TLP2_EXTENSION] !== undefined && !tlp2(object)) {
        errors.push(...render(tlp2.errors).map((e) => `tlp-2.0: ${e}`));
      }
      return errors;
    },
  };
}
