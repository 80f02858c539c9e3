import type { KeyObject } from 'node:crypto';
import { fingerprintOf, importRawPublicKey, RAW_KEY_LENGTH } from '../crypto/index.js';
import { AccordError } from '../errors/index.js';
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
