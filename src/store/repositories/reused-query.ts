import { type Compilable, CompiledQuery, type DialectAdapter, type Kysely, type QueryResult } from 'kysely';
import { AccordError } from '../../errors/index.js';
import type { Database } from '../schema.js';

// Kysely builds and compiles every query anew: for the audit log's hot writes (a queued event in
// every business transaction, a thousand entries and subtree hashes per integrated batch) that
// costs more than SQLite's own work. A query whose SQL text depends only on its shape is compiled
// once per database (keyed by the dialect adapter, which a transaction shares with its pool) and
// then run with new parameters. The first compilation is checked against the parameters the
// caller would pass, so a later run can never bind a value to the wrong column.

const compiled = new WeakMap<DialectAdapter, Map<string, string>>();

function sqlOf(db: Kysely<Database>): Map<string, string> {
  const adapter = db.getExecutor().adapter;
  let texts = compiled.get(adapter);
  if (texts === undefined) {
    texts = new Map();
    compiled.set(adapter, texts);
  }
  return texts;
}

/**
 * Runs the query `build` makes, whose SQL text depends only on `shape`, with `parameters` (in the
 * order the compiled query binds them). The first run per database compiles it, checks that its
 * parameters are `parameters` exactly, and keeps the text; later runs bind new parameters to it.
 */
export function runReused(
  db: Kysely<Database>,
  shape: string,
  parameters: unknown[],
  build: () => Compilable,
): Promise<QueryResult<unknown>> {
  return db.executeQuery(CompiledQuery.raw(reusedSql(db, shape, parameters, build), parameters));
}

/** The SQL text runReused runs: compiled and checked against `parameters` on first use per database. */
export function reusedSql(
  db: Kysely<Database>,
  shape: string,
  parameters: readonly unknown[],
  build: () => Compilable,
): string {
  const texts = sqlOf(db);
  let text = texts.get(shape);
  if (text === undefined) {
    const query = build().compile();
    const same =
      query.parameters.length === parameters.length &&
      query.parameters.every((value, i) => value === parameters[i]);
    if (!same) {
      throw new AccordError(
        'STORE_FAILED',
        `query '${shape}' binds its parameters in another order than its caller gives them`,
        { shape },
      );
    }
    text = query.sql;
    texts.set(shape, text);
  }
  return text;
}

/** Splits rows into runs of 512, 256, …, 1 rows: few statements, and at most ten SQL texts per query. */
export function reusableRuns<T>(rows: readonly T[]): T[][] {
  const runs: T[][] = [];
  let at = 0;
  for (let size = 512; size >= 1; size /= 2) {
    while (rows.length - at >= size) {
      runs.push(rows.slice(at, at + size));
      at += size;
    }
  }
  return runs;
}
