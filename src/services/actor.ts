import { authorise, type Permission } from '../auth/roles.js';
import { AccordError } from '../errors/index.js';
import type { Reader } from '../policy/index.js';
import type { User } from '../store/index.js';

/** Who is acting: the signed-in user, however they authenticated. */
export interface Actor {
  readonly user: User;
  readonly via: 'session' | 'token' | 'basic' | 'local';
}

/** Throws FORBIDDEN, naming the permission, unless one of the actor's roles grants it. */
export function requirePermission(actor: Actor, permission: Permission): void {
  const outcome = authorise(actor.user.roles, permission);
  if (!outcome.allowed) throw new AccordError('FORBIDDEN', outcome.reason, { permission });
}

/**
 * The arrangements whose oversight metadata (audit entries, reports, incidents) the actor may see:
 * those whose oversight body they sit on, or undefined when they are not scoped (node-wide).
 */
export function oversightScope(actor: Actor): readonly string[] | undefined {
  return actor.user.oversightOf ?? undefined;
}

/**
 * Throws NOT_FOUND (as if it did not exist, so a scoped auditor learns nothing of other
 * arrangements) unless the actor's oversight scope covers `arrangementId`. Null: something under
 * no arrangement, which only an unscoped actor sees.
 */
export function requireOversightOf(actor: Actor, arrangementId: string | null, what: string): void {
  const scope = oversightScope(actor);
  if (scope === undefined || (arrangementId !== null && scope.includes(arrangementId))) return;
  throw new AccordError('NOT_FOUND', `no ${what}`, {});
}

/** The policy's view of a user. */
export function readerOf(user: User): Reader {
  return {
    id: user.username,
    nationality: user.nationality,
    clearance: user.clearance,
    caveats: user.caveats,
    communities: user.communities,
  };
}
