/** The conformance suite on PostgreSQL: one fresh schema for this test file, dropped at the end. */
import { expect, it } from 'vitest';
import { loadMigrations, openStore, PostgresStore, type Store } from '@flowpilot/store';
import { describeStoreConformance } from './conformance.js';
import { adminClient, DATABASE_URL, describePostgres, probePostgres, randomSchema } from './postgres-helpers.js';

// Children before the tables they reference. Not audit_log: the schema refuses to empty it (tests use fresh workspaces).
const DATA_TABLES = [
  ...['workflows', 'workflow_versions', 'runs', 'steps', 'events', 'queue', 'timers', 'payloads', 'api_keys', 'webhooks', 'schedules'],
  ...['memberships', 'invitations', 'refresh_tokens', 'credentials', 'users'],
];

describePostgres('PostgreSQL store', await probePostgres(), () => {
  describeStoreConformance('postgres', async () => {
    const schema = randomSchema('fp_conformance');
    const open = () => new PostgresStore({ connectionString: DATABASE_URL, schema });
    const store = open();
    const admin = await adminClient();
    await admin.query(`SET search_path = ${schema}`);
    const peers: Store[] = [];
    return {
      store,
      crossProcessWake: true,
      crossProcessEvents: true,
      async cleanup() {
        await Promise.all(peers.map((peer) => peer.close()));
        await store.close();
        await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await admin.end();
      },
      async reset() {
        await admin.query(`TRUNCATE ${DATA_TABLES.join(', ')}`);
      },
      async peer() {
        const peer = open();
        peers.push(peer);
        return peer;
      },
      async countRows(table, column, value) {
        return (await admin.query<{ n: number }>(`SELECT COUNT(*)::int AS n FROM ${table} WHERE ${column} = $1`, [value])).rows[0]!.n;
      },
      async raw(sql) {
      await admin.query(sql);
    },
    async columns() {
        const { rows } = await admin.query<{ table_name: string; column_name: string }>(
          'SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = $1 ORDER BY table_name, ordinal_position',
          [schema],
        );
        const columns = new Map<string, string[]>();
        for (const row of rows) columns.set(row.table_name, [...(columns.get(row.table_name) ?? []), row.column_name]);
        return columns;
      },
      listening: (target) => (target as PostgresStore).listening(),
    };
  });
});

describePostgres('PostgreSQL store: setup', await probePostgres(), () => {
  it('several processes migrating a new schema at once apply each migration exactly once', async () => {
    const schema = randomSchema('fp_migrate');
    const stores = Array.from({ length: 4 }, () => new PostgresStore({ connectionString: DATABASE_URL, schema, poolSize: 2 }));
    try {
      const applied = await Promise.all(stores.map((store) => store.migrate()));
      expect(applied.flat().sort()).toEqual(loadMigrations('postgres').map((migration) => migration.version));
      expect(await stores[0]!.migrate()).toEqual([]);
    } finally {
      await stores[0]!.pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await Promise.all(stores.map((store) => store.close()));
    }
  });

  it('openStore opens PostgreSQL for a postgres:// URL, in the given schema', async () => {
    const schema = randomSchema('fp_open');
    const store = await openStore({ url: DATABASE_URL, schema, migrate: false });
    try {
      expect(store.kind).toBe('postgres');
      // Checked before migrating: a store that ignored the schema would create its tables in public.
      expect((await (store as PostgresStore).pool.query('SHOW search_path')).rows[0]).toEqual({ search_path: schema });
      await store.migrate();
      expect(await store.getWorkflow('default', 'none')).toBeUndefined();
      expect((await (store as PostgresStore).pool.query('SELECT current_schema() AS schema')).rows[0]).toEqual({ schema });
    } finally {
      await (store as PostgresStore).pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await store.close();
    }
  });

  it('refuses a schema name that would need quoting', () => {
    expect(() => new PostgresStore({ connectionString: DATABASE_URL, schema: 'Bad-Name' })).toThrow(/invalid schema name/);
  });

  it('close is idempotent; onWork after close does not reconnect', async () => {
    const store = new PostgresStore({ connectionString: DATABASE_URL, schema: randomSchema('fp_close') });
    await store.close();
    await store.close();
    const off = store.onWork(() => undefined);
    off();
    await expect(store.listening()).rejects.toThrow(/closed/);
  });
});
