import { type Kysely, sql } from 'kysely';

// SQLite cannot drop a NOT NULL or change a CHECK of a table (https://sqlite.org/lang_altertable.html
// §7). Each migration that lets an outbox row belong to something new (0005: consent requests and
// onward releases; 0009: incidents) makes the table again under a new name, copies its rows over,
// drops the old one and renames the new one. Columns, foreign keys and indexes are read from the
// table itself, so those an earlier migration added come along.

/** A column naming what an outbox row may belong to besides a release, and what it references. */
export interface OutboxSubject {
  readonly column: string;
  readonly references: string;
  readonly constraint: string;
}

/** Every subject column any migration has added, so a rebuild can tell them from the others. */
const SUBJECT_COLUMNS = ['consent_request_id', 'onward_release_id', 'incident_id'];

interface SqliteColumn {
  readonly name: string;
  readonly type: string;
  readonly notnull: number;
  readonly dflt_value: string | null;
  readonly pk: number;
}

interface SqliteForeignKey {
  readonly from: string;
  readonly table: string;
  readonly to: string | null;
}

function quoted(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Exactly one of release_id and the subject columns is set (portable: no boolean arithmetic).
 * With no subjects there is no check: release_id is then NOT NULL.
 */
export function outboxSubjectCheck(subjects: readonly string[]): string {
  return (
    ['release_id', ...subjects].map((c) => `(case when ${quoted(c)} is null then 0 else 1 end)`).join(' + ') +
    ' = 1'
  );
}

/**
 * Makes the outbox again with exactly `subjects` as the things a row may belong to besides a
 * release. Rows that belong to a subject the new table has no column for cannot stay (going down).
 */
export async function rebuildSqliteOutbox(
  db: Kysely<unknown>,
  subjects: readonly OutboxSubject[],
): Promise<void> {
  const columns = (await sql<SqliteColumn>`pragma table_info(outbox)`.execute(db)).rows;
  const foreignKeys = (await sql<SqliteForeignKey>`pragma foreign_key_list(outbox)`.execute(db)).rows;
  const indexes = (
    await sql<{ sql: string }>`select sql from sqlite_master
      where type = 'index' and tbl_name = 'outbox' and sql is not null`.execute(db)
  ).rows;
  const wanted = subjects.map((s) => s.column);
  const kept = columns.filter((c) => !SUBJECT_COLUMNS.includes(c.name));
  // release_id may be null when a row may belong to something else, and must not be otherwise.
  const notNull = (c: SqliteColumn): boolean =>
    c.name === 'release_id' ? subjects.length === 0 : c.notnull === 1 && c.pk === 0;
  const definitions = kept.map((c) =>
    [
      quoted(c.name),
      c.type,
      c.pk > 0 ? 'primary key' : '',
      notNull(c) ? 'not null' : '',
      c.dflt_value === null ? '' : `default ${c.dflt_value}`,
    ]
      .filter((part) => part !== '')
      .join(' '),
  );
  for (const s of subjects) definitions.push(`${quoted(s.column)} text`);
  const constraints = foreignKeys
    .filter((fk) => !SUBJECT_COLUMNS.includes(fk.from))
    .map(
      (fk) => `foreign key (${quoted(fk.from)}) references ${quoted(fk.table)} (${quoted(fk.to ?? 'id')})`,
    );
  for (const s of subjects) {
    constraints.push(
      `constraint ${quoted(s.constraint)} foreign key (${quoted(s.column)}) references ${quoted(s.references)} ("id")`,
    );
  }
  if (subjects.length > 0) {
    constraints.push(`constraint "outbox_subject_check" check (${outboxSubjectCheck(wanted)})`);
  }
  constraints.push(`constraint "outbox_status_check" check (status in ('pending', 'delivered', 'failed'))`);

  const present = new Set(columns.map((c) => c.name));
  const copied = [...kept.map((c) => c.name), ...wanted.filter((c) => present.has(c))];
  const dropped = SUBJECT_COLUMNS.filter((c) => present.has(c) && !wanted.includes(c));
  const conditions = [
    ...dropped.map((c) => `${quoted(c)} is null`),
    ...(subjects.length === 0 ? ['"release_id" is not null'] : []),
  ];
  const where = conditions.length === 0 ? '' : ` where ${conditions.join(' and ')}`;
  const names = copied.map(quoted).join(', ');
  await sql.raw(`create table "outbox_next" (${[...definitions, ...constraints].join(', ')})`).execute(db);
  await sql.raw(`insert into "outbox_next" (${names}) select ${names} from "outbox"${where}`).execute(db);
  await sql.raw('drop table "outbox"').execute(db);
  await sql.raw('alter table "outbox_next" rename to "outbox"').execute(db);
  for (const index of indexes) await sql.raw(index.sql).execute(db);
}

/** The subjects migration 0005 added: consent requests and onward releases. */
export const CONSENT_SUBJECTS: readonly OutboxSubject[] = [
  { column: 'consent_request_id', references: 'consent_requests', constraint: 'outbox_consent_request_fk' },
  { column: 'onward_release_id', references: 'onward_releases', constraint: 'outbox_onward_release_fk' },
];

/** Runs `work` in one transaction: PostgreSQL's migrations already run in one, SQLite's do not. */
export function atomically(db: Kysely<unknown>, work: (db: Kysely<unknown>) => Promise<void>): Promise<void> {
  return db.isTransaction ? work(db) : db.transaction().execute(work);
}
