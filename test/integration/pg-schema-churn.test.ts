import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/index.js';
import {
  dropPgSchema,
  freshPgSchemaName,
  PG_TEST_URL,
  POSTGRES_SERVICE,
  pgAvailable,
  requireOrSkip,
} from '../fixtures/services.js';

// Kysely's migrator reads every table of every schema on the server before it migrates one; a
// schema another client drops during that read used to fail the migration (3F000, naming the
// other schema). Seen when several suites share one PostgreSQL; here provoked on purpose.

const enabled = requireOrSkip(POSTGRES_SERVICE, await pgAvailable());
const bystanders = Array.from({ length: 40 }, () => freshPgSchemaName());
const ours = Array.from({ length: 6 }, () => freshPgSchemaName());
const opened: Store[] = [];

beforeAll(async () => {
  if (!enabled) return;
  const client = new pg.Client({ connectionString: PG_TEST_URL });
  await client.connect();
  try {
    for (const schema of bystanders) {
      await client.query(`create schema "${schema}"`);
      await client.query(`create table "${schema}".t (id serial primary key, a text, b text, c text)`);
    }
  } finally {
    await client.end();
  }
});

afterAll(async () => {
  for (const store of opened) await store.close();
  if (!enabled) return;
  for (const schema of [...bystanders, ...ours]) await dropPgSchema(schema);
});

describe('migrating on a PostgreSQL server whose other schemas come and go', () => {
  it.runIf(enabled)('migrates every store while other schemas are dropped', async () => {
    const dropping = (async () => {
      for (const schema of bystanders) await dropPgSchema(schema);
    })();
    const opening = Promise.all(
      ours.map(async (schema) => {
        const store = await openStore({ kind: 'postgres', url: PG_TEST_URL, schema });
        opened.push(store);
        return store.counts();
      }),
    );
    const [counts] = await Promise.all([opening, dropping]);
    expect(counts).toHaveLength(ours.length);
    for (const count of counts) expect(count.products).toBe(0);
  });
});
