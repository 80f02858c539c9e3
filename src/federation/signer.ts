import type { KeyObject } from 'node:crypto';
import { exportRawPublicKey, fingerprintOf, type SigningPublicKey, signDigest } from '../crypto/index.js';
import { AccordError, type ErrorDetails } from '../errors/index.js';

/** A node's Ed25519 signing key and the fingerprint its arrangements pin for it. */
export interface Signer {
  readonly privateKey: KeyObject;
  readonly fingerprint: string;
}

/**
 * Looks up the public key pinned under `fingerprint`; undefined when no signed arrangement pins
 * it. The resolver is where pinning lives: it must answer only with keys it trusts.
 */
export type KeyResolver = (fingerprint: string) => SigningPublicKey | undefined;

const signerFingerprints = new WeakMap<KeyObject, string>();

/**
 * Ed25519 signature by `signer`, after checking that its key is the one its fingerprint names:
 * a mismatch would send signatures no peer can verify, so it fails here, at the sender.
 */
export function signAs(signer: Signer, message: Uint8Array | string): Uint8Array {
  let actual = signerFingerprints.get(signer.privateKey);
  if (actual === undefined) {
    actual = fingerprintOf(exportRawPublicKey(signer.privateKey));
    signerFingerprints.set(signer.privateKey, actual);
  }
  if (actual !== signer.fingerprint) {
    throw new AccordError(
      'KEY_INVALID',
      `the signing key's fingerprint is ${actual}, not ${signer.fingerprint}`,
      {
        fingerprint: signer.fingerprint,
      },
    );
  }
  return signDigest(signer.privateKey, message);
}

/**
 * The key a resolver pins for `fingerprint`, or KEY_UNPINNED. A resolver that answers with a key
 * under another fingerprint is treated as pinning nothing (deny by default).
 */
export function pinnedKey(
  key: SigningPublicKey | undefined,
  fingerprint: string,
  what: string,
  details: ErrorDetails,
): SigningPublicKey {
  if (key === undefined) {
    throw new AccordError('KEY_UNPINNED', `${what} is signed by ${fingerprint}, a key no arrangement pins`, {
      ...details,
      fingerprint,
    });
  }
  if (fingerprintOf(key) !== fingerprint) {
    throw new AccordError(
      'KEY_UNPINNED',
      `${what} names key ${fingerprint} but the pinned-key lookup returned a different key`,
      { ...details, fingerprint },
    );
  }
  return key;
}
