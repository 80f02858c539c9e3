import Type, { type Static } from 'typebox';
import { COMMON_LEVEL_NAMES, CONTROLS } from '../markings/index.js';
import { Category, DISCIPLINES, Identifier, PartnerCode, Timestamp } from '../products/index.js';

export const ARRANGEMENT_TYPES = ['bilateral', 'multilateral', 'task-force'] as const;
export const ARRANGEMENT_STATUSES = ['draft', 'active', 'suspended', 'terminated'] as const;
export type ArrangementStatus = (typeof ARRANGEMENT_STATUSES)[number];

const CommonLevel = Type.Enum(COMMON_LEVEL_NAMES, { description: 'a level of the common scale' });
const Fingerprint = Type.String({
  pattern: '^sha256:[0-9a-f]{64}$',
  description: 'SHA-256 of the raw public key',
});

/** The arrangement document (JSON); `schemas/arrangement.schema.json` is generated from this. */
export const ArrangementDocumentSchema = Type.Object(
  {
    id: Identifier,
    version: Type.Integer({ minimum: 1 }),
    title: Type.String({ minLength: 1, maxLength: 300 }),
    type: Type.Enum(ARRANGEMENT_TYPES),
    legalBasis: Type.String({ minLength: 1, maxLength: 2000 }),
    parties: Type.Array(
      Type.Object(
        {
          partner: PartnerCode,
          role: Type.Union([Type.Literal('party'), Type.Literal('lead'), Type.Literal('observer')]),
          nodeKeys: Type.Array(
            Type.Object(
              {
                use: Type.Union([Type.Literal('signing'), Type.Literal('encryption')]),
                fingerprint: Fingerprint,
              },
              { additionalProperties: false },
            ),
            { maxItems: 16 },
          ),
        },
        { additionalProperties: false },
      ),
      { minItems: 2, maxItems: 64 },
    ),
    scope: Type.Object(
      {
        disciplines: Type.Array(Type.Enum(DISCIPLINES), { minItems: 1, uniqueItems: true }),
        categories: Type.Array(Category, { minItems: 1, maxItems: 64, uniqueItems: true }),
        ceiling: CommonLevel,
        caveats: Type.Array(Type.String({ pattern: '^[A-Z]+(-[A-Z0-9]+)*$' }), {
          maxItems: 64,
          uniqueItems: true,
        }),
        controls: Type.Array(Type.Enum(CONTROLS), { uniqueItems: true }),
      },
      { additionalProperties: false },
    ),
    equivalences: Type.Record(
      PartnerCode,
      Type.Record(Type.String({ minLength: 1, maxLength: 64 }), CommonLevel),
      {
        description: 'per party: its national level name -> the common level it maps to',
      },
    ),
    effective: Timestamp,
    expires: Timestamp,
    review: Timestamp,
    thirdPartyRule: Type.Optional(
      Type.Boolean({
        default: true,
        description: 'on unless set to false; parseArrangement writes the default in',
      }),
    ),
    releaseApproval: Type.Object(
      {
        fromLevel: CommonLevel,
        approvals: Type.Integer({ minimum: 0, maximum: 10 }),
      },
      {
        additionalProperties: false,
        description: 'releases bannered at or above fromLevel need this many approvals',
      },
    ),
    oversight: Type.Object(
      {
        body: Type.String({ minLength: 1, maxLength: 300 }),
        contact: Type.Optional(Type.String({ maxLength: 300 })),
        auditIntervalDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3660 })),
      },
      { additionalProperties: false },
    ),
    breachProtocol: Type.Object(
      {
        notifyWithinHours: Type.Integer({ minimum: 1, maximum: 720 }),
        autoSuspendOnConfirmedBreach: Type.Boolean(),
        recall: Type.Boolean(),
      },
      { additionalProperties: false },
    ),
    status: Type.Enum(ARRANGEMENT_STATUSES),
    suspendedParties: Type.Optional(Type.Array(PartnerCode, { uniqueItems: true })),
    signatures: Type.Array(
      Type.Object(
        {
          partner: PartnerCode,
          fingerprint: Fingerprint,
          versionHash: Type.String({ pattern: '^sha256:[0-9a-f]{64}$' }),
          signedAt: Timestamp,
          signature: Type.String({ minLength: 1, maxLength: 1024, description: 'base64 Ed25519 signature' }),
        },
        { additionalProperties: false },
      ),
      { maxItems: 64 },
    ),
  },
  {
    additionalProperties: false,
    $id: 'https://accord.example/schemas/arrangement.schema.json',
    title: 'Accord arrangement',
  },
);

export type ArrangementDocument = Static<typeof ArrangementDocumentSchema>;
export type ArrangementSignature = ArrangementDocument['signatures'][number];
export type ArrangementParty = ArrangementDocument['parties'][number];
