/**
 * The Store conformance suite: every backend must pass it unchanged. A backend's test file calls
 * `describeStoreConformance(name, factory)`; the factory opens one store (not yet migrated) on a
 * fresh database and returns the few backend-specific probes the suite needs.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadMigrations, SequenceConflictError } from '@flowpilot/store';
import { registerAccessTests } from './conformance-access.js';
import { registerCatalogTests } from './conformance-catalog.js';
import { registerBatchWriteTests } from './conformance-batch-writes.js';
import { registerClaimTests } from './conformance-claims.js';
import { type ConformanceHarness, type StoreFactory, type Suite, WS } from './conformance-helpers.js';
import { registerRunTests } from './conformance-runs.js';

export type { ConformanceHarness, StoreFactory } from './conformance-helpers.js';

export function describeStoreConformance(name: string, factory: StoreFactory): void {
  describe(`Store conformance: ${name}`, () => {
    let harness: ConformanceHarness | undefined;
    let migrated: number[] = [];
    const suite: Suite = {
      harness: () => harness!,
      store: () => harness!.store,
      migrated: () => migrated,
    };

    beforeAll(async () => {
      harness = await factory();
      migrated = await harness.store.migrate();
    }, 60_000);
    afterAll(async () => {
      await harness?.cleanup();
    }, 60_000);
    beforeEach(async () => {
      await harness!.reset();
    });

    describe('schema', () => {
      it('migrate applies every numbered migration once and returns the versions it applied', async () => {
        expect(migrated).toEqual(loadMigrations(suite.store().kind).map((migration) => migration.version));
        expect(await suite.store().migrate()).toEqual([]);
        const peer = await suite.harness().peer();
        try {
          expect(await peer.migrate()).toEqual([]);
        } finally {
          await peer.close();
        }
      });

      it('has the tables of the data model, each with workspace_id', async () => {
        const columns = await suite.harness().columns();
        const tables = ['workspaces', 'workflows', 'workflow_versions', 'runs', 'steps', 'events', 'queue', 'timers', 'payloads'];
        for (const table of tables) expect(columns.has(table), `table ${table}`).toBe(true);
        for (const [table, names] of columns) {
          // Global tables: the workspaces themselves, users and their login sessions.
          if (['workspaces', 'schema_migrations', 'users', 'refresh_tokens'].includes(table)) continue;
          expect(names, `${table}.workspace_id`).toContain('workspace_id');
        }
        expect(columns.get('schema_migrations')).toEqual(['version', 'name', 'applied_at']);
        expect(await suite.harness().countRows('workspaces', 'id', WS)).toBe(1);
      });
    });

    describe('workflows', () => {
      const save = (workflowId: string, definition: unknown, now: number, name = 'Flow') =>
        suite.store().saveWorkflowVersion({ workspaceId: WS, workflowId, name, definition, now });

      it('creates the workflow with version 1 on the first save', async () => {
        const saved = await save('wf', { nodes: [1] }, 100);
        expect(saved).toEqual({ workspaceId: WS, workflowId: 'wf', version: 1, definition: { nodes: [1] }, createdAt: 100 });
        expect(await suite.store().getWorkflow(WS, 'wf')).toEqual({
          workspaceId: WS,
          id: 'wf',
          name: 'Flow',
          latestVersion: 1,
          maxConcurrentRuns: null,
          active: false,
          createdAt: 100,
          updatedAt: 100,
        });
      });

      it('returns the latest version for an identical definition, a new one otherwise; versions are immutable', async () => {
        await save('wf', { a: 1, b: 2 }, 100);
        expect(await save('wf', { a: 1, b: 2 }, 200, 'Renamed')).toMatchObject({ version: 1, createdAt: 100 });
        expect((await suite.store().getWorkflow(WS, 'wf'))?.name).toBe('Flow');
        // Key order is part of the definition text: a different text is a new version.
        expect(await save('wf', { b: 2, a: 1 }, 300, 'Renamed')).toMatchObject({ version: 2, createdAt: 300 });
        expect(await suite.store().getWorkflow(WS, 'wf')).toMatchObject({ name: 'Renamed', latestVersion: 2, createdAt: 100, updatedAt: 300 });
        expect(await save('wf', { a: 1, b: 2 }, 400)).toMatchObject({ version: 3 });
        expect(JSON.stringify((await suite.store().getWorkflowVersion(WS, 'wf', 1))?.definition)).toBe('{"a":1,"b":2}');
        expect(JSON.stringify((await suite.store().getWorkflowVersion(WS, 'wf', 2))?.definition)).toBe('{"b":2,"a":1}');
        expect(await suite.store().getWorkflowVersion(WS, 'wf')).toMatchObject({ version: 3, createdAt: 400 });
        expect(await suite.store().getWorkflowVersion(WS, 'wf', 9)).toBeUndefined();
        expect(await suite.store().getWorkflowVersion(WS, 'nope')).toBeUndefined();
        expect(await suite.store().getWorkflow(WS, 'nope')).toBeUndefined();
        expect(await suite.store().getWorkflow('other-workspace', 'wf')).toBeUndefined();
      });

      it('serialises concurrent saves: one version per distinct definition, no duplicates', async () => {
        const peer = await suite.harness().peer();
        try {
          const stores = [suite.store(), peer];
          const same = await Promise.all([0, 1, 2, 3].map((i) => stores[i % 2]!.saveWorkflowVersion({ workspaceId: WS, workflowId: 'same', name: 'S', definition: { x: 1 }, now: 10 })));
          expect(same.map((record) => record.version)).toEqual([1, 1, 1, 1]);
          const distinct = await Promise.all([0, 1, 2, 3].map((i) => stores[i % 2]!.saveWorkflowVersion({ workspaceId: WS, workflowId: 'distinct', name: 'D', definition: { i }, now: 10 })));
          expect(distinct.map((record) => record.version).sort()).toEqual([1, 2, 3, 4]);
          expect((await suite.store().getWorkflow(WS, 'distinct'))?.latestVersion).toBe(4);
        } finally {
          await peer.close();
        }
      });

      it('sets and clears the concurrency limit; an unknown workflow is an error', async () => {
        await save('wf', {}, 1);
        await suite.store().setWorkflowConcurrency(WS, 'wf', 3);
        expect((await suite.store().getWorkflow(WS, 'wf'))?.maxConcurrentRuns).toBe(3);
        await suite.store().setWorkflowConcurrency(WS, 'wf', null);
        expect((await suite.store().getWorkflow(WS, 'wf'))?.maxConcurrentRuns).toBeNull();
        await expect(suite.store().setWorkflowConcurrency(WS, 'missing', 1)).rejects.toMatchObject({ code: 'WORKFLOW_NOT_FOUND' });
      });
    });

    describe('transactions', () => {
      it('rolls back everything when the function throws', async () => {
        await expect(
          suite.store().transaction(async (tx) => {
            await tx.insertRun({ workspaceId: WS, id: 'r-rollback', workflowId: 'wf', version: 1, priority: 0, input: {}, createdAt: 1 });
            throw new Error('boom');
          }),
        ).rejects.toThrow('boom');
        expect(await suite.store().getRun(WS, 'r-rollback')).toBeUndefined();
      });

      it('returns the function result', async () => {
        expect(await suite.store().transaction(async () => 42)).toBe(42);
      });

      it('store methods called inside a transaction do not wait for it', async () => {
        await suite.store().saveWorkflowVersion({ workspaceId: WS, workflowId: 'wf', name: 'F', definition: { v: 1 }, now: 1 });
        const version = await suite.store().transaction(async (tx) => {
          await tx.insertRun({ workspaceId: WS, id: 'inside', workflowId: 'wf', version: 1, priority: 0, input: {}, createdAt: 1 });
          return suite.store().getWorkflowVersion(WS, 'wf');
        });
        expect(version?.definition).toEqual({ v: 1 });
      });

      it('exports SequenceConflictError with its code', () => {
        expect(new SequenceConflictError('r', 1).code).toBe('SEQUENCE_CONFLICT');
      });
    });

    registerRunTests(suite);
    registerClaimTests(suite);
    registerBatchWriteTests(suite);
    registerCatalogTests(suite);
    registerAccessTests(suite);
  });
}
