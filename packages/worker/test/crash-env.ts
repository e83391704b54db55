/**
 * Environment of the crash-recovery tests: repository paths, the worker command (an esbuild bundle
 * of the worker fixture, or tsx), a seeded PRNG, temp dirs, and the store backends of the test
 * process (SQLite file, PostgreSQL schema) with raw SQL and the PostgreSQL admin helpers.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { SqliteStore, Store } from '@flowpilot/store';
import { openCrashStore, type CrashStoreConfig } from './fixtures/crash-store.js';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const FIXTURE = join(ROOT, 'packages', 'worker', 'test', 'fixtures', 'crash-worker.ts');
const TSCONFIG = join(ROOT, 'tsconfig.tests.json');
export const POSTGRES_URL = process.env.CRASH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

// ---------------------------------------------------------------------------------------------
// The worker command

let command: Promise<{ args: string[]; env: Record<string, string>; how: string }> | undefined;
let bundleDir: string | undefined;

/** Removes the worker bundle of this test process (afterAll; vitest may end its workers without 'exit'). */
export function removeWorkerBundle(): void {
  if (bundleDir !== undefined) rmSync(bundleDir, { recursive: true, force: true });
  bundleDir = undefined;
  command = undefined;
}

/**
 * How to start a worker process. Under tsx a worker takes 1–4 s to boot on a busy machine (it
 * transforms every source file), which would make most kills hit booting workers; so the fixture
 * and the package sources are bundled once per test process with esbuild (what tsx runs on) into a
 * temp dir that links the repository's node_modules and the store's migrations (found relative to
 * the code), and workers boot in ~0.2 s. CRASH_WORKER_RUNNER=tsx, or esbuild missing, uses tsx.
 */
export function workerCommand(): Promise<{ args: string[]; env: Record<string, string>; how: string }> {
  command ??= (async () => {
    const viaTsx = { args: ['--import', 'tsx', FIXTURE], env: { TSX_TSCONFIG_PATH: TSCONFIG }, how: 'tsx' };
    if (process.env.CRASH_WORKER_RUNNER === 'tsx') return viaTsx;
    try {
      const esbuild = await import('esbuild');
      const dir = mkdtempSync(join(tmpdir(), 'flowpilot-crash-bundle-'));
      bundleDir = dir;
      symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
      symlinkSync(join(ROOT, 'packages', 'store', 'migrations'), join(dir, 'migrations'));
      mkdirSync(join(dir, 'dist'));
      const outfile = join(dir, 'dist', 'crash-worker.mjs');
      const alias = Object.fromEntries(['engine', 'nodes', 'runtime', 'store', 'worker'].map((name) => [`@flowpilot/${name}`, join(ROOT, 'packages', name, 'src', 'index.ts')]));
      await esbuild.build({
        entryPoints: [FIXTURE],
        outfile,
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        alias,
        // Native or optional: loaded from the linked node_modules at run time.
        external: ['better-sqlite3', 'pg-native'],
        banner: { js: "import { createRequire as __crashRequire } from 'node:module'; const require = __crashRequire(import.meta.url);" },
        logLevel: 'error',
      });
      return { args: [outfile], env: {}, how: `esbuild bundle ${outfile}` };
    } catch (error) {
      console.warn(`crash tests: could not bundle the worker (${error instanceof Error ? error.message : String(error)}); using tsx`);
      return viaTsx;
    }
  })();
  return command;
}

// ---------------------------------------------------------------------------------------------
// Small utilities

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** mulberry32: a seeded PRNG, so a failing kill schedule can be replayed (timing aside). */
export function prng(seed: number): { next(): number; between(min: number, max: number): number; pick<T>(items: readonly T[]): T } {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    between: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: (items) => {
      if (items.length === 0) throw new Error('pick from nothing');
      return items[Math.floor(next() * items.length)]!;
    },
  };
}

/** The seed: CRASH_SEED when set (to replay a schedule), else `fallback`. */
export function crashSeed(fallback: number): number {
  const fromEnv = process.env.CRASH_SEED;
  return fromEnv === undefined ? fallback : Number.parseInt(fromEnv, 10);
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Removes a temp directory (best effort). */
export function removeDir(dir: string | undefined): void {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------
// Backends

/** A store for the test process plus raw SQL on the same database (in the store's schema). */
export interface CrashBackend {
  config: CrashStoreConfig;
  store: Store;
  sql(text: string, values?: unknown[]): Promise<Array<Record<string, unknown>>>;
  close(): Promise<void>;
}

export async function sqliteBackend(dir: string): Promise<CrashBackend> {
  const config: CrashStoreConfig = { kind: 'sqlite', url: join(dir, 'flowpilot.db') };
  const store = await openCrashStore(config);
  const db = (store as SqliteStore).database;
  return {
    config,
    store,
    sql: async (text, values = []) => db.prepare(text).all(...values) as Array<Record<string, unknown>>,
    close: () => store.close(),
  };
}

/** A fresh schema on the test database (the store's connections tagged `applicationName`); dropped by `close`. */
export async function postgresBackend(schema: string, applicationName: string): Promise<CrashBackend> {
  const admin = await adminClient(`${applicationName}_admin`);
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin.query(`CREATE SCHEMA "${schema}"`);
  await admin.query(`SET search_path TO "${schema}"`);
  const config: CrashStoreConfig = { kind: 'postgres', url: withApplicationName(POSTGRES_URL, applicationName), schema, applicationName };
  let store: Store;
  try {
    store = await openCrashStore(config);
  } catch (error) {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await admin.end();
    throw error;
  }
  return {
    config,
    store,
    sql: async (text, values = []) => (await admin.query(text, values)).rows as Array<Record<string, unknown>>,
    close: async () => {
      await store.close().catch(() => undefined);
      if (process.env.CRASH_KEEP === undefined) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
      else console.log(`crash test schema kept: ${schema}`);
      await admin.end();
    },
  };
}

/** A plain pg client on the test database, tagged with `application_name`. */
export async function adminClient(applicationName: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, application_name: applicationName });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** `url` with `application_name` set, so the store's connections can be told apart in pg_stat_activity. */
export function withApplicationName(url: string, applicationName: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('application_name', applicationName);
  return parsed.toString();
}

/** Is the test database reachable? */
export async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}
