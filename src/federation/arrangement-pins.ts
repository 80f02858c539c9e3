import { type ArrangementDocument, arrangementVersionHash } from '../arrangements/index.js';
import { fingerprintOf, isValidSignature, RAW_KEY_LENGTH, SIGNATURE_LENGTH } from '../crypto/index.js';
import { decodeBase64 } from './wire-format.js';

// DESIGN.md §3 trust root: the arrangement document lists every party's node key fingerprints;
// when all parties have signed it, those keys are pinned, and no other key is trusted for it.
// A fingerprint alone verifies nothing: the key itself comes from the partner directory (or this
// node's own identity), and is used only when it hashes to the fingerprint the document pins.

/** A public key on record for a partner, as the partner directory keeps it (raw key, base64). */
export interface KeyOnRecord {
  readonly use: 'signing' | 'encryption';
  readonly fingerprint: string;
  readonly publicKey: string;
}

/** Why a party's signature on an arrangement version does not count. */
export interface UnverifiedParty {
  readonly partner: string;
  readonly reason: string;
}

/** The signing keys one arrangement version pins, once every party's signature is checked. */
export interface ArrangementPins {
  /** arrangementVersionHash of the document: what every party signed. */
  readonly versionHash: string;
  /** Parties whose signature is missing or does not verify; while any is listed, nothing is pinned. */
  readonly unverified: readonly UnverifiedParty[];
  /** The raw Ed25519 key pinned for `partner` under `fingerprint`, or undefined. */
  keyFor(partner: string, fingerprint: string): Uint8Array | undefined;
}

/** The signing keys on record for a party that the document pins for it, by fingerprint. */
function recordedKeys(
  pinned: ReadonlySet<string>,
  records: readonly KeyOnRecord[],
): ReadonlyMap<string, Uint8Array> {
  const keys = new Map<string, Uint8Array>();
  for (const record of records) {
    if (record.use !== 'signing' || !pinned.has(record.fingerprint)) continue;
    const raw = decodeBase64(record.publicKey);
    // A record whose key is not the one its fingerprint names pins nothing (deny by default).
    if (raw?.length !== RAW_KEY_LENGTH || fingerprintOf(raw) !== record.fingerprint) continue;
    keys.set(record.fingerprint, raw);
  }
  return keys;
}

function signatureProblem(
  slots: ArrangementDocument['signatures'],
  keys: ReadonlyMap<string, Uint8Array>,
  versionHash: string,
): string | undefined {
  const current = slots.filter((s) => s.versionHash === versionHash);
  if (current.length === 0) return `has not signed version hash ${versionHash}`;
  let problem = '';
  for (const slot of current) {
    const key = keys.get(slot.fingerprint);
    if (key === undefined) {
      problem = `signed with ${slot.fingerprint}, which is not a signing key pinned for it with its public key on record`;
      continue;
    }
    const signature = decodeBase64(slot.signature);
    if (signature?.length !== SIGNATURE_LENGTH) {
      problem = `its signature by ${slot.fingerprint} is not ${SIGNATURE_LENGTH} bytes of canonical base64`;
      continue;
    }
    if (isValidSignature(key, versionHash, signature)) return undefined;
    problem = `its signature by ${slot.fingerprint} does not verify`;
  }
  return problem;
}

/**
 * The keys an arrangement version pins. Each party signs the UTF-8 text of the version hash
 * (`sha256:<hex>`, as `signDigest(key, versionHash)` does) with a signing key the document lists
 * for it; `keysOnRecord` gives each party's public keys. Only when every party's signature on the
 * current hash verifies are any keys pinned: then, for each party, every signing key the document
 * lists for it whose public key is on record.
 */
export function arrangementPins(
  doc: ArrangementDocument,
  keysOnRecord: (partner: string) => readonly KeyOnRecord[],
): ArrangementPins {
  const versionHash = arrangementVersionHash(doc);
  const byParty = new Map<string, ReadonlyMap<string, Uint8Array>>();
  const unverified: UnverifiedParty[] = [];
  for (const party of doc.parties) {
    const pinned = new Set(party.nodeKeys.filter((k) => k.use === 'signing').map((k) => k.fingerprint));
    const keys = recordedKeys(pinned, keysOnRecord(party.partner));
    byParty.set(party.partner, keys);
    const slots = doc.signatures.filter((s) => s.partner === party.partner);
    const problem = signatureProblem(slots, keys, versionHash);
    if (problem !== undefined) unverified.push({ partner: party.partner, reason: problem });
  }
  const complete = unverified.length === 0;
  return {
    versionHash,
    unverified,
    keyFor: (partner, fingerprint) => (complete ? byParty.get(partner)?.get(fingerprint) : undefined),
  };
}
