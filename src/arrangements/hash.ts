import { digestOf } from '../crypto/index.js';
import type { ArrangementDocument } from './model.js';

/**
 * The hash every party signs: SHA-256 over the RFC 8785 canonical JSON of the document
 * without its mutable state (status, suspensions, signatures), as `sha256:<hex>`.
 */
export function arrangementVersionHash(doc: ArrangementDocument): string {
  const { status: _status, suspendedParties: _suspended, signatures: _signatures, ...terms } = doc;
  return digestOf(terms);
}
