import { AccordError } from '../../errors/index.js';
import type { StixObject } from './ids.js';

// STIX 2.1 §2.9 identifiers, as the OASIS schema common/identifier.json writes them.
const UUID = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-5][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}';
const IDENTIFIER = new RegExp(`^([a-z][a-z0-9-]+[a-z0-9])--${UUID}$`);
// STIX 2.1 §3.1 type names (common/core.json).
const TYPE_NAME = /^([a-z][a-z0-9]*)+(-[a-z0-9]+)*-?$/;
// STIX 2.1 §3.2: RFC 3339 in UTC, `Z` required, any sub-second precision.
const TIMESTAMP =
  /^\d{4}-(0[1-9]|1[012])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?Z$/;

/** STIX 2.1 §6 cyber-observable types: no `created`/`modified`. */
const SCO_TYPES: ReadonlySet<string> = new Set([
  'artifact',
  'autonomous-system',
  'directory',
  'domain-name',
  'email-addr',
  'email-message',
  'file',
  'ipv4-addr',
  'ipv6-addr',
  'mac-addr',
  'mutex',
  'network-traffic',
  'process',
  'software',
  'url',
  'user-account',
  'windows-registry-key',
  'x509-certificate',
]);

/** Types whose objects never change and so have no `modified` (STIX 2.1 §7.2.1). */
const UNVERSIONED: ReadonlySet<string> = new Set(['marking-definition']);

/** The most objects one import takes; more is refused before anything is looked at. */
export const MAX_IMPORT_OBJECTS = 1_000_000;

function fail(path: string, message: string): never {
  throw new AccordError('STIX_INVALID', `STIX ${path || '/'}: ${message}`, { path: path || '/' });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function timestampAt(object: Record<string, unknown>, key: string, path: string): number {
  const value = object[key];
  if (value === undefined) fail(`${path}/${key}`, `${key} is required`);
  if (typeof value !== 'string' || !TIMESTAMP.test(value) || Number.isNaN(Date.parse(value))) {
    fail(`${path}/${key}`, `${key} must be an RFC 3339 UTC timestamp ending in Z`);
  }
  const time = Date.parse(value);
  // Date.parse rolls a day that does not exist over (2026-02-30 is 2 March): the instant must
  // read back as the date and time written.
  if (new Date(time).toISOString().slice(0, 19) !== value.slice(0, 19)) {
    fail(`${path}/${key}`, `${key} is not a date and time that exists`);
  }
  return time;
}

function identifierAt(value: unknown, path: string, prefix?: string): string {
  if (typeof value !== 'string' || !IDENTIFIER.test(value)) fail(path, 'not a STIX identifier (type--uuid)');
  if (prefix !== undefined && !value.startsWith(`${prefix}--`)) fail(path, `must name a ${prefix}`);
  return value;
}

function identifierListAt(object: Record<string, unknown>, key: string, path: string, prefix?: string): void {
  const list = object[key];
  if (!Array.isArray(list) || list.length === 0) fail(`${path}/${key}`, `${key} must be a non-empty list`);
  for (const [i, id] of list.entries()) identifierAt(id, `${path}/${key}/${i}`, prefix);
}

function stringAt(object: Record<string, unknown>, key: string, path: string): void {
  if (typeof object[key] !== 'string') fail(`${path}/${key}`, `${key} must be a string`);
}

/** Whether a granular-marking selector (STIX 2.1 §7.2.3.1: `a.b.[1]`) names a property of the object. */
export function selectorResolves(object: Readonly<Record<string, unknown>>, selector: string): boolean {
  let current: unknown = object;
  for (const step of selector.split('.')) {
    const index = /^\[(\d+)\]$/.exec(step)?.[1];
    if (index !== undefined) {
      if (!Array.isArray(current) || Number(index) >= current.length) return false;
      current = current[Number(index)];
    } else {
      if (!isRecord(current) || !Object.hasOwn(current, step)) return false;
      current = current[step];
    }
  }
  return true;
}

function checkGranular(object: Record<string, unknown>, path: string): void {
  const list = object.granular_markings;
  if (!Array.isArray(list) || list.length === 0)
    fail(`${path}/granular_markings`, 'must be a non-empty list');
  list.forEach((marking, i) => {
    const at = `${path}/granular_markings/${i}`;
    if (!isRecord(marking)) fail(at, 'must be an object');
    const hasRef = marking.marking_ref !== undefined;
    const hasLang = marking.lang !== undefined;
    if (hasRef === hasLang) fail(at, 'needs exactly one of marking_ref and lang');
    if (hasRef) identifierAt(marking.marking_ref, `${at}/marking_ref`, 'marking-definition');
    if (hasLang && typeof marking.lang !== 'string') fail(`${at}/lang`, 'must be a string');
    const selectors = marking.selectors;
    if (!Array.isArray(selectors) || selectors.length === 0)
      fail(`${at}/selectors`, 'must be a non-empty list');
    selectors.forEach((selector, j) => {
      if (typeof selector !== 'string' || !selectorResolves(object, selector)) {
        fail(`${at}/selectors/${j}`, `selector does not name a property of the object`);
      }
    });
  });
}

/**
 * Checks one object against the STIX 2.1 rules an importer relies on (common properties,
 * identifiers, timestamps, `modified >= created`, markings and their selectors, and the required
 * properties of the types Accord maps). Throws STIX_INVALID with the JSON path of the first error.
 */
export function checkStixObject(value: unknown, path: string): StixObject {
  // attacker-controlled: everything below is read from an imported file.
  if (!isRecord(value)) fail(path, 'a STIX object must be a JSON object');
  const type = value.type;
  if (typeof type !== 'string' || type.length < 3 || type.length > 250 || !TYPE_NAME.test(type)) {
    fail(`${path}/type`, 'type must be a STIX type name');
  }
  const id = identifierAt(value.id, `${path}/id`);
  if (!id.startsWith(`${type}--`)) fail(`${path}/id`, `id must start with '${type}--'`);
  const sco = SCO_TYPES.has(type);
  if (!sco || value.spec_version !== undefined) {
    if (value.spec_version !== '2.1') fail(`${path}/spec_version`, "spec_version must be '2.1'");
  }
  if (!sco) {
    const created = timestampAt(value, 'created', path);
    if (!UNVERSIONED.has(type)) {
      const modified = timestampAt(value, 'modified', path);
      // STIX 2.1 §3.2: modified MUST be later than or equal to created.
      if (modified < created) fail(`${path}/modified`, 'modified is earlier than created');
    }
  }
  if (value.created_by_ref !== undefined)
    identifierAt(value.created_by_ref, `${path}/created_by_ref`, 'identity');
  if (value.object_marking_refs !== undefined) {
    identifierListAt(value, 'object_marking_refs', path, 'marking-definition');
  }
  if (value.granular_markings !== undefined) checkGranular(value, path);
  switch (type) {
    case 'report':
      stringAt(value, 'name', path);
      timestampAt(value, 'published', path);
      identifierListAt(value, 'object_refs', path);
      break;
    case 'note':
      stringAt(value, 'content', path);
      identifierListAt(value, 'object_refs', path);
      break;
    case 'relationship':
      stringAt(value, 'relationship_type', path);
      identifierAt(value.source_ref, `${path}/source_ref`);
      identifierAt(value.target_ref, `${path}/target_ref`);
      break;
    case 'marking-definition':
      if (value.definition_type === 'statement') {
        const definition = value.definition;
        if (!isRecord(definition) || typeof definition.statement !== 'string') {
          fail(`${path}/definition/statement`, 'a statement marking needs definition.statement');
        }
      }
      break;
    default:
      break;
  }
  return value as StixObject;
}

/**
 * The objects of an import file with the JSON path of each: a bundle, a plain array of objects,
 * an `{ objects }` wrapper, or one bare object (the shapes of the OASIS examples). Each object is
 * checked; the first error throws STIX_INVALID naming its path.
 */
export function parseStixObjects(input: unknown): { readonly object: StixObject; readonly path: string }[] {
  let list: unknown[];
  let base: string;
  if (Array.isArray(input)) {
    list = input;
    base = '';
  } else if (isRecord(input) && input.type === 'bundle') {
    identifierAt(input.id, '/id', 'bundle');
    if (!Array.isArray(input.objects)) fail('/objects', 'a bundle needs an objects list');
    list = input.objects;
    base = '/objects';
  } else if (isRecord(input) && input.type === undefined && Array.isArray(input.objects)) {
    list = input.objects;
    base = '/objects';
  } else if (isRecord(input)) {
    return [{ object: checkStixObject(input, ''), path: '' }];
  } else {
    fail('', 'expected a STIX bundle, an array of STIX objects or one STIX object');
  }
  if (list.length > MAX_IMPORT_OBJECTS) fail(base, `more than ${MAX_IMPORT_OBJECTS} objects`);
  return list.map((object, i) => {
    const path = `${base}/${i}`;
    return { object: checkStixObject(object, path), path };
  });
}
