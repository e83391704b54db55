/** Connection-level helpers of the PostgreSQL store: error classification, schema names, migrations. */
import type pg from 'pg';
import { loadMigrations } from '../codec.js';

/** SQLSTATEs of a connection the server ended or lost (class 08, admin shutdown, crash, cannot connect now). */
const CONNECTION_STATES = new Set(['57P01', '57P02', '57P03']);
const SOCKET_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ENOTCONN', 'EHOSTUNREACH', 'ENETUNREACH']);
const MESSAGES = /Connection terminated|connection error|not queryable|Client has been closed|terminating connection/i;

/** Did `error` come from a dead or unreachable connection (as opposed to the statement)? */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (CONNECTION_STATES.has(code) || code.startsWith('08') || SOCKET_CODES.has(code))) return true;
  return MESSAGES.test(error.message);
}

/** A schema name used unquoted in `search_path` and DDL: lower-case letters, digits, underscores. */
export function validSchema(schema: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new Error(`invalid schema name "${schema}": use lower-case letters, digits and underscores`);
  }
  return schema;
}

/**
 * Applies pending migrations on `client`. Each step is a transaction holding an advisory lock
 * (per schema), so processes starting together take turns; each re-reads what is applied once it
 * holds the lock. Returns the versions this call applied.
 */
export async function migrate(client: pg.PoolClient, schema: string | undefined): Promise<number[]> {
  const key = `flowpilot:migrate:${schema ?? ''}`;
  const locked = async <T>(fn: () => Promise<T>): Promise<T> => {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [key]);
    const result = await fn();
    await client.query('COMMIT');
    return result;
  };
  await locked(async () => {
    if (schema !== undefined) await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
  });
  const done: number[] = [];
  for (const migration of loadMigrations('postgres')) {
    const applied = await locked(async () => {
      if ((await client.query('SELECT 1 FROM schema_migrations WHERE version = $1', [migration.version])).rowCount !== 0) return false;
      await client.query(migration.sql);
      await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [migration.version, migration.name, Date.now()]);
      return true;
    });
    if (applied) done.push(migration.version);
  }
  return done;
}
