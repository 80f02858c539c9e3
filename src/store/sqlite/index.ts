export {
  directWriterOf,
  openSqlite,
  SQLITE_FILE_NAME,
  type SqliteOptions,
  sqliteFileIn,
} from './open-sqlite.js';
