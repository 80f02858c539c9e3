import { AccordError, isAccordError } from '../errors/index.js';

interface DriverError {
  readonly code?: unknown;
  readonly constraint?: unknown;
  readonly message?: unknown;
}

function driverError(error: unknown): DriverError {
  return typeof error === 'object' && error !== null ? (error as DriverError) : {};
}

// better-sqlite3 raises SqliteError with extended result codes (https://sqlite.org/rescode.html);
// pg raises DatabaseError with SQLSTATE codes (PostgreSQL appendix A) or Node socket errors.
const CONFLICT = new Set(['SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_CONSTRAINT_PRIMARYKEY', '23505']);
const MISSING_REFERENCE = new Set(['SQLITE_CONSTRAINT_FOREIGNKEY', '23503']);
const BAD_VALUE = new Set(['SQLITE_CONSTRAINT_CHECK', 'SQLITE_CONSTRAINT_NOTNULL', '23514', '23502']);
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EPIPE',
  '57P01',
  '57P03',
]);

/**
 * Turns a driver error from `operation` into an AccordError with a stable code, so callers on
 * either dialect see the same thing. AccordErrors pass through unchanged.
 */
export function translateDbError(error: unknown, operation: string): AccordError {
  if (isAccordError(error)) return error;
  const { code, constraint, message } = driverError(error);
  const codeText = typeof code === 'string' ? code : '';
  const details = {
    operation,
    ...(typeof constraint === 'string' ? { constraint } : {}),
    ...(codeText === '' ? {} : { driverCode: codeText }),
  };
  const reason = typeof message === 'string' ? message : String(error);
  if (CONFLICT.has(codeText)) {
    return new AccordError(
      'STORE_CONFLICT',
      `${operation}: a row with the same key already exists (${reason})`,
      details,
      {
        cause: error,
      },
    );
  }
  if (MISSING_REFERENCE.has(codeText)) {
    return new AccordError(
      'STORE_NOT_FOUND',
      `${operation}: refers to a row that does not exist (${reason})`,
      details,
      {
        cause: error,
      },
    );
  }
  if (BAD_VALUE.has(codeText)) {
    return new AccordError(
      'INPUT_INVALID',
      `${operation}: value not allowed by the schema (${reason})`,
      details,
      {
        cause: error,
      },
    );
  }
  if (UNREACHABLE.has(codeText) || codeText.startsWith('08')) {
    return new AccordError('SERVICE_UNAVAILABLE', `${operation}: database unreachable (${reason})`, details, {
      cause: error,
    });
  }
  return new AccordError('STORE_FAILED', `${operation}: ${reason}`, details, { cause: error });
}
