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
