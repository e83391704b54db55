/** Conformance: the queue (claims, leases), timers, queue depth, and concurrent claimers. */
import { describe, expect, it } from 'vitest';
import type { ClaimedStep } from '@flowpilot/store';
import { commit, createRun, enqueue, runWrite, type Suite, WS } from './conformance-helpers.js';

export function registerClaimTests(suite: Suite): void {
  const claim = (owner: string, now: number, limit = 10, leaseMs = 100) => suite.store().claimSteps({ owner, limit, leaseMs, now });
  const release = (step: ClaimedStep, token = step.lease.token) =>
    suite.store().transaction((tx) => tx.releaseLease(step.workspaceId, step.runId, step.nodeId, token));

  describe('claimSteps', () => {
    it('claims by run priority, then first enqueued; respects the batch limit', async () => {
      await enqueue(suite.store(), 'low', ['l1', 'l2'], { priority: 0 });
      await enqueue(suite.store(), 'high', ['h1', 'h2'], { priority: 7 });
      await enqueue(suite.store(), 'mid', ['m1'], { priority: 3 });
      await enqueue(suite.store(), 'high-later', ['h3'], { priority: 7 });
      const first = await claim('w', 1_000, 3);
      expect(first.map((step) => step.nodeId)).toEqual(['h1', 'h2', 'h3']);
      expect((await claim('w', 1_000, 1)).map((step) => step.nodeId)).toEqual(['m1']);
      expect((await claim('w', 1_000, 10)).map((step) => step.nodeId)).toEqual(['l1', 'l2']);
      expect(await claim('w', 1_000, 10)).toEqual([]);
      expect(await claim('w', 1_000, 0)).toEqual([]);
    });

    it('returns the claim with its run, a unique token, and marks the step running', async () => {
      await createRun(suite.store(), 'r', { workflowId: 'flow', priority: 2 });
      await commit(suite.store(), 'r', {
        steps: [{ nodeId: 'a', status: 'pending', attempts: 1 }, { nodeId: 'b', status: 'pending', attempts: 2, startedAt: 3 }],
        enqueue: [{ nodeId: 'a', attempt: 1, inputs: ['x', 'y'] }, { nodeId: 'b', attempt: 2, inputs: [] }],
      });
      const claimed = await claim('worker-1', 500, 10, 60);
      expect(claimed).toHaveLength(2);
      expect(claimed[0]).toMatchObject({ workspaceId: WS, runId: 'r', workflowId: 'flow', version: 1, nodeId: 'a', attempt: 1, inputs: ['x', 'y'], claims: 1, claimedAt: 500 });
      expect(claimed[0]!.lease).toMatchObject({ owner: 'worker-1', expiresAt: 560 });
      expect(claimed[0]!.lease.token).toMatch(/^worker-1:/);
      expect(new Set(claimed.map((step) => step.lease.token)).size).toBe(2);
      const steps = await suite.store().getSteps(WS, 'r');
      expect(steps.map((step) => [step.nodeId, step.status, step.startedAt])).toEqual([
        ['a', 'running', 500],
        ['b', 'running', 3],
      ]);
    });

    it('a lease excludes other claimers until it expires; then the same attempt is claimed again with a new token', async () => {
      await enqueue(suite.store(), 'r', ['a']);
      const [first] = await claim('A', 1_000, 10, 100);
      expect(first?.claims).toBe(1);
      expect(await claim('B', 1_050)).toEqual([]);
      expect(await claim('B', 1_099)).toEqual([]);
      const [second] = await claim('B', 1_100, 10, 100);
      expect(second).toMatchObject({ nodeId: 'a', attempt: 1, claims: 2, claimedAt: 1_100, lease: { owner: 'B', expiresAt: 1_200 } });
      expect(second!.lease.token).not.toBe(first!.lease.token);
      expect(await release(first!)).toBe(false);
      expect(await suite.store().extendLeases('A', [first!.lease.token], 5_000)).toEqual([first!.lease.token]);
      expect(await release(second!)).toBe(true);
      expect(await release(second!)).toBe(false);
      expect(await claim('C', 10_000)).toEqual([]);
    });

    it('extendLeases keeps held leases and returns the lost tokens', async () => {
      await enqueue(suite.store(), 'r', ['a', 'b']);
      const [a, b] = await claim('A', 1_000, 10, 100);
      expect(await suite.store().extendLeases('A', [a!.lease.token, b!.lease.token, 'A:unknown:1'], 2_000)).toEqual(['A:unknown:1']);
      expect(await claim('B', 1_500)).toEqual([]);
      expect(await suite.store().extendLeases('B', [a!.lease.token], 3_000)).toEqual([a!.lease.token]);
      expect(await suite.store().extendLeases('A', [], 3_000)).toEqual([]);
      // Expiry 0 gives the lease up at once (a stopping worker).
      expect(await suite.store().extendLeases('A', [b!.lease.token], 0)).toEqual([]);
      expect((await claim('B', 1_500)).map((step) => step.nodeId)).toEqual(['b']);
      expect(await suite.store().extendLeases('A', [b!.lease.token], 9_000)).toEqual([b!.lease.token]);
    });

    it('an item enqueued with a lease belongs to its committer until the lease expires', async () => {
      await createRun(suite.store(), 'r');
      await commit(suite.store(), 'r', {
        events: [{ type: 'run.started', at: 77, input: {} }],
        enqueue: [{ nodeId: 'a', attempt: 1, inputs: [], lease: { owner: 'me', token: 'me:eager:1', expiresAt: 1_000 } }],
      });
      expect(await suite.store().queueDepth(500)).toBe(0);
      expect(await claim('other', 999)).toEqual([]);
      expect(await suite.store().extendLeases('me', ['me:eager:1'], 2_000)).toEqual([]);
      const [taken] = await claim('other', 2_000);
      expect(taken).toMatchObject({ nodeId: 'a', claims: 2 });
      expect(await suite.store().transaction((tx) => tx.releaseLease(WS, 'r', 'a', 'me:eager:1'))).toBe(false);
    });

    it('releaseLeases removes, in one call, exactly the items whose tokens still hold their leases', async () => {
      await enqueue(suite.store(), 'r1', ['a', 'b']);
      await enqueue(suite.store(), 'r2', ['c']);
      const [a, b, c] = await claim('A', 1_000, 10, 100);
      expect([a?.nodeId, b?.nodeId, c?.nodeId]).toEqual(['a', 'b', 'c']);
      // A's leases expire; B takes over 'a': A's token for 'a' no longer holds.
      expect((await claim('B', 2_000, 1, 100)).map((step) => step.nodeId)).toEqual(['a']);
      const held = await suite.store().transaction((tx) => tx.releaseLeases([a!.lease.token, b!.lease.token, c!.lease.token, 'nobody:1:1']));
      expect([...held].sort()).toEqual([b!.lease.token, c!.lease.token].sort());
      // Only B's item is left.
      expect(await suite.store().queueDepth(10_000)).toBe(1);
      expect(await suite.store().transaction((tx) => tx.releaseLeases([]))).toEqual(new Set());
    });

    it('an eager lease counts from the commit: a transaction that goes on after writing it hands over a full lease', async () => {
      await createRun(suite.store(), 'r');
      let writtenAt = 0;
      await suite.store().transaction(async (tx) => {
        const run = (await tx.lockRuns(WS, ['r'])).get('r')!;
        writtenAt = Date.now();
        await tx.write(runWrite(run, { enqueue: [{ nodeId: 'a', attempt: 1, inputs: [], lease: { owner: 'A', token: 'A:e1', expiresAt: writtenAt + 1_000 } }] }));
        // Other work of the transaction (lock waits, other runs of a batch).
        await new Promise((resolve) => setTimeout(resolve, 300));
      });
      expect(await claim('B', writtenAt + 1_150)).toEqual([]);
      expect((await claim('B', writtenAt + 5_000)).map((step) => step.nodeId)).toEqual(['a']);
    });

    it('dequeue removes items; a node dequeued and enqueued in one write is a new item', async () => {
      await enqueue(suite.store(), 'r', ['a', 'b']);
      const [held] = await claim('A', 1_000, 1);
      expect(held?.nodeId).toBe('a');
      await commit(suite.store(), 'r', { dequeue: ['a', 'b'], enqueue: [{ nodeId: 'a', attempt: 2, inputs: ['z'] }] });
      expect(await suite.store().queueDepth(1_000)).toBe(1);
      expect(await release(held!)).toBe(false);
      const [again] = await claim('A', 1_000);
      expect(again).toMatchObject({ nodeId: 'a', attempt: 2, inputs: ['z'], claims: 1 });
      expect(again!.lease.token).not.toBe(held!.lease.token);
      // Re-enqueued over a live item (no dequeue): still a new item, so tokens are never reused.
      await commit(suite.store(), 'r', { enqueue: [{ nodeId: 'a', attempt: 3, inputs: [] }] });
      const [third] = await claim('A', 1_000);
      expect(third).toMatchObject({ attempt: 3, claims: 1 });
      expect([held!.lease.token, again!.lease.token]).not.toContain(third!.lease.token);
    });

    it('queueDepth counts ready items: unleased and expired leases', async () => {
      expect(await suite.store().queueDepth(0)).toBe(0);
      await enqueue(suite.store(), 'r', ['a', 'b', 'c']);
      expect(await suite.store().queueDepth(0)).toBe(3);
      await claim('w', 1_000, 2, 100);
      expect(await suite.store().queueDepth(1_000)).toBe(1);
      expect(await suite.store().queueDepth(1_100)).toBe(3);
    });

    it('two concurrent claimers never get the same item (20 rounds)', async () => {
      const peer = await suite.harness().peer();
      try {
        for (let round = 0; round < 20; round += 1) {
          await suite.harness().reset();
          await enqueue(suite.store(), `r${round}`, ['a', 'b', 'c', 'd', 'e', 'f', 'g']);
          const now = 1_000 + round;
          const [mine, theirs] = await Promise.all([
            suite.store().claimSteps({ owner: 'A', limit: 4, leaseMs: 1_000, now }),
            peer.claimSteps({ owner: 'B', limit: 4, leaseMs: 1_000, now }),
          ]);
          const nodes = [...mine!, ...theirs!].map((step) => step.nodeId);
          expect(new Set(nodes).size, `round ${round}: ${nodes.join(',')}`).toBe(nodes.length);
          expect(nodes.length).toBe(7);
        }
      } finally {
        await peer.close();
      }
    });
  });

  describe('timers', () => {
    const timers = (now: number, leaseMs = 100, limit = 10) => suite.store().claimDueTimers({ owner: 'w', limit, leaseMs, now });

    it('claims a due timer once until its lease expires; nextTimerDue is the earliest claimable time', async () => {
      expect(await suite.store().nextTimerDue()).toBeUndefined();
      await createRun(suite.store(), 'r');
      await commit(suite.store(), 'r', { timersSet: [{ timerId: 'late', dueAt: 900 }, { timerId: 'soon', dueAt: 500 }] });
      expect(await suite.store().nextTimerDue()).toBe(500);
      expect(await timers(499)).toEqual([]);
      expect(await timers(500)).toEqual([{ workspaceId: WS, runId: 'r', timerId: 'soon', dueAt: 500, token: expect.stringMatching(/^w:/) }]);
      expect(await timers(550)).toEqual([]);
      // A leased timer is claimable again when its lease ends, not before.
      expect(await suite.store().nextTimerDue()).toBe(600);
      expect((await timers(1_000)).map((timer) => timer.timerId)).toEqual(['soon', 'late']);
      expect(await timers(1_050)).toEqual([]);
      expect((await timers(1_100, 100, 1)).map((timer) => timer.timerId)).toEqual(['soon']);
    });

    it('setting a timer again re-arms it; deleting removes it', async () => {
      await createRun(suite.store(), 'r');
      await commit(suite.store(), 'r', { timersSet: [{ timerId: 't', dueAt: 100 }] });
      expect(await timers(100)).toHaveLength(1);
      await commit(suite.store(), 'r', { timersSet: [{ timerId: 't', dueAt: 150 }] });
      expect(await suite.store().nextTimerDue()).toBe(150);
      expect(await timers(150)).toEqual([{ workspaceId: WS, runId: 'r', timerId: 't', dueAt: 150, token: expect.any(String) }]);
      await commit(suite.store(), 'r', { timersDeleted: ['t'] });
      expect(await suite.store().nextTimerDue()).toBeUndefined();
      expect(await timers(10_000)).toEqual([]);
    });

    it('releaseTimer removes a timer only while the claim still holds it', async () => {
      const releaseTimer = (timer: { runId: string; timerId: string }, token: string) =>
        suite.store().transaction((tx) => tx.releaseTimer(WS, timer.runId, timer.timerId, token));
      await createRun(suite.store(), 'r');
      await commit(suite.store(), 'r', { timersSet: [{ timerId: 'held', dueAt: 100 }, { timerId: 'expired', dueAt: 100 }, { timerId: 'rearmed', dueAt: 100 }] });
      const first = await timers(100, 50);
      expect(first).toHaveLength(3);
      expect(new Set(first.map((timer) => timer.token)).size).toBe(1);
      const token = first[0]!.token;
      expect(await releaseTimer({ runId: 'r', timerId: 'held' }, 'someone-else')).toBe(false);
      expect(await releaseTimer({ runId: 'r', timerId: 'held' }, token)).toBe(true);
      expect(await releaseTimer({ runId: 'r', timerId: 'held' }, token)).toBe(false);
      // The lease expired and another worker claimed the timer: the first claim has lost it.
      const reclaimed = await timers(150, 50);
      expect(reclaimed.map((timer) => timer.timerId).sort()).toEqual(['expired', 'rearmed']);
      const again = reclaimed.find((timer) => timer.timerId === 'expired');
      const rearmedAgain = reclaimed.find((timer) => timer.timerId === 'rearmed');
      expect(again!.token).not.toBe(token);
      expect(await releaseTimer(again!, token)).toBe(false);
      // Re-armed by a transition while claimed: neither claim holds it any more.
      await commit(suite.store(), 'r', { timersSet: [{ timerId: 'rearmed', dueAt: 300 }] });
      expect(await releaseTimer(rearmedAgain!, rearmedAgain!.token)).toBe(false);
      expect(await releaseTimer(again!, again!.token)).toBe(true);
      expect((await timers(300)).map((timer) => timer.timerId)).toEqual(['rearmed']);
    });
  });
}
