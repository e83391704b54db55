/**
 * 4. Cancelling a run aborts its in-flight attempt: the worker loses the lease at its next heartbeat
 *    and aborts the node's signal; nothing is recorded for the attempt.
 * 5. retryRun: a failed run is retried from its failed step on the same version; upstream outputs are
 *    kept (not re-executed) and the retried step's attempts continue numbering.
 */
import { describe, expect, test } from 'vitest';
import type { RunEvent } from '@flowpilot/engine';
import { eventsOf, executions, probes, sleep, waitFor, workflow, type DurableSuite } from '../helpers.js';

export const controlSuite: DurableSuite = (harness) => {
  describe('cancel and retry', () => {
    test('cancelling a run aborts its in-flight attempt through the lease (within ~1 s)', async () => {
      const h = harness();
      const worker = h.worker({ leaseMs: 300 });
      await h.save(
        'cancel-in-flight',
        workflow('Cancel in flight', [
          { id: 'start', type: 'input' },
          { id: 'slow', type: 'test.slow', data: { ms: 5000 } },
          { id: 'after', type: 'test.count' },
        ]),
      );
      const run = await h.start({ workflowId: 'cancel-in-flight' });
      const call = await waitFor(() => probes.slow.find((entry) => entry.runId === run.id), 'the slow attempt to start');
      expect((await h.step(run.id, 'slow')).status).toBe('running');

      const cancelledAt = Date.now();
      const cancelled = await h.engine.cancelRun(run.id, 'changed my mind');
      expect(cancelled.status).toBe('cancelled');
      expect(cancelled.error).toMatchObject({ code: 'CANCELLED', message: 'changed my mind' });

      await waitFor(() => call.abortedAt !== undefined, 'the attempt to be aborted', 2000, 5);
      expect(call.abortedAt! - cancelledAt).toBeLessThan(1000);
      expect(call.abortCode).toBe('LEASE_LOST');
      await waitFor(() => worker.inFlight === 0, 'the worker to drop the attempt', 2000);

      const lastSeq = (await h.run(run.id)).lastSeq;
      await sleep(400); // a few heartbeats and polls: nothing more may be recorded
      const after = await h.run(run.id);
      expect(after.status).toBe('cancelled');
      expect(after.lastSeq).toBe(lastSeq);
      const events = await h.events(run.id);
      // Attempts are recorded when they finish, by their lease holder: the aborted one left nothing.
      expect(eventsOf(events, { nodeId: 'slow' })).toEqual([]);
      expect(await h.step(run.id, 'slow')).toMatchObject({ status: 'cancelled' });
      expect(executions(run.id, 'after')).toBe(0);
      expect(await h.backend.countRows(h.store, 'queue', run.id)).toBe(0);
    });

    test('retryRun resumes a failed run on its version, keeping upstream outputs and attempt numbers', async () => {
      const h = harness();
      h.worker();
      const gate = 'retry-run';
      const v1 = workflow('Retry run', [
        { id: 'start', type: 'input' },
        { id: 'counted', type: 'test.count', data: { value: '{{ start.n }}' } },
        { id: 'gated', type: 'test.gate', data: { gate }, retry: { maxAttempts: 2, initialDelayMs: 10, jitter: false } },
        { id: 'result', type: 'output', data: { value: { counted: '{{ counted }}', gated: '{{ gated.attempt }}', version: 1 } } },
      ]);
      await h.save('retry-run', v1);
      probes.closedGates.add(gate);
      const run = await h.start({ workflowId: 'retry-run', input: { n: 7 } });
      const failed = await h.waitForRun(run.id);
      expect(failed.status).toBe('failed');
      expect(failed.error).toMatchObject({ code: 'GATE_CLOSED', nodeId: 'gated' });
      const countedBefore = await h.step(run.id, 'counted');
      expect(countedBefore).toMatchObject({ status: 'succeeded', attempts: 1, output: { value: 7, attempt: 1 } });
      expect(await h.step(run.id, 'gated')).toMatchObject({ status: 'failed', attempts: 2 });

      // A new version meanwhile: the retried run stays on v1.
      const v2 = structuredClone(v1) as { nodes: Array<{ id: string; data?: { value?: Record<string, unknown> } }> };
      v2.nodes.find((node) => node.id === 'result')!.data!.value!.version = 2;
      expect(await h.save('retry-run', v2)).toBe(2);

      probes.closedGates.delete(gate);
      const retried = await h.engine.retryRun(run.id);
      expect(retried.status).not.toBe('failed');
      expect(retried.error).toBeUndefined();
      const done = await h.waitForRun(run.id);

      expect(done.status).toBe('succeeded');
      expect(done.version).toBe(1);
      expect(done.output).toEqual({ counted: { value: 7, attempt: 1 }, gated: 3, version: 1 });
      expect(done.error).toBeUndefined();
      expect(executions(run.id, 'counted')).toBe(1);
      expect(await h.step(run.id, 'counted')).toEqual(countedBefore);
      expect(executions(run.id, 'gated')).toBe(3);
      expect(await h.step(run.id, 'gated')).toMatchObject({ status: 'succeeded', attempts: 3, output: { attempt: 3, key: `${run.id}:gated:3` } });

      const events = await h.events(run.id);
      const started = eventsOf(events, { type: 'step.started', nodeId: 'gated' }) as Array<Extract<RunEvent, { type: 'step.started' }>>;
      expect(started.map((event) => event.attempt)).toEqual([1, 2, 3]);
      expect(eventsOf(events, { type: 'step.started', nodeId: 'counted' })).toHaveLength(1);
      expect(eventsOf(events, { type: 'run.retried' })).toHaveLength(1);
    });
  });
};
