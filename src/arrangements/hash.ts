import { createHash } from 'node:crypto';
import canonicalizeModule from 'canonicalize';
import type { ArrangementDocument } from './model.js';

// The package is CommonJS (`module.exports = serialize`) but its types declare an ES default.
const canonicalize = canonicalizeModule as unknown as (input: unknown) => string | undefined;

/**
 * The hash every party signs: SHA-256 over the RFC 8785 canonical JSON of the document
 * without its mutable state (status, suspensions, signatures), as `sha256:<hex>`.
 */
export function arrangementVersionHash(doc: ArrangementDocument): string {
  const { status: _status, suspendedParties: _suspended, signatures: _signatures, ...terms } = doc;
  const canonical = canonicalize(terms);
  if (canonical === undefined) throw new TypeError('arrangement terms did not canonicalize');
  return `sha256:${createHash('sha256').update(canonical).digest('hex')}`;
}
