/**
 * Conformance: one transaction writing several runs, as a worker's commit does (each write names
 * its workflow, as transitions' writes do). PostgreSQL sends such writes together in one statement
 * (WRITE_MANY); every backend must commit each exactly as its own write would.
 */
import { describe, expect, it } from 'vitest';
import { runEventsKey, SequenceConflictError, type EventsNotice, type RunWrite } from '@flowpilot/store';
import { catalogOf, createRun, commit, largeValue, runWrite, started, stepStarted, stepSucceeded, type Suite, type WritePart, WS } from './conformance-helpers.js';

export function registerBatchWriteTests(suite: Suite): void {
  /** Writes every part in ONE transaction, each on its run's current `last_seq` (with its workflow). */
  const writeAll = (parts: ReadonlyArray<[string, WritePart]>) =>
    suite.store().transaction(async (tx) => {
      const runs = await tx.lockRuns(WS, [...new Set(parts.map(([runId]) => runId))].sort());
      for (const [runId, part] of parts) {
        const run = runs.get(runId)!;
        const write: RunWrite = { ...runWrite(run, part), workflowId: run.workflowId };
        await tx.write(write);
        run.lastSeq += write.events.length;
      }
    });

  describe('batched writes', () => {
    it('several runs written in one transaction commit each as its own write would', async () => {
      for (const id of ['r1', 'r2', 'r3']) await createRun(suite.store(), id);
      await commit(suite.store(), 'r2', {
        events: [started(1)],
        enqueue: [{ nodeId: 'old', attempt: 1, inputs: [] }],
        timersSet: [{ timerId: 'gone', dueAt: 5 }],
      });
      const big = largeValue();
      const notices: EventsNotice[] = [];
      const off = catalogOf(suite.store()).onEvents((notice) => notices.push(notice));
      try {
        await writeAll([
          ['r1', {
            events: [started(10), stepStarted(11, 'a'), stepSucceeded(12, 'a', { v: 1 })],
            steps: [{ nodeId: 'a', status: 'succeeded', attempts: 1, output: { v: 1 }, startedAt: 11, finishedAt: 12 }, { nodeId: 'b', status: 'pending', attempts: 1 }],
            run: { status: 'running', startedAt: 10 },
            enqueue: [{ nodeId: 'b', attempt: 1, inputs: ['a'] }],
            timersSet: [{ timerId: 't1', dueAt: 50 }],
          }],
          ['r2', {
            events: [stepStarted(20, 'x')],
            steps: [{ nodeId: 'x', status: 'running', attempts: 1, startedAt: 20 }],
            dequeue: ['old'],
            timersDeleted: ['gone'],
            enqueue: [{ nodeId: 'y', attempt: 1, inputs: [], lease: { owner: 'me', token: 'me:e1', expiresAt: 1e15 } }],
          }],
          ['r3', {
            events: [started(30), stepStarted(31, 'z'), stepSucceeded(32, 'z', big)],
            steps: [{ nodeId: 'z', status: 'succeeded', attempts: 1, output: big, startedAt: 31, finishedAt: 32 }],
            run: { status: 'succeeded', startedAt: 30, finishedAt: 32, output: big },
          }],
        ]);
      } finally {
        off();
      }
      const store = suite.store();
      expect((await store.getRun(WS, 'r1'))).toMatchObject({ status: 'running', startedAt: 10, lastSeq: 3 });
      expect((await store.readEvents(WS, 'r1')).map((stored) => stored.event)).toEqual([started(10, { id: 'r1' }), stepStarted(11, 'a'), stepSucceeded(12, 'a', { v: 1 })]);
      expect((await store.getSteps(WS, 'r1')).map((step) => [step.nodeId, step.status])).toEqual([['a', 'succeeded'], ['b', 'pending']]);
      expect(await store.getRun(WS, 'r2')).toMatchObject({ lastSeq: 2 });
      expect((await store.getSteps(WS, 'r2')).map((step) => [step.nodeId, step.status])).toEqual([['x', 'running']]);
      expect(await store.getRun(WS, 'r3')).toMatchObject({ status: 'succeeded', finishedAt: 32, output: big, lastSeq: 3 });
      expect((await store.readOutputs(WS, 'r3', ['z'])).get('z')).toEqual(big);
      // The queue: r2's old item gone, its new one leased to "me"; r1's b claimable (the only one).
      const claimed = await store.claimSteps({ owner: 'w', limit: 10, leaseMs: 1_000, now: 100 });
      expect(claimed.map((step) => [step.runId, step.nodeId, step.inputs])).toEqual([['r1', 'b', ['a']]]);
      // Timers: r2's is deleted, r1's is the next one due.
      expect(await store.nextTimerDue()).toBe(50);
      // One notice per run, with the status of the runs whose status changed.
      expect(notices.map((notice) => [notice.runId, notice.seq, notice.status])).toEqual([['r1', 3, 'running'], ['r2', 2, undefined], ['r3', 3, 'succeeded']]);
    });

    it('readEventsOfRuns reads several runs after their own seqs, as readEvents does for each', async () => {
      const big = largeValue();
      await createRun(suite.store(), 'r1', { input: { n: 1 } });
      await createRun(suite.store(), 'r2', { input: { n: 2 } });
      await createRun(suite.store(), 'quiet');
      await commit(suite.store(), 'r1', { events: [started(1, { n: 1 }), stepStarted(2, 'a'), stepSucceeded(3, 'a', big)], steps: [{ nodeId: 'a', status: 'succeeded', attempts: 1, output: big }] });
      await commit(suite.store(), 'r2', { events: [started(4, { n: 2 }), stepStarted(5, 'b'), stepSucceeded(6, 'b', { v: 2 })], steps: [{ nodeId: 'b', status: 'succeeded', attempts: 1, output: { v: 2 } }] });
      const requests = [
        { workspaceId: WS, runId: 'r1', afterSeq: 0 },
        { workspaceId: WS, runId: 'r2', afterSeq: 2 },
        { workspaceId: WS, runId: 'quiet', afterSeq: 0 },
      ];
      const read = await suite.store().transaction((tx) => tx.readEventsOfRuns(requests));
      expect(read.get(runEventsKey(WS, 'r1'))).toEqual(await suite.store().readEvents(WS, 'r1', 0));
      expect(read.get(runEventsKey(WS, 'r2'))).toEqual(await suite.store().readEvents(WS, 'r2', 2));
      expect(read.get(runEventsKey(WS, 'r2'))?.map((stored) => stored.event)).toEqual([stepSucceeded(6, 'b', { v: 2 })]);
      expect(read.get(runEventsKey(WS, 'quiet')) ?? []).toEqual([]);
      expect(await suite.store().transaction((tx) => tx.readEventsOfRuns([]))).toEqual(new Map());
    });

    it('one stale write among them fails the whole transaction: nothing is written', async () => {
      for (const id of ['r1', 'r2']) await createRun(suite.store(), id);
      await expect(
        writeAll([
          ['r1', { events: [started(10)], run: { status: 'running', startedAt: 10 } }],
          ['r2', { events: [started(11)], expectedSeq: 7 }],
        ]),
      ).rejects.toBeInstanceOf(SequenceConflictError);
      expect(await suite.store().getRun(WS, 'r1')).toMatchObject({ status: 'pending', lastSeq: 0 });
      expect(await suite.store().readEvents(WS, 'r1')).toEqual([]);
    });

    it('a run written twice in one transaction gets both writes, in order; reads in the transaction see them', async () => {
      await createRun(suite.store(), 'r1');
      await createRun(suite.store(), 'r2');
      const seen = await suite.store().transaction(async (tx) => {
        const runs = await tx.lockRuns(WS, ['r1', 'r2']);
        const r1 = runs.get('r1')!;
        await tx.write({ ...runWrite(r1, { events: [started(10)], run: { status: 'running', startedAt: 10 } }), workflowId: 'wf' });
        await tx.write({ ...runWrite(runs.get('r2')!, { events: [started(11)] }), workflowId: 'wf' });
        await tx.write({ ...runWrite(r1, { expectedSeq: 1, events: [stepStarted(12, 'a')], steps: [{ nodeId: 'a', status: 'running', attempts: 1 }] }), workflowId: 'wf' });
        return (await tx.readEvents(WS, 'r1', 0)).map((stored) => stored.seq);
      });
      expect(seen).toEqual([1, 2]);
      expect(await suite.store().getRun(WS, 'r1')).toMatchObject({ status: 'running', lastSeq: 2 });
      expect(await suite.store().getRun(WS, 'r2')).toMatchObject({ lastSeq: 1 });
    });
  });
}
