import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { type ErrorCode, isAccordError } from '../errors/index.js';

// The one mapping from domain error codes to HTTP. The domain never knows HTTP.
const STATUS: Readonly<Record<ErrorCode, number>> = {
  MARKING_SYNTAX: 400,
  MARKING_UNKNOWN_TOKEN: 400,
  MARKING_CONTRADICTION: 400,
  MARKING_DUPLICATE: 400,
  MARKING_EMPTY_REL_TO: 400,
  ARRANGEMENT_INVALID: 400,
  ARRANGEMENT_TRANSITION_INVALID: 409,
  ARRANGEMENT_NOT_SIGNED: 409,
  PRODUCT_INVALID: 400,
  STIX_INVALID: 400,
  AUTH_REQUIRED: 401,
  AUTH_INVALID: 401,
  AUTH_THROTTLED: 429,
  AUTH_CSRF: 403,
  RATE_LIMITED: 429,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  PRODUCT_STATE_INVALID: 409,
  POLICY_DENIED: 403,
  CONFIG_INVALID: 500,
  INPUT_INVALID: 400,
  STORE_CONFLICT: 409,
  STORE_NOT_FOUND: 404,
  STORE_TRANSACTION_MISUSE: 500,
  STORE_CONFIG_INVALID: 500,
  STORE_MIGRATION_FAILED: 500,
  STORE_FAILED: 500,
  ATTACHMENT_TOO_LARGE: 413,
  SERVICE_UNAVAILABLE: 503,
  BUS_UNAVAILABLE: 503,
  CANONICAL_JSON_UNSUPPORTED: 400,
  KEY_INVALID: 400,
  SIGNATURE_INVALID: 400,
  ENVELOPE_DECRYPT_FAILED: 400,
  ENVELOPE_LIMIT_REACHED: 500,
  KEY_FILE_INVALID: 500,
  KEY_PASSPHRASE_MISSING: 500,
  KEY_PASSPHRASE_WRONG: 500,
  AUDIT_PROOF_INVALID: 400,
  AUDIT_INPUT_INVALID: 400,
  AUDIT_STATE_CORRUPT: 500,
  AUDIT_TREE_HEAD_INVALID: 400,
  AUDIT_SIGNATURE_INVALID: 400,
  AUDIT_FORK_DETECTED: 409,
  AUDIT_LOG_TAMPERED: 409,
  AUDIT_ENTRY_INVALID: 500,
  AUDIT_NO_TREE_HEAD: 404,
  AUDIT_SIGNING_UNAVAILABLE: 503,
  PRODUCT_SIGNATURE_INVALID: 400,
  KEY_UNPINNED: 403,
  KEY_RETIRED: 403,
  ENVELOPE_MALFORMED: 400,
  ENVELOPE_MISADDRESSED: 400,
  ENVELOPE_SIGNATURE_INVALID: 400,
  ENVELOPE_REPLAYED: 409,
  ENVELOPE_STALE: 400,
  RECEIPT_INVALID: 400,
  ENVELOPE_KIND_UNSUPPORTED: 400,
  ARRANGEMENT_MISMATCH: 409,
  FEDERATION_REFUSED: 403,
  FEDERATION_NOT_CONFIGURED: 503,
  PARTNER_KEY_MISSING: 409,
  CONSENT_INVALID: 400,
  CONSENT_MISMATCH: 403,
  CONSENT_REQUEST_DECIDED: 409,
  INCIDENT_STATE_INVALID: 409,
};

const TITLES: Readonly<Record<number, string>> = {
  400: 'Bad request',
  401: 'Authentication required',
  403: 'Forbidden',
  404: 'Not found',
  405: 'Method not allowed',
  409: 'Conflict',
  413: 'Request body too large',
  415: 'Unsupported media type',
  429: 'Too many requests',
  500: 'Internal server error',
  503: 'Service unavailable',
};

/** An RFC 9457 problem details body, with Accord's stable `code` and the offending `field`. */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly code: string;
  readonly field?: string;
  readonly [extension: string]: unknown;
}

function problem(status: number, code: string, detail: string, extra: Record<string, unknown> = {}): Problem {
  return {
    type: `https://accord.example/problems/${code.toLowerCase().replaceAll('_', '-')}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    code,
    ...extra,
  };
}

// Fastify's own errors for malformed requests, by its error code.
const FASTIFY_CODES: Readonly<Record<string, { status: number; code: string }>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'BODY_TOO_LARGE' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'INPUT_INVALID' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'INPUT_INVALID' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'INPUT_INVALID' },
};

/** Turns any error into a problem: AccordErrors by code, validation and parser errors as 4xx, the rest 500. */
export function toProblem(error: unknown): Problem {
  if (isAccordError(error)) {
    const status = STATUS[error.code];
    const { path, token, position, ...rest } = error.details;
    const extra: Record<string, unknown> = {};
    if (path !== undefined) extra.field = path;
    if (token !== undefined) extra.token = token;
    if (position !== undefined) extra.position = position;
    // Policy denials carry the decision's rules so the caller can read why.
    for (const key of [
      'deniedBy',
      'rules',
      'releaseId',
      'missing',
      'allowed',
      'retryAfterSeconds',
      // Rate limits: which one, and how many requests its window allows.
      'limit',
      'max',
      'windowSeconds',
      // Inbox refusals: which envelope, and the recipient's signed word on it when it gave one.
      'envelopeId',
      'receipt',
    ] as const) {
      if (rest[key] !== undefined) extra[key] = rest[key];
    }
    return problem(status, error.code, error.message, extra);
  }
  const fastifyError = error as Partial<FastifyError> & {
    validation?: {
      instancePath?: string;
      message?: string;
      params?: Record<string, unknown>;
      keyword?: string;
    }[];
    validationContext?: string;
  };
  if (Array.isArray(fastifyError.validation) && fastifyError.validation.length > 0) {
    const first = fastifyError.validation[0]!;
    const where = fastifyError.validationContext ?? 'body';
    let field = `${where}${first.instancePath ?? ''}`;
    let message = first.message ?? 'is invalid';
    if (first.keyword === 'additionalProperties') {
      field = `${field}/${String(first.params?.additionalProperty)}`;
      message = 'is not an allowed field';
    } else if (first.keyword === 'required') {
      field = `${field}/${String(first.params?.missingProperty)}`;
      message = 'is required';
    }
    return problem(400, 'INPUT_INVALID', `${field} ${message}`, { field });
  }
  const mapped = fastifyError.code === undefined ? undefined : FASTIFY_CODES[fastifyError.code];
  if (mapped !== undefined) return problem(mapped.status, mapped.code, fastifyError.message ?? mapped.code);
  if (error instanceof SyntaxError || fastifyError.statusCode === 400) {
    return problem(400, 'INPUT_INVALID', `malformed request: ${(error as Error).message}`);
  }
  if (
    typeof fastifyError.statusCode === 'number' &&
    fastifyError.statusCode >= 400 &&
    fastifyError.statusCode < 500
  ) {
    return problem(fastifyError.statusCode, 'INPUT_INVALID', fastifyError.message ?? 'bad request');
  }
  return problem(500, 'INTERNAL', 'internal error; the node log has the details');
}

/** RFC 9110 §10.2.3: a refusal that says when to come back (throttled login, rate limit) says it in Retry-After too. */
export function setRetryAfter(problem: Problem, reply: FastifyReply): void {
  if (problem.status === 429 && typeof problem.retryAfterSeconds === 'number') {
    void reply.header('retry-after', String(problem.retryAfterSeconds));
  }
}

/** Fastify error handler: one place that writes every error response. */
export function sendProblem(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const body = toProblem(error);
  if (body.status >= 500) request.log.error({ err: error }, 'request failed');
  else request.log.info({ code: body.code, status: body.status }, body.detail);
  setRetryAfter(body, reply);
  return reply.code(body.status).type('application/problem+json').send(body);
}
