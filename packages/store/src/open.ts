/** Chooses the backend: PostgreSQL when a postgres:// URL is given, else the embedded SQLite file. */
import { resolve } from 'node:path';
import { SqliteStore } from './sqlite/store.js';
import type { CatalogStore } from './catalog-types.js';
import type { AccessStore } from './identity-types.js';
import type { Store } from './types.js';

export interface OpenStoreOptions {
  /** `postgres://…` or a SQLite file path; defaults to `FLOWPILOT_DATABASE_URL`, then `./data/flowpilot.db`. */
  url?: string;
  /** Outputs larger than this many bytes of JSON go to the payload table (`FLOWPILOT_PAYLOAD_THRESHOLD`, 256 KiB). */
  payloadThreshold?: number;
  /** PostgreSQL: the schema of the tables (default: the connection's search_path). */
  schema?: string;
  /** Apply pending migrations (default true). */
  migrate?: boolean;
}

/** Opens (and by default migrates) the store the configuration names. */
export async function openStore(options: OpenStoreOptions = {}): Promise<Store & CatalogStore & AccessStore> {
  const url = options.url ?? process.env.FLOWPILOT_DATABASE_URL ?? resolve('data', 'flowpilot.db');
  const fromEnv = process.env.FLOWPILOT_PAYLOAD_THRESHOLD;
  const payloadThreshold = options.payloadThreshold ?? (fromEnv === undefined ? undefined : Number.parseInt(fromEnv, 10));
  let store: Store & CatalogStore & AccessStore;
  if (/^postgres(ql)?:\/\//.test(url)) {
    const { PostgresStore } = await import('./postgres/store.js');
    store = new PostgresStore({ connectionString: url, payloadThreshold, ...(options.schema === undefined ? {} : { schema: options.schema }) });
  } else {
    store = new SqliteStore({ filename: url.replace(/^sqlite:(\/\/)?/, ''), payloadThreshold });
  }
  if (options.migrate !== false) await store.migrate();
  return store;
}
