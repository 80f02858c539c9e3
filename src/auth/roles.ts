/** The roles a user may hold. */
export const ROLES = ['analyst', 'release-officer', 'administrator', 'oversight-auditor'] as const;
export type Role = (typeof ROLES)[number];

/** Every permission a route can require. */
export const PERMISSIONS = [
  'product:create',
  'product:edit',
  'product:read',
  'product:submit',
  'product:approve',
  'product:release',
  'product:recall',
  'arrangement:read',
  'arrangement:write',
  'partner:read',
  'partner:write',
  'user:read',
  'user:write',
  'outbox:read',
  'inbox:read',
  'audit:read',
  'audit:sign',
  'report:read',
  'incident:report',
  'incident:read',
  'incident:review',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

// The one authorisation table. Deny by default: a permission not listed for a role is refused.
// Administrators run the node (users, partners, arrangements) but read no product content;
// oversight auditors read arrangements and, with the audit issue, audit metadata only.
const GRANTS: Readonly<Record<Role, readonly Permission[]>> = {
  analyst: [
    'product:create',
    'product:edit',
    'product:read',
    'product:submit',
    'arrangement:read',
    'partner:read',
    // Anyone who works with products may report a breach they see (issue 5).
    'incident:report',
  ],
  'release-officer': [
    'product:read',
    'product:approve',
    'product:release',
    // A recall undoes releases: the people who release may recall (issue 4). Its own permission,
    // so the route × role matrix and any later role can tell the two acts apart.
    'product:recall',
    'arrangement:read',
    'partner:read',
    'outbox:read',
    'inbox:read',
    'incident:report',
    'incident:read',
  ],
  administrator: [
    'arrangement:read',
    'arrangement:write',
    'partner:read',
    'partner:write',
    'user:read',
    'user:write',
    'outbox:read',
    'inbox:read',
    'audit:read',
    'audit:sign',
    'report:read',
    'incident:report',
    'incident:read',
  ],
  // Audit metadata (actors, actions, ids, banners) but never product content.
  // Compliance reports (issue 5) are metadata too: counts, ids, usernames, banner levels, rule ids.
  // Incidents are metadata too (parties, product ids, severity, the reporter's description); the
  // oversight body reviews them and confirms or resolves them (issue 5's breach protocol).
  'oversight-auditor': [
    'arrangement:read',
    'partner:read',
    'audit:read',
    'report:read',
    'incident:report',
    'incident:read',
    'incident:review',
  ],
};

/** The outcome of an authorisation check, with the reason a person can read. */
export interface Authorisation {
  readonly allowed: boolean;
  readonly reason: string;
}

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

/** Whether any of `roles` grants `permission`. Unknown roles grant nothing. */
export function authorise(roles: readonly string[], permission: Permission): Authorisation {
  const granting = roles.find((r) => isRole(r) && GRANTS[r].includes(permission));
  return granting !== undefined
    ? { allowed: true, reason: `${permission} granted by role ${granting}` }
    : { allowed: false, reason: `${permission} is not granted to roles ${roles.join(', ') || '(none)'}` };
}

/** The permissions each role grants (for documentation and the route × role test matrix). */
export function grantsOf(role: Role): readonly Permission[] {
  return GRANTS[role];
}
