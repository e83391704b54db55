/** `/api/v1/workflows/{id}/runs` and `/api/v1/runs`: start, wait, list, read, logs, cancel, retry, pause, resume. */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { describeBackends, postgresUnavailable, startTestServer, type Backend, type TestServer } from './harness.js';
import { createWorkflow, delayChain, executions, expectJson, expectProblem, getRun, healed, runToEnd, sleep, startRun, tag, testRegistry, waitForRun, type RunBody } from './helpers.js';

const greeting = {
  name: 'Greeting',
  nodes: [
    { id: 'start', type: 'input', data: { schema: { type: 'object', required: ['name'] } } },
    { id: 'greet', type: 'set', data: { values: { message: "{{ 'Hello, ' & start.name }}" } } },
  ],
  edges: [{ source: 'start', target: 'greet' }],
};

describeBackends('runs API', await postgresUnavailable(), (backend: Backend) => {
  describe('runs', () => {
    let t: TestServer;
    let greetingId: string;
    beforeAll(async () => {
      t = await startTestServer({ registry: testRegistry() }, backend);
      greetingId = await createWorkflow(t, greeting);
    });
    afterAll(() => t?.close());

    test('POST runs {input} → 201 with the new run; it then finishes with its output', async () => {
      const created = await expectJson<RunBody>(await startRun(t, greetingId, { input: { name: 'Ada' } }), 201);
      expect(created).toMatchObject({ id: expect.any(String), workflowId: greetingId, version: 1, input: { name: 'Ada' } });
      expect(['pending', 'running', 'succeeded']).toContain(created.status);
      const finished = await waitForRun(t, created.id);
      expect(finished).toMatchObject({ status: 'succeeded', output: { greet: { message: 'Hello, Ada' } } });
    });

    test('?wait=true answers 200 with the finished run, 202 when timeoutMs passes first', async () => {
      const done = await runToEnd(t, greetingId, { name: 'Grace' });
      expect(done.status).toBe('succeeded');
      const slow = await createWorkflow(t, delayChain('Slow', 1, 5_000));
      const started = Date.now();
      const pending = await expectJson<RunBody>(await startRun(t, slow, {}, '?wait=true&timeoutMs=300'), 202);
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
      expect(['pending', 'running', 'waiting']).toContain(pending.status);
      await expectJson(await t.api(`/api/v1/runs/${pending.id}/cancel`, { method: 'POST' }), 200);
    });

    test('a run is pinned to the version asked for; an unknown version is 404; bad bodies are 400', async () => {
      const id = await createWorkflow(t, greeting);
      const v2 = { ...greeting, nodes: [greeting.nodes[0], { id: 'greet', type: 'set', data: { values: { message: 'v2' } } }] };
      await expectJson(await t.api(`/api/v1/workflows/${id}`, { method: 'PUT', json: v2 }), 200);
      const old = await expectJson<RunBody>(await startRun(t, id, { input: { name: 'Old' }, version: 1 }, '?wait=true'), 200);
      expect(old).toMatchObject({ version: 1, output: { greet: { message: 'Hello, Old' } } });
      const latest = await runToEnd(t, id, { name: 'New' });
      expect(latest).toMatchObject({ version: 2, output: { greet: { message: 'v2' } } });
      await expectProblem(await startRun(t, id, { version: 3 }), 404, 'VERSION_NOT_FOUND');
      await expectProblem(await startRun(t, id, { version: 'one' }), 400, 'INVALID_REQUEST');
      await expectProblem(await startRun(t, id, { inputs: {} }), 400, 'INVALID_REQUEST');
      await expectProblem(await startRun(t, id, {}, '?wait=maybe'), 400, 'INVALID_REQUEST');
      await expectProblem(await startRun(t, id, {}, '?timeoutMs=-1'), 400, 'INVALID_REQUEST');
    });

    test('input the input node rejects: the run fails with INVALID_INPUT (or the start is refused 422)', async () => {
      const response = await startRun(t, greetingId, { input: { nobody: true } }, '?wait=true&timeoutMs=10000');
      if (response.status === 422) {
        await expectProblem(response, 422, 'INVALID_INPUT');
        return;
      }
      const run = await expectJson<RunBody>(response, 200);
      expect(run.status).toBe('failed');
      expect(run.steps?.start?.status).toBe('failed');
    });

    test('GET /runs/{id}: every step with status, output, error, attempts and timings', async () => {
      const id = await createWorkflow(t, {
        name: 'Steps',
        nodes: [
          { id: 'start', type: 'manual' },
          { id: 'ok', type: 'set', data: { values: { v: 42 } } },
          { id: 'broken', type: 'fail', data: { message: 'boom', code: 'BROKEN', retryable: true }, retry: { maxAttempts: 2, initialDelayMs: 10, jitter: false } },
          { id: 'after', type: 'noop' },
        ],
        edges: [
          { source: 'start', target: 'ok' },
          { source: 'ok', target: 'broken' },
          { source: 'broken', target: 'after' },
        ],
      });
      const run = await runToEnd(t, id);
      const again = await getRun(t, run.id);
      expect(again).toEqual(run);
      expect(run.status).toBe('failed');
      expect(run.error).toMatchObject({ code: 'BROKEN', nodeId: 'broken' });
      expect(Object.keys(run.steps ?? {})).toEqual(['start', 'ok', 'broken', 'after']);
      const { ok, broken, after } = run.steps!;
      expect(ok).toMatchObject({ status: 'succeeded', attempts: 1, output: { v: 42 } });
      expect(ok!.durationMs).toBeGreaterThanOrEqual(0);
      expect(Date.parse(ok!.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(ok!.startedAt!));
      expect(broken).toMatchObject({ status: 'failed', attempts: 2, error: { code: 'BROKEN', message: 'boom' } });
      expect(['pending', 'skipped', 'cancelled']).toContain(after!.status);
      expect(Date.parse(run.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(run.startedAt!));
      await expectProblem(await t.api(`/api/v1/runs/no-such-run-${tag()}`), 404, 'RUN_NOT_FOUND');
    });

    test('GET /runs filters by workflowId, status and since, newest first, in cursor pages', async () => {
      const id = await createWorkflow(t, { name: 'Listed', nodes: [{ id: 'start', type: 'manual' }, { id: 'maybe', type: 'if', data: { condition: '{{ start.fail = true }}' } }, { id: 'boom', type: 'fail', data: { message: 'asked to' } }], edges: [{ source: 'start', target: 'maybe' }, { source: 'maybe', sourceHandle: 'true', target: 'boom' }] });
      const early: string[] = [];
      for (let index = 0; index < 2; index += 1) early.push((await runToEnd(t, id, { index })).id);
      await sleep(20);
      const since = new Date().toISOString();
      await sleep(20);
      const late: string[] = [];
      for (let index = 0; index < 3; index += 1) late.push((await runToEnd(t, id, { index })).id);
      const failed = await runToEnd(t, id, { fail: true });
      expect(failed.status).toBe('failed');

      const all = await expectJson<{ items: RunBody[] }>(await t.api(`/api/v1/runs?workflowId=${id}&limit=200`), 200);
      expect(all.items.map((run) => run.id)).toEqual([failed.id, ...late.reverse(), ...early.reverse()]);
      expect(all.items.every((run) => run.steps === undefined)).toBe(true);

      const onlyFailed = await expectJson<{ items: RunBody[] }>(await t.api(`/api/v1/runs?workflowId=${id}&status=failed`), 200);
      expect(onlyFailed.items.map((run) => run.id)).toEqual([failed.id]);
      const recent = await expectJson<{ items: RunBody[] }>(await t.api(`/api/v1/runs?workflowId=${id}&since=${encodeURIComponent(since)}`), 200);
      expect(recent.items.map((run) => run.id).sort()).toEqual([failed.id, ...late].sort());

      const paged: string[] = [];
      let cursor: string | undefined;
      for (let pages = 0; pages < 10; pages += 1) {
        const page = await expectJson<{ items: RunBody[]; nextCursor?: string }>(await t.api(`/api/v1/runs?workflowId=${id}&limit=2${cursor === undefined ? '' : `&cursor=${cursor}`}`), 200);
        paged.push(...page.items.map((run) => run.id));
        cursor = page.nextCursor;
        if (cursor === undefined) break;
      }
      expect(paged).toEqual(all.items.map((run) => run.id));

      await expectProblem(await t.api('/api/v1/runs?status=exploded'), 400, 'INVALID_REQUEST');
      await expectProblem(await t.api('/api/v1/runs?since=yesterday'), 400, 'INVALID_REQUEST');
      await expectProblem(await t.api('/api/v1/runs?limit=1000'), 400, 'INVALID_REQUEST');
      await expectProblem(await t.api('/api/v1/runs?cursor=%5B%5D'), 400);
    });

    test('GET /runs/{id}/steps/{nodeId}/logs: the lines ctx.log wrote, with level, fields and attempt', async () => {
      const id = await createWorkflow(t, {
        name: 'Logs',
        nodes: [
          { id: 'start', type: 'manual' },
          { id: 'talk', type: 'test_log', data: { lines: [{ level: 'info', message: 'hello', fields: { n: 1 } }, { level: 'warn', message: 'careful' }] } },
        ],
        edges: [{ source: 'start', target: 'talk' }],
      });
      const run = await runToEnd(t, id);
      expect(run.status).toBe('succeeded');
      const logs = await expectJson<{ items: Array<{ seq: number; at: string; attempt: number; level: string; message: string; fields?: unknown }> }>(await t.api(`/api/v1/runs/${run.id}/steps/talk/logs`), 200);
      expect(logs.items.map(({ level, message, fields, attempt }) => ({ level, message, fields, attempt }))).toEqual([
        { level: 'info', message: 'hello', fields: { n: 1 }, attempt: 1 },
        { level: 'warn', message: 'careful', fields: undefined, attempt: 1 },
      ]);
      expect(logs.items[0]!.seq).toBeLessThan(logs.items[1]!.seq);
      expect(Date.parse(logs.items[0]!.at)).not.toBeNaN();
      expect((await expectJson<{ items: unknown[] }>(await t.api(`/api/v1/runs/${run.id}/steps/start/logs`), 200)).items).toEqual([]);
      await expectProblem(await t.api(`/api/v1/runs/nope-${tag()}/steps/talk/logs`), 404, 'RUN_NOT_FOUND');
    });

    test('cancel: a running run ends cancelled; cancelling it again is a 409 problem', async () => {
      const id = await createWorkflow(t, delayChain('Cancelled', 1, 10_000));
      const run = await expectJson<RunBody>(await startRun(t, id), 201);
      await waitForRun(t, run.id, (r) => r.steps?.d1?.status === 'waiting');
      const cancelled = await expectJson<RunBody>(await t.api(`/api/v1/runs/${run.id}/cancel`, { method: 'POST' }), 200);
      expect(cancelled.status).toBe('cancelled');
      expect(cancelled.steps?.done?.status).not.toBe('succeeded');
      await expectProblem(await t.api(`/api/v1/runs/${run.id}/cancel`, { method: 'POST' }), 409, 'INVALID_RUN_STATE');
      await expectProblem(await t.api(`/api/v1/runs/nope-${tag()}/cancel`, { method: 'POST' }), 404, 'RUN_NOT_FOUND');
    });

    test('retry: a failed run runs again from its failed steps; succeeded steps are not run again', async () => {
      const key = `retry-${tag()}`;
      const id = await createWorkflow(t, {
        name: 'Retried',
        nodes: [
          { id: 'start', type: 'manual' },
          { id: 'counted', type: 'test_count', data: { key: `${key}-count` } },
          { id: 'flaky', type: 'test_flaky', data: { key } },
          { id: 'end', type: 'set', data: { values: { done: '{{ flaky.healed }}' } } },
        ],
        edges: [
          { source: 'start', target: 'counted' },
          { source: 'counted', target: 'flaky' },
          { source: 'flaky', target: 'end' },
        ],
      });
      const failed = await runToEnd(t, id);
      expect(failed.status).toBe('failed');
      expect(failed.steps?.flaky).toMatchObject({ status: 'failed', error: { code: 'FLAKY' } });
      await expectProblem(await t.api(`/api/v1/runs/${failed.id}/resume`, { method: 'POST' }), 409, 'INVALID_RUN_STATE');
      healed.add(key);
      const retried = await expectJson<RunBody>(await t.api(`/api/v1/runs/${failed.id}/retry`, { method: 'POST' }), 200);
      expect(retried.id).toBe(failed.id);
      expect(retried.status).not.toBe('failed');
      const done = await waitForRun(t, failed.id);
      expect(done.status).toBe('succeeded');
      expect(done.steps?.end?.output).toEqual({ done: key });
      expect(done.steps?.counted).toMatchObject({ status: 'succeeded', output: { count: 1 } });
      expect(executions.get(`${key}-count`)).toBe(1);
      expect(executions.get(key)).toBe(2);
      await expectProblem(await t.api(`/api/v1/runs/${failed.id}/retry`, { method: 'POST' }), 409, 'INVALID_RUN_STATE');
    });

    test('pause holds a run (nothing new starts), resume lets it finish', async () => {
      const id = await createWorkflow(t, delayChain('Paused', 1, 300));
      const run = await expectJson<RunBody>(await startRun(t, id), 201);
      await waitForRun(t, run.id, (r) => r.steps?.d1?.status === 'waiting');
      const paused = await expectJson<RunBody>(await t.api(`/api/v1/runs/${run.id}/pause`, { method: 'POST' }), 200);
      expect(paused.status).toBe('paused');
      await expectProblem(await t.api(`/api/v1/runs/${run.id}/pause`, { method: 'POST' }), 409, 'INVALID_RUN_STATE');
      await sleep(800);
      const held = await getRun(t, run.id);
      expect(held.status).toBe('paused');
      expect(held.steps?.done?.status).toBe('pending');
      const resumed = await expectJson<RunBody>(await t.api(`/api/v1/runs/${run.id}/resume`, { method: 'POST' }), 200);
      expect(resumed.status).not.toBe('paused');
      const done = await waitForRun(t, run.id);
      expect(done).toMatchObject({ status: 'succeeded', output: { done: { finished: true } } });
    });
  });
});
