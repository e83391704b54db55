/** The conformance suite on SQLite: one temporary database file for this test file. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { loadMigrations, SqliteStore } from '@flowpilot/store';
import { describeStoreConformance } from './conformance.js';

// Children before the tables they reference. Not audit_log: the schema refuses to empty it (tests use fresh workspaces).
const DATA_TABLES = [
  ...['workflows', 'workflow_versions', 'runs', 'steps', 'events', 'queue', 'timers', 'payloads', 'api_keys', 'webhooks', 'schedules'],
  ...['memberships', 'invitations', 'refresh_tokens', 'credentials', 'users'],
];

describeStoreConformance('sqlite', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'flowpilot-store-'));
  const filename = join(directory, 'store.db');
  const store = new SqliteStore({ filename });
  const db = store.database;
  return {
    store,
    crossProcessWake: true,
    crossProcessEvents: false,
    async cleanup() {
      await store.close();
      rmSync(directory, { recursive: true, force: true });
    },
    async reset() {
      db.transaction(() => {
        for (const table of DATA_TABLES) db.prepare(`DELETE FROM ${table}`).run();
      }).immediate();
    },
    async peer() {
      return new SqliteStore({ filename });
    },
    async countRows(table, column, value) {
      return (db.prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE ${column} = ?`).get(value) as { n: number }).n;
    },
    async raw(sql) {
      db.prepare(sql).run();
    },
    async columns() {
      const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`).all() as Array<{ name: string }>;
      return new Map(tables.map(({ name }) => [name, (db.prepare(`PRAGMA table_info(${name})`).all() as Array<{ name: string }>).map((column) => column.name)]));
    },
  };
});

describe('SQLite store: setup', () => {
  it('several stores migrating a new file at once apply each migration exactly once', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'flowpilot-store-'));
    const stores = Array.from({ length: 3 }, () => new SqliteStore({ filename: join(directory, 'store.db') }));
    try {
      const applied = await Promise.all(stores.map((store) => store.migrate()));
      expect(applied.flat().sort()).toEqual(loadMigrations('sqlite').map((migration) => migration.version));
    } finally {
      await Promise.all(stores.map((store) => store.close()));
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('a claim with nothing claimable is a read: it answers at once while another process holds the write lock', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'flowpilot-store-'));
    const filename = join(directory, 'store.db');
    const store = new SqliteStore({ filename, busyTimeoutMs: 60_000 });
    await store.migrate();
    const other = new Database(filename);
    try {
      other.exec('BEGIN IMMEDIATE');
      // With a write transaction this would wait for the lock (up to the 60 s busy timeout).
      expect(await store.claimSteps({ owner: 'w', limit: 5, leaseMs: 1_000, now: Date.now() })).toEqual([]);
      other.exec('ROLLBACK');
    } finally {
      other.close();
      await store.close();
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('a transaction inside a transaction is a savepoint: its failure rolls back only its own writes', async () => {
    const store = new SqliteStore({ filename: ':memory:' });
    await store.migrate();
    const insert = (id: string) => ({ workspaceId: 'default', id, workflowId: 'wf', version: 1, priority: 0, input: {}, createdAt: 1 });
    await store.transaction(async (tx) => {
      await tx.insertRun(insert('outer'));
      await expect(
        store.transaction(async (inner) => {
          await inner.insertRun(insert('inner'));
          throw new Error('inner fails');
        }),
      ).rejects.toThrow('inner fails');
      await store.transaction((inner) => inner.insertRun(insert('inner-ok')));
    });
    expect(await store.getRun('default', 'outer')).toBeDefined();
    expect(await store.getRun('default', 'inner')).toBeUndefined();
    expect(await store.getRun('default', 'inner-ok')).toBeDefined();
    await store.close();
  });
});
