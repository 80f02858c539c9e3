import { randomUUID } from 'node:crypto';
import Type, { type Static } from 'typebox';
import { hashPassword } from '../auth/passwords.js';
import { ROLES } from '../auth/roles.js';
import { AccordError } from '../errors/index.js';
import { COMMON_LEVEL_NAMES, isCountryCode, type MarkingRegistry } from '../markings/index.js';
import { Identifier, PartnerCode } from '../products/index.js';
import type { Partner, PartnerInput, PartnerKey, Store, User } from '../store/index.js';
import { type Actor, requirePermission } from './actor.js';

export const UserInputSchema = Type.Object(
  {
    username: Type.String({ pattern: '^[a-z0-9][a-z0-9._-]{1,63}$', description: 'lower-case login name' }),
    displayName: Type.String({ minLength: 1, maxLength: 200 }),
    nationality: PartnerCode,
    clearance: Type.Enum(COMMON_LEVEL_NAMES),
    caveats: Type.Array(Type.String({ pattern: '^[A-Z]+(-[A-Z0-9]+)*$' }), {
      maxItems: 64,
      uniqueItems: true,
    }),
    communities: Type.Array(Identifier, {
      maxItems: 64,
      uniqueItems: true,
      description: 'communities of interest for need-to-know (any identifier, e.g. FVEY or ct-fusion-cell)',
    }),
    roles: Type.Array(Type.Enum(ROLES), { minItems: 1, uniqueItems: true }),
    oversightOf: Type.Optional(
      Type.Array(Identifier, {
        minItems: 1,
        maxItems: 64,
        uniqueItems: true,
        description:
          'the arrangements whose oversight body this user sits on: audit metadata, reports and incidents of these only',
      }),
    ),
    password: Type.Optional(Type.String({ minLength: 12, maxLength: 256 })),
  },
  { additionalProperties: false },
);
export type UserInput = Static<typeof UserInputSchema>;

export const PartnerInputSchema = Type.Object(
  {
    code: PartnerCode,
    name: Type.String({ minLength: 1, maxLength: 200 }),
    endpoint: Type.Union([Type.String({ format: 'uri', maxLength: 500 }), Type.Null()]),
  },
  { additionalProperties: false },
);

/** A user without secrets, as the API shows it. */
export type PublicUser = Omit<User, 'passwordHash'>;

export function publicUser(user: User): PublicUser {
  const { passwordHash: _hidden, ...rest } = user;
  return rest;
}

/** Users and partners of this node. */
export class DirectoryService {
  readonly #store: Store;
  readonly #registry: MarkingRegistry;

  constructor(deps: { readonly store: Store; readonly registry: MarkingRegistry }) {
    this.#store = deps.store;
    this.#registry = deps.registry;
  }

  /** Creates a user; with no actor it is the node's own bootstrap (init, demo). */
  async createUser(actor: Actor | null, input: UserInput): Promise<PublicUser> {
    if (actor !== null) requirePermission(actor, 'user:write');
    if (!isCountryCode(this.#registry, input.nationality)) {
      throw new AccordError('INPUT_INVALID', `user /nationality: unknown country '${input.nationality}'`, {
        path: '/nationality',
      });
    }
    input.caveats.forEach((c, i) => {
      if (!this.#registry.caveats.has(c.split('-')[0] ?? c)) {
        throw new AccordError('INPUT_INVALID', `user /caveats/${i}: unknown caveat '${c}'`, {
          path: `/caveats/${i}`,
        });
      }
    });
    const user = await this.#store.users.create({
      id: randomUUID(),
      username: input.username,
      displayName: input.displayName,
      nationality: input.nationality,
      clearance: input.clearance,
      caveats: input.caveats,
      communities: input.communities,
      roles: input.roles,
      oversightOf: input.oversightOf ?? null,
      passwordHash: input.password === undefined ? null : await hashPassword(input.password),
    });
    return publicUser(user);
  }

  async listUsers(actor: Actor): Promise<readonly PublicUser[]> {
    requirePermission(actor, 'user:read');
    return (await this.#store.users.list()).map(publicUser);
  }

  /**
   * Adds or updates a partner. Without `keys` the partner keeps the keys it has; with them (checked
   * against their fingerprints by the caller, e.g. `accord partner add`) they replace them.
   */
  async upsertPartner(
    actor: Actor | null,
    input: Omit<PartnerInput, 'keys'> & { readonly keys?: readonly PartnerKey[] },
  ): Promise<Partner> {
    if (actor !== null) requirePermission(actor, 'partner:write');
    if (!isCountryCode(this.#registry, input.code)) {
      throw new AccordError('INPUT_INVALID', `partner /code: unknown partner code '${input.code}'`, {
        path: '/code',
      });
    }
    const existing = await this.#store.partners.get(input.code);
    const { code, name, endpoint } = input;
    return this.#store.partners.upsert({ code, name, endpoint, keys: input.keys ?? existing?.keys ?? [] });
  }

  async listPartners(actor: Actor): Promise<readonly Partner[]> {
    requirePermission(actor, 'partner:read');
    return this.#store.partners.list();
  }

  async getPartner(actor: Actor, code: string): Promise<Partner> {
    requirePermission(actor, 'partner:read');
    const partner = await this.#store.partners.get(code);
    if (partner === undefined) throw new AccordError('NOT_FOUND', `no partner '${code}'`, { code });
    return partner;
  }
}
