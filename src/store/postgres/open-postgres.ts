import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { AccordError } from '../../errors/index.js';
import type { Database } from '../schema.js';

/** Schema names we accept: plain lower-case identifiers, so they need no quoting anywhere. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export interface PostgresOptions {
  /** Schema for every table; created if missing and set as each connection's search_path. */
  readonly schema?: string;
  readonly maxConnections?: number;
}

/** The URL with any password masked, for messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}

function checkUrl(url: string): void {
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    throw new AccordError('STORE_CONFIG_INVALID', 'the PostgreSQL URL is not a URL', { path: 'url' });
  }
  if (protocol !== 'postgres:' && protocol !== 'postgresql:') {
    throw new AccordError(
      'STORE_CONFIG_INVALID',
      `the PostgreSQL URL has scheme ${protocol}; expected postgres:`,
      {
        path: 'url',
      },
    );
  }
}

/**
 * Opens a `pg` pool on `url`, checks that the server answers, creates the schema when one is
 * named, and wraps the pool in Kysely. The schema is pinned per connection with
 * `options=-c search_path=<schema>` so that every pooled connection, including ones opened
 * later, resolves unqualified table names there.
 */
export async function openPostgres(url: string, options: PostgresOptions = {}): Promise<Kysely<Database>> {
  checkUrl(url);
  const { schema, maxConnections = 10 } = options;
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
    throw new AccordError('STORE_CONFIG_INVALID', `schema must match ${SCHEMA_NAME.source}`, {
      path: 'schema',
    });
  }
  if (!Number.isInteger(maxConnections) || maxConnections < 1) {
    throw new AccordError('STORE_CONFIG_INVALID', 'maxConnections must be a positive integer', {
      path: 'maxConnections',
    });
  }
  const pool = new pg.Pool({
    connectionString: url,
    max: maxConnections,
    ...(schema === undefined ? {} : { options: `-c search_path=${schema}` }),
  });
  // An idle connection that dies (server restart) is dropped by the pool and the next checkout
  // reconnects; without a listener Node would treat the 'error' event as fatal to the process.
  pool.on('error', () => undefined);
  try {
    const client = await pool.connect();
    try {
      // SCHEMA_NAME admits only [a-z0-9_], so the identifier is safe to splice.
      await client.query(schema === undefined ? 'select 1' : `create schema if not exists "${schema}"`);
    } finally {
      client.release();
    }
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw new AccordError(
      'SERVICE_UNAVAILABLE',
      `cannot reach PostgreSQL at ${redactUrl(url)}: ${error instanceof Error ? error.message : String(error)}`,
      { url: redactUrl(url) },
      { cause: error },
    );
  }
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}
