import type { ArrangementDocument } from '../arrangements/index.js';
import type { PublicKeyInfo } from '../crypto/index.js';
import { type ArrangementPins, arrangementPins, type KeyOnRecord } from '../federation/index.js';
import type { Partner } from '../store/index.js';

/**
 * The signing keys an arrangement version pins as this node sees them (DESIGN.md §3 trust root):
 * each party's public keys come from the partner directory, this node's own from its identity,
 * whatever the directory says of it. Without an identity this node pins no key of its own, so an
 * arrangement it is party to pins nothing (deny by default).
 */
export function pinsOf(
  document: ArrangementDocument,
  partners: readonly Partner[],
  self: string,
  ownSigningKey: PublicKeyInfo | undefined,
): ArrangementPins {
  const own: readonly KeyOnRecord[] =
    ownSigningKey === undefined ? [] : [{ use: 'signing', ...ownSigningKey }];
  return arrangementPins(document, (code) =>
    code === self ? own : (partners.find((p) => p.code === code)?.keys ?? []),
  );
}
