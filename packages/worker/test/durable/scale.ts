/**
 * 12. Many runs in parallel: 100 runs of a fan-out workflow (4 parallel `set` branches and a merge)
 *     across two workers of two processes (own engines and caches) on one store: every run succeeds
 *     and every step succeeded exactly once, on its first attempt. Then: busy workers with short
 *     leases survive no store errors (the workers would retry, but a deadlock costs a second each).
 */
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, test } from 'vitest';
import { describeError, eventsOf, WS, workflow, type DurableSuite } from '../helpers.js';

const RUNS = 100;
const BRANCHES = ['north', 'east', 'south', 'west'];

const fanOut = workflow(
  'Fan out',
  [
    { id: 'start', type: 'input' },
    ...BRANCHES.map((id) => ({ id, type: 'set', data: { values: { branch: id, n: '{{ start.n }}' } } })),
    { id: 'joined', type: 'merge', data: { mode: 'all' } },
    { id: 'result', type: 'output', data: { value: { n: '{{ start.n }}', joined: '{{ joined }}' } } },
  ],
  [
    ...BRANCHES.flatMap((id) => [
      { source: 'start', target: id },
      { source: id, target: 'joined' },
    ]),
    { source: 'joined', target: 'result' },
  ],
);

export const scaleSuite: DurableSuite = (harness) => {
  describe('many runs', () => {
    test(`${RUNS} fan-out runs across two workers: all succeed, every step succeeds exactly once`, async () => {
      const h = harness();
      const one = await h.process({ sameStore: true });
      const two = await h.process({ sameStore: true });
      one.worker({ concurrency: 8 });
      two.worker({ concurrency: 8 });
      await h.save('fan-out', fanOut);

      const runs = await Promise.all(Array.from({ length: RUNS }, (_, n) => h.start({ workflowId: 'fan-out', input: { n } })));
      const done = await Promise.all(runs.map((run) => h.waitForRun(run.id, { timeoutMs: 25_000 })));

      expect(done.filter((run) => run.status !== 'succeeded').map((run) => `${run.id}: ${run.status} ${JSON.stringify(run.error)}`)).toEqual([]);
      const nodeIds = ['start', ...BRANCHES, 'joined', 'result'];
      const problems: string[] = [];
      for (const [n, run] of done.entries()) {
        const joined = Object.fromEntries(BRANCHES.map((id) => [id, { branch: id, n }]));
        // Key order of `joined` is the order the branches finished: compare as values.
        if (!isDeepStrictEqual(run.output, { n, joined })) problems.push(`${run.id} output ${JSON.stringify(run.output)}`);
        const events = (await h.store.readEvents(WS, run.id)).map((stored) => stored.event);
        for (const nodeId of nodeIds) {
          const succeeded = eventsOf(events, { type: 'step.succeeded', nodeId }).length;
          const started = eventsOf(events, { type: 'step.started', nodeId }).length;
          if (succeeded !== 1 || started !== 1) problems.push(`${run.id} ${nodeId}: ${started} started, ${succeeded} succeeded`);
        }
        const steps = await h.store.getSteps(WS, run.id);
        for (const step of steps) if (step.status !== 'succeeded' || step.attempts !== 1) problems.push(`${run.id} ${step.nodeId}: ${step.status}/${step.attempts}`);
        if (steps.length !== nodeIds.length) problems.push(`${run.id}: ${steps.length} steps`);
      }
      expect(problems).toEqual([]);
    }, 45_000);

    test('heartbeats and batched commits of two busy workers run without store errors (no deadlocks)', async () => {
      // Two processes, short leases (a heartbeat every 100 ms), attempts finishing in batches: a
      // heartbeat extends leases a commit in progress is releasing, and two commits lock the runs of
      // their batches. Neither may take row locks in an order the other can invert.
      const h = harness();
      for (const p of [await h.process(), await h.process()]) p.worker({ concurrency: 8, leaseMs: 300 });
      const lanes = ['l1', 'l2', 'l3', 'l4', 'l5', 'l6'];
      await h.save(
        'busy-leases',
        workflow(
          'Busy leases',
          [{ id: 'start', type: 'input' }, ...lanes.map((id) => ({ id, type: 'test.slow', data: { ms: 15 } })), { id: 'joined', type: 'merge', data: { mode: 'all' } }],
          lanes.flatMap((id) => [
            { source: 'start', target: id },
            { source: id, target: 'joined' },
          ]),
        ),
      );
      const runs = await Promise.all(Array.from({ length: 30 }, () => h.start({ workflowId: 'busy-leases' })));
      const done = await Promise.all(runs.map((run) => h.waitForRun(run.id, { timeoutMs: 15_000 })));
      expect(done.filter((run) => run.status !== 'succeeded')).toEqual([]);
      expect([...new Set(h.errors.map(describeError))]).toEqual([]);
    }, 30_000);
  });
};
