/** Retries with backoff and jitter, and onError continue / route / fail, driven by hand. */
import { retryDelayMs, retryPolicySchema, retryTimerId, type RetryPolicy } from '@flowpilot/engine';
import { describe, expect, test } from 'vitest';
import { Driver, edge, noop, planOf } from './core-helpers.js';
import { commandsOf, started } from './helpers.js';

const policy = (overrides: Partial<RetryPolicy>): RetryPolicy => retryPolicySchema.parse(overrides);

describe('retry', () => {
  const flaky = (retry: Record<string, unknown>, extra: Record<string, unknown> = {}): Driver =>
    new Driver(planOf([noop('flaky', { retry, ...extra }), noop('next')], [edge('flaky', 'next')]));

  test('exponential backoff without jitter, then failure after the last attempt', () => {
    const run = flaky({ maxAttempts: 3, initialDelayMs: 100, factor: 2, jitter: false });
    expect(run.start(0)).toEqual([{ type: 'startStep', nodeId: 'flaky', attempt: 1, inputs: [] }]);
    expect(run.fail('flaky', 10)).toEqual([{ type: 'startTimer', timerId: 'retry:flaky:2', dueAt: 110 }]);
    expect(run.step('flaky')).toMatchObject({ status: 'waiting', attempts: 1, dispatched: false, retryAt: 110, error: { code: 'BOOM' } });
    expect(run.state.status).toBe('waiting');

    expect(run.fire('retry:flaky:2', 110)).toEqual([{ type: 'startStep', nodeId: 'flaky', attempt: 2, inputs: [] }]);
    expect(run.step('flaky').retryAt).toBeUndefined();
    expect(run.state.status).toBe('running');
    expect(run.fail('flaky', 150)).toEqual([{ type: 'startTimer', timerId: 'retry:flaky:3', dueAt: 350 }]);
    expect(run.fire('retry:flaky:3', 350)).toEqual([{ type: 'startStep', nodeId: 'flaky', attempt: 3, inputs: [] }]);

    const error = { code: 'BOOM', message: 'flaky failed', retryable: true };
    expect(run.fail('flaky', 400)).toEqual([{ type: 'completeRun', status: 'failed', error: { ...error, nodeId: 'flaky' } }]);
    expect(run.step('flaky')).toMatchObject({ status: 'failed', attempts: 3, error, finishedAt: 400 });
    expect(run.state).toMatchObject({ status: 'failed', finishedAt: 400, error: { ...error, nodeId: 'flaky' } });
    // An unhandled failure stops the run where it is: downstream steps are cancelled, not skipped.
    expect(run.step('next')).toMatchObject({ status: 'cancelled', attempts: 0, finishedAt: 400 });
  });

  test('a success on a later attempt clears the error and continues', () => {
    const run = flaky({ maxAttempts: 2, initialDelayMs: 5, jitter: false });
    run.start(0);
    run.fail('flaky', 1);
    run.fire('retry:flaky:2', 6);
    expect(run.succeed('flaky', 7, 'ok')).toEqual([{ type: 'startStep', nodeId: 'next', attempt: 1, inputs: ['flaky'] }]);
    expect(run.step('flaky')).toMatchObject({ status: 'succeeded', attempts: 2, output: 'ok', handles: ['main'], finishedAt: 7 });
    expect(run.step('flaky').error).toBeUndefined();
  });

  test('an error without a retryable flag is retried', () => {
    const run = flaky({ maxAttempts: 2, initialDelayMs: 5, jitter: false });
    run.start(0);
    expect(run.apply({ type: 'step.failed', at: 1, nodeId: 'flaky', attempt: 1, error: { code: 'X', message: 'm' } })).toEqual([
      { type: 'startTimer', timerId: 'retry:flaky:2', dueAt: 6 },
    ]);
  });

  test('a non-retryable error fails immediately despite retries', () => {
    const run = flaky({ maxAttempts: 5, initialDelayMs: 100, jitter: false });
    run.start(0);
    const commands = run.fail('flaky', 10, { code: 'BAD_INPUT', retryable: false });
    expect(commandsOf(commands, 'startTimer')).toEqual([]);
    expect(commands).toEqual([{ type: 'completeRun', status: 'failed', error: { code: 'BAD_INPUT', message: 'flaky failed', retryable: false, nodeId: 'flaky' } }]);
    expect(run.step('flaky').attempts).toBe(1);
  });

  test('delays are capped by maxDelayMs', () => {
    const run = flaky({ maxAttempts: 4, initialDelayMs: 100, factor: 10, maxDelayMs: 500, jitter: false });
    run.start(0);
    const dueAts: number[] = [];
    let at = 0;
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      const [timer] = commandsOf(run.fail('flaky', at), 'startTimer');
      dueAts.push(timer!.dueAt - at);
      at = timer!.dueAt;
      run.fire(timer!.timerId, at);
    }
    expect(dueAts).toEqual([100, 500, 500]);
  });

  test('stale reports and a timer firing twice are ignored during a retry', () => {
    const run = flaky({ maxAttempts: 3, initialDelayMs: 100, jitter: false });
    run.start(0);
    run.fail('flaky', 0);
    expect(run.fail('flaky', 1, {}, 1)).toEqual([]);
    expect(run.succeed('flaky', 1, 'late', undefined, 1)).toEqual([]);
    expect(run.status('flaky')).toBe('waiting');
    expect(started(run.fire('retry:flaky:2', 100))).toEqual(['flaky']);
    expect(run.fire('retry:flaky:2', 101)).toEqual([]);
    expect(run.succeed('flaky', 102, 'stale', undefined, 1)).toEqual([]);
    expect(run.step('flaky')).toMatchObject({ attempts: 2, dispatched: true });
  });

  test('a step waiting for its retry frees its concurrency slot', () => {
    const run = new Driver(planOf([noop('a', { retry: { maxAttempts: 2, initialDelayMs: 50, jitter: false } }), noop('b')], [], { settings: { concurrency: 1 } }));
    expect(started(run.start(0))).toEqual(['a']);
    expect(run.fail('a', 1)).toEqual([
      { type: 'startTimer', timerId: 'retry:a:2', dueAt: 51 },
      { type: 'startStep', nodeId: 'b', attempt: 1, inputs: [] },
    ]);
    // The retry is due while b holds the only slot: it waits for it.
    expect(run.fire('retry:a:2', 51)).toEqual([]);
    expect(run.succeed('b', 60)).toEqual([{ type: 'startStep', nodeId: 'a', attempt: 2, inputs: [] }]);
  });

  test('a pending retry timer is cancelled when the run fails elsewhere', () => {
    const run = new Driver(planOf([noop('a', { retry: { maxAttempts: 2, initialDelayMs: 50, jitter: false } }), noop('b')], []));
    run.start(0);
    run.fail('a', 1);
    expect(run.fail('b', 2, { retryable: false })).toEqual([
      { type: 'cancelTimer', timerId: 'retry:a:2' },
      { type: 'completeRun', status: 'failed', error: { code: 'BOOM', message: 'b failed', retryable: false, nodeId: 'b' } },
    ]);
    expect(run.step('a')).toMatchObject({ status: 'cancelled', finishedAt: 2 });
    expect(run.step('a').retryAt).toBeUndefined();
  });
});

describe('jitter', () => {
  test('delays lie within [base/2, base]', () => {
    const jittered = policy({ initialDelayMs: 1000, factor: 3, maxDelayMs: 20_000, jitter: true });
    const plain = { ...jittered, jitter: false };
    for (let attempt = 2; attempt <= 6; attempt += 1) {
      const base = retryDelayMs(plain, attempt, 'ignored');
      expect(base).toBe(Math.min(20_000, 1000 * 3 ** (attempt - 2)));
      for (let seed = 0; seed < 200; seed += 1) {
        const delay = retryDelayMs(jittered, attempt, `run-${seed}:node:${attempt - 1}`);
        expect(delay).toBeGreaterThanOrEqual(base / 2);
        expect(delay).toBeLessThanOrEqual(base);
        expect(Number.isInteger(delay)).toBe(true);
      }
    }
  });

  test('the spread is used: different seeds give different delays', () => {
    const jittered = policy({ initialDelayMs: 10_000, jitter: true });
    const delays = new Set(Array.from({ length: 50 }, (_, seed) => retryDelayMs(jittered, 2, `run-${seed}:n:1`)));
    expect(delays.size).toBeGreaterThan(25);
  });

  test('identical (runId, nodeId, attempt) give identical delays, in the state machine too', () => {
    const dueAt = (runId: string, nodeId = 'a'): number => {
      const run = new Driver(planOf([noop(nodeId, { retry: { maxAttempts: 3, initialDelayMs: 10_000 } })], []), runId);
      run.start(0);
      const [timer] = commandsOf(run.fail(nodeId, 0), 'startTimer');
      expect(timer?.timerId).toBe(retryTimerId(nodeId, 2));
      return timer!.dueAt;
    };
    expect(dueAt('run-x')).toBe(dueAt('run-x'));
    expect(dueAt('run-x')).toBe(retryDelayMs(policy({ maxAttempts: 3, initialDelayMs: 10_000 }), 2, 'run-x:a:1'));
    const spread = new Set(['r1', 'r2', 'r3', 'r4', 'r5', 'r6'].map((runId) => dueAt(runId)));
    expect(spread.size).toBeGreaterThan(1);
    for (const value of spread) {
      expect(value).toBeGreaterThanOrEqual(5000);
      expect(value).toBeLessThanOrEqual(10_000);
    }
  });
});

describe('onError', () => {
  test('continue: the step succeeds with {error}, successors run, the run succeeds', () => {
    const run = new Driver(planOf([noop('a', { onError: 'continue' }), noop('b')], [edge('a', 'b')]));
    run.start(0);
    expect(run.fail('a', 1, { code: 'NOPE', message: 'no', retryable: false, details: { secret: 1 } })).toEqual([
      { type: 'startStep', nodeId: 'b', attempt: 1, inputs: ['a'] },
    ]);
    expect(run.step('a')).toMatchObject({ status: 'succeeded', output: { error: { code: 'NOPE', message: 'no' } }, handles: ['main'] });
    // The output carries only code and message.
    expect(run.step('a').output).toEqual({ error: { code: 'NOPE', message: 'no' } });
    run.succeed('b', 2, 'b-out');
    expect(run.state).toMatchObject({ status: 'succeeded', output: { b: 'b-out' } });
    expect(run.state.error).toBeUndefined();
  });

  test('continue applies only after the retries are spent', () => {
    const run = new Driver(planOf([noop('a', { onError: 'continue', retry: { maxAttempts: 2, initialDelayMs: 10, jitter: false } })], []));
    run.start(0);
    expect(run.fail('a', 1)).toEqual([{ type: 'startTimer', timerId: 'retry:a:2', dueAt: 11 }]);
    run.fire('retry:a:2', 11);
    expect(run.fail('a', 12)).toEqual([{ type: 'completeRun', status: 'succeeded', output: { a: { error: { code: 'BOOM', message: 'a failed' } } } }]);
  });

  const routed = (): Driver =>
    new Driver(planOf([noop('a', { onError: 'route' }), noop('handler'), noop('happy')], [edge('a', 'handler', 'error'), edge('a', 'happy')]));

  test('route: a failure follows the error handle; the main branch is skipped; the run succeeds', () => {
    const run = routed();
    run.start(0);
    expect(run.fail('a', 1, { retryable: false })).toEqual([{ type: 'startStep', nodeId: 'handler', attempt: 1, inputs: ['a'] }]);
    expect(run.step('a')).toMatchObject({ status: 'failed', handles: ['error'], output: { error: { code: 'BOOM', message: 'a failed' } } });
    expect(run.status('happy')).toBe('skipped');
    expect(run.succeed('handler', 2, 'handled')).toEqual([{ type: 'completeRun', status: 'succeeded', output: { handler: 'handled' } }]);
    expect(run.state.error).toBeUndefined();
  });

  test('route: a success follows the main handle and skips the error branch', () => {
    const run = routed();
    run.start(0);
    expect(run.succeed('a', 1)).toEqual([{ type: 'startStep', nodeId: 'happy', attempt: 1, inputs: ['a'] }]);
    expect(run.status('handler')).toBe('skipped');
  });

  test('fail (the default): the run fails, in-flight siblings are aborted, downstream never runs', () => {
    const run = new Driver(planOf([noop('a'), noop('b'), noop('sibling')], [edge('a', 'b')]));
    run.start(0);
    const commands = run.fail('a', 3, { code: 'DOWN', message: 'down', retryable: false });
    expect(commands).toEqual([
      { type: 'abortStep', nodeId: 'sibling', attempt: 1, reason: 'run failed: down' },
      { type: 'completeRun', status: 'failed', error: { code: 'DOWN', message: 'down', retryable: false, nodeId: 'a' } },
    ]);
    expect(run.state).toMatchObject({ status: 'failed', error: { code: 'DOWN', nodeId: 'a' }, finishedAt: 3 });
    expect(run.state.output).toBeUndefined();
    expect(run.status('a')).toBe('failed');
    expect(run.status('sibling')).toBe('cancelled');
    expect(run.step('b')).toMatchObject({ status: 'cancelled', attempts: 0, finishedAt: 3 });
  });
});
