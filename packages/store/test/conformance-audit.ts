/** Conformance: the append-only audit log (newest first, filters, cursor pages, refused changes). */
import { describe, expect, it } from 'vitest';
import type { AuditEntry, ListAuditQuery } from '@flowpilot/store';
import { accessOf, commit, createRun, freshId, type Suite } from './conformance-helpers.js';

type NewEntry = Omit<AuditEntry, 'id'>;

export function registerAuditTests(suite: Suite): void {
  const store = () => accessOf(suite.store());
  const workspace = async (): Promise<string> => {
    const id = freshId('ws');
    await store().createWorkspace({ id, name: 'W', createdAt: 1, limits: {} });
    return id;
  };
  const entry = (workspaceId: string, at: number, action: string, extra: Partial<NewEntry> = {}): NewEntry => ({
    workspaceId,
    at,
    actorType: 'user',
    actorId: 'ada',
    action,
    resourceType: action.split('.')[0]!,
    resourceId: `${action.split('.')[0]}-1`,
    ...extra,
  });
  /** Every page, following cursors: the actions of each page. */
  const allPages = async (ws: string, query: Omit<ListAuditQuery, 'cursor'>): Promise<string[][]> => {
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await store().listAudit(ws, { ...query, ...(cursor === undefined ? {} : { cursor }) });
      pages.push(page.items.map((item) => item.action));
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    return pages;
  };

  describe('access: audit log', () => {
    it('appends entries with increasing ids and lists them newest first, details included', async () => {
      const ws = await workspace();
      await store().appendAudit(entry(ws, 100, 'workflow.create', { details: { name: 'Flow', versions: [1] } }));
      await store().appendAudit(entry(ws, 90, 'run.start', { actorType: 'api_key', actorId: 'key-1' }));
      await store().appendAudit(entry(ws, 110, 'schedule.fire', { actorType: 'system', actorId: 'scheduler' }));
      const { items, nextCursor } = await store().listAudit(ws, { limit: 10 });
      expect(nextCursor).toBeUndefined();
      expect(items.map((item) => item.action)).toEqual(['schedule.fire', 'run.start', 'workflow.create']);
      expect(items[0]!.id).toBeGreaterThan(items[1]!.id);
      expect(items[1]!.id).toBeGreaterThan(items[2]!.id);
      expect(items[2]).toEqual({ ...entry(ws, 100, 'workflow.create', { details: { name: 'Flow', versions: [1] } }), id: items[2]!.id });
      expect(items[1]).toEqual({ ...entry(ws, 90, 'run.start', { actorType: 'api_key', actorId: 'key-1' }), id: items[1]!.id });
      expect(items[1]).not.toHaveProperty('details');
    });

    it('appends a batch in one call, in order, across workspaces; a batch with a bad entry appends none of it', async () => {
      const ws = await workspace();
      const other = await workspace();
      await store().appendAudit([entry(ws, 1, 'run.start'), entry(other, 2, 'run.start'), entry(ws, 3, 'run.cancel', { details: { reason: 'x' } })]);
      const { items } = await store().listAudit(ws, { limit: 10 });
      expect(items.map((item) => [item.action, item.at])).toEqual([['run.cancel', 3], ['run.start', 1]]);
      expect(items[0]!.details).toEqual({ reason: 'x' });
      expect(items[0]!.id).toBeGreaterThan(items[1]!.id);
      expect((await store().listAudit(other, { limit: 10 })).items.map((item) => item.action)).toEqual(['run.start']);
      // An unknown workspace violates the foreign key: the whole batch is refused.
      await expect(store().appendAudit([entry(ws, 4, 'run.retry'), entry('no-such-workspace', 5, 'run.retry')])).rejects.toThrow();
      expect((await store().listAudit(ws, { limit: 10 })).items).toHaveLength(2);
      await store().appendAudit([]);
    });

    it("keeps each workspace's entries to itself", async () => {
      const ws = await workspace();
      const other = await workspace();
      await store().appendAudit(entry(ws, 1, 'workflow.create'));
      await store().appendAudit(entry(other, 2, 'credential.create'));
      expect(await allPages(ws, { limit: 10 })).toEqual([['workflow.create']]);
      expect(await allPages(other, { limit: 10 })).toEqual([['credential.create']]);
      expect(await allPages(await workspace(), { limit: 10 })).toEqual([[]]);
    });

    it('filters by action, actor, resource and time (since inclusive, until exclusive), combined', async () => {
      const ws = await workspace();
      await store().appendAudit(entry(ws, 10, 'workflow.create', { resourceId: 'wf-a' }));
      await store().appendAudit(entry(ws, 20, 'workflow.update', { resourceId: 'wf-a', actorId: 'bob' }));
      await store().appendAudit(entry(ws, 30, 'run.start', { resourceId: 'run-1', actorType: 'api_key', actorId: 'key-1' }));
      await store().appendAudit(entry(ws, 40, 'workflow.delete', { resourceId: 'wf-b' }));
      const actions = async (query: Omit<ListAuditQuery, 'limit'>) => (await store().listAudit(ws, { limit: 10, ...query })).items.map((item) => item.action);
      expect(await actions({ action: 'workflow.update' })).toEqual(['workflow.update']);
      expect(await actions({ actorId: 'ada' })).toEqual(['workflow.delete', 'workflow.create']);
      expect(await actions({ resourceType: 'workflow' })).toEqual(['workflow.delete', 'workflow.update', 'workflow.create']);
      expect(await actions({ resourceType: 'workflow', resourceId: 'wf-a' })).toEqual(['workflow.update', 'workflow.create']);
      expect(await actions({ since: 20 })).toEqual(['workflow.delete', 'run.start', 'workflow.update']);
      expect(await actions({ until: 30 })).toEqual(['workflow.update', 'workflow.create']);
      expect(await actions({ since: 20, until: 40, actorId: 'key-1' })).toEqual(['run.start']);
      expect(await actions({ action: "x' OR '1'='1" })).toEqual([]);
      expect(await actions({ resourceId: 'missing' })).toEqual([]);
    });

    it('pages newest first without skipping or repeating; the pages follow the filter', async () => {
      const ws = await workspace();
      for (let i = 1; i <= 7; i += 1) await store().appendAudit(entry(ws, i, `run.e${i}`, { actorId: i % 2 === 0 ? 'even' : 'odd' }));
      expect(await allPages(ws, { limit: 3 })).toEqual([['run.e7', 'run.e6', 'run.e5'], ['run.e4', 'run.e3', 'run.e2'], ['run.e1']]);
      expect(await allPages(ws, { limit: 7 })).toEqual([['run.e7', 'run.e6', 'run.e5', 'run.e4', 'run.e3', 'run.e2', 'run.e1']]);
      expect(await allPages(ws, { limit: 2, actorId: 'even' })).toEqual([['run.e6', 'run.e4'], ['run.e2']]);
      // Entries appended after a page was read show up on the next first page, not inside later pages.
      const first = await store().listAudit(ws, { limit: 2 });
      await store().appendAudit(entry(ws, 8, 'run.e8'));
      const second = await store().listAudit(ws, { limit: 2, cursor: first.nextCursor! });
      expect(second.items.map((item) => item.action)).toEqual(['run.e5', 'run.e4']);
      await expect(store().listAudit(ws, { limit: 2, cursor: Buffer.from('["x"]').toString('base64url') })).rejects.toMatchObject({ code: 'INVALID_CURSOR' });
    });

    it('is append-only in the schema: UPDATE and DELETE straight on the table fail and change nothing', async () => {
      const ws = await workspace();
      await store().appendAudit(entry(ws, 1, 'member.invite'));
      await expect(suite.harness().raw(`UPDATE audit_log SET action = 'forged' WHERE workspace_id = '${ws}'`)).rejects.toThrow(/append-only/);
      await expect(suite.harness().raw(`DELETE FROM audit_log WHERE workspace_id = '${ws}'`)).rejects.toThrow(/append-only/);
      await expect(suite.harness().raw('DELETE FROM audit_log')).rejects.toThrow(/append-only/);
      expect(await allPages(ws, { limit: 10 })).toEqual([['member.invite']]);
      expect(await suite.harness().countRows('audit_log', 'workspace_id', ws)).toBe(1);
    });

    it('pruning runs and deleting workflows leave the audit log alone', async () => {
      const ws = await workspace();
      await store().appendAudit(entry(ws, 1, 'run.start', { resourceId: 'r-old' }));
      await store().appendAudit(entry(ws, 2, 'workflow.delete', { resourceId: 'wf' }));
      await store().saveWorkflowVersion({ workspaceId: ws, workflowId: 'wf', name: 'F', definition: {}, now: 1 });
      await createRun(store(), 'r-old', { workspaceId: ws });
      await commit(store(), 'r-old', { run: { status: 'succeeded', finishedAt: 5 } }, ws);
      expect(await store().pruneRuns(1_000)).toBe(1);
      expect(await store().deleteWorkflow(ws, 'wf', 10)).toBe(true);
      expect(await allPages(ws, { limit: 10 })).toEqual([['workflow.delete', 'run.start']]);
    });
  });
}
