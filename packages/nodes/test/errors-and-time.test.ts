/** Retries, backoff, timeouts, cancellation and onError modes, on a ManualClock. */
import { planWorkflow } from '@flowpilot/engine';
import { ManualClock, MemoryRun, type RunResult } from '@flowpilot/runtime';
import { describe, expect, test } from 'vitest';
import { edges, runManual, settledWithin, step, testRegistry, times, workflow } from './helpers.js';

/** Starts a run on a ManualClock without firing timers; `done()` tells whether it finished. */
function startManual(wf: unknown, registry: ReturnType<typeof testRegistry>['registry'], extra: { signal?: AbortSignal } = {}) {
  const clock = new ManualClock();
  const run = new MemoryRun(planWorkflow(wf, registry), { registry, clock, ...extra });
  let finished: RunResult | undefined;
  void run.result.then((result) => (finished = result));
  return { clock, run, t0: clock.now(), done: () => finished };
}

describe('retries', () => {
  test('exponential backoff without jitter: attempts at t0, t0+100, t0+300', async () => {
    const { registry, probe } = testRegistry();
    const wf = workflow([{ id: 'f', type: 'flaky', data: { failures: 2 }, retry: { maxAttempts: 3, initialDelayMs: 100, factor: 2, jitter: false } }]);
    const { result, t0 } = await runManual(wf, { registry });
    expect(result.status).toBe('succeeded');
    expect(probe.attemptTimes.get('f')).toEqual([t0, t0 + 100, t0 + 300]);
    expect(step(result, 'f')).toMatchObject({ status: 'succeeded', attempts: 3, output: { attempt: 3 } });
  });

  test('maxDelayMs caps the backoff', async () => {
    const { registry, probe } = testRegistry();
    const wf = workflow([{ id: 'f', type: 'flaky', data: { failures: 3 }, retry: { maxAttempts: 4, initialDelayMs: 100, factor: 3, maxDelayMs: 150, jitter: false } }]);
    const { t0 } = await runManual(wf, { registry });
    expect(probe.attemptTimes.get('f')).toEqual([t0, t0 + 100, t0 + 250, t0 + 400]);
  });

  test('with jitter each delay lies in [base/2, base], differs between runs and repeats for the same run id', async () => {
    const wf = workflow([{ id: 'f', type: 'flaky', data: { failures: 3 }, retry: { maxAttempts: 4, initialDelayMs: 100, factor: 2, jitter: true } }]);
    const delaysOf = async (runId: string): Promise<number[]> => {
      const { registry, probe } = testRegistry();
      const { result } = await runManual(wf, { registry, runId });
      expect(step(result, 'f').attempts).toBe(4);
      const at = probe.attemptTimes.get('f') ?? [];
      return at.slice(1).map((time, index) => time - at[index]!);
    };
    const all: number[][] = [];
    for (let index = 0; index < 8; index += 1) {
      const delays = await delaysOf(`run-${index}`);
      expect(delays).toHaveLength(3);
      delays.forEach((delay, retry) => {
        const base = 100 * 2 ** retry;
        expect(delay).toBeGreaterThanOrEqual(base / 2);
        expect(delay).toBeLessThanOrEqual(base);
      });
      all.push(delays);
    }
    expect(new Set(all.map((delays) => delays.join(','))).size).toBeGreaterThan(1);
    expect(await delaysOf('run-3')).toEqual(all[3]);
  });

  test.each([
    { kind: 'flowpilot', data: { failures: 5, code: 'NOPE', retryable: false } },
    { kind: 'NonRetryableError', data: { failures: 5, code: 'NOPE', kind: 'nonretryable' } },
  ])('a non-retryable error ($kind) stops after one attempt', async ({ data }) => {
    const { registry, probe } = testRegistry();
    const wf = workflow([{ id: 'f', type: 'flaky', data, retry: { maxAttempts: 5, initialDelayMs: 10, jitter: false } }]);
    const { result } = await runManual(wf, { registry });
    expect(result.status).toBe('failed');
    expect(probe.callCount('f')).toBe(1);
    expect(step(result, 'f').attempts).toBe(1);
    expect(result.error).toMatchObject({ code: 'NOPE', retryable: false, nodeId: 'f' });
  });

  test('a plain Error is retryable (NODE_ERROR) and fails after maxAttempts', async () => {
    const { registry } = testRegistry();
    const wf = workflow([{ id: 'f', type: 'flaky', data: { failures: 5, kind: 'plain' }, retry: { maxAttempts: 3, initialDelayMs: 10, jitter: false } }]);
    const { result } = await runManual(wf, { registry });
    expect(step(result, 'f').attempts).toBe(3);
    expect(result.error).toMatchObject({ code: 'NODE_ERROR', message: 'attempt 3 failed' });
  });
});

describe('timeouts', () => {
  test('node timeoutMs aborts the attempt through its signal and fails the step with TIMEOUT', async () => {
    const { registry, probe } = testRegistry();
    const { clock, t0, done } = startManual(workflow([{ id: 'h', type: 'hang', timeoutMs: 500 }]), registry);
    await clock.advance(499);
    expect(done()).toBeUndefined();
    expect(probe.aborted).toEqual([]);
    await clock.advance(1);
    const result = done();
    expect(result?.status).toBe('failed');
    expect(result?.error).toMatchObject({ code: 'TIMEOUT', nodeId: 'h' });
    expect(probe.aborted).toEqual(['h#1']);
    expect(result && times(result, 'h').end).toBe(t0 + 500);
  });

  test('a timed-out attempt is retried when the retry policy allows', async () => {
    const { registry, probe } = testRegistry();
    const wf = workflow([{ id: 'h', type: 'hang', timeoutMs: 500, retry: { maxAttempts: 2, initialDelayMs: 100, jitter: false } }]);
    const { result, t0 } = await runManual(wf, { registry });
    expect(result.status).toBe('succeeded');
    expect(step(result, 'h')).toMatchObject({ attempts: 2, output: { attempt: 2 } });
    expect(probe.attemptTimes.get('h')).toEqual([t0, t0 + 600]);
    expect(probe.aborted).toEqual(['h#1']);
  });

  test('settings.timeoutMs fails the run with RUN_TIMEOUT and aborts in-flight steps', async () => {
    const { registry, probe } = testRegistry();
    const wf = workflow([{ id: 'h', type: 'hang' }, { id: 'later', type: 'noop' }], edges('h -> later'), { settings: { timeoutMs: 1000 } });
    const { clock, t0, done } = startManual(wf, registry);
    await clock.advance(999);
    expect(done()).toBeUndefined();
    await clock.advance(1);
    const result = done();
    expect(result?.status).toBe('failed');
    expect(result?.error?.code).toBe('RUN_TIMEOUT');
    expect(result && Date.parse(result.finishedAt ?? '')).toBe(t0 + 1000);
    expect(result && step(result, 'h').status).toBe('cancelled');
    expect(result && step(result, 'later').status).toBe('cancelled');
    expect(probe.aborted).toEqual(['h#1']);
  });
});

describe('cancel', () => {
  const wf = workflow(
    [
      { id: 'h', type: 'hang' },
      { id: 'h2', type: 'hang' },
      { id: 'next', type: 'noop' },
    ],
    edges('h -> next', 'h2 -> next'),
  );

  test('run.cancel() aborts in-flight nodes and cancels the run and pending steps', async () => {
    const { registry, probe } = testRegistry();
    const { clock, run } = startManual(wf, registry);
    await clock.advance(10);
    expect(probe.callCount('h')).toBe(1);
    run.cancel('enough');
    const result = await settledWithin(run.result);
    expect(result.status).toBe('cancelled');
    expect(result.error?.code).toBe('CANCELLED');
    expect([...probe.aborted].sort()).toEqual(['h#1', 'h2#1']);
    expect(['h', 'h2', 'next'].map((id) => step(result, id).status)).toEqual(['cancelled', 'cancelled', 'cancelled']);
    await clock.runAll();
    expect(probe.callCount('next')).toBe(0);
  });

  test('aborting the signal option cancels the run the same way', async () => {
    const { registry, probe } = testRegistry();
    const controller = new AbortController();
    const { clock, run } = startManual(wf, registry, { signal: controller.signal });
    await clock.advance(10);
    controller.abort();
    const result = await settledWithin(run.result);
    expect(result.status).toBe('cancelled');
    expect([...probe.aborted].sort()).toEqual(['h#1', 'h2#1']);
    expect(step(result, 'next').status).toBe('cancelled');
  });

  test('an already aborted signal cancels the run at once', async () => {
    const { registry } = testRegistry();
    const { run } = startManual(wf, registry, { signal: AbortSignal.abort() });
    const result = await settledWithin(run.result);
    expect(result.status).toBe('cancelled');
  });
});

describe('onError', () => {
  const withBad = (onError: string): Record<string, unknown> =>
    workflow(
      [
        { id: 'start', type: 'input' },
        { id: 'bad', type: 'fail', data: { message: 'it broke', code: 'BROKEN' }, onError },
        { id: 'happy', type: 'set', data: { values: { path: 'main', code: '{{ bad.error.code }}' } } },
        { id: 'happier', type: 'noop' },
        ...(onError === 'route' ? [{ id: 'handler', type: 'set', data: { values: { path: 'error', why: '{{ bad.error.message }}' } } }] : []),
      ],
      [...edges('start -> bad', 'bad -> happy', 'happy -> happier'), ...(onError === 'route' ? edges('bad:error -> handler') : [])],
    );

  test('fail: the run fails at once, its error names the node, in-flight siblings are aborted', async () => {
    const { registry, probe } = testRegistry();
    const wf = withBad('fail') as { nodes: unknown[] };
    wf.nodes.push({ id: 'sibling', type: 'hang' });
    const { result, t0 } = await runManual(wf, { registry });
    expect(result.status).toBe('failed');
    expect(result.error).toMatchObject({ code: 'BROKEN', message: 'it broke', nodeId: 'bad' });
    expect(step(result, 'bad').status).toBe('failed');
    expect(['skipped', 'cancelled']).toContain(step(result, 'happy').status);
    expect(step(result, 'happy').output).toBeUndefined();
    expect(step(result, 'sibling').status).toBe('cancelled');
    expect(probe.aborted).toEqual(['sibling#1']);
    expect(Date.parse(result.finishedAt ?? '')).toBe(t0);
  });

  test('continue: the step succeeds with {error} and downstream runs', async () => {
    const { registry } = testRegistry();
    const { result } = await runManual(withBad('continue'), { registry });
    expect(result.status).toBe('succeeded');
    expect(step(result, 'bad')).toMatchObject({ status: 'succeeded', output: { error: { code: 'BROKEN', message: 'it broke' } } });
    expect(step(result, 'happy').output).toEqual({ path: 'main', code: 'BROKEN' });
    expect(step(result, 'happier').status).toBe('succeeded');
  });

  test('route: follows the error handle, skips the main successors and the run succeeds', async () => {
    const { registry } = testRegistry();
    const { result } = await runManual(withBad('route'), { registry });
    expect(result.status).toBe('succeeded');
    expect(step(result, 'bad').status).toBe('failed');
    expect(step(result, 'handler')).toMatchObject({ status: 'succeeded', output: { path: 'error', why: 'it broke' } });
    expect(step(result, 'happy').status).toBe('skipped');
    expect(step(result, 'happier').status).toBe('skipped');
    expect(result.output).toEqual({ handler: { path: 'error', why: 'it broke' } });
  });
});
