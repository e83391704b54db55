/**
 * Starts a real FlowPilot server on a free port over a fresh SQLite file or a PostgreSQL schema.
 *
 * A `Backend` opens stores on one database: every `openStore()` of a PostgreSQL backend is a new
 * `PostgresStore` (its own pool and LISTEN connection, like another process) on the backend's
 * schema, so several servers started on one backend share one database. `describeBackends` runs a
 * suite once per backend; PostgreSQL needs a server at FLOWPILOT_TEST_DATABASE_URL (default
 * postgres://postgres@127.0.0.1:5432/test): without one the suite fails under CI=true and is
 * skipped loudly otherwise.
 *
 * Every backend has a secret key, which its servers get unless a test passes `secretKey` itself
 * (`secretKey: undefined` for a server without one): like `flowpilot serve`, whose embedded mode
 * always has a key and whose processes on one PostgreSQL database share one, so credentials and
 * access tokens made by one server are good on the others.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, test } from 'vitest';
import { createBuiltinRegistry } from '@flowpilot/nodes';
import { createServer, type FlowPilotServer, type ServerOptions, type ServerStore } from '@flowpilot/server';
import { PostgresStore, SqliteStore } from '@flowpilot/store';
import { toSecretKey, type SecretKey } from '@flowpilot/vault';

export const API_KEY = 'fp_test_key_for_the_api_suite';
export const DATABASE_URL = process.env.FLOWPILOT_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

// Closing a server drains its worker: a test's leftover steps must not hold it for the default 30 s.
process.env.FLOWPILOT_DRAIN_MS ??= '2000';

/** A fresh random secret key, as FLOWPILOT_SECRET_KEY would give. */
export const newSecretKey = (): SecretKey => toSecretKey(randomBytes(32), 'env');

export type BackendKind = 'sqlite' | 'postgres';

/** One database: stores opened on it see each other's data. */
export interface Backend {
  kind: BackendKind;
  /** The secret key its servers get by default (FLOWPILOT_SECRET_KEY). */
  secretKey: SecretKey;
  /** A new, migrated store on this backend's database. */
  openStore(): Promise<ServerStore>;
  /** Removes the database (the SQLite directory, the PostgreSQL schema). */
  dispose(): Promise<void>;
}

export function sqliteBackend(): Backend {
  const directory = mkdtempSync(join(tmpdir(), 'flowpilot-api-'));
  return {
    kind: 'sqlite',
    secretKey: newSecretKey(),
    async openStore() {
      const store = new SqliteStore({ filename: join(directory, 'db.sqlite') }) as unknown as ServerStore;
      await store.migrate();
      return store;
    },
    async dispose() {
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** A fresh schema (created by the first store's migration, dropped by `dispose`). */
export function postgresBackend(prefix = 'fp_api'): Backend & { schema: string } {
  const schema = `${prefix}_${randomBytes(6).toString('hex')}`;
  return {
    kind: 'postgres',
    schema,
    secretKey: newSecretKey(),
    async openStore() {
      // The PostgreSQL catalog (CatalogStore) is being written: until it lands the cast hides its absence.
      const store = new PostgresStore({ connectionString: DATABASE_URL, schema }) as unknown as ServerStore;
      await store.migrate();
      return store;
    },
    async dispose() {
      const admin = new pg.Client({ connectionString: DATABASE_URL });
      admin.on('error', () => undefined);
      await admin.connect();
      try {
        await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      } finally {
        await admin.end().catch(() => undefined);
      }
    },
  };
}

let probe: Promise<string | undefined> | undefined;

/** Why PostgreSQL cannot be used, or undefined when it answers (probed once per file). */
export function postgresUnavailable(): Promise<string | undefined> {
  probe ??= (async () => {
    const client = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 3_000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
      return undefined;
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return probe;
}

/** `describe` over a backend that is disposed after the suite. */
function describeOn(name: string, make: () => Backend, suite: (backend: Backend) => void): void {
  describe(name, () => {
    const backend = make();
    afterAll(() => backend.dispose());
    describe('suite', () => suite(backend));
  });
}

/**
 * A PostgreSQL-only suite. `unavailable` comes from `await postgresUnavailable()` at the top of the
 * test file: no server is a failure under CI=true and a loud skip otherwise.
 */
export function describePostgres(name: string, unavailable: string | undefined, suite: (backend: Backend & { schema: string }) => void): void {
  if (unavailable === undefined) {
    describe(name, () => {
      const backend = postgresBackend();
      afterAll(() => backend.dispose());
      describe('suite', () => suite(backend));
    });
    return;
  }
  if (process.env.CI === 'true') {
    describe(name, () => {
      test('needs a PostgreSQL server', () => {
        throw new Error(`no PostgreSQL server at ${DATABASE_URL} (${unavailable}); set FLOWPILOT_TEST_DATABASE_URL`);
      });
    });
    return;
  }
  const bar = '!'.repeat(100);
  console.warn(`\n${bar}\n!!! SKIPPED "${name}": no PostgreSQL server at ${DATABASE_URL}\n!!! (${unavailable})\n!!! Start one or set FLOWPILOT_TEST_DATABASE_URL. Under CI=true this is a failure.\n${bar}\n`);
  describe.skip(name, () => suite(postgresBackend()));
}

/** Runs `suite` on SQLite and on PostgreSQL (see `describePostgres`). */
export function describeBackends(name: string, pgUnavailable: string | undefined, suite: (backend: Backend) => void): void {
  describeOn(`${name} [sqlite]`, sqliteBackend, suite);
  describePostgres(`${name} [postgres]`, pgUnavailable, suite);
}

export interface TestServer {
  url: string;
  server: FlowPilotServer;
  store: ServerStore;
  /** fetch with the API key (unless an authorization header is given); `json` is sent as JSON. */
  api(path: string, init?: RequestInit & { json?: unknown }): Promise<Response>;
  /** Closes the server and its store (and disposes a backend the server made itself). */
  close(): Promise<void>;
}

/**
 * A server on `backend` (default: a SQLite file of its own). Each server opens its own store, so
 * two servers on one PostgreSQL backend behave like two processes sharing a database. The server
 * gets the backend's secret key unless `options` names `secretKey` (even as undefined).
 */
export async function startTestServer(options: Partial<ServerOptions> = {}, backend?: Backend): Promise<TestServer> {
  const owned = backend === undefined ? sqliteBackend() : undefined;
  const database = backend ?? owned!;
  const store = await database.openStore();
  const secretKey = Object.hasOwn(options, 'secretKey') ? options.secretKey : database.secretKey;
  let server: FlowPilotServer;
  let url: string;
  try {
    server = await createServer({ store, registry: createBuiltinRegistry(), apiKey: API_KEY, schedulerIntervalMs: 50, ...options, secretKey });
    url = await server.listen(0, '127.0.0.1');
  } catch (error) {
    await store.close().catch(() => undefined);
    await owned?.dispose();
    throw error;
  }
  let closed: Promise<void> | undefined;
  return {
    url,
    server,
    store,
    api: (path, init = {}) => {
      const { json, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (!headers.has('authorization')) headers.set('authorization', `Bearer ${API_KEY}`);
      if (json !== undefined) headers.set('content-type', 'application/json');
      return fetch(`${url}${path}`, { ...rest, headers, body: json === undefined ? rest.body : JSON.stringify(json) });
    },
    close: () =>
      (closed ??= (async () => {
        await server.close();
        await store.close().catch(() => undefined);
        await owned?.dispose();
      })()),
  };
}
