import { type KeyObject, randomBytes } from 'node:crypto';
import { fingerprintOf, importRawPublicKey, RAW_KEY_LENGTH } from '../crypto/index.js';
import { AccordError } from '../errors/index.js';
import {
  type Envelope,
  type EnvelopeHeaderFields,
  newEnvelopeHeader,
  type Signer,
  sealEnvelope,
} from '../federation/index.js';
import type { PartnerRepository } from '../store/index.js';

/**
 * The X25519 key the recipient's entry in the partner directory records: exactly one, whose
 * fingerprint is its own. None (or several to choose from) is PARTNER_KEY_MISSING naming the
 * partner; a key that does not match its fingerprint is KEY_INVALID.
 */
export async function recipientEncryptionKeyOf(
  partners: PartnerRepository,
  recipient: string,
): Promise<KeyObject> {
  const partner = await partners.get(recipient);
  const keys = partner?.keys.filter((k) => k.use === 'encryption') ?? [];
  const [key] = keys;
  if (key === undefined || keys.length > 1) {
    const why =
      partner === undefined
        ? `partner ${recipient} is not in the partner directory`
        : key === undefined
          ? `partner ${recipient} has no encryption key on record`
          : `partner ${recipient} has ${keys.length} encryption keys on record and a release is sealed to one`;
    throw new AccordError(
      'PARTNER_KEY_MISSING',
      `cannot seal a release to ${recipient}: ${why}; record its node's public keys (accord partner add ${recipient} --identity FILE)`,
      { partner: recipient },
    );
  }
  const raw = Buffer.from(key.publicKey, 'base64');
  if (raw.length !== RAW_KEY_LENGTH || fingerprintOf(raw) !== key.fingerprint) {
    throw new AccordError(
      'KEY_INVALID',
      `partner ${recipient}: the encryption key on record does not match its fingerprint ${key.fingerprint}`,
      { partner: recipient, fingerprint: key.fingerprint },
    );
  }
  return importRawPublicKey('x25519', raw);
}

/** An outbox row's payload for a sealed message: the envelope, and what it was sealed from. */
export interface SealedMessage {
  readonly id: string;
  readonly payload: {
    readonly envelope: Envelope;
    readonly release: { readonly header: EnvelopeHeaderFields; readonly payload: object };
  };
}

/**
 * Seals `payload` to `to` in a fresh envelope of `kind` under `arrangement`, naming `product` (or
 * what stands in its slot). The outbox row keeps the header fields and payload beside the envelope
 * (under `release`, as the worker reads them) so a stale envelope can be sealed again under the
 * same id. PARTNER_KEY_MISSING when the recipient's encryption key is not on record.
 */
export async function sealForOutbox(
  partners: PartnerRepository,
  message: {
    readonly signer: Signer;
    readonly from: string;
    readonly now: number;
    readonly kind: EnvelopeHeaderFields['kind'];
    readonly to: string;
    readonly arrangement: { readonly id: string; readonly version: number; readonly versionHash: string };
    readonly product: { readonly id: string; readonly version: number };
    readonly payload: object;
  },
): Promise<SealedMessage> {
  const recipientEncryptionKey = await recipientEncryptionKeyOf(partners, message.to);
  const fields: EnvelopeHeaderFields = {
    kind: message.kind,
    from: message.from,
    to: message.to,
    arrangement: {
      id: message.arrangement.id,
      version: message.arrangement.version,
      versionHash: message.arrangement.versionHash,
    },
    product: { id: message.product.id, version: message.product.version },
    senderKey: message.signer.fingerprint,
  };
  const header = newEnvelopeHeader(fields, { now: message.now, randomBytes: (n) => randomBytes(n) });
  const envelope = sealEnvelope({
    header,
    payload: message.payload,
    signer: message.signer,
    recipientEncryptionKey,
  });
  return {
    id: envelope.header.envelopeId,
    payload: { envelope, release: { header: fields, payload: message.payload } },
  };
}
