import { AccordError } from '../errors/index.js';
import { createKyselyStore } from './kysely-store.js';
import { openPostgres } from './postgres/index.js';
import { directWriterOf, openSqlite } from './sqlite/index.js';
import type { Store } from './store.js';

/** Attachments larger than this are refused unless the config says otherwise. */
export const DEFAULT_MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024;

/** Where the store lives: one SQLite file (the embedded default) or a PostgreSQL server. */
export type StoreConfig =
  | {
      readonly kind: 'sqlite';
      readonly file: string;
      readonly maxAttachmentBytes?: number;
    }
  | {
      readonly kind: 'postgres';
      readonly url: string;
      /** Schema for the tables; `public` (the server default) when omitted. */
      readonly schema?: string;
      readonly maxConnections?: number;
      readonly maxAttachmentBytes?: number;
    };

export interface StoreOptions {
  /** Source of the store's timestamps; the system clock when omitted. */
  readonly now?: () => Date;
}

/** Opens the configured database, applies pending migrations and returns the Store. */
export async function openStore(config: StoreConfig, options: StoreOptions = {}): Promise<Store> {
  const maxAttachmentBytes = config.maxAttachmentBytes ?? DEFAULT_MAX_ATTACHMENT_BYTES;
  if (!Number.isSafeInteger(maxAttachmentBytes) || maxAttachmentBytes < 1) {
    throw new AccordError('STORE_CONFIG_INVALID', 'maxAttachmentBytes must be a positive integer', {
      path: 'maxAttachmentBytes',
    });
  }
  const now = options.now ?? (() => new Date());
  let store: Store;
  switch (config.kind) {
    case 'sqlite': {
      const db = openSqlite(config.file);
      const directWrite = directWriterOf(db);
      store = createKyselyStore(db, {
        dialect: 'sqlite',
        now,
        maxAttachmentBytes,
        ...(directWrite === undefined ? {} : { directWrite }),
      });
      break;
    }
    case 'postgres': {
      const db = await openPostgres(config.url, {
        ...(config.schema === undefined ? {} : { schema: config.schema }),
        ...(config.maxConnections === undefined ? {} : { maxConnections: config.maxConnections }),
      });
      store = createKyselyStore(db, {
        dialect: 'postgres',
        now,
        maxAttachmentBytes,
        ...(config.schema === undefined ? {} : { schema: config.schema }),
      });
      break;
    }
  }
  try {
    await store.migrate();
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}
