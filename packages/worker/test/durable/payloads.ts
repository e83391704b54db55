/**
 * 8. Outputs over the payload threshold go to the payload table and read back equal: step rows,
 *    events, the run output, and the scope of downstream nodes (read from the store, not a cache).
 * 11. pruneRuns removes old finished runs with every row they own, and keeps running and recent runs.
 */
import { describe, expect, test } from 'vitest';
import { bigValue, RUN_TABLES, sleep, WS, workflow, type DurableSuite, type Harness, type Process } from '../helpers.js';

const THRESHOLD = 1024;
const ITEMS = 60; // about 4 KiB of JSON

const bigFlow = workflow('Big outputs', [
  { id: 'start', type: 'input' },
  { id: 'big', type: 'test.big', data: { items: ITEMS } },
  { id: 'copy', type: 'set', data: { values: { copy: '{{ big }}', label: '{{ big.items[1].label }}' } } },
]);

/** A process whose store keeps outputs over 1 KiB in the payload table and whose engine caches no run state. */
async function payloadProcess(h: Harness): Promise<Process> {
  const process = await h.process({ payloadThreshold: THRESHOLD, stateCacheSize: 0 });
  process.worker();
  return process;
}

async function rowCounts(h: Harness, runId: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of RUN_TABLES) counts[table] = await h.backend.countRows(h.store, table, runId);
  return counts;
}

export const payloadsSuite: DurableSuite = (harness) => {
  describe('large outputs and pruning', () => {
    test('outputs over the payload threshold are stored as payloads and read back equal', async () => {
      const h = harness();
      const p = await payloadProcess(h);
      await h.save('big-outputs', bigFlow, p.engine);
      const run = await h.start({ workflowId: 'big-outputs' }, p.engine);
      const done = await h.waitForRun(run.id, { store: p.store });
      const expected = bigValue(ITEMS);
      expect(JSON.stringify(expected).length).toBeGreaterThan(THRESHOLD * 2);

      expect(done.status).toBe('succeeded');
      const steps = await h.steps(run.id, p.store);
      expect(steps.get('big')?.output).toEqual(expected);
      // The downstream node read `big` from the store (this engine caches no run state).
      expect(steps.get('copy')?.output).toEqual({ copy: expected, label: expected.items[1]!.label });
      expect(done.output).toEqual({ copy: { copy: expected, label: expected.items[1]!.label } });
      const succeeded = (await p.store.readEvents(WS, run.id)).filter((stored) => stored.event.type === 'step.succeeded' && stored.event.nodeId === 'big');
      expect(succeeded).toHaveLength(1);
      expect((succeeded[0]!.event as { output: unknown }).output).toEqual(expected);
      expect(await p.store.readOutputs(WS, run.id, ['big'])).toEqual(new Map([['big', expected]]));
      // Three payloads: the outputs of big and copy, and the run output; the small input stays inline.
      expect(await h.backend.countRows(h.store, 'payloads', run.id)).toBe(3);
      // Another connection (the default threshold) reads them back the same.
      expect((await h.step(run.id, 'big')).output).toEqual(expected);
      expect((await h.run(run.id)).output).toEqual(done.output);
    });

    test('pruneRuns deletes old finished runs and all their rows, keeping running and recent runs', async () => {
      const h = harness();
      const p = await payloadProcess(h);
      await h.save('prune-big', bigFlow, p.engine);
      await h.save('prune-fail', workflow('Prune fail', [{ id: 'start', type: 'input' }, { id: 'boom', type: 'fail', data: { message: 'boom' } }]), p.engine);
      await h.save('prune-wait', workflow('Prune wait', [{ id: 'start', type: 'input' }, { id: 'wait', type: 'delay', data: { ms: 60_000 } }]), p.engine);

      // Still running at prune time although started before the cutoff.
      const live = await h.start({ workflowId: 'prune-wait' }, p.engine);
      const old = [
        await h.start({ workflowId: 'prune-big' }, p.engine),
        await h.start({ workflowId: 'prune-big' }, p.engine),
        await h.start({ workflowId: 'prune-fail' }, p.engine),
        await h.start({ workflowId: 'prune-wait' }, p.engine),
      ];
      await h.waitForRun(live.id, { until: (run) => run.status === 'waiting' });
      await h.waitForRun(old[3]!.id, { until: (run) => run.status === 'waiting' });
      await p.engine.cancelRun(old[3]!.id);
      const oldDone = await Promise.all(old.map((run) => h.waitForRun(run.id)));
      expect(oldDone.map((run) => run.status)).toEqual(['succeeded', 'succeeded', 'failed', 'cancelled']);
      expect((await rowCounts(h, old[0]!.id)).payloads).toBe(3);

      await sleep(5);
      const cutoff = Date.now();
      await sleep(5);
      const recent = await h.start({ workflowId: 'prune-big' }, p.engine);
      expect((await h.waitForRun(recent.id)).status).toBe('succeeded');
      const recentRows = await rowCounts(h, recent.id);
      const liveRows = await rowCounts(h, live.id);

      const pruned = await h.store.pruneRuns(cutoff);
      expect(pruned).toBeGreaterThanOrEqual(old.length);
      for (const run of old) {
        expect(await h.store.getRun(WS, run.id)).toBeUndefined();
        expect(await rowCounts(h, run.id)).toEqual({ runs: 0, steps: 0, events: 0, queue: 0, timers: 0, payloads: 0 });
      }
      expect(await rowCounts(h, recent.id)).toEqual(recentRows);
      expect(recentRows).toMatchObject({ runs: 1, steps: 3, payloads: 3 });
      expect(await rowCounts(h, live.id)).toEqual(liveRows);
      expect(liveRows).toMatchObject({ runs: 1, timers: 1 });
      expect((await h.run(live.id)).status).toBe('waiting');
      expect((await h.step(recent.id, 'big')).output).toEqual(bigValue(ITEMS));
      expect(await h.store.pruneRuns(cutoff)).toBe(0);
    });
  });
};
