/**
 * Batched commits: a worker records finished attempts in batches, one commit at a time. An attempt
 * that finishes while a commit is ending must still be recorded, and so must every later one: a
 * worker must never stop committing while its attempts keep finishing.
 *
 * The test releases attempt `y` when the commit recording attempt `x` is done in the store, and
 * lets that commit return 0 to 24 microtasks later, so for one of these delays `y` finishes in the
 * moment the commit ends; `z`, leased to the worker when `y` is recorded, must be recorded too.
 */
import { describe, expect, test } from 'vitest';
import { DurableEngine } from '@flowpilot/worker';
import { probes, registry, waitFor, workflow, type DurableSuite } from '../helpers.js';

const HOPS = 24;

export const commitsSuite: DurableSuite = (harness) => {
  describe('batched commits', () => {
    test(`an attempt finishing as a commit ends is recorded, and so are later ones (0..${HOPS} microtasks)`, async () => {
      const h = harness();
      const stuck: string[] = [];
      for (let hops = 0; hops <= HOPS; hops += 1) {
        const workflowId = `commit-race-${hops}`;
        await h.save(
          workflowId,
          workflow(
            'Commit race',
            [
              { id: 'start', type: 'input' },
              { id: 'x', type: 'test.count' },
              { id: 'y', type: 'test.release', data: { hops: 0 } },
              { id: 'z', type: 'test.count' },
            ],
            [
              { source: 'start', target: 'x' },
              { source: 'start', target: 'y' },
              { source: 'y', target: 'z' },
            ],
          ),
        );
        // A process whose engine releases `y` once `x` is recorded, and returns `hops` microtasks later.
        const engine = new DurableEngine({ store: h.store, registry });
        const completeAttempts = engine.completeAttempts.bind(engine);
        engine.completeAttempts = async (attempts, lease) => {
          const leased = await completeAttempts(attempts, lease);
          for (const { step } of attempts) if (step.nodeId === 'x') probes.releases.get(step.runId)?.();
          for (let hop = 0; hop < hops; hop += 1) await null;
          return leased;
        };
        const worker = h.worker({ engine, concurrency: 4 });
        const run = await h.start({ workflowId }, engine);
        await waitFor(() => probes.releases.has(run.id), `y of run ${hops} to start`, 3000);
        const done = await h.waitForRun(run.id, { timeoutMs: 2000 }).catch(() => undefined);
        if (done?.status !== 'succeeded') {
          const steps = await h.steps(run.id);
          stuck.push(`${hops} hops: ${[...steps.values()].map((step) => `${step.nodeId}=${step.status}`).join(' ')}, worker in flight ${worker.inFlight}`);
        }
        await worker.stop(0);
      }
      expect(stuck).toEqual([]);
    }, 60_000);
  });
};
