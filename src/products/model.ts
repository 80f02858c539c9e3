import Type, { type Static, type TSchema } from 'typebox';
import type { Label } from '../markings/index.js';

/** Intelligence disciplines. */
export const DISCIPLINES = ['SIGINT', 'IMINT', 'GEOINT', 'HUMINT', 'OSINT', 'MASINT', 'CYBINT'] as const;
export type Discipline = (typeof DISCIPLINES)[number];

/** Admiralty / NATO source reliability (A completely reliable … F cannot be judged). */
export const RELIABILITY = ['A', 'B', 'C', 'D', 'E', 'F'] as const;
export type Reliability = (typeof RELIABILITY)[number];

export const PartnerCode = Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 3166-1 alpha-3 trigraph' });
export const Timestamp = Type.String({ format: 'date-time' });
export const Identifier = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$' });
export const Category = Type.String({ pattern: '^[a-z][a-z0-9-]{1,63}$', description: 'kebab-case topic' });

/** A GeoJSON (RFC 7946) geometry, feature or feature collection: an object with a `type`. */
export const GeoJson = Type.Unsafe<{ readonly type: string; readonly [member: string]: unknown }>({
  type: 'object',
  required: ['type'],
  properties: { type: { type: 'string', minLength: 1 } },
  description: 'GeoJSON (RFC 7946) geometry, feature or feature collection',
});

const Marking = Type.String({
  minLength: 1,
  maxLength: 512,
  description: 'a banner or portion mark, e.g. (S//REL TO USA, GBR)',
});
const PortionText = Type.String({ maxLength: 1_000_000 });
const MAX_PORTIONS = 1000;

/** What an author writes. The product document and the API's draft input share these fields. */
export const AuthoredFields = {
  title: Type.String({ minLength: 1, maxLength: 500 }),
  titleMarking: Marking,
  discipline: Type.Enum(DISCIPLINES),
  categories: Type.Array(Category, { minItems: 1, maxItems: 32, uniqueItems: true }),
  reliability: Type.Enum(RELIABILITY),
  credibility: Type.Integer({ minimum: 1, maximum: 6 }),
  geo: Type.Optional(GeoJson),
  needToKnow: Type.Optional(
    Type.Object(
      {
        communities: Type.Optional(Type.Array(Identifier, { maxItems: 64, uniqueItems: true })),
        arrangements: Type.Optional(Type.Array(Identifier, { maxItems: 64, uniqueItems: true })),
      },
      { additionalProperties: false },
    ),
  ),
};

/** Portions as an author writes them; in a draft the node numbers those given without an id. */
export function portionsSchema<Id extends TSchema>(id: Id) {
  return Type.Array(
    Type.Object({ id, marking: Marking, text: PortionText }, { additionalProperties: false }),
    {
      minItems: 1,
      maxItems: MAX_PORTIONS,
    },
  );
}

/**
 * An originator's signature on a product or derived version: `by` the fingerprint of the signing
 * key its arrangements pin, `value` the base64 Ed25519 signature over `accord/product/v1:` and the
 * document's productDigest (federation/product-signature.ts signs and verifies; the schema lives
 * here so products need no federation import).
 */
export const ProductSignatureSchema = Type.Object(
  {
    by: Type.String({ pattern: '^sha256:[0-9a-f]{64}$', description: 'SHA-256 of the raw public key' }),
    value: Type.String({ pattern: '^[A-Za-z0-9+/]{86}==$', description: 'base64 Ed25519 signature' }),
  },
  { additionalProperties: false },
);
export type ProductSignature = Static<typeof ProductSignatureSchema>;

/** The product document as written in files and sent to the API: markings as strings. */
export const ProductDocumentSchema = Type.Object(
  {
    id: Identifier,
    version: Type.Integer({ minimum: 1 }),
    originator: PartnerCode,
    author: Identifier,
    ...AuthoredFields,
    portions: portionsSchema(Identifier),
    createdAt: Timestamp,
    approvals: Type.Optional(
      Type.Array(
        Type.Object(
          {
            by: Identifier,
            version: Type.Integer({ minimum: 1 }),
            at: Timestamp,
            decision: Type.Union([Type.Literal('approved'), Type.Literal('rejected')]),
            comment: Type.Optional(Type.String({ maxLength: 2000 })),
          },
          { additionalProperties: false },
        ),
        { maxItems: 100 },
      ),
    ),
    consents: Type.Optional(
      Type.Array(
        Type.Object(
          {
            originator: PartnerCode,
            recipient: PartnerCode,
            productId: Identifier,
            grantedAt: Timestamp,
            expiresAt: Type.Optional(Timestamp),
            signature: Type.Optional(Type.String({ maxLength: 1024 })),
          },
          { additionalProperties: false },
        ),
        { maxItems: 500 },
      ),
    ),
    recalled: Type.Optional(Type.Boolean()),
    /** The originating node's signature over this version; absent on a node without keys. */
    signature: Type.Optional(ProductSignatureSchema),
  },
  { additionalProperties: false, $id: 'https://accord.example/schemas/product.schema.json' },
);

export type ProductDocument = Static<typeof ProductDocumentSchema>;
export type Approval = NonNullable<ProductDocument['approvals']>[number];
export type Consent = NonNullable<ProductDocument['consents']>[number];

/** One portion of a product with its parsed label. */
export interface Portion {
  readonly id: string;
  readonly label: Label;
  readonly text: string;
}

/** A product as the core works with it: the document with every marking parsed. */
export interface Product {
  readonly id: string;
  readonly version: number;
  readonly originator: string;
  readonly author: string;
  readonly title: string;
  readonly titleLabel: Label;
  readonly discipline: Discipline;
  readonly categories: readonly string[];
  readonly portions: readonly Portion[];
  /** Join of the title and portion labels. */
  readonly banner: Label;
  readonly reliability: Reliability;
  readonly credibility: number;
  readonly createdAt: string;
  readonly geo: Readonly<Record<string, unknown>> | null;
  readonly approvals: readonly Approval[];
  readonly consents: readonly Consent[];
  readonly needToKnow: {
    readonly communities: readonly string[];
    readonly arrangements: readonly string[];
  } | null;
  readonly recalled: boolean;
}
