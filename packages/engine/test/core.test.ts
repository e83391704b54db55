/** The run state machine in isolation: dispatch, branching, joins, stale events, cancel, timeout, output. */
import { buildScope, RUN_TIMEOUT_TIMER, runOutput, stateScopeSource } from '@flowpilot/engine';
import { describe, expect, test } from 'vitest';
import { Driver, edge, noop, planOf } from './core-helpers.js';
import { commandsOf, started } from './helpers.js';

describe('dispatch', () => {
  test('run.started dispatches roots in definition order up to settings.concurrency', () => {
    const plan = planOf([noop('r1'), noop('r2'), noop('r3'), noop('r4')], [], { settings: { concurrency: 2 } });
    const run = new Driver(plan);
    const commands = run.start(1000, { hello: 1 });
    expect(commands).toEqual([
      { type: 'startStep', nodeId: 'r1', attempt: 1, inputs: [] },
      { type: 'startStep', nodeId: 'r2', attempt: 1, inputs: [] },
    ]);
    expect(run.state).toMatchObject({ status: 'running', input: { hello: 1 }, startedAt: 1000 });
    expect(run.step('r3')).toMatchObject({ status: 'pending', attempts: 0, dispatched: false });
    // A finished step frees its slot for the next root.
    expect(started(run.succeed('r2', 1010))).toEqual(['r3']);
    expect(started(run.succeed('r1', 1020))).toEqual(['r4']);
    expect(run.succeed('r3', 1030)).toEqual([]);
    expect(run.succeed('r4', 1040)).toEqual([
      { type: 'completeRun', status: 'succeeded', output: { r1: 'r1-out', r2: 'r2-out', r3: 'r3-out', r4: 'r4-out' } },
    ]);
    expect(run.state).toMatchObject({ status: 'succeeded', finishedAt: 1040 });
  });

  test('roots are the nodes without incoming edges, in definition order', () => {
    const plan = planOf([noop('b'), noop('a'), noop('c')], [edge('a', 'b')]);
    expect(started(new Driver(plan).start())).toEqual(['a', 'c']);
  });

  test('step.started marks the step running and keeps the first start time', () => {
    const run = new Driver(planOf([noop('a')], []));
    run.start(0);
    expect(run.apply({ type: 'step.started', at: 5, nodeId: 'a', attempt: 1 })).toEqual([]);
    expect(run.step('a')).toMatchObject({ status: 'running', startedAt: 5, dispatched: true, attempts: 1 });
  });

  test('step.succeeded makes successors ready; a join waits for all inputs, listed in settle order', () => {
    const plan = planOf([noop('a'), noop('b'), noop('c'), noop('d')], [edge('a', 'b'), edge('a', 'c'), edge('b', 'd'), edge('c', 'd')]);
    const run = new Driver(plan);
    expect(started(run.start(0))).toEqual(['a']);
    expect(run.succeed('a', 1, { v: 1 })).toEqual([
      { type: 'startStep', nodeId: 'b', attempt: 1, inputs: ['a'] },
      { type: 'startStep', nodeId: 'c', attempt: 1, inputs: ['a'] },
    ]);
    expect(run.step('a')).toMatchObject({ status: 'succeeded', output: { v: 1 }, handles: ['main'], finishedAt: 1, dispatched: false });
    expect(run.succeed('c', 2)).toEqual([]);
    expect(run.state.status).toBe('running');
    expect(run.succeed('b', 3)).toEqual([{ type: 'startStep', nodeId: 'd', attempt: 1, inputs: ['c', 'b'] }]);
    expect(commandsOf(run.succeed('d', 4), 'completeRun')).toEqual([{ type: 'completeRun', status: 'succeeded', output: { d: 'd-out' } }]);
  });
});

describe('branches and joins', () => {
  const branching = (): Driver =>
    new Driver(
      planOf(
        [{ id: 'check', type: 'if', data: { condition: '{{ input.ok }}' } }, noop('t1'), noop('t2'), noop('f1'), noop('f2'), { id: 'join', type: 'merge', data: { mode: 'all' } }],
        [edge('check', 't1', 'true'), edge('t1', 't2'), edge('check', 'f1', 'false'), edge('f1', 'f2'), edge('t2', 'join'), edge('f2', 'join')],
      ),
    );

  test('the untaken branch is skipped and the skip propagates through the chain', () => {
    const run = branching();
    run.start(0);
    expect(run.succeed('check', 1, { result: true }, ['true'])).toEqual([{ type: 'startStep', nodeId: 't1', attempt: 1, inputs: ['check'] }]);
    expect(run.step('f1')).toMatchObject({ status: 'skipped', attempts: 0, handles: [], finishedAt: 1 });
    expect(run.step('f2')).toMatchObject({ status: 'skipped', attempts: 0, handles: [], finishedAt: 1 });
    expect(run.status('join')).toBe('pending');
    expect(started(run.succeed('t1', 2))).toEqual(['t2']);
    expect(run.succeed('t2', 3)).toEqual([{ type: 'startStep', nodeId: 'join', attempt: 1, inputs: ['t2'] }]);
    expect(run.succeed('join', 4, { t2: 't2-out' })).toEqual([{ type: 'completeRun', status: 'succeeded', output: { join: { t2: 't2-out' } } }]);
  });

  test('a node whose every input is inactive is skipped, and so is everything after it', () => {
    const run = branching();
    run.start(0);
    run.succeed('check', 1, { result: false }, []);
    for (const id of ['t1', 't2', 'f1', 'f2', 'join']) expect(run.status(id)).toBe('skipped');
    expect(run.state).toMatchObject({ status: 'succeeded', output: {} });
    expect(commandsOf(run.commands.at(-1) ?? [], 'completeRun')).toEqual([{ type: 'completeRun', status: 'succeeded', output: {} }]);
  });

  test('merge(any) is dispatched on the first active input, with inputs = [that node]', () => {
    const plan = planOf(
      [noop('a'), noop('b'), noop('c'), { id: 'm', type: 'merge', data: { mode: 'any' } }],
      [edge('a', 'b'), edge('a', 'c'), edge('b', 'm'), edge('c', 'm')],
    );
    const run = new Driver(plan);
    run.start(0);
    run.succeed('a', 1);
    expect(run.succeed('c', 2)).toEqual([{ type: 'startStep', nodeId: 'm', attempt: 1, inputs: ['c'] }]);
    expect(run.succeed('b', 3)).toEqual([]);
    expect(run.step('m')).toMatchObject({ status: 'pending', attempts: 1, inputs: ['c'] });
    expect(run.succeed('m', 4)).toEqual([{ type: 'completeRun', status: 'succeeded', output: { m: 'm-out' } }]);
  });

  test('merge(any) ignores a skipped input and waits for an active one', () => {
    const plan = planOf(
      [{ id: 'check', type: 'if', data: { condition: true } }, noop('yes'), noop('no'), { id: 'm', type: 'merge', data: { mode: 'any' } }],
      [edge('check', 'yes', 'true'), edge('check', 'no', 'false'), edge('no', 'm'), edge('yes', 'm')],
    );
    const run = new Driver(plan);
    run.start(0);
    expect(run.succeed('check', 1, {}, ['true'])).toEqual([{ type: 'startStep', nodeId: 'yes', attempt: 1, inputs: ['check'] }]);
    expect(run.status('no')).toBe('skipped');
    expect(run.succeed('yes', 2)).toEqual([{ type: 'startStep', nodeId: 'm', attempt: 1, inputs: ['yes'] }]);
  });
});

describe('stale and duplicate events', () => {
  test('wrong attempt, duplicates, unknown nodes and timers produce no commands and change nothing', () => {
    const run = new Driver(planOf([noop('a'), noop('b')], [edge('a', 'b')]));
    run.start(0);
    const before = structuredClone(run.state);
    expect(run.succeed('a', 1, 'x', undefined, 2)).toEqual([]);
    expect(run.fail('a', 1, {}, 0)).toEqual([]);
    expect(run.apply({ type: 'step.started', at: 1, nodeId: 'a', attempt: 3 })).toEqual([]);
    expect(run.succeed('b', 1, 'x', undefined, 1)).toEqual([]);
    expect(run.apply({ type: 'step.succeeded', at: 1, nodeId: 'ghost', attempt: 1, output: 1 })).toEqual([]);
    expect(run.fire('retry:a:2', 1)).toEqual([]);
    expect(run.start(1)).toEqual([]);
    expect(run.state).toEqual(before);
    run.succeed('a', 2);
    const afterSuccess = structuredClone(run.state);
    expect(run.succeed('a', 3, 'again', undefined, 1)).toEqual([]);
    expect(run.fail('a', 3, {}, 1)).toEqual([]);
    expect(run.state).toEqual(afterSuccess);
  });

  test('after the run finished every event is ignored', () => {
    const run = new Driver(planOf([noop('a')], []));
    run.start(0);
    run.succeed('a', 1);
    const finished = structuredClone(run.state);
    expect(run.succeed('a', 2, 'late', undefined, 1)).toEqual([]);
    expect(run.apply({ type: 'run.cancelled', at: 3 })).toEqual([]);
    expect(run.start(4)).toEqual([]);
    expect(run.fire(RUN_TIMEOUT_TIMER, 5)).toEqual([]);
    expect(run.state).toEqual(finished);
  });
});

describe('cancel and timeout', () => {
  const parallel = (settings: Record<string, unknown> = {}): Driver =>
    new Driver(planOf([noop('a'), noop('b'), noop('c'), noop('d')], [edge('a', 'c'), edge('b', 'd')], { settings: { concurrency: 8, ...settings } }));

  test('run.cancelled aborts in-flight steps, cancels the rest and completes the run cancelled', () => {
    const run = parallel();
    run.start(0);
    run.succeed('b', 1);
    const commands = run.apply({ type: 'run.cancelled', at: 7, reason: 'user asked' });
    expect(commands).toEqual([
      { type: 'abortStep', nodeId: 'a', attempt: 1, reason: 'run cancelled' },
      { type: 'abortStep', nodeId: 'd', attempt: 1, reason: 'run cancelled' },
      { type: 'completeRun', status: 'cancelled', error: { code: 'CANCELLED', message: 'user asked', retryable: false } },
    ]);
    expect(run.state).toMatchObject({ status: 'cancelled', finishedAt: 7, error: { code: 'CANCELLED' } });
    expect(['a', 'b', 'c', 'd'].map((id) => run.status(id))).toEqual(['cancelled', 'succeeded', 'cancelled', 'cancelled']);
    expect(run.step('a')).toMatchObject({ dispatched: false, finishedAt: 7 });
    expect(run.state.output).toBeUndefined();
  });

  test('settings.timeoutMs starts the run-timeout timer; its firing fails the run with RUN_TIMEOUT', () => {
    const run = parallel({ timeoutMs: 1000 });
    const startCommands = run.start(5000);
    expect(startCommands[0]).toEqual({ type: 'startTimer', timerId: 'run-timeout', dueAt: 6000 });
    expect(started(startCommands)).toEqual(['a', 'b']);
    run.succeed('a', 5100);
    const commands = run.fire('run-timeout', 6000);
    expect(commands).toEqual([
      { type: 'abortStep', nodeId: 'b', attempt: 1, reason: 'run failed: run timed out after 1000 ms' },
      { type: 'abortStep', nodeId: 'c', attempt: 1, reason: 'run failed: run timed out after 1000 ms' },
      { type: 'completeRun', status: 'failed', error: { code: 'RUN_TIMEOUT', message: 'run timed out after 1000 ms', retryable: false } },
    ]);
    expect(run.state).toMatchObject({ status: 'failed', finishedAt: 6000, error: { code: 'RUN_TIMEOUT' } });
    expect(run.state.scheduling.timers.size).toBe(0);
  });

  test('a run that finishes in time cancels its timeout timer', () => {
    const run = new Driver(planOf([noop('a')], [], { settings: { concurrency: 1, timeoutMs: 50 } }));
    run.start(0);
    expect(run.succeed('a', 10)).toEqual([
      { type: 'cancelTimer', timerId: 'run-timeout' },
      { type: 'completeRun', status: 'succeeded', output: { a: 'a-out' } },
    ]);
    expect(run.fire('run-timeout', 50)).toEqual([]);
    expect(run.state.status).toBe('succeeded');
  });
});

describe('run output', () => {
  const withOutput = (): Driver =>
    new Driver(
      planOf(
        [{ id: 'check', type: 'if', data: { condition: true } }, noop('side'), { id: 'out', type: 'output', data: { value: '{{ check }}' } }, noop('other')],
        [edge('check', 'out', 'true'), edge('check', 'other', 'false'), edge('check', 'side', 'true')],
      ),
    );

  test('is the output node value when it succeeded', () => {
    const run = withOutput();
    run.start(0);
    run.succeed('check', 1, {}, ['true']);
    run.succeed('side', 2, 'side-value');
    run.succeed('out', 3, { final: 42 });
    expect(run.state.output).toEqual({ final: 42 });
    expect(runOutput(run.plan, run.state)).toEqual({ final: 42 });
  });

  test('else the succeeded sinks by id (skipped sinks left out)', () => {
    const run = withOutput();
    run.start(0);
    run.succeed('check', 1, {}, ['false']);
    run.succeed('other', 2, 'other-value');
    expect(run.state).toMatchObject({ status: 'succeeded', output: { other: 'other-value' } });
    expect(Object.keys(run.state.output as object)).toEqual(['other']);
  });
});

describe('buildScope', () => {
  test('holds input, vars and the outputs of the names asked for', () => {
    const plan = planOf([noop('a'), noop('b')], [edge('a', 'b')], { vars: { k: 1 } });
    const run = new Driver(plan);
    run.start(0, { in: true });
    run.succeed('a', 1, { x: 5 });
    const scope = buildScope(plan, stateScopeSource(run.state), ['a', 'b', 'lent', 'absent'], { lent: 'outer', toString: 'no' });
    expect(scope).toEqual({ input: { in: true }, vars: { k: 1 }, a: { x: 5 }, b: undefined, lent: 'outer' });
  });

  test('a node whose id is also an Object.prototype name is still in scope', () => {
    const plan = planOf([noop('constructor'), noop('toString'), { id: 'reader', type: 'set', data: { values: { v: '{{ [constructor.x, toString.y] }}' } } }], [
      edge('constructor', 'toString'),
      edge('toString', 'reader'),
    ]);
    const run = new Driver(plan);
    run.start(0);
    run.succeed('constructor', 1, { x: 1 });
    run.succeed('toString', 2, { y: 2 });
    const reader = plan.byId.get('reader');
    const scope = buildScope(plan, stateScopeSource(run.state), reader?.rootNames ?? [], undefined);
    expect(Object.hasOwn(scope, 'constructor')).toBe(true);
    expect(scope.constructor).toEqual({ x: 1 });
    expect(scope.toString).toEqual({ y: 2 });
  });
});
