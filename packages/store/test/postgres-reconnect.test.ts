/**
 * Connection cuts: an administrator terminates the store's backends (pg_terminate_backend) while it
 * is in use. Nothing may crash; later operations must succeed on new connections; the LISTEN
 * connection must come back so `onWork` hears other processes again.
 */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DEFAULT_WORKSPACE_ID as WS, type EventsNotice, PostgresStore } from '@flowpilot/store';
import { commit, createRun, eventually } from './conformance-helpers.js';
import { adminClient, DATABASE_URL, describePostgres, probePostgres, randomSchema } from './postgres-helpers.js';

describePostgres('PostgreSQL store: connection cuts', await probePostgres(), () => {
  const schema = randomSchema('fp_reconnect');
  const applicationName = `fp_reconnect_${randomBytes(4).toString('hex')}`;
  const errors: unknown[] = [];
  let store: PostgresStore;
  let peer: PostgresStore;
  let admin: pg.Client;

  /** Terminates every backend of the store (pool and LISTEN); waits until they are gone. */
  const cut = async (): Promise<number> => {
    // Two statements: in one, nothing guarantees the filter runs before pg_terminate_backend.
    const { rows } = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()', [applicationName]);
    const pids = rows.map((row) => row.pid);
    await admin.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [pids]);
    await eventually(
      async () => (await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = ANY($1)', [pids])).rowCount === 0,
      5_000,
      'the terminated backends to exit',
    );
    return pids.length;
  };

  beforeAll(async () => {
    admin = await adminClient();
    store = new PostgresStore({ connectionString: DATABASE_URL, schema, applicationName, onError: (error) => errors.push(error) });
    peer = new PostgresStore({ connectionString: DATABASE_URL, schema });
    await store.migrate();
  });

  afterAll(async () => {
    await store?.close();
    await peer?.close();
    await admin?.end().catch(() => undefined);
    // A client of its own: whatever happened to the admin connection, the schema goes.
    const cleanup = await adminClient();
    await cleanup.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await cleanup.end();
  });

  it('replaces terminated pooled connections: reads, transactions and claims go on', async () => {
    await createRun(store, 'r1');
    // Several pooled connections at once, all idle afterwards.
    await Promise.all(Array.from({ length: 5 }, () => store.getRun(WS, 'r1')));
    expect(await cut()).toBeGreaterThanOrEqual(2);
    expect((await store.getRun(WS, 'r1'))?.id).toBe('r1');
    await commit(store, 'r1', { events: [{ type: 'run.started', at: 1, input: {} }], enqueue: [{ nodeId: 'a', attempt: 1, inputs: [] }] });
    expect(await store.readEvents(WS, 'r1')).toHaveLength(1);
    await cut();
    await Promise.all([store.getSteps(WS, 'r1'), store.queueDepth(0), store.nextTimerDue(), store.getWorkflow(WS, 'wf')]);
    await store.saveWorkflowVersion({ workspaceId: WS, workflowId: 'wf', name: 'W', definition: { v: 1 }, now: 1 });
    const claimed = await store.claimSteps({ owner: 'w', limit: 5, leaseMs: 1_000, now: 10 });
    expect(claimed.map((step) => step.nodeId)).toEqual(['a']);
    expect(await store.extendLeases('w', [claimed[0]!.lease.token], 5_000)).toEqual([]);
    expect(errors.length).toBeGreaterThan(0);
  });

  it('a transaction whose connection is cut mid-way fails alone and leaves nothing behind', async () => {
    await createRun(store, 'r2');
    const failed = store.transaction(async (tx) => {
      await tx.insertRun({ workspaceId: WS, id: 'half', workflowId: 'wf', version: 1, priority: 0, input: {}, createdAt: 1 });
      await cut();
      await tx.lockRuns(WS, ['r2']);
    });
    await expect(failed).rejects.toThrow();
    expect(await store.getRun(WS, 'half')).toBeUndefined();
    await commit(store, 'r2', { events: [{ type: 'run.started', at: 1, input: {} }] });
    expect((await store.getRun(WS, 'r2'))?.lastSeq).toBe(1);
  });

  it('the LISTEN connection comes back: onWork hears other processes after a cut', async () => {
    let calls = 0;
    const off = store.onWork(() => {
      calls += 1;
    });
    try {
      await store.listening();
      await cut();
      // Reconnected: the listeners are woken once (notifications may have been missed meanwhile).
      await eventually(() => calls > 0, 10_000, 'the wake-up after reconnecting');
      await store.listening();
      calls = 0;
      await createRun(peer, 'r3');
      await commit(peer, 'r3', { enqueue: [{ nodeId: 'a', attempt: 1, inputs: [] }] });
      await eventually(() => calls > 0, 5_000, 'onWork from another process after the cut');
    } finally {
      off();
    }
  });

  it('event notices survive a cut: onEvents hears other processes again, and this one at commit meanwhile', async () => {
    const notices: EventsNotice[] = [];
    const off = store.onEvents((notice) => notices.push(notice));
    try {
      await store.listening();
      await createRun(peer, 'r4');
      await cut();
      // Until LISTEN is back: this store's own commits are told at once all the same.
      await commit(store, 'r4', { events: [{ type: 'run.started', at: 1, input: {} }] });
      expect(notices).toEqual([{ workspaceId: WS, runId: 'r4', workflowId: 'wf', seq: 1 }]);
      await store.listening();
      await commit(peer, 'r4', { events: [{ type: 'step.started', at: 2, nodeId: 'a', attempt: 1 }] });
      await eventually(() => notices.length === 2, 5_000, 'the notice from another process after the cut');
      expect(notices[1]).toEqual({ workspaceId: WS, runId: 'r4', workflowId: 'wf', seq: 2 });
    } finally {
      off();
    }
  });
});
