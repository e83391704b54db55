/** Conformance: runs, writes, events, outputs, payloads, sequence conflicts, pruning, onWork. */
import { describe, expect, it } from 'vitest';
import { SequenceConflictError, type StoredEvent } from '@flowpilot/store';
import { commit, createRun, eventually, largeValue, RUN_TABLES, runWrite, started, stepStarted, stepSucceeded, type Suite, WS } from './conformance-helpers.js';

/** Values whose JSON text must come back exactly (key order, escapes, unicode, null). */
const TRICKY = { z: 1, a: [null, true, 1.5e300, -0.25], '': 'empty key', nul: 'a\u0000b', emoji: '🦀', lone: '\ud800', quote: '"\\\'', nested: { b: {}, a: [] } };

export function registerRunTests(suite: Suite): void {
  describe('runs', () => {
    it('inserts a pending run; getRun and lockRuns return it', async () => {
      await createRun(suite.store(), 'r1', { priority: 3, input: { name: 'x' }, createdAt: 50 });
      const expected = { workspaceId: WS, id: 'r1', workflowId: 'wf', version: 1, status: 'pending', priority: 3, input: { name: 'x' }, createdAt: 50, lastSeq: 0 };
      expect(await suite.store().getRun(WS, 'r1')).toEqual(expected);
      const locked = await suite.store().transaction((tx) => tx.lockRuns(WS, ['missing', 'r1']));
      expect([...locked.keys()]).toEqual(['r1']);
      expect(locked.get('r1')).toEqual(expected);
      expect(await suite.store().getRun(WS, 'missing')).toBeUndefined();
      expect(await suite.store().getRun('elsewhere', 'r1')).toBeUndefined();
    });

    it('counts running runs and finds the next pending one by priority, then age', async () => {
      await createRun(suite.store(), 'old-low', { priority: 0, createdAt: 1 });
      await createRun(suite.store(), 'new-high', { priority: 5, createdAt: 3 });
      await createRun(suite.store(), 'old-high', { priority: 5, createdAt: 2 });
      await createRun(suite.store(), 'running', { priority: 9, createdAt: 0 });
      await commit(suite.store(), 'running', { events: [started(5)], run: { status: 'running', startedAt: 5 } });
      const result = await suite.store().transaction(async (tx) => ({ running: await tx.countRunning(WS, 'wf'), next: await tx.nextPendingRun(WS, 'wf'), none: await tx.nextPendingRun(WS, 'other') }));
      expect(result.running).toBe(1);
      expect(result.next?.id).toBe('old-high');
      expect(result.none).toBeUndefined();
    });

    it('commits a write: last_seq, events with outputs and input joined back, steps, run columns', async () => {
      await createRun(suite.store(), 'r', { input: TRICKY });
      const run = await commit(suite.store(), 'r', {
        events: [started(10, TRICKY), stepStarted(11, 'a'), stepSucceeded(12, 'a', TRICKY), { type: 'step.waiting', at: 13, nodeId: 'w', attempt: 1, wakeAt: 99, output: null }],
        steps: [
          { nodeId: 'a', status: 'succeeded', attempts: 1, output: TRICKY, startedAt: 11, finishedAt: 12 },
          { nodeId: 'w', status: 'waiting', attempts: 1, output: null, startedAt: 13 },
          { nodeId: 'f', status: 'failed', attempts: 2, error: { code: 'E', message: 'bad', retryable: false }, startedAt: 1, finishedAt: 2 },
        ],
        run: { status: 'running', startedAt: 10 },
      });
      expect(run).toMatchObject({ status: 'running', startedAt: 10, lastSeq: 4 });
      expect(run.finishedAt).toBeUndefined();
      const events = await suite.store().readEvents(WS, 'r');
      expect(events.map((stored) => stored.seq)).toEqual([1, 2, 3, 4]);
      expect(JSON.stringify(events[0]!.event)).toBe(JSON.stringify(started(10, TRICKY)));
      expect(JSON.stringify(events[2]!.event)).toBe(JSON.stringify(stepSucceeded(12, 'a', TRICKY)));
      expect(events[3]!.event).toEqual({ type: 'step.waiting', at: 13, nodeId: 'w', attempt: 1, wakeAt: 99, output: null });
      expect((await suite.store().readEvents(WS, 'r', 2)).map((stored: StoredEvent) => stored.seq)).toEqual([3, 4]);
      expect(await suite.store().readEvents(WS, 'r', 4)).toEqual([]);
      const steps = await suite.store().getSteps(WS, 'r');
      expect(steps.map((step) => step.nodeId)).toEqual(['a', 'w', 'f']);
      expect(JSON.stringify(steps[0]!.output)).toBe(JSON.stringify(TRICKY));
      expect(steps[1]).toEqual({ runId: 'r', nodeId: 'w', status: 'waiting', attempts: 1, output: null, startedAt: 13 });
      expect(steps[2]).toEqual({ runId: 'r', nodeId: 'f', status: 'failed', attempts: 2, error: { code: 'E', message: 'bad', retryable: false }, startedAt: 1, finishedAt: 2 });
      const outputs = await suite.store().readOutputs(WS, 'r', ['a', 'w', 'f', 'zzz']);
      expect([...outputs.keys()].sort()).toEqual(['a', 'w']);
      expect(outputs.get('w')).toBeNull();
      // The same reads inside a transaction.
      expect(await suite.store().transaction((tx) => tx.readEvents(WS, 'r', 0))).toEqual(events);
    });

    it('keeps a step output a later write does not give, the first start, and lists steps in first-write order', async () => {
      await createRun(suite.store(), 'r');
      await commit(suite.store(), 'r', { steps: [{ nodeId: 'b', status: 'pending', attempts: 0 }, { nodeId: 'a', status: 'succeeded', attempts: 1, output: { v: 1 }, startedAt: 5 }] });
      await commit(suite.store(), 'r', { steps: [{ nodeId: 'a', status: 'failed', attempts: 2, startedAt: 9, finishedAt: 10 }, { nodeId: 'c', status: 'running', attempts: 1 }] });
      const steps = await suite.store().getSteps(WS, 'r');
      expect(steps.map((step) => step.nodeId)).toEqual(['b', 'a', 'c']);
      expect(steps[1]).toEqual({ runId: 'r', nodeId: 'a', status: 'failed', attempts: 2, output: { v: 1 }, startedAt: 5, finishedAt: 10 });
      await commit(suite.store(), 'r', { steps: [{ nodeId: 'a', status: 'succeeded', attempts: 3, output: { v: 3 } }] });
      expect((await suite.store().readOutputs(WS, 'r', ['a'])).get('a')).toEqual({ v: 3 });
    });

    it('folds repeated entries of one write as if applied in order', async () => {
      await createRun(suite.store(), 'r');
      await commit(suite.store(), 'r', {
        steps: [
          { nodeId: 'a', status: 'running', attempts: 1, output: { first: true }, startedAt: 1 },
          { nodeId: 'a', status: 'succeeded', attempts: 1, startedAt: 2, finishedAt: 3 },
        ],
        enqueue: [
          { nodeId: 'q', attempt: 1, inputs: ['x'] },
          { nodeId: 'q', attempt: 2, inputs: ['y'] },
        ],
        timersSet: [
          { timerId: 't', dueAt: 5 },
          { timerId: 't', dueAt: 7 },
          { timerId: 'gone', dueAt: 1 },
        ],
        timersDeleted: ['gone'],
      });
      expect(await suite.store().getSteps(WS, 'r')).toEqual([{ runId: 'r', nodeId: 'a', status: 'succeeded', attempts: 1, output: { first: true }, startedAt: 1, finishedAt: 3 }]);
      const claimed = await suite.store().claimSteps({ owner: 'w', limit: 10, leaseMs: 10, now: 100 });
      expect(claimed.map((step) => [step.nodeId, step.attempt, step.inputs])).toEqual([['q', 2, ['y']]]);
      expect(await suite.store().nextTimerDue()).toBe(7);
      expect(await suite.harness().countRows('timers', 'run_id', 'r')).toBe(1);
    });

    it('sets the run output, error and finish; a later update replaces them', async () => {
      await createRun(suite.store(), 'r');
      const failed = await commit(suite.store(), 'r', { run: { status: 'failed', error: { code: 'X', message: 'm', retryable: false, nodeId: 'a' }, startedAt: 1, finishedAt: 9 } });
      expect(failed).toMatchObject({ status: 'failed', error: { code: 'X', nodeId: 'a' }, startedAt: 1, finishedAt: 9 });
      const done = await commit(suite.store(), 'r', { run: { status: 'succeeded', output: TRICKY, finishedAt: 20 } });
      expect(done.error).toBeUndefined();
      expect(done.startedAt).toBe(1);
      expect(done.finishedAt).toBe(20);
      expect(JSON.stringify(done.output)).toBe(JSON.stringify(TRICKY));
      const retried = await commit(suite.store(), 'r', { run: { status: 'running' } });
      expect(retried).toMatchObject({ status: 'running', startedAt: 1 });
      expect(retried.output).toBeUndefined();
      expect(retried.finishedAt).toBeUndefined();
    });

    it('stores large outputs in the payload table and reads them back equal', async () => {
      const big = largeValue();
      await createRun(suite.store(), 'r');
      await commit(suite.store(), 'r', {
        events: [stepSucceeded(2, 'big', big), stepSucceeded(3, 'small', 's')],
        steps: [
          { nodeId: 'big', status: 'succeeded', attempts: 1, output: big },
          { nodeId: 'small', status: 'succeeded', attempts: 1, output: 's' },
        ],
        run: { status: 'succeeded', output: big, finishedAt: 4 },
      });
      expect(await suite.harness().countRows('payloads', 'run_id', 'r')).toBe(2);
      expect((await suite.store().getRun(WS, 'r'))?.output).toEqual(big);
      expect((await suite.store().getSteps(WS, 'r'))[0]?.output).toEqual(big);
      expect((await suite.store().readOutputs(WS, 'r', ['big'])).get('big')).toEqual(big);
      const events = await suite.store().readEvents(WS, 'r');
      expect(events[0]!.event).toEqual(stepSucceeded(2, 'big', big));
      expect(events[1]!.event).toEqual(stepSucceeded(3, 'small', 's'));
      // Rewritten with a small output: the step reads the new one.
      await commit(suite.store(), 'r', { steps: [{ nodeId: 'big', status: 'succeeded', attempts: 2, output: { small: true } }] });
      expect((await suite.store().readOutputs(WS, 'r', ['big'])).get('big')).toEqual({ small: true });
    });

    it('refuses a write at a stale last_seq and writes nothing of it', async () => {
      await createRun(suite.store(), 'r');
      await commit(suite.store(), 'r', { events: [started(1)] });
      const outcome = await suite.store().transaction(async (tx) => {
        const run = (await tx.lockRuns(WS, ['r'])).get('r')!;
        const stale = runWrite(run, {
          expectedSeq: 0,
          events: [stepStarted(2, 'a')],
          steps: [{ nodeId: 'a', status: 'running', attempts: 1, output: largeValue() }],
          enqueue: [{ nodeId: 'a', attempt: 1, inputs: [] }],
          timersSet: [{ timerId: 't', dueAt: 5 }],
          run: { status: 'failed', finishedAt: 3 },
        });
        const error = await tx.write(stale).then(
          () => undefined,
          (failure: unknown) => failure,
        );
        // The transaction goes on and commits: the refused write must have left nothing behind.
        await tx.insertRun({ workspaceId: WS, id: 'after', workflowId: 'wf', version: 1, priority: 0, input: {}, createdAt: 1 });
        return error;
      });
      expect(outcome).toBeInstanceOf(SequenceConflictError);
      expect(outcome).toMatchObject({ code: 'SEQUENCE_CONFLICT' });
      expect(await suite.store().getRun(WS, 'r')).toMatchObject({ status: 'pending', lastSeq: 1 });
      expect(await suite.store().getRun(WS, 'after')).toBeDefined();
      expect(await suite.store().readEvents(WS, 'r')).toHaveLength(1);
      for (const table of RUN_TABLES.filter((name) => name !== 'events')) expect(await suite.harness().countRows(table, 'run_id', 'r'), table).toBe(0);
    });

    it('refuses a write without events at a stale last_seq, and one for a missing run', async () => {
      await createRun(suite.store(), 'r');
      await commit(suite.store(), 'r', { events: [started(1)] });
      await expect(
        suite.store().transaction(async (tx) => {
          const run = (await tx.lockRuns(WS, ['r'])).get('r')!;
          await tx.write(runWrite(run, { expectedSeq: 0, timersDeleted: ['x'], run: { status: 'cancelled' } }));
        }),
      ).rejects.toBeInstanceOf(SequenceConflictError);
      await expect(
        suite.store().transaction((tx) => tx.write({ workspaceId: WS, runId: 'ghost', expectedSeq: 0, priority: 0, events: [started(1)], steps: [], enqueue: [], dequeue: [], timersSet: [], timersDeleted: [] })),
      ).rejects.toBeInstanceOf(SequenceConflictError);
      expect((await suite.store().getRun(WS, 'r'))?.status).toBe('pending');
    });

    it('a rolled-back transaction leaves no trace of its writes', async () => {
      await createRun(suite.store(), 'r');
      await expect(
        suite.store().transaction(async (tx) => {
          const run = (await tx.lockRuns(WS, ['r'])).get('r')!;
          await tx.write(runWrite(run, { events: [started(1)], steps: [{ nodeId: 'a', status: 'running', attempts: 1 }], enqueue: [{ nodeId: 'a', attempt: 1, inputs: [] }] }));
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');
      expect(await suite.store().getRun(WS, 'r')).toMatchObject({ lastSeq: 0 });
      for (const table of RUN_TABLES) expect(await suite.harness().countRows(table, 'run_id', 'r'), table).toBe(0);
    });

    it('a run lock granted after a wait returns the run as the other writer committed it', async () => {
      const big = largeValue();
      await createRun(suite.store(), 'r');
      const peer = await suite.harness().peer();
      try {
        let release!: () => void;
        const gate = new Promise<void>((resolve) => (release = resolve));
        let written!: () => void;
        const wrote = new Promise<void>((resolve) => (written = resolve));
        const first = suite.store().transaction(async (tx) => {
          const run = (await tx.lockRuns(WS, ['r'])).get('r')!;
          await tx.write(runWrite(run, { events: [started(1)], run: { status: 'succeeded', output: big, finishedAt: 2 } }));
          written();
          await gate;
        });
        await wrote;
        const second = peer.transaction(async (tx) => (await tx.lockRuns(WS, ['r'])).get('r'));
        await new Promise((resolve) => setTimeout(resolve, 100));
        release();
        await first;
        const run = await second;
        expect(run).toMatchObject({ status: 'succeeded', lastSeq: 1, finishedAt: 2 });
        expect(run?.output).toEqual(big);
      } finally {
        await peer.close();
      }
    });

    it('serialises writers of one run on its lock: concurrent transitions never conflict', async () => {
      await createRun(suite.store(), 'r');
      const peer = await suite.harness().peer();
      try {
        const stores = [suite.store(), peer];
        await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            stores[i % 2]!.transaction(async (tx) => {
              const run = (await tx.lockRuns(WS, ['r'])).get('r')!;
              await tx.write(runWrite(run, { events: [stepStarted(i, `n${i}`)] }));
            }),
          ),
        );
      } finally {
        await peer.close();
      }
      expect((await suite.store().getRun(WS, 'r'))?.lastSeq).toBe(10);
      expect((await suite.store().readEvents(WS, 'r')).map((stored) => stored.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    });
  });

  describe('pruneRuns', () => {
    const fill = async (id: string, status: 'succeeded' | 'running', finishedAt?: number): Promise<void> => {
      await createRun(suite.store(), id);
      await commit(suite.store(), id, {
        events: [started(1), stepSucceeded(2, 'a', largeValue())],
        steps: [{ nodeId: 'a', status: 'succeeded', attempts: 1, output: largeValue() }],
        enqueue: [{ nodeId: 'b', attempt: 1, inputs: ['a'] }],
        timersSet: [{ timerId: 'run-timeout', dueAt: 1_000 }],
        run: { status, output: largeValue(), finishedAt },
      });
    };

    it('deletes finished runs older than the cutoff with every row they own, oldest first, up to the limit', async () => {
      await fill('old-1', 'succeeded', 100);
      await fill('old-2', 'succeeded', 200);
      await fill('recent', 'succeeded', 5_000);
      await fill('active', 'running');
      for (const table of RUN_TABLES) expect(await suite.harness().countRows(table, 'run_id', 'old-1'), table).toBeGreaterThan(0);
      expect(await suite.store().pruneRuns(1_000, 1)).toBe(1);
      expect(await suite.store().getRun(WS, 'old-1')).toBeUndefined();
      expect(await suite.store().getRun(WS, 'old-2')).toBeDefined();
      expect(await suite.store().pruneRuns(1_000)).toBe(1);
      expect(await suite.store().pruneRuns(1_000)).toBe(0);
      for (const id of ['old-1', 'old-2']) {
        expect(await suite.harness().countRows('runs', 'id', id)).toBe(0);
        for (const table of RUN_TABLES) expect(await suite.harness().countRows(table, 'run_id', id), `${table} of ${id}`).toBe(0);
      }
      for (const id of ['recent', 'active']) {
        expect((await suite.store().getRun(WS, id))?.output).toEqual(largeValue());
        for (const table of RUN_TABLES) expect(await suite.harness().countRows(table, 'run_id', id), `${table} of ${id}`).toBeGreaterThan(0);
      }
    });
  });

  describe('onWork', () => {
    it('wakes listeners after a commit that enqueues unleased work, not after a rollback or a leased-only enqueue', async () => {
      let calls = 0;
      const off = suite.store().onWork(() => {
        calls += 1;
      });
      try {
        await suite.harness().listening?.(suite.store());
        await createRun(suite.store(), 'r');
        await new Promise((resolve) => setTimeout(resolve, 50));
        calls = 0;
        await commit(suite.store(), 'r', { enqueue: [{ nodeId: 'a', attempt: 1, inputs: [] }] });
        await eventually(() => calls > 0, 5_000, 'onWork');
        await new Promise((resolve) => setTimeout(resolve, 100));
        calls = 0;
        await expect(
          suite.store().transaction(async (tx) => {
            const run = (await tx.lockRuns(WS, ['r'])).get('r')!;
            await tx.write(runWrite(run, { enqueue: [{ nodeId: 'b', attempt: 1, inputs: [] }] }));
            throw new Error('rollback');
          }),
        ).rejects.toThrow('rollback');
        await commit(suite.store(), 'r', { enqueue: [{ nodeId: 'c', attempt: 1, inputs: [], lease: { owner: 'me', token: 'me:c', expiresAt: 10 } }] });
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect(calls).toBe(0);
      } finally {
        off();
      }
      await commit(suite.store(), 'r', { enqueue: [{ nodeId: 'd', attempt: 1, inputs: [] }] });
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(calls).toBe(0);
    });

    it('a listener that throws does not fail the committed transaction', async () => {
      const off = suite.store().onWork(() => {
        throw new Error('listener bug');
      });
      try {
        await createRun(suite.store(), 'r');
        await commit(suite.store(), 'r', { enqueue: [{ nodeId: 'a', attempt: 1, inputs: [] }] });
        expect(await suite.store().queueDepth(0)).toBe(1);
      } finally {
        off();
      }
    });

    it('wakes listeners of other processes (PostgreSQL: NOTIFY; SQLite: data_version)', async () => {
      expect(suite.harness().crossProcessWake).toBe(true);
      const peer = await suite.harness().peer();
      let calls = 0;
      const off = suite.store().onWork(() => {
        calls += 1;
      });
      try {
        await suite.harness().listening?.(suite.store());
        await createRun(peer, 'r');
        await commit(peer, 'r', { enqueue: [{ nodeId: 'a', attempt: 1, inputs: [] }] });
        await eventually(() => calls > 0, 5_000, 'onWork from another process');
      } finally {
        off();
        await peer.close();
      }
    });
  });
}
