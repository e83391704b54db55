/** Opening the benchmark's store, shared by the orchestrator (bench/store.ts) and its workers. */
import * as storePackage from '@flowpilot/store';
import { SqliteStore, type Store } from '@flowpilot/store';

export type Backend = 'sqlite' | 'postgres';

interface PostgresStoreOptions {
  connectionString: string;
  payloadThreshold?: number;
  schema?: string;
}
type PostgresStoreClass = new (options: PostgresStoreOptions) => Store;

/** Thrown when the PostgreSQL store is not built yet (a placeholder without an implementation). */
export class PostgresUnavailableError extends Error {}

/**
 * The `PostgresStore` class: from the package's entry point once it exports it, else from the
 * built module `openStore` loads (the package's `exports` only name the entry point).
 */
async function postgresStoreClass(): Promise<PostgresStoreClass> {
  let found = (storePackage as Record<string, unknown>).PostgresStore;
  if (typeof found !== 'function') {
    const built = new URL('../packages/store/dist/postgres/store.js', import.meta.url);
    try {
      found = ((await import(built.href)) as Record<string, unknown>).PostgresStore;
    } catch (error) {
      throw new PostgresUnavailableError(`cannot load ${built.pathname}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  if (typeof found !== 'function') {
    throw new PostgresUnavailableError('PostgresStore is not implemented yet (packages/store/src/postgres/store.ts is a placeholder)');
  }
  return found as PostgresStoreClass;
}

/** Opens the store; `migrate` applies the schema (the orchestrator does, once, before any worker). */
export async function openBenchStore(backend: Backend, database: string, schema: string | undefined, migrate = false): Promise<Store> {
  let store: Store;
  if (backend === 'sqlite') {
    store = new SqliteStore({ filename: database });
  } else {
    const PostgresStore = await postgresStoreClass();
    store = new PostgresStore(schema === undefined ? { connectionString: database } : { connectionString: database, schema });
  }
  if (migrate) await store.migrate();
  return store;
}
