/**
 * Every error code Accord raises, with a one-line meaning. Codes are stable:
 * clients and the HTTP error mapper key on them, so never rename one.
 */
export const ERROR_CODES = {
  // markings
  MARKING_SYNTAX: 'A marking string is malformed (empty segment, stray separator, unbalanced parentheses).',
  MARKING_UNKNOWN_TOKEN:
    'A marking names a level, country, community, caveat or control that is not registered.',
  MARKING_CONTRADICTION: 'A marking combines tokens that exclude each other, such as REL TO with NOFORN.',
  MARKING_DUPLICATE: 'A marking gives the same level, list or token twice.',
  MARKING_EMPTY_REL_TO: 'A REL TO list names no country or community.',
  // arrangements
  ARRANGEMENT_INVALID: 'An arrangement document does not match the arrangement schema or its own rules.',
  ARRANGEMENT_TRANSITION_INVALID: 'An arrangement status change is not an allowed transition.',
  ARRANGEMENT_NOT_SIGNED:
    'An arrangement cannot become active until every party has signed its current version.',
  // products
  PRODUCT_INVALID: 'A product document does not match the product schema.',
  // authentication and authorisation
  AUTH_REQUIRED: 'The request needs a signed-in session or a bearer token.',
  AUTH_INVALID: 'The username, password or token is not valid.',
  AUTH_THROTTLED: 'Too many failed logins; try again later.',
  AUTH_CSRF: 'A cookie-authenticated write lacks the matching X-CSRF-Token header.',
  RATE_LIMITED:
    'Too many requests of one kind (sign-ins, writes, envelopes) in the window; the problem names the limit and when to retry.',
  FORBIDDEN: 'The signed-in user lacks the permission the action needs.',
  NOT_FOUND: 'No such resource, or none the caller may see (the two look the same).',
  // product lifecycle and release
  PRODUCT_STATE_INVALID: 'The product is not in a state that allows this action.',
  POLICY_DENIED: 'The release policy denied the action; the decision names the rules.',
  // configuration
  CONFIG_INVALID:
    'The configuration (file, ACCORD_* variables or flags) is invalid; the message names the key.',
  // generic input
  INPUT_INVALID: 'Input could not be read or parsed.',
  // store
  STORE_CONFLICT: 'A write collides with an existing row or a changed one (unique key, version, state).',
  STORE_NOT_FOUND: 'A row to change, or a row a write refers to, does not exist.',
  STORE_CONFIG_INVALID: 'The store configuration is malformed (connection URL, schema name, size limit).',
  STORE_MIGRATION_FAILED: 'A schema migration failed; the database stays at the last one that succeeded.',
  BUS_UNAVAILABLE: 'The event bus (NATS JetStream) named in the configuration cannot be reached or used.',
  STORE_TRANSACTION_MISUSE: 'Inside store.transaction() the outer store was used, not the tx handle.',
  STORE_FAILED: 'The database failed an operation for a reason other than a conflict or a missing row.',
  ATTACHMENT_TOO_LARGE: 'An attachment is larger than the configured size limit.',
  SERVICE_UNAVAILABLE: 'A required service (database, message bus, browser) cannot be reached.',
  // crypto
  CANONICAL_JSON_UNSUPPORTED:
    'A value cannot be written as RFC 8785 canonical JSON (undefined, a function, NaN, a cycle, a lone surrogate…).',
  KEY_INVALID:
    'A key is malformed or unusable: wrong type, wrong length, or a point that yields no shared secret.',
  SIGNATURE_INVALID: 'A signature is malformed or does not verify against the key it names.',
  ENVELOPE_DECRYPT_FAILED:
    'A sealed envelope could not be opened: wrong key, or enc, aad or ciphertext altered.',
  ENVELOPE_LIMIT_REACHED: 'An HPKE context has sealed or opened as many messages as its nonce space allows.',
  KEY_FILE_INVALID: 'An encrypted key file is malformed or uses parameters this node does not accept.',
  KEY_PASSPHRASE_MISSING: 'No passphrase was given for the node key; the message names the variable to set.',
  KEY_PASSPHRASE_WRONG: 'The passphrase does not unlock the encrypted key file, or the file was altered.',
  // audit
  AUDIT_PROOF_INVALID:
    'An RFC 9162 inclusion or consistency proof does not verify; the message names the check that failed.',
  AUDIT_INPUT_INVALID: 'A leaf index or tree size lies outside the log, or a hash is not 32 bytes.',
  AUDIT_STATE_CORRUPT:
    'Persisted audit state (a frontier, a stored subtree hash) is malformed or lacks a node it must hold.',
  AUDIT_TREE_HEAD_INVALID:
    'A tree head is malformed (size, root hash, timestamp, node id or signature field).',
  AUDIT_SIGNATURE_INVALID: 'A signed tree head does not verify under the key of the node it names.',
  AUDIT_FORK_DETECTED: 'A node signed two different roots for one tree size: it showed two histories.',
  AUDIT_LOG_TAMPERED:
    'The audit log does not match a trusted signed tree head; the details name the first entry that fails.',
  AUDIT_ENTRY_INVALID:
    'An audit entry does not fit the closed audit entry schema (metadata only) or is not in canonical form.',
  AUDIT_NO_TREE_HEAD:
    'The node has signed no audit tree head yet, so there is nothing to verify the log against.',
  AUDIT_SIGNING_UNAVAILABLE: 'This node runs without node keys, so it cannot sign audit tree heads.',
  // federation
  PRODUCT_SIGNATURE_INVALID:
    "A product or derived version's signature is malformed or does not verify over its digest.",
  KEY_UNPINNED: 'A signature names a key that no signed arrangement pins for that party.',
  KEY_RETIRED:
    "A signature names a party's key that a later arrangement version, signed by every party and in force, no longer lists (a key rotation).",
  ENVELOPE_MALFORMED:
    'An envelope or its payload does not match the envelope format; the details name the field.',
  ENVELOPE_MISADDRESSED: 'An envelope is addressed to another partner than this node.',
  ENVELOPE_SIGNATURE_INVALID:
    "An envelope's signature, over its header and sealed payload, does not verify under the sender key it names.",
  ENVELOPE_REPLAYED: 'An envelope with this id has been received before.',
  ENVELOPE_STALE: "An envelope's createdAt lies outside the allowed clock skew of this node's time.",
  RECEIPT_INVALID: 'A delivery receipt is malformed or its signature does not verify.',
  ENVELOPE_KIND_UNSUPPORTED: 'This node does not take envelopes of this kind at its inbox.',
  ARRANGEMENT_MISMATCH:
    'An envelope names an arrangement version this node does not hold, or holds with other terms (version hash).',
  FEDERATION_REFUSED:
    "The recipient's own release check refused a received product; deniedBy names the rules that refused it.",
  FEDERATION_NOT_CONFIGURED: 'This node runs without node keys, so it cannot take part in federation.',
  PARTNER_KEY_MISSING:
    'A release cannot be sealed: the recipient partner has no single encryption key on record; the message names the partner.',
  CONSENT_INVALID:
    "An originator's consent is malformed or its signature does not verify under the originator key it names.",
  CONSENT_MISMATCH:
    'A signed consent does not cover this onward release (another product version, holder, recipient or arrangement, or not in force); the message names each difference.',
  CONSENT_REQUEST_DECIDED: 'The consent request has been granted or denied already.',
  // breach protocol
  INCIDENT_STATE_INVALID:
    "The incident's state does not allow this step, or the step belongs to the node that took the report.",
  // STIX 2.1 interop
  STIX_INVALID:
    'A STIX 2.1 bundle or object is malformed or breaks a STIX rule; the details give the JSON path of the first error.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Structured, attacker-safe context for an error: which field, token or position was at fault. */
export interface ErrorDetails {
  readonly token?: string;
  /** 1-based character position in the input string. */
  readonly position?: number;
  /** JSON pointer or dotted path of the offending field. */
  readonly path?: string;
  readonly [key: string]: unknown;
}

/** The one error type Accord throws; `code` is from the closed table above. */
export class AccordError<C extends ErrorCode = ErrorCode> extends Error {
  readonly code: C;
  readonly details: ErrorDetails;

  constructor(code: C, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AccordError';
    this.code = code;
    this.details = details;
  }
}

export function isAccordError(value: unknown): value is AccordError {
  return value instanceof AccordError;
}
