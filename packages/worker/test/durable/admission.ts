/**
 * 6. Runs are pinned to their version: a run started on v1 finishes with v1's behaviour after v2 is
 *    saved; a new run uses v2.
 * 7. Per-workflow concurrency limits keep extra runs `pending`; the higher-priority pending run is
 *    admitted first.
 */
import { describe, expect, test } from 'vitest';
import type { RunRecord } from '@flowpilot/store';
import { isFinished, sleep, WS, workflow, type DurableSuite, type Harness } from '../helpers.js';

const delayed = (name: string, ms: number, value: unknown, settings?: Record<string, unknown>) =>
  workflow(
    name,
    [
      { id: 'start', type: 'input' },
      { id: 'wait', type: 'delay', data: { ms } },
      { id: 'result', type: 'set', data: { values: { value } } },
    ],
    undefined,
    settings === undefined ? {} : { settings },
  );

/**
 * Samples how many runs of the workflow are admitted (running or waiting) until the runs finished;
 * returns the most seen at once. One COUNT per sample, in a transaction: a consistent view (reading
 * the runs one by one could see one before and another after the commit that hands over the slot).
 */
async function maxAdmitted(h: Harness, workflowId: string, runIds: readonly string[], timeoutMs = 8000): Promise<{ most: number; runs: RunRecord[] }> {
  const deadline = Date.now() + timeoutMs;
  let most = 0;
  for (;;) {
    most = Math.max(most, await h.store.transaction((tx) => tx.countRunning(WS, workflowId)));
    const runs = await Promise.all(runIds.map((id) => h.run(id)));
    if (runs.every((run) => isFinished(run.status))) return { most, runs };
    if (Date.now() > deadline) throw new Error(`runs did not finish: ${runs.map((run) => run.status).join(', ')}`);
    await sleep(5);
  }
}

export const admissionSuite: DurableSuite = (harness) => {
  describe('versions and admission', () => {
    test('a run stays pinned to its version; a new run uses the latest', async () => {
      const h = harness();
      h.worker();
      expect(await h.save('pinned', delayed('Pinned', 150, 'v1'))).toBe(1);
      const old = await h.start({ workflowId: 'pinned' });
      await h.waitForRun(old.id, { until: (run) => run.status === 'waiting' });
      expect(await h.save('pinned', delayed('Pinned', 150, 'v2'))).toBe(2);
      const fresh = await h.start({ workflowId: 'pinned' });

      const [oldDone, freshDone] = await Promise.all([h.waitForRun(old.id), h.waitForRun(fresh.id)]);
      expect(oldDone).toMatchObject({ status: 'succeeded', version: 1, output: { result: { value: 'v1' } } });
      expect(freshDone).toMatchObject({ status: 'succeeded', version: 2, output: { result: { value: 'v2' } } });
    });

    test('a workflow concurrency limit of 1 admits one run at a time, higher priority first', async () => {
      const h = harness();
      h.worker({ concurrency: 10 });
      await h.save('limited', delayed('Limited', 120, 'done'));
      await h.store.setWorkflowConcurrency(WS, 'limited', 1);
      expect((await h.store.getWorkflow(WS, 'limited'))?.maxConcurrentRuns).toBe(1);

      const first = await h.start({ workflowId: 'limited' });
      const low = await h.start({ workflowId: 'limited', priority: 0 });
      const high = await h.start({ workflowId: 'limited', priority: 10 });
      expect(first.status).not.toBe('pending');
      expect(low.status).toBe('pending');
      expect(high.status).toBe('pending');
      await h.waitForRun(first.id, { until: (run) => run.status === 'waiting' });
      expect((await h.run(low.id)).status).toBe('pending');
      expect((await h.run(high.id)).status).toBe('pending');
      expect(await h.store.getSteps(WS, low.id)).toEqual([]);

      const { most, runs } = await maxAdmitted(h, 'limited', [first.id, low.id, high.id]);
      expect(most).toBe(1);
      const [firstDone, lowDone, highDone] = runs as [RunRecord, RunRecord, RunRecord];
      expect(runs.map((run) => run.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
      // Admitted one after another: high priority next, then the older low-priority run.
      expect(highDone.startedAt!).toBeGreaterThanOrEqual(firstDone.finishedAt!);
      expect(lowDone.startedAt!).toBeGreaterThanOrEqual(highDone.finishedAt!);
    });

    test('settings.maxConcurrentRuns of the saved definition is the limit', async () => {
      const h = harness();
      h.worker();
      await h.save('limited-by-settings', delayed('Limited by settings', 100, 'done', { maxConcurrentRuns: 1 }));
      expect((await h.store.getWorkflow(WS, 'limited-by-settings'))?.maxConcurrentRuns).toBe(1);
      const runs = await Promise.all([0, 1, 2].map(() => h.start({ workflowId: 'limited-by-settings' })));
      expect(runs.filter((run) => run.status === 'pending')).toHaveLength(2);
      const { most, runs: done } = await maxAdmitted(h, 'limited-by-settings', runs.map((run) => run.id));
      expect(most).toBe(1);
      expect(done.map((run) => run.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    });
  });
};
