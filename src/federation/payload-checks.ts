import { AccordError, isAccordError } from '../errors/index.js';
import type { EnvelopeArrangement, EnvelopeHeader } from './envelope.js';

// What every kind of opened envelope's payload is checked with: its schema, then its agreement with
// the signed header. Each failure is ENVELOPE_MALFORMED naming the payload field.

/** ENVELOPE_MALFORMED for a payload field (`path`, from the payload's root) that contradicts the header. */
export function payloadInconsistent(header: EnvelopeHeader, path: string, message: string): AccordError {
  return new AccordError('ENVELOPE_MALFORMED', `envelope ${header.envelopeId} payload ${path}: ${message}`, {
    envelopeId: header.envelopeId,
    path: `/payload${path}`,
  });
}

/** The payload through its schema validator, a refusal re-thrown as ENVELOPE_MALFORMED under /payload. */
export function validatedPayload<T>(
  validate: (value: unknown) => T,
  payload: unknown,
  header: EnvelopeHeader,
): T {
  // attacker-controlled: authenticated as the sender's, but the sender is a peer all the same.
  try {
    return validate(payload);
  } catch (error) {
    if (!isAccordError(error)) throw error;
    throw new AccordError(
      'ENVELOPE_MALFORMED',
      `envelope ${header.envelopeId}: ${error.message}`,
      { envelopeId: header.envelopeId, path: `/payload${error.details.path ?? ''}` },
      { cause: error },
    );
  }
}

/** Refuses a payload arrangement (at `/arrangement`) other than the one the header names. */
export function checkPayloadArrangement(header: EnvelopeHeader, arrangement: EnvelopeArrangement): void {
  const named = header.arrangement;
  if (
    arrangement.id === named.id &&
    arrangement.version === named.version &&
    arrangement.versionHash === named.versionHash
  ) {
    return;
  }
  throw payloadInconsistent(
    header,
    '/arrangement',
    `names ${arrangement.id} v${arrangement.version} (${arrangement.versionHash}) but the header names ${named.id} v${named.version} (${named.versionHash})`,
  );
}
