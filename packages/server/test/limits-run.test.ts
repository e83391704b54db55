/**
 * Limits a running run is held to, enforced by the embedded worker: the maximum duration (the run
 * fails with LIMIT_RUN_DURATION; a shorter workflow timeout still says RUN_TIMEOUT) and the maximum
 * steps, counting forEach/loop bodies and sub-workflows (the run fails with LIMIT_STEPS_PER_RUN).
 * Each suite's server takes its limits as defaults, so its worker knows them from the first step.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { describeBackends, postgresUnavailable, startTestServer, type Backend, type TestServer } from './harness.js';
import { createWorkflow, delayChain, expectJson, runToEnd, startRun, testRegistry, waitForRun, type Json, type RunBody } from './helpers.js';
import { chain } from './limits-helpers.js';

/** start → each (forEach over `items`, body: one `set` node) → done. */
function forEach(items: number): Json {
  const body = { nodes: [{ id: 'work', type: 'set', data: { values: { item: '{{ input.item }}' } } }], edges: [] };
  return {
    name: `For each of ${items}`,
    nodes: [
      { id: 'start', type: 'manual' },
      { id: 'each', type: 'forEach', data: { items: Array.from({ length: items }, (_, index) => index), body } },
    ],
    edges: [{ source: 'start', target: 'each' }],
  };
}

describeBackends('limits while a run runs', await postgresUnavailable(), (backend: Backend) => {
  describe('maxRunDurationMs', () => {
    let t: TestServer;
    beforeAll(async () => {
      t = await startTestServer({ registry: testRegistry(), limits: { maxRunDurationMs: 400 } }, backend);
    });
    afterAll(() => t?.close());

    test('a run still going after the workspace maximum fails with LIMIT_RUN_DURATION, its steps cancelled', async () => {
      const slow = await createWorkflow(t, delayChain('Slow', 1, 60_000));
      const run = await waitForRun(t, (await expectJson<RunBody>(await startRun(t, slow), 201)).id);
      expect(run.status).toBe('failed');
      expect(run.error).toMatchObject({ code: 'LIMIT_RUN_DURATION', details: { limit: 'maxRunDurationMs', max: 400 } });
      expect(run.error!.message).toContain('maxRunDurationMs');
      expect(run.steps?.d1?.status).toBe('cancelled');
      expect(run.steps?.done?.status).toBe('cancelled');
    });

    test("the smaller timeout wins: a workflow's own shorter timeout fails with RUN_TIMEOUT, a longer one gives way to the limit", async () => {
      const shorter = await createWorkflow(t, { ...delayChain('Own timeout', 1, 60_000), settings: { timeoutMs: 100 } });
      expect((await waitForRun(t, (await expectJson<RunBody>(await startRun(t, shorter), 201)).id)).error).toMatchObject({ code: 'RUN_TIMEOUT' });
      const longer = await createWorkflow(t, { ...delayChain('Long timeout', 1, 60_000), settings: { timeoutMs: 600_000 } });
      expect((await waitForRun(t, (await expectJson<RunBody>(await startRun(t, longer), 201)).id)).error).toMatchObject({ code: 'LIMIT_RUN_DURATION' });
    });

    test('a run that finishes in time is not touched', async () => {
      expect((await runToEnd(t, await createWorkflow(t, chain(3)))).status).toBe('succeeded');
    });
  });

  describe('maxStepsPerRun', () => {
    let t: TestServer;
    beforeAll(async () => {
      t = await startTestServer({ registry: testRegistry(), limits: { maxStepsPerRun: 8 } }, backend);
    });
    afterAll(() => t?.close());

    const expectStepLimit = (run: RunBody, nodeId: string): void => {
      expect(run.status).toBe('failed');
      expect(run.error).toMatchObject({ code: 'LIMIT_STEPS_PER_RUN', nodeId, details: { limit: 'maxStepsPerRun', max: 8 } });
      expect(run.error!.message).toContain('maxStepsPerRun');
    };

    test('forEach iterations count: 2 nodes + 3 body steps run, 2 nodes + 20 body steps fail at the forEach', async () => {
      const few = await runToEnd(t, await createWorkflow(t, forEach(3)));
      expect(few.status).toBe('succeeded');
      expect(few.steps?.each?.output).toEqual([{ work: { item: 0 } }, { work: { item: 1 } }, { work: { item: 2 } }]);
      expectStepLimit(await runToEnd(t, await createWorkflow(t, forEach(20))), 'each');
    });

    test('loop iterations count', async () => {
      const loop = (maxIterations: number): Json => ({
        name: `Loop ${maxIterations}`,
        nodes: [
          { id: 'start', type: 'manual' },
          { id: 'again', type: 'loop', data: { maxIterations, until: '{{ false }}', onExhausted: 'succeed', body: { nodes: [{ id: 'tick', type: 'set', data: { values: { n: '{{ input.iteration }}' } } }], edges: [] } } },
        ],
        edges: [{ source: 'start', target: 'again' }],
      });
      expect((await runToEnd(t, await createWorkflow(t, loop(5)))).status).toBe('succeeded');
      expectStepLimit(await runToEnd(t, await createWorkflow(t, loop(50))), 'again');
    });

    test("a sub-workflow's steps count", async () => {
      const parent = (childId: string): Json => ({
        name: 'Parent',
        nodes: [
          { id: 'start', type: 'manual' },
          { id: 'child', type: 'subworkflow', data: { workflowId: childId } },
        ],
        edges: [{ source: 'start', target: 'child' }],
      });
      const fits = await createWorkflow(t, chain(6));
      expect((await runToEnd(t, await createWorkflow(t, parent(fits)))).status).toBe('succeeded');
      const tooBig = await createWorkflow(t, chain(7));
      expectStepLimit(await runToEnd(t, await createWorkflow(t, parent(tooBig))), 'child');
    });

    test('a limit lowered while a run waits applies to its next step', async () => {
      const waiting = await createWorkflow(t, delayChain('Waits', 1, 2_000));
      const run = await expectJson<RunBody>(await startRun(t, waiting), 201);
      await expectJson(await t.api('/api/v1/workspace/limits', { method: 'PUT', json: { maxStepsPerRun: 2 } }), 200);
      const failed = await waitForRun(t, run.id);
      await expectJson(await t.api('/api/v1/workspace/limits', { method: 'PUT', json: { maxStepsPerRun: null } }), 200);
      expect(failed.status).toBe('failed');
      expect(failed.error).toMatchObject({ code: 'LIMIT_STEPS_PER_RUN', nodeId: 'done', details: { limit: 'maxStepsPerRun', max: 2 } });
    });
  });
});
