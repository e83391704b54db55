/**
 * 9. Lease expiry: a worker whose heartbeats stop reaching the store while it runs a step loses the
 *    step when its lease expires; another worker re-claims the same attempt (same idempotency key),
 *    and the step's success is recorded exactly once. When the stalled worker's heartbeat finally
 *    gets through, it learns the lease is gone and aborts its attempt.
 *
 * The stall is simulated by holding the first worker's `extendLeases` calls, not by blocking the
 * thread (Atomics.wait): in-process workers share one thread, so a blocked thread would also stop
 * the second worker from claiming, and the first would then record its result with a lease that had
 * expired but that nobody had taken over.
 */
import { describe, expect, test } from 'vitest';
import type { Store } from '@flowpilot/store';
import { DurableEngine } from '@flowpilot/worker';
import { eventsOf, executions, probes, registry, sleep, waitFor, workflow, type DurableSuite } from '../helpers.js';

const LEASE_MS = 300;

/** The store as a worker sees it whose heartbeats are held (a long GC pause, a network partition). */
function heldHeartbeats(store: Store): { store: Store; release(): void } {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const held = new Proxy(store, {
    get(target, property) {
      if (property === 'extendLeases') {
        return async (...args: Parameters<Store['extendLeases']>) => {
          await gate;
          return target.extendLeases(...args);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store: held, release };
}

export const leasesSuite: DurableSuite = (harness) => {
  describe('leases', () => {
    test('a stalled worker loses its step to another worker; the attempt is reused and succeeds once', async () => {
      const h = harness();
      const held = heldHeartbeats(h.store);
      const first = h.worker({ engine: new DurableEngine({ store: held.store, registry }), concurrency: 1, leaseMs: LEASE_MS });
      await h.save(
        'lease-expiry',
        workflow('Lease expiry', [
          { id: 'start', type: 'input' },
          { id: 'stall', type: 'test.stall', data: { ms: 4000 } },
          { id: 'after', type: 'test.count' },
        ]),
      );
      const run = await h.start({ workflowId: 'lease-expiry' });
      const stalled = await waitFor(() => probes.stalls[0], 'the first worker to start the step');

      const other = await h.process({ sameStore: true });
      other.worker({ leaseMs: LEASE_MS });
      const takeover = await waitFor(() => probes.stalls[1], 'a second worker to re-claim the step', 3000);
      expect(takeover.startedAt - stalled.startedAt).toBeGreaterThanOrEqual(LEASE_MS - 25);
      expect(takeover.attempt).toBe(1);
      expect(stalled.attempt).toBe(1);
      expect(takeover.key).toBe(stalled.key);
      expect(takeover.key).toBe(`${run.id}:stall:1`);

      const done = await h.waitForRun(run.id);
      expect(done.status).toBe('succeeded');
      expect(await h.step(run.id, 'stall')).toMatchObject({ status: 'succeeded', attempts: 1, output: { invocation: 2 } });
      expect(stalled.settled).toBe(false);

      // The stalled worker's heartbeats get through: its lease is gone, it aborts and records nothing.
      held.release();
      await waitFor(() => stalled.settled, 'the stalled attempt to end', 3000);
      expect(stalled.abortCode).toBe('LEASE_LOST');
      await waitFor(() => first.inFlight === 0, 'the stalled worker to drop the attempt', 2000);
      const lastSeq = (await h.run(run.id)).lastSeq;
      await sleep(200);
      expect((await h.run(run.id)).lastSeq).toBe(lastSeq);

      const events = await h.events(run.id);
      expect(eventsOf(events, { type: 'step.succeeded', nodeId: 'stall' })).toHaveLength(1);
      expect(eventsOf(events, { type: 'step.started', nodeId: 'stall' })).toHaveLength(1);
      expect(eventsOf(events, { type: 'step.failed', nodeId: 'stall' })).toHaveLength(0);
      expect(executions(run.id, 'stall')).toBe(2);
      expect(executions(run.id, 'after')).toBe(1);
    });

    test('a stopping worker releases its leases: another worker takes the attempt at once', async () => {
      const h = harness();
      const first = h.worker({ leaseMs: 10_000 });
      await h.save(
        'lease-release',
        workflow('Lease release', [
          { id: 'start', type: 'input' },
          { id: 'slow', type: 'test.slow', data: { ms: 300 } },
        ]),
      );
      const run = await h.start({ workflowId: 'lease-release' });
      const call = await waitFor(() => probes.slow[0], 'the first attempt');
      await first.stop(0);
      expect(call.abortCode).toBe('WORKER_STOPPING');

      const stoppedAt = Date.now();
      const other = await h.process({ sameStore: true });
      other.worker({ leaseMs: 10_000 });
      const done = await h.waitForRun(run.id, { timeoutMs: 4000 });
      expect(done.status).toBe('succeeded');
      // Long before the 10 s lease would have expired.
      expect(done.finishedAt! - stoppedAt).toBeLessThan(2000);
      expect(probes.slow.map((entry) => entry.attempt)).toEqual([1, 1]);
      expect(await h.step(run.id, 'slow')).toMatchObject({ status: 'succeeded', attempts: 1, output: { slept: 300 } });
      expect(eventsOf(await h.events(run.id), { type: 'step.succeeded', nodeId: 'slow' })).toHaveLength(1);
    });
  });
};
