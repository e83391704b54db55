/**
 * 2. Retry backoff and `delay` are durable timers: timer rows exist while a run waits, `timer.fired`
 *    separates attempts, and a waiting step holds no worker slot.
 * 3. A run waiting on a long delay survives its worker stopping; a new process sees it waiting with
 *    nothing running, and can cancel it (its timers go) or, for a short delay, finish it.
 */
import { describe, expect, test } from 'vitest';
import type { RunEvent } from '@flowpilot/engine';
import { eventsOf, isFinished, sleep, waitFor, withTimeout, WS, workflow, type DurableSuite } from '../helpers.js';

const delayChain = (name: string, ms: number) =>
  workflow(name, [
    { id: 'start', type: 'input' },
    { id: 'wait', type: 'delay', data: { ms } },
    { id: 'after', type: 'set', data: { values: { done: true } } },
  ]);

export const timersSuite: DurableSuite = (harness) => {
  describe('durable timers', () => {
    test('retry backoff: 3 attempts separated by fired timers, timer rows while waiting', async () => {
      const h = harness();
      h.worker();
      await h.save(
        'retry-timers',
        workflow('Retry timers', [
          { id: 'start', type: 'input' },
          { id: 'flaky', type: 'fail', data: { message: 'down', code: 'DOWN', retryable: true }, retry: { maxAttempts: 3, initialDelayMs: 30, jitter: false } },
        ]),
      );
      const run = await h.start({ workflowId: 'retry-timers' });
      let waitingWithTimer = 0;
      const finished = await waitFor(
        async () => {
          const current = await h.run(run.id);
          if (current.status === 'waiting') {
            const rows = await h.backend.countRows(h.store, 'timers', run.id);
            const due = await h.store.nextTimerDue();
            if (rows === 1 && due !== undefined) waitingWithTimer += 1;
          }
          return isFinished(current.status) ? current : undefined;
        },
        'the retried run to finish',
        5000,
        2,
      );

      expect(finished.status).toBe('failed');
      expect(finished.error).toMatchObject({ code: 'DOWN', nodeId: 'flaky' });
      expect(await h.step(run.id, 'flaky')).toMatchObject({ status: 'failed', attempts: 3 });
      expect(waitingWithTimer).toBeGreaterThan(0);

      const events = await h.events(run.id);
      const trail = events.filter((event) => event.type === 'timer.fired' || ('nodeId' in event && event.nodeId === 'flaky'));
      expect(trail.map((event) => (event.type === 'timer.fired' ? `fired ${event.timerId}` : `${event.type} ${'attempt' in event ? event.attempt : ''}`))).toEqual([
        'step.started 1',
        'step.failed 1',
        'fired retry:flaky:2',
        'step.started 2',
        'step.failed 2',
        'fired retry:flaky:3',
        'step.started 3',
        'step.failed 3',
      ]);
      // Backoff 30 ms then 60 ms (factor 2, no jitter): each timer fired no earlier than its due time.
      const failed = eventsOf(events, { type: 'step.failed', nodeId: 'flaky' });
      const fired = eventsOf(events, { type: 'timer.fired' });
      expect(fired[0]!.at - failed[0]!.at).toBeGreaterThanOrEqual(30);
      expect(fired[1]!.at - failed[1]!.at).toBeGreaterThanOrEqual(60);
      expect(await h.backend.countRows(h.store, 'timers', run.id)).toBe(0);
      expect(await h.store.nextTimerDue()).toBeUndefined();
    });

    test('a delay holds no worker slot: a concurrency-1 worker runs another run meanwhile', async () => {
      const h = harness();
      h.worker({ concurrency: 1 });
      await h.save('parked', delayChain('Parked', 200));
      await h.save(
        'busy',
        workflow('Busy', [
          { id: 'start', type: 'input' },
          { id: 'a', type: 'test.count' },
          { id: 'b', type: 'test.count' },
          { id: 'c', type: 'test.count' },
        ]),
      );
      const parked = await h.start({ workflowId: 'parked' });
      const parkedWaiting = await h.waitForRun(parked.id, { until: (run) => run.status === 'waiting' });
      const busy = await h.start({ workflowId: 'busy' });
      const busyDone = await h.waitForRun(busy.id, { timeoutMs: 3000 });
      const parkedMeanwhile = await h.run(parked.id);
      const waitStep = await h.step(parked.id, 'wait');

      expect(busyDone.status).toBe('succeeded');
      // The only slot was free while the delay waited: the busy run started and finished meanwhile.
      const wakeAt = (eventsOf(await h.events(parked.id), { type: 'step.waiting', nodeId: 'wait' })[0] as Extract<RunEvent, { type: 'step.waiting' }>).wakeAt;
      expect(busyDone.startedAt!).toBeLessThan(wakeAt);
      expect(busyDone.finishedAt!).toBeLessThan(wakeAt);
      expect(parkedMeanwhile.status).toBe('waiting');
      expect(waitStep.status).toBe('waiting');
      expect(parkedWaiting.status).toBe('waiting');

      const parkedDone = await h.waitForRun(parked.id);
      expect(parkedDone.status).toBe('succeeded');
      expect(parkedDone.finishedAt! - parkedDone.startedAt!).toBeGreaterThanOrEqual(200);
      expect(await h.step(parked.id, 'wait')).toMatchObject({ status: 'succeeded', attempts: 1, output: { ms: 200 } });
    });
  });

  describe('runs survive their worker', () => {
    test('a run waiting on a 60 s delay survives its worker stopping; a new process cancels it', async () => {
      const h = harness();
      const first = h.worker();
      await h.save('long-wait', delayChain('Long wait', 60_000));
      const run = await h.start({ workflowId: 'long-wait' });
      await h.waitForRun(run.id, { until: (current) => current.status === 'waiting' });
      await first.stop(1000);

      // A new process: its own store connection, engine (empty caches) and worker.
      const next = await h.process();
      next.worker();
      await sleep(150);
      expect((await h.run(run.id, next.store)).status).toBe('waiting');
      const steps = await h.steps(run.id, next.store);
      expect([...steps.values()].filter((step) => step.status === 'running')).toEqual([]);
      expect(steps.get('wait')).toMatchObject({ status: 'waiting', attempts: 1 });
      expect(await next.store.queueDepth(Date.now())).toBe(0);
      expect(await h.backend.countRows(h.store, 'timers', run.id)).toBe(1);
      expect(await next.store.nextTimerDue()).toBeGreaterThan(Date.now() + 50_000);

      const cancelled = await withTimeout(next.engine.cancelRun(run.id), 3000, 'cancelRun from a process that never saw the run');
      expect(cancelled.status).toBe('cancelled');
      expect(await next.store.nextTimerDue()).toBeUndefined();
      expect(await h.backend.countRows(h.store, 'timers', run.id)).toBe(0);
      expect(await h.step(run.id, 'wait')).toMatchObject({ status: 'cancelled' });
    });

    test('a new process fires the timer of a run it never saw and finishes it', async () => {
      const h = harness();
      const first = h.worker();
      await h.save('restart-wait', delayChain('Restart wait', 250));
      const run = await h.start({ workflowId: 'restart-wait' });
      await h.waitForRun(run.id, { until: (current) => current.status === 'waiting' });
      await first.stop(1000);

      const next = await h.process();
      next.worker();
      const done = await h.waitForRun(run.id, { timeoutMs: 8000 });
      expect(done.status).toBe('succeeded');
      expect(done.output).toEqual({ after: { done: true } });
      const fired = eventsOf(await h.events(run.id), { type: 'timer.fired' }) as Array<Extract<RunEvent, { type: 'timer.fired' }>>;
      expect(fired.map((event) => event.timerId)).toEqual(['wake:wait:1']);
      expect(await h.store.getSteps(WS, run.id)).toHaveLength(3);
    });
  });
};
