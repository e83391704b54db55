/** @flowpilot/store — the `Store` interface and its SQLite and PostgreSQL implementations. */
export * from './types.js';
export { DEFAULT_PAYLOAD_THRESHOLD, SequenceConflictError, loadMigrations, type Migration } from './codec.js';
export { SqliteStore, type SqliteStoreOptions } from './sqlite/store.js';
export { openStore, type OpenStoreOptions } from './open.js';
export { PostgresStore, type PostgresStoreOptions } from './postgres/store.js';
export { isTransientStoreError } from './errors.js';
export * from './catalog-types.js';
export * from './identity-types.js';
