import { AsyncLocalStorage } from 'node:async_hooks';
import type { Kysely } from 'kysely';
import { AccordError } from '../errors/index.js';
import { translateDbError } from './db-errors.js';
import { migrateToLatest } from './migrations/index.js';
import { createRepositories, type RepositoryContext } from './repositories/index.js';
import type { Database } from './schema.js';
import type { Repositories, Store, StoreDialect } from './store.js';

export interface KyselyStoreOptions {
  readonly dialect: StoreDialect;
  readonly now: () => Date;
  readonly maxAttachmentBytes: number;
  /** PostgreSQL schema holding the tables (and the migration bookkeeping), when not `public`. */
  readonly schema?: string;
  /** SQLite: a synchronous write on its one connection (directWriterOf), offered to repositories inside transactions. */
  readonly directWrite?: (sql: string, parameters: readonly unknown[]) => void;
}

/** Marks the async work running inside one transaction callback; `open` turns false when it ends. */
interface TransactionScope {
  open: boolean;
}

/**
 * The one Store implementation, over a Kysely instance of either dialect. It owns `db` and
 * destroys it on close.
 *
 * Transactions: Kysely's SQLite driver holds its single connection behind a mutex from `begin`
 * to `commit`, so concurrent transactions queue rather than interleave; PostgreSQL gives each
 * transaction its own pooled connection.
 */
export function createKyselyStore(db: Kysely<Database>, options: KyselyStoreOptions): Store {
  const scopes = new AsyncLocalStorage<TransactionScope>();
  const settings = { now: options.now, maxAttachmentBytes: options.maxAttachmentBytes };

  const refuseInsideTransaction = (operation: string): void => {
    if (scopes.getStore()?.open === true) {
      throw new AccordError(
        'STORE_TRANSACTION_MISUSE',
        `${operation} was called on the store inside store.transaction(); use the transaction's handle`,
        { operation },
      );
    }
  };

  const root = createRepositories({ db, ...settings }, refuseInsideTransaction);
  const { directWrite } = options;
  // On SQLite the transaction holds the one connection while its callback runs, so a write run
  // on that connection at once lands in this transaction, and nowhere else, until the callback ends.
  const transactionContext = (trx: Kysely<Database>, live: { open: boolean }): RepositoryContext =>
    directWrite === undefined
      ? { db: trx, ...settings }
      : {
          db: trx,
          ...settings,
          runNow: (sql, parameters) => {
            if (!live.open) return false;
            directWrite(sql, parameters);
            return true;
          },
        };
  let closed = false;

  return {
    ...root,
    dialect: options.dialect,

    async transaction<T>(work: (tx: Repositories) => Promise<T>): Promise<T> {
      refuseInsideTransaction('store.transaction');
      const scope: TransactionScope = { open: true };
      const live = { open: true };
      let failure: { readonly error: unknown } | undefined;
      try {
        return await db.transaction().execute((trx) =>
          scopes.run(scope, async () => {
            try {
              return await work(createRepositories(transactionContext(trx, live), () => undefined));
            } catch (error) {
              failure = { error };
              throw error;
            } finally {
              // Before commit or rollback: a handle kept past the callback can no longer write directly.
              live.open = false;
            }
          }),
        );
      } catch (error) {
        // The callback's own error is the caller's to see as is; only begin/commit failures are translated.
        if (failure !== undefined && failure.error === error) throw error;
        throw translateDbError(error, 'store.transaction');
      } finally {
        scope.open = false;
      }
    },

    async migrate() {
      refuseInsideTransaction('store.migrate');
      return migrateToLatest(
        db,
        options.dialect,
        options.schema === undefined ? {} : { schema: options.schema },
      );
    },

    async close() {
      if (closed) return;
      closed = true;
      await db.destroy();
    },
  };
}
