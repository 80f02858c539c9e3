export { openPostgres, type PostgresOptions, redactUrl } from './open-postgres.js';
