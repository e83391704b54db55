/**
 * The durable-execution suite on PostgreSQL: FLOWPILOT_TEST_DATABASE_URL (default
 * postgres://postgres@127.0.0.1:5432/test), a fresh random schema for this test file, dropped after.
 * No server: the suite fails under CI=true, else it is skipped with a warning.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, expect, test } from 'vitest';
import { PostgresStore, type Store } from '@flowpilot/store';
import { describeDurable } from './durable-suite.js';
import { withTimeout, WS, type DurableBackend, type RunTable } from './helpers.js';

const URL = process.env.FLOWPILOT_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

async function reachable(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function postgresBackend(): Promise<DurableBackend> {
  const schema = `fp_durable_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: URL });
  await admin.connect();
  return {
    kind: 'postgres',
    async open(options = {}) {
      const store = new PostgresStore({ connectionString: URL, schema, payloadThreshold: options.payloadThreshold });
      await store.migrate();
      return store;
    },
    async countRows(_store: Store, table: RunTable, runId: string) {
      const column = table === 'runs' ? 'id' : 'run_id';
      const result = await admin.query<{ n: number }>(`SELECT COUNT(*)::int AS n FROM ${schema}.${table} WHERE workspace_id = $1 AND ${column} = $2`, [WS, runId]);
      return result.rows[0]!.n;
    },
    async kill(store: Store) {
      await withTimeout(store.close(), 2000, 'closing a PostgreSQL store').catch(() => undefined);
    },
    async dispose() {
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    },
  };
}

const unreachable = await reachable();
if (unreachable === undefined) {
  describeDurable('durable execution on PostgreSQL', postgresBackend);
} else if (process.env.CI === 'true') {
  describe('durable execution on PostgreSQL', () => {
    test(`PostgreSQL answers at ${URL}`, () => {
      expect.fail(`PostgreSQL is required under CI=true and did not answer at ${URL}: ${unreachable}`);
    });
  });
} else {
  console.warn(
    `\n${'!'.repeat(78)}\n!! SKIPPING the PostgreSQL durable-execution suite: no server at ${URL}\n!! (${unreachable}).\n!! Set FLOWPILOT_TEST_DATABASE_URL or start PostgreSQL; under CI=true this fails.\n${'!'.repeat(78)}\n`,
  );
  describe.skip('durable execution on PostgreSQL (no server)', () => {
    test('skipped', () => undefined);
  });
}
