/** The durable-execution suite on SQLite: one temporary database file for this test file. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { SqliteStore, type Store } from '@flowpilot/store';
import { describeDurable } from './durable-suite.js';
import { WS, type DurableBackend, type RunTable } from './helpers.js';

async function sqliteBackend(): Promise<DurableBackend> {
  const directory = mkdtempSync(join(tmpdir(), 'flowpilot-durable-'));
  const filename = join(directory, 'durable.db');
  const raw = (store: Store) => (store as SqliteStore).database;
  return {
    kind: 'sqlite',
    async open(options = {}) {
      const store = new SqliteStore({ filename, payloadThreshold: options.payloadThreshold });
      await store.migrate();
      return store;
    },
    async countRows(store: Store, table: RunTable, runId: string) {
      const column = table === 'runs' ? 'id' : 'run_id';
      return (raw(store).prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE workspace_id = ? AND ${column} = ?`).get(WS, runId) as { n: number }).n;
    },
    async kill(store: Store) {
      // Around the store's mutex: a transaction stuck inside it must not keep the write lock.
      const db = raw(store);
      if (!db.open) return;
      if (db.inTransaction) db.exec('ROLLBACK');
      db.close();
    },
    async dispose() {
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

describeDurable('durable execution on SQLite', sqliteBackend);

test('the SQLite backend runs in WAL mode (readers never block the single writer)', async () => {
  const backend = await sqliteBackend();
  const store = await backend.open();
  try {
    expect((store as SqliteStore).database.pragma('journal_mode', { simple: true })).toBe('wal');
  } finally {
    await store.close();
    await backend.dispose();
  }
});
