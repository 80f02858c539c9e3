import { AsyncLocalStorage } from 'node:async_hooks';
import type { Kysely } from 'kysely';
import { AccordError } from '../errors/index.js';
import { translateDbError } from './db-errors.js';
import { migrateToLatest } from './migrations/index.js';
import { createRepositories } from './repositories/index.js';
import type { Database } from './schema.js';
import type { Repositories, Store, StoreDialect } from './store.js';

export interface KyselyStoreOptions {
  readonly dialect: StoreDialect;
  readonly now: () => Date;
  readonly maxAttachmentBytes: number;
  /** PostgreSQL schema holding the tables (and the migration bookkeeping), when not `public`. */
  readonly schema?: string;
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
  let closed = false;

  return {
    ...root,
    dialect: options.dialect,

    async transaction<T>(work: (tx: Repositories) => Promise<T>): Promise<T> {
      refuseInsideTransaction('store.transaction');
      const scope: TransactionScope = { open: true };
      let failure: { readonly error: unknown } | undefined;
      try {
        return await db.transaction().execute((trx) =>
          scopes.run(scope, async () => {
            try {
              return await work(createRepositories({ db: trx, ...settings }, () => undefined));
            } catch (error) {
              failure = { error };
              throw error;
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
