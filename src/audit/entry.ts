import Type, { type Static } from 'typebox';
import { ARRANGEMENT_STATUSES } from '../arrangements/index.js';
import { AccordError, ERROR_CODES, type ErrorCode } from '../errors/index.js';
import { RULE_IDS } from '../policy/index.js';
import { createValidator } from '../validation/index.js';

// What one audit log entry may say. Issue 5: "an entry holds actor, time, action, subject ids and
// labels — metadata only, never product content". The schema is closed at every level and has no
// free-text field: every string is an enum or matches a pattern of identifiers, upper-case
// marking text or addresses, so a title, a portion's text or an error message cannot be written
// into the log even by mistake. The canonical JSON (RFC 8785) of a parsed entry is the RFC 9162
// leaf input.

/** Every action the log records. Other issues add theirs here. */
export const AUDIT_ACTIONS = [
  'auth.login',
  'auth.login-failed',
  'product.created',
  'product.edited',
  'product.submitted',
  'product.approved',
  'product.rejected',
  'product.read',
  // A product version handed out in an interchange format (STIX export).
  'product.exported',
  'release.decided',
  'release.onward',
  'product.recalled',
  'consent.requested',
  'consent.granted',
  'consent.denied',
  'envelope.received',
  'envelope.refused',
  'envelope.delivered',
  'envelope.delivery-failed',
  'arrangement.created',
  'arrangement.amended',
  'arrangement.signed',
  'arrangement.status-changed',
  'arrangement.party-suspended',
  'arrangement.party-reinstated',
  // Issue 5, the breach protocol: an audit fork gossip found, and each step of a reported breach,
  // whether taken here (actor: a user) or received from the incident's origin (actor: the partner).
  'incident.audit-fork',
  'incident.reported',
  'incident.review-opened',
  'incident.confirmed',
  'incident.resolved',
  'incident.party-suspended',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

const Username = Type.String({ pattern: '^[a-z0-9][a-z0-9._-]{1,63}$' });
const Partner = Type.String({ pattern: '^[A-Z]{3}$' });
const Id = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$' });
const Version = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER });
// Date#toISOString form, so an entry has one spelling of its time.
const Instant = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z$' });
// A rendered banner (`TOP SECRET//SI//ORCON/REL TO USA, GBR, FVEY`, `UNCLASSIFIED//TLP:AMBER+STRICT`):
// upper-case marking tokens and their separators, no prose.
const Banner = Type.String({ pattern: '^[A-Z][A-Z0-9 ,/:+()-]{0,511}$' });
// An IPv4 or IPv6 address as Fastify reports it (`127.0.0.1`, `::ffff:10.0.0.1`).
const IpAddress = Type.String({ pattern: '^[0-9A-Fa-f:.]{2,45}$' });
const ERROR_CODE_NAMES = Object.keys(ERROR_CODES) as ErrorCode[];

const closed = { additionalProperties: false } as const;

/** Who acted: a signed-in user, a partner's node (an envelope at the inbox), this node itself, or nobody known. */
export const AuditActorSchema = Type.Union([
  Type.Object(
    {
      kind: Type.Literal('user'),
      username: Username,
      via: Type.Enum(['session', 'token', 'basic', 'local'] as const),
    },
    closed,
  ),
  Type.Object({ kind: Type.Literal('partner'), partner: Partner }, closed),
  Type.Object({ kind: Type.Literal('node') }, closed),
  Type.Object({ kind: Type.Literal('anonymous') }, closed),
]);

/** One audit log entry: actor, time, action, subject ids and labels. Closed: nothing else fits. */
export const AuditEntrySchema = Type.Object(
  {
    time: Instant,
    action: Type.Enum(AUDIT_ACTIONS),
    actor: AuditActorSchema,
    outcome: Type.Optional(Type.Enum(['success', 'failure', 'allow', 'deny'] as const)),
    /** The address a request came from (logins, envelopes). */
    ip: Type.Optional(IpAddress),
    /** A user the action was about, e.g. the name a failed login tried. */
    user: Type.Optional(Username),
    product: Type.Optional(Type.Object({ id: Id, version: Type.Optional(Version) }, closed)),
    arrangement: Type.Optional(
      Type.Object(
        { id: Id, version: Type.Optional(Version), status: Type.Optional(Type.Enum(ARRANGEMENT_STATUSES)) },
        closed,
      ),
    ),
    /** The other partner: a release's recipient, an envelope's sender or recipient, a suspended party. */
    partner: Type.Optional(Partner),
    release: Type.Optional(Id),
    envelope: Type.Optional(Id),
    /** The label of what the action touched, as rendered on this node. */
    banner: Type.Optional(Banner),
    /** A release decision's rules and their outcomes (never their reasons, which describe the content). */
    rules: Type.Optional(
      Type.Array(
        Type.Object(
          {
            rule: Type.Enum(RULE_IDS),
            outcome: Type.Enum(['pass', 'fail', 'withhold'] as const),
          },
          closed,
        ),
        { maxItems: 64 },
      ),
    ),
    /** The incident an `incident.*` entry is about, and the severity it was reported with. */
    incident: Type.Optional(Id),
    severity: Type.Optional(Type.Enum(['low', 'medium', 'high', 'critical'] as const)),
    /** The error code of a refusal or failure (never its message). */
    code: Type.Optional(Type.Enum(ERROR_CODE_NAMES)),
  },
  closed,
);
export type AuditEntry = Static<typeof AuditEntrySchema>;
export type AuditActor = Static<typeof AuditActorSchema>;

/** What a service records: an entry without its time, which the log stamps. */
export type AuditEvent = Omit<AuditEntry, 'time'>;

const validateEntry = createValidator<AuditEntry>(AuditEntrySchema, 'AUDIT_ENTRY_INVALID', 'audit entry');

/** Checks an entry against the closed schema; AUDIT_ENTRY_INVALID names the first field that does not fit. */
export function parseAuditEntry(value: unknown): AuditEntry {
  // attacker-controlled when read back from a store or a peer: the schema decides what an entry is.
  return validateEntry(value);
}

/** The leaf input of an entry: its RFC 8785 canonical JSON as UTF-8, after the schema check. */
export function auditEntryBytes(entry: AuditEntry): Uint8Array {
  return Buffer.from(canonicalAuditEntry(entry), 'utf8');
}

/**
 * RFC 8785 for the values the entry schema admits (plain objects, arrays, strings, safe
 * integers): keys sorted by UTF-16 code units (Array#sort's order), strings and integers as
 * JSON.stringify writes them, which is what §3.2.2 prescribes for both. Equal to the general
 * canonicalJson on entries (a property test checks it), whose other checks the schema has made.
 */
function canonicalText(value: unknown): string {
  if (typeof value !== 'object' || value === null) return JSON.stringify(value);
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + canonicalText(value[i]);
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  let out = '{';
  for (const key of keys) {
    const member = record[key];
    if (member === undefined) continue;
    out += `${out.length === 1 ? '' : ','}${JSON.stringify(key)}:${canonicalText(member)}`;
  }
  return `${out}}`;
}

/** The RFC 8785 canonical JSON text of an entry, after the schema check (AUDIT_ENTRY_INVALID). */
export function canonicalAuditEntry(entry: unknown): string {
  return canonicalText(parseAuditEntry(entry));
}

/**
 * Reads one stored entry's text back: it must parse, fit the schema and be in canonical form, so
 * that the bytes hashed are the bytes a reader sees. Throws AUDIT_ENTRY_INVALID otherwise.
 */
export function readStoredAuditEntry(text: string): AuditEntry {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new AccordError('AUDIT_ENTRY_INVALID', 'audit entry: not JSON', { path: '/' }, { cause: error });
  }
  const entry = parseAuditEntry(value);
  if (canonicalText(entry) !== text) {
    throw new AccordError('AUDIT_ENTRY_INVALID', 'audit entry: not in RFC 8785 canonical form', {
      path: '/',
    });
  }
  return entry;
}
