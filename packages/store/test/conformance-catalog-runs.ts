/** Conformance: the catalog's run listing, and event notices (`onEvents`). */
import { describe, expect, it } from 'vitest';
import type { EventsNotice, ListRunsQuery, RunRecord } from '@flowpilot/store';
import { catalogOf, commit, createRun, eventually, largeValue, runWrite, started, stepStarted, type Suite, WS } from './conformance-helpers.js';

export function registerCatalogRunTests(suite: Suite): void {
  const store = () => catalogOf(suite.store());

  describe('catalog: runs', () => {
    /** Every page of a listing, following cursors. */
    const allPages = async (query: Omit<ListRunsQuery, 'cursor'>) => {
      const pages: string[][] = [];
      let cursor: string | undefined;
      do {
        const page = await store().listRuns(WS, { ...query, ...(cursor === undefined ? {} : { cursor }) });
        pages.push(page.items.map((run) => run.id));
        cursor = page.nextCursor;
      } while (cursor !== undefined);
      return pages;
    };

    /** Runs of two workflows; several share a creation time (ties go by id, in byte order, descending). */
    const seed = async () => {
      const runs: Array<[string, string, number]> = [
        ['r01', 'a', 100],
        ['r02', 'b', 200],
        ['r-B', 'a', 300],
        ['r-a', 'a', 300],
        ['r-_', 'b', 300],
        ['r03', 'a', 400],
        ['r04', 'b', 500],
        ['r05', 'a', 500],
      ];
      for (const [id, workflowId, createdAt] of runs) await createRun(suite.store(), id, { workflowId, createdAt });
      await createRun(suite.store(), 'elsewhere', { workspaceId: 'other-workspace', createdAt: 1_000 });
      await commit(suite.store(), 'r03', { events: [started(401)], run: { status: 'running', startedAt: 401 } });
      await commit(suite.store(), 'r-a', { events: [started(301)], run: { status: 'succeeded', startedAt: 301, finishedAt: 302, output: largeValue() } });
    };
    const newestFirst = ['r05', 'r04', 'r03', 'r-a', 'r-_', 'r-B', 'r02', 'r01'];

    it('lists runs newest first, ties by id descending; pages neither skip nor repeat', async () => {
      await seed();
      expect(await allPages({ limit: 3 })).toEqual([newestFirst.slice(0, 3), newestFirst.slice(3, 6), newestFirst.slice(6)]);
      for (const limit of [1, 2, 4, 8, 50]) expect((await allPages({ limit })).flat(), `limit ${limit}`).toEqual(newestFirst);
      expect(await allPages({ limit: 8 })).toEqual([newestFirst]);
      const { items } = await store().listRuns(WS, { limit: 5 });
      // Full records, the output joined back from the payload table when large.
      expect(items[2]).toEqual(await store().getRun(WS, 'r03'));
      expect(items[3]).toEqual(await store().getRun(WS, 'r-a'));
      expect((items[3] as RunRecord).output).toEqual(largeValue());
      expect((await store().listRuns('other-workspace', { limit: 5 })).items.map((run) => run.id)).toEqual(['elsewhere']);
    });

    it('filters by workflow, status and creation time, also across pages', async () => {
      await seed();
      expect((await allPages({ limit: 2, workflowId: 'a' })).flat()).toEqual(['r05', 'r03', 'r-a', 'r-B', 'r01']);
      expect((await allPages({ limit: 2, status: 'pending' })).flat()).toEqual(['r05', 'r04', 'r-_', 'r-B', 'r02', 'r01']);
      expect((await allPages({ limit: 2, status: 'succeeded' })).flat()).toEqual(['r-a']);
      expect((await allPages({ limit: 2, since: 300 })).flat()).toEqual(newestFirst.slice(0, 6));
      expect((await allPages({ limit: 1, workflowId: 'b', status: 'pending', since: 200 })).flat()).toEqual(['r04', 'r-_', 'r02']);
      expect(await allPages({ limit: 2, workflowId: 'missing' })).toEqual([[]]);
      expect(await allPages({ limit: 2, since: 501 })).toEqual([[]]);
    });

    it('a run created after a page was read does not shift the next pages', async () => {
      await seed();
      const first = await store().listRuns(WS, { limit: 3 });
      await createRun(suite.store(), 'r-newest', { createdAt: 9_000 });
      const rest: string[] = [];
      for (let cursor = first.nextCursor; cursor !== undefined; ) {
        const page = await store().listRuns(WS, { limit: 3, cursor });
        rest.push(...page.items.map((run) => run.id));
        cursor = page.nextCursor;
      }
      expect([...first.items.map((run) => run.id), ...rest]).toEqual(newestFirst);
    });

    it('refuses a cursor it did not hand out', async () => {
      await expect(store().listRuns(WS, { limit: 1, cursor: 'bm9wZQ' })).rejects.toMatchObject({ code: 'INVALID_CURSOR' });
      const workflowCursor = Buffer.from(JSON.stringify(['wf'])).toString('base64url');
      await expect(store().listRuns(WS, { limit: 1, cursor: workflowCursor })).rejects.toMatchObject({ code: 'INVALID_CURSOR' });
    });
  });

  describe('catalog: event notices', () => {
    it('onEvents hears a committed write with events once, after COMMIT; not a rollback, a conflict or a write without events', async () => {
      const notices: EventsNotice[] = [];
      const off = store().onEvents((notice) => notices.push(notice));
      try {
        await createRun(suite.store(), 'r', { workflowId: 'flow' });
        await createRun(suite.store(), 'q', { workflowId: 'other' });
        await suite.store().transaction(async (tx) => {
          const run = (await tx.lockRuns(WS, ['r'])).get('r')!;
          await tx.write(runWrite(run, { events: [started(1), stepStarted(2, 'a')] }));
          const other = (await tx.lockRuns(WS, ['q'])).get('q')!;
          await tx.write({ ...runWrite(other, { events: [started(3)] }), workflowId: 'other' });
          await tx.write(runWrite({ ...run, lastSeq: 2 }, { steps: [{ nodeId: 'a', status: 'running', attempts: 1 }] }));
          expect(notices, 'nothing before COMMIT').toEqual([]);
        });
        // One per write with events, in write order, at once (not through another process).
        expect(notices).toEqual([
          { workspaceId: WS, runId: 'r', workflowId: 'flow', seq: 2 },
          { workspaceId: WS, runId: 'q', workflowId: 'other', seq: 1 },
        ]);
        notices.length = 0;

        await expect(
          suite.store().transaction(async (tx) => {
            const run = (await tx.lockRuns(WS, ['r'])).get('r')!;
            await tx.write(runWrite(run, { events: [stepStarted(4, 'b')] }));
            throw new Error('boom');
          }),
        ).rejects.toThrow('boom');
        await expect(commit(suite.store(), 'r', { expectedSeq: 0, events: [stepStarted(4, 'b')] })).rejects.toMatchObject({ code: 'SEQUENCE_CONFLICT' });
        await commit(suite.store(), 'r', { steps: [{ nodeId: 'b', status: 'pending', attempts: 0 }] });
        await commit(suite.store(), 'r', { events: [stepStarted(5, 'c')] });
        if (suite.harness().crossProcessEvents) {
          // Our own notifications come back through LISTEN too: a peer's later notice arriving shows
          // they have been delivered (in commit order), and ignored.
          const peer = await suite.harness().peer();
          try {
            await suite.harness().listening?.(suite.store());
            await commit(peer, 'q', { events: [stepStarted(6, 'x')] });
            await eventually(() => notices.length === 2, 5_000, 'the peer notice');
          } finally {
            await peer.close();
          }
        }
        expect(notices).toEqual([
          { workspaceId: WS, runId: 'r', workflowId: 'flow', seq: 3 },
          ...(suite.harness().crossProcessEvents ? [{ workspaceId: WS, runId: 'q', workflowId: 'other', seq: 2 }] : []),
        ]);
      } finally {
        off();
      }
      await commit(suite.store(), 'r', { events: [stepStarted(7, 'd')] });
      expect(notices).toHaveLength(suite.harness().crossProcessEvents ? 2 : 1);
    });

    it('a write whose notice is too long for NOTIFY (8000 bytes) commits, and this process hears it', async () => {
      const notices: EventsNotice[] = [];
      const off = store().onEvents((notice) => notices.push(notice));
      const runId = `r-${'x'.repeat(9_000)}`;
      try {
        await createRun(suite.store(), runId, { workflowId: 'flow' });
        await commit(suite.store(), runId, { events: [started(1)] });
      } finally {
        off();
      }
      expect((await store().getRun(WS, runId))?.lastSeq).toBe(1);
      expect(notices).toEqual([{ workspaceId: WS, runId, workflowId: 'flow', seq: 1 }]);
    });

    it('another process hears the notice when its store listens (PostgreSQL: NOTIFY)', async ({ skip }) => {
      if (!suite.harness().crossProcessEvents) skip('this backend notifies in-process listeners only');
      const peer = catalogOf(await suite.harness().peer());
      const heard: EventsNotice[] = [];
      const off = peer.onEvents((notice) => heard.push(notice));
      try {
        await suite.harness().listening?.(peer);
        await createRun(suite.store(), 'r', { workflowId: 'flow' });
        await commit(suite.store(), 'r', { events: [started(1), stepStarted(2, 'a'), stepStarted(3, 'b')] });
        await commit(suite.store(), 'r', { steps: [{ nodeId: 'a', status: 'running', attempts: 1 }] });
        await commit(suite.store(), 'r', { events: [stepStarted(4, 'c')] });
        await eventually(() => heard.length >= 2, 5_000, 'the notices in the other process');
        expect(heard).toEqual([
          { workspaceId: WS, runId: 'r', workflowId: 'flow', seq: 3 },
          { workspaceId: WS, runId: 'r', workflowId: 'flow', seq: 4 },
        ]);
      } finally {
        off();
        await peer.close();
      }
    });
  });
}
