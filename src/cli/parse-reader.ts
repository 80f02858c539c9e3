import Type, { type Static } from 'typebox';
import { AccordError } from '../errors/index.js';
import {
  COMMON_LEVEL_NAMES,
  DEFAULT_REGISTRY,
  isCountryCode,
  type MarkingRegistry,
} from '../markings/index.js';
import type { Reader } from '../policy/index.js';
import { Identifier, PartnerCode } from '../products/index.js';
import { createValidator } from '../validation/index.js';

/** A user file for `accord policy read`: who reads, their clearance and accesses. */
export const ReaderDocumentSchema = Type.Object(
  {
    id: Identifier,
    nationality: PartnerCode,
    clearance: Type.Enum(COMMON_LEVEL_NAMES, { description: 'a level of the common scale' }),
    caveats: Type.Array(Type.String({ pattern: '^[A-Z]+(-[A-Z0-9]+)*$' }), {
      maxItems: 64,
      uniqueItems: true,
    }),
    communities: Type.Array(Identifier, { maxItems: 64, uniqueItems: true }),
    arrangements: Type.Optional(Type.Array(Identifier, { maxItems: 64, uniqueItems: true })),
  },
  { additionalProperties: false },
);

type ReaderDocument = Static<typeof ReaderDocumentSchema>;

const validateDocument = createValidator<ReaderDocument>(ReaderDocumentSchema, 'INPUT_INVALID', 'user');

function invalid(path: string, message: string): never {
  throw new AccordError('INPUT_INVALID', `user ${path}: ${message}`, { path });
}

/**
 * Validates a user document (attacker-controlled JSON) into a Reader: a known nationality, a
 * common-scale clearance and registered caveats. Throws INPUT_INVALID naming the field.
 */
export function parseReader(input: unknown, registry: MarkingRegistry = DEFAULT_REGISTRY): Reader {
  const doc = validateDocument(input);
  if (!isCountryCode(registry, doc.nationality))
    invalid('/nationality', `unknown partner '${doc.nationality}'`);
  doc.caveats.forEach((caveat, i) => {
    if (!registry.caveats.has(caveat.split('-')[0] ?? caveat))
      invalid(`/caveats/${i}`, `unknown caveat '${caveat}'`);
  });
  return {
    id: doc.id,
    nationality: doc.nationality,
    clearance: doc.clearance,
    caveats: doc.caveats,
    communities: doc.communities,
    ...(doc.arrangements === undefined ? {} : { arrangements: doc.arrangements }),
  };
}
