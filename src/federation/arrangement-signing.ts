import {
  type ArrangementDocument,
  type ArrangementParty,
  type ArrangementSignature,
  arrangementVersionHash,
} from '../arrangements/index.js';
import type { PublicIdentity } from '../crypto/index.js';
import { AccordError } from '../errors/index.js';
import { type Signer, signAs } from './signer.js';

// The signing side of arrangementPins: a party's node signs the UTF-8 text of the version hash
// with a signing key the document lists for it. Pinning a party's keys changes the terms (the
// fingerprints are part of what is hashed), so it comes before anyone signs.

/** The party's nodeKeys entries for a node identity: its signing and its encryption key. */
export function nodeKeysOf(identity: PublicIdentity): ArrangementParty['nodeKeys'] {
  return [
    { use: 'signing', fingerprint: identity.signing.fingerprint },
    { use: 'encryption', fingerprint: identity.encryption.fingerprint },
  ];
}

/**
 * The document with each listed party's nodeKeys replaced by `identities`' keys and every
 * signature dropped (they were over other terms). A party missing from `identities` keeps its keys.
 */
export function withPinnedKeys(
  doc: ArrangementDocument,
  identities: ReadonlyMap<string, PublicIdentity>,
): ArrangementDocument {
  return {
    ...doc,
    parties: doc.parties.map((party) => {
      const identity = identities.get(party.partner);
      return identity === undefined ? party : { ...party, nodeKeys: nodeKeysOf(identity) };
    }),
    signatures: [],
  };
}

/**
 * The document with `partner`'s signature over its current version hash added (replacing any
 * earlier slot of that partner's for that key). Throws INPUT_INVALID when `partner` is not a
 * party or the signer's key is not a signing key the document lists for it.
 */
export function signArrangementAs(
  doc: ArrangementDocument,
  partner: string,
  signer: Signer,
  signedAt: string,
): ArrangementDocument {
  const party = doc.parties.find((p) => p.partner === partner);
  if (party === undefined) {
    throw new AccordError('INPUT_INVALID', `${partner} is not a party to arrangement ${doc.id}`, {
      arrangementId: doc.id,
      partner,
    });
  }
  const listed = party.nodeKeys.some((k) => k.use === 'signing' && k.fingerprint === signer.fingerprint);
  if (!listed) {
    throw new AccordError(
      'INPUT_INVALID',
      `arrangement ${doc.id} does not list ${signer.fingerprint} as a signing key of ${partner}; its terms must pin the key before it signs`,
      { arrangementId: doc.id, partner, fingerprint: signer.fingerprint },
    );
  }
  const versionHash = arrangementVersionHash(doc);
  const slot: ArrangementSignature = {
    partner,
    fingerprint: signer.fingerprint,
    versionHash,
    signedAt,
    signature: Buffer.from(signAs(signer, versionHash)).toString('base64'),
  };
  const others = doc.signatures.filter(
    (s) => !(s.partner === partner && s.fingerprint === signer.fingerprint),
  );
  return { ...doc, signatures: [...others, slot] };
}
