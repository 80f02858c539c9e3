import { createHash } from 'node:crypto';
import canonicalizeModule from 'canonicalize';
import { AccordError } from '../errors/index.js';

// The package is CommonJS (`module.exports = serialize`) but its types declare an ES default.
const canonicalize = canonicalizeModule as unknown as (input: unknown) => string | undefined;

// With the `u` flag a surrogate pair is one code point, so this class matches lone surrogates only.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

function unsupported(path: readonly string[], what: string): never {
  const pointer = path.map((p) => `/${p.replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
  throw new AccordError('CANONICAL_JSON_UNSUPPORTED', `${pointer || '/'}: ${what} is not JSON data`, {
    path: pointer,
  });
}

function checkString(s: string, path: readonly string[]): void {
  // RFC 8785 §3.1 requires I-JSON (RFC 7493 §2.1): strings must be valid Unicode.
  if (LONE_SURROGATE.test(s)) unsupported(path, 'a string with a lone surrogate');
}

/**
 * `canonicalize` follows JSON.stringify and so quietly turns some non-JSON values into other
 * text: a function becomes `undefined` inside an object, an array hole disappears, a Map becomes
 * `{}`. Anything that would sign or hash differently from what a peer parses is refused here.
 * Object properties whose value is `undefined` are left out, as JSON.stringify does, so an
 * optional field set to `undefined` hashes like an absent one.
 */
function checkJsonData(value: unknown, path: string[], ancestors: Set<object>): void {
  switch (typeof value) {
    case 'string':
      checkString(value, path);
      return;
    case 'boolean':
      return;
    case 'number':
      // RFC 8785 §3.2.2.3: NaN and Infinity have no JSON form.
      if (!Number.isFinite(value)) unsupported(path, String(value));
      return;
    case 'object':
      break;
    default:
      unsupported(path, typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`);
  }
  if (value === null) return;
  if (ancestors.has(value)) unsupported(path, 'a cycle');
  ancestors.add(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      path.push(String(i));
      if (!(i in value)) unsupported(path, 'an array hole');
      checkJsonData(value[i], path, ancestors);
      path.pop();
    }
  } else {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      unsupported(path, `an instance of ${(value as object).constructor?.name ?? 'a class'}`);
    }
    for (const [key, member] of Object.entries(value)) {
      path.push(key);
      checkString(key, path);
      if (member !== undefined) checkJsonData(member, path, ancestors);
      path.pop();
    }
  }
  ancestors.delete(value);
}

/**
 * The RFC 8785 (JCS) canonical form of a JSON value: sorted keys, ECMAScript number text, no
 * whitespace. Throws CANONICAL_JSON_UNSUPPORTED, naming the JSON pointer, for anything that is
 * not plain JSON data.
 */
export function canonicalJson(value: unknown): string {
  try {
    checkJsonData(value, [], new Set());
  } catch (error) {
    if (error instanceof AccordError) throw error;
    // Stack overflow on absurdly deep nesting: still the caller's value, not our fault.
    throw new AccordError(
      'CANONICAL_JSON_UNSUPPORTED',
      'value is nested too deeply to canonicalize',
      {},
      {
        cause: error,
      },
    );
  }
  const canonical = canonicalize(value);
  if (canonical === undefined) throw new AccordError('CANONICAL_JSON_UNSUPPORTED', 'value has no JSON form');
  return canonical;
}

/** Lowercase hex SHA-256 of bytes, or of a string's UTF-8 encoding. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** `sha256:<hex>` over the RFC 8785 canonical JSON of a value: the digest form Accord documents carry. */
export function digestOf(value: unknown): string {
  return `sha256:${sha256Hex(canonicalJson(value))}`;
}
