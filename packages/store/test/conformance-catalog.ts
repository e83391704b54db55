/** Conformance: the catalog (workflow listing and search, versions, triggers, schedules, API keys). */
import { describe, expect, it } from 'vitest';
import type { ApiKeyRecord, ScheduleRecord, ScheduleTransaction, Store, WebhookRoute } from '@flowpilot/store';
import { registerCatalogRunTests } from './conformance-catalog-runs.js';
import { catalogOf, type Suite, WS } from './conformance-helpers.js';

/** Schedule operations of a transaction (both backends hand them out with every transaction). */
export function takeDue(store: Store, now: number, limit: number, then?: (tx: ScheduleTransaction, taken: ScheduleRecord[]) => Promise<void>): Promise<ScheduleRecord[]> {
  return store.transaction(async (tx) => {
    const schedules = tx as unknown as ScheduleTransaction;
    const taken = await schedules.takeDueSchedules(now, limit);
    await then?.(schedules, taken);
    return taken;
  });
}

export const hook = (workflowId: string, nodeId: string, path: string, extra: Partial<WebhookRoute> = {}): WebhookRoute => ({
  workspaceId: WS,
  workflowId,
  nodeId,
  method: 'POST',
  path,
  mode: 'async',
  timeoutMs: 30_000,
  ...extra,
});

export const schedule = (workflowId: string, nodeId: string, nextFireAt: number | null, extra: Partial<ScheduleRecord> = {}): ScheduleRecord => ({
  workspaceId: WS,
  workflowId,
  nodeId,
  cron: '*/5 * * * *',
  catchUp: 'one',
  nextFireAt,
  ...extra,
});

export function registerCatalogTests(suite: Suite): void {
  const store = () => catalogOf(suite.store());
  const save = (workflowId: string, name: string, definition: unknown = {}, now = 1) => store().saveWorkflowVersion({ workspaceId: WS, workflowId, name, definition, now });

  describe('catalog: workflows', () => {
    /** Every page of a listing, following cursors. */
    const allPages = async (limit: number, q?: string) => {
      const pages: string[][] = [];
      let cursor: string | undefined;
      do {
        const page = await store().listWorkflows(WS, { limit, ...(q === undefined ? {} : { q }), ...(cursor === undefined ? {} : { cursor }) });
        pages.push(page.items.map((workflow) => workflow.id));
        cursor = page.nextCursor;
      } while (cursor !== undefined);
      return pages;
    };

    it('lists workflows by id (byte order), in pages whose cursors neither skip nor repeat', async () => {
      const ids = ['beta', 'alpha', 'Gamma', 'delta_1', 'delta%2', 'deltaX3', 'zeta'];
      for (const [index, id] of ids.entries()) await save(id, `Flow ${index}`, {}, 10 + index);
      const sorted = ['Gamma', 'alpha', 'beta', 'delta%2', 'deltaX3', 'delta_1', 'zeta'];
      expect(await allPages(3)).toEqual([sorted.slice(0, 3), sorted.slice(3, 6), sorted.slice(6)]);
      // A last page that is exactly full has no cursor.
      expect(await allPages(7)).toEqual([sorted]);
      expect(await allPages(100)).toEqual([sorted]);
      const first = await store().listWorkflows(WS, { limit: 1 });
      expect(first.items).toEqual([{ workspaceId: WS, id: 'Gamma', name: 'Flow 2', latestVersion: 1, maxConcurrentRuns: null, active: false, createdAt: 12, updatedAt: 12 }]);
      expect(first.nextCursor).toEqual(expect.any(String));
      expect(await store().listWorkflows('nobody', { limit: 10 })).toEqual({ items: [] });
    });

    it('searches name and id case-insensitively; % _ and \\ in the query are literal', async () => {
      await save('delta_1', 'Underscore');
      await save('delta%2', 'Percent');
      await save('deltaX3', 'Plain');
      await save('billing', 'Nightly INVOICES');
      await save('back', 'a\\b');
      const search = async (q: string, limit = 10) => (await allPages(limit, q)).flat();
      expect(await search('DELTA')).toEqual(['delta%2', 'deltaX3', 'delta_1']);
      expect(await search('invoice')).toEqual(['billing']);
      expect(await search('_')).toEqual(['delta_1']);
      expect(await search('a_')).toEqual(['delta_1']);
      expect(await search('%')).toEqual(['delta%2']);
      expect(await search('%2')).toEqual(['delta%2']);
      expect(await search('\\')).toEqual(['back']);
      expect(await search('nothing')).toEqual([]);
      expect(await search('')).toHaveLength(5);
      // Pages of a search follow the search.
      expect(await allPages(1, 'delta')).toEqual([['delta%2'], ['deltaX3'], ['delta_1']]);
    });

    it('refuses a cursor it did not hand out', async () => {
      await expect(store().listWorkflows(WS, { limit: 1, cursor: 'not-a-cursor' })).rejects.toMatchObject({ code: 'INVALID_CURSOR' });
      const runCursor = Buffer.from(JSON.stringify([1, 'r'])).toString('base64url');
      await expect(store().listWorkflows(WS, { limit: 1, cursor: runCursor })).rejects.toMatchObject({ code: 'INVALID_CURSOR' });
    });

    it('lists versions without definitions, oldest first', async () => {
      await save('wf', 'F', { v: 1 }, 100);
      await save('wf', 'F', { v: 2 }, 200);
      await save('wf', 'F', { v: 3 }, 300);
      await save('other', 'O', { v: 1 }, 400);
      expect(await store().listWorkflowVersions(WS, 'wf')).toEqual([
        { workspaceId: WS, workflowId: 'wf', version: 1, createdAt: 100 },
        { workspaceId: WS, workflowId: 'wf', version: 2, createdAt: 200 },
        { workspaceId: WS, workflowId: 'wf', version: 3, createdAt: 300 },
      ]);
      expect(await store().listWorkflowVersions(WS, 'missing')).toEqual([]);
      expect(await store().listWorkflowVersions('other-workspace', 'wf')).toEqual([]);
    });

    it('deletes a workflow with its triggers; its versions stay', async () => {
      await save('wf', 'F', { v: 1 });
      await save('keep', 'K');
      await store().setWorkflowTriggers(WS, 'wf', true, [hook('wf', 'in', 'wf/in')], [schedule('wf', 'cron', 100)]);
      await store().setWorkflowTriggers(WS, 'keep', true, [hook('keep', 'in', 'keep/in')], [schedule('keep', 'cron', 100)]);
      expect(await store().deleteWorkflow(WS, 'wf', 5)).toBe(true);
      expect(await store().getWorkflow(WS, 'wf')).toBeUndefined();
      expect(await store().findWebhook('POST', 'wf/in')).toBeUndefined();
      expect(await store().listSchedules(WS, 'wf')).toEqual([]);
      expect((await store().getWorkflowVersion(WS, 'wf', 1))?.definition).toEqual({ v: 1 });
      expect(await store().listWorkflowVersions(WS, 'wf')).toHaveLength(1);
      expect(await store().findWebhook('POST', 'keep/in')).toBeDefined();
      expect(await store().listSchedules(WS, 'keep')).toHaveLength(1);
      expect(await store().deleteWorkflow(WS, 'wf', 6)).toBe(false);
      expect(await store().deleteWorkflow('other-workspace', 'keep', 6)).toBe(false);
      expect(await store().getWorkflow(WS, 'keep')).toBeDefined();
    });
  });

  describe('catalog: triggers', () => {
    it('setWorkflowTriggers replaces routes and schedules and sets the active flag; findWebhook finds a route', async () => {
      await save('wf', 'F');
      const secret = hook('wf', 'signed', 'orders/new', { secret: 's3cret', mode: 'sync', timeoutMs: 5_000 });
      const plain = hook('wf', 'plain', 'orders/new', { method: 'GET' });
      const zoned = schedule('wf', 'b-nightly', 1_000, { timezone: 'Europe/Paris', catchUp: 'none', cron: '0 3 * * *' });
      const never = schedule('wf', 'a-never', null);
      await store().setWorkflowTriggers(WS, 'wf', true, [secret, plain], [zoned, never]);
      expect((await store().getWorkflow(WS, 'wf'))?.active).toBe(true);
      // The route comes with its workflow's latest version (a webhook starts runs on it).
      expect(await store().findWebhook('POST', 'orders/new')).toEqual({ ...secret, latestVersion: 1 });
      expect(await store().findWebhook('GET', 'orders/new')).toEqual({ ...plain, latestVersion: 1 });
      expect(await store().findWebhook('PUT', 'orders/new')).toBeUndefined();
      expect(await store().findWebhook('POST', 'orders')).toBeUndefined();
      expect(await store().listSchedules(WS, 'wf')).toEqual([never, zoned]);

      // Replaced: the same route again (no conflict with itself), one route and schedule gone.
      const moved = schedule('wf', 'b-nightly', 2_000);
      await save('wf', 'F2', { changed: true });
      await store().setWorkflowTriggers(WS, 'wf', true, [secret], [moved]);
      expect(await store().findWebhook('POST', 'orders/new')).toEqual({ ...secret, latestVersion: 2 });
      expect(await store().findWebhook('GET', 'orders/new')).toBeUndefined();
      expect(await store().listSchedules(WS, 'wf')).toEqual([moved]);
      expect((await store().listWorkflows(WS, { limit: 10 })).items[0]?.active).toBe(true);

      await store().setWorkflowTriggers(WS, 'wf', false, [], []);
      expect((await store().getWorkflow(WS, 'wf'))?.active).toBe(false);
      expect(await store().findWebhook('POST', 'orders/new')).toBeUndefined();
      expect(await store().listSchedules(WS, 'wf')).toEqual([]);
    });

    it('a route belongs to one workflow: another workflow cannot take its method and path', async () => {
      await save('a', 'A');
      await save('b', 'B');
      await store().setWorkflowTriggers(WS, 'a', true, [hook('a', 'in', 'shared')], []);
      await expect(store().setWorkflowTriggers(WS, 'b', true, [hook('b', 'in', 'shared')], [schedule('b', 'cron', 1)])).rejects.toThrow();
      // The failed replacement changed nothing.
      expect(await store().findWebhook('POST', 'shared')).toMatchObject({ workflowId: 'a' });
      expect(await store().listSchedules(WS, 'b')).toEqual([]);
      expect((await store().getWorkflow(WS, 'b'))?.active).toBe(false);
    });

    it('takes due schedules in a transaction, earliest first, and moves them on with setScheduleNext', async () => {
      await save('wf', 'F');
      await save('other', 'O');
      await store().setWorkflowTriggers(WS, 'wf', true, [], [schedule('wf', 'late', 300), schedule('wf', 'early', 100), schedule('wf', 'never', null)]);
      await store().setWorkflowTriggers(WS, 'other', true, [], [schedule('other', 'mid', 200)]);
      expect(await takeDue(suite.store(), 99, 10)).toEqual([]);
      expect((await takeDue(suite.store(), 250, 10)).map((taken) => taken.nodeId)).toEqual(['early', 'mid']);
      expect(await takeDue(suite.store(), 1_000, 2)).toEqual([schedule('wf', 'early', 100), schedule('other', 'mid', 200)]);
      expect(await takeDue(suite.store(), 1_000, 0)).toEqual([]);

      // A rolled-back firing leaves the schedules as they were.
      await expect(
        takeDue(suite.store(), 250, 10, async (tx, taken) => {
          for (const due of taken) await tx.setScheduleNext(due, 5_000, 250);
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect((await takeDue(suite.store(), 250, 10)).map((taken) => taken.nodeId)).toEqual(['early', 'mid']);

      await takeDue(suite.store(), 250, 10, async (tx, taken) => {
        for (const due of taken) await tx.setScheduleNext(due, due.nodeId === 'early' ? 400 : null, 250);
      });
      expect(await store().listSchedules(WS, 'other')).toEqual([schedule('other', 'mid', null)]);
      expect((await takeDue(suite.store(), 350, 10)).map((taken) => taken.nodeId)).toEqual(['late']);
      expect((await takeDue(suite.store(), 400, 10)).map((taken) => [taken.nodeId, taken.nextFireAt])).toEqual([['late', 300], ['early', 400]]);
    });

    it('concurrent firing transactions never take the same schedule (20 rounds, two processes)', async () => {
      const peer = await suite.harness().peer();
      try {
        for (let round = 0; round < 20; round += 1) {
          await suite.harness().reset();
          await save('wf', 'F');
          await store().setWorkflowTriggers(WS, 'wf', true, [], Array.from({ length: 7 }, (_, i) => schedule('wf', `s${i}`, 100 + i)));
          const fire = (target: Store) => takeDue(target, 1_000, 4, async (tx, taken) => {
            for (const due of taken) await tx.setScheduleNext(due, 10_000, 1_000);
          });
          const taken = (await Promise.all([fire(suite.store()), fire(peer), fire(suite.store())])).flat().map((due) => due.nodeId);
          expect(new Set(taken).size, `round ${round}: ${taken.join(',')}`).toBe(taken.length);
          expect(taken.length).toBe(7);
        }
      } finally {
        await peer.close();
      }
    });

    it('PostgreSQL: a schedule another transaction holds is skipped, not waited for', async ({ skip }) => {
      if (suite.store().kind !== 'postgres') skip('SQLite transactions take turns: one waits for the other');
      await save('wf', 'F');
      await store().setWorkflowTriggers(WS, 'wf', true, [], Array.from({ length: 5 }, (_, i) => schedule('wf', `s${i}`, 100 + i)));
      const peer = await suite.harness().peer();
      try {
        let release!: () => void;
        const held = new Promise<void>((resolve) => (release = resolve));
        let signalTaken!: (taken: ScheduleRecord[]) => void;
        const firstTaken = new Promise<ScheduleRecord[]>((resolve) => (signalTaken = resolve));
        const first = takeDue(suite.store(), 1_000, 3, async (tx, taken) => {
          signalTaken(taken);
          await held;
          for (const due of taken) await tx.setScheduleNext(due, 10_000, 1_000);
        });
        const mine = await firstTaken;
        // The first transaction holds its three: the second gets the other two at once.
        const theirs = await takeDue(peer, 1_000, 10);
        release();
        await first;
        expect(mine.map((due) => due.nodeId)).toEqual(['s0', 's1', 's2']);
        expect(theirs.map((due) => due.nodeId)).toEqual(['s3', 's4']);
        // Committed with their next tick: no longer due.
        expect((await takeDue(peer, 1_000, 10)).map((due) => due.nodeId)).toEqual(['s3', 's4']);
      } finally {
        await peer.close();
      }
    });
  });

  describe('catalog: API keys', () => {
    const key: ApiKeyRecord = { workspaceId: WS, id: 'key-1', name: 'CI', prefix: 'fp_abc', hash: 'a'.repeat(64), scopes: ['runs:read', 'workflows:write'], createdAt: 100 };

    it('creates a key, finds it by hash, records its last use', async () => {
      await store().createApiKey(key);
      await store().createApiKey({ ...key, id: 'key-2', hash: 'b'.repeat(64), scopes: [] });
      expect(await store().findApiKeyByHash(key.hash)).toEqual(key);
      expect(await store().findApiKeyByHash('b'.repeat(64))).toEqual({ ...key, id: 'key-2', hash: 'b'.repeat(64), scopes: [] });
      expect(await store().findApiKeyByHash('c'.repeat(64))).toBeUndefined();
      await store().touchApiKey('key-1', 500);
      await store().touchApiKey('key-1', 700);
      await store().touchApiKey('missing', 700);
      expect(await store().findApiKeyByHash(key.hash)).toEqual({ ...key, lastUsedAt: 700 });
      expect((await store().findApiKeyByHash('b'.repeat(64)))?.lastUsedAt).toBeUndefined();
    });

    it('refuses a second key with the same hash or id', async () => {
      await store().createApiKey(key);
      await expect(store().createApiKey({ ...key, id: 'key-other' })).rejects.toThrow();
      await expect(store().createApiKey({ ...key, hash: 'd'.repeat(64) })).rejects.toThrow();
      expect(await store().findApiKeyByHash('d'.repeat(64))).toBeUndefined();
    });
  });

  registerCatalogRunTests(suite);
}
