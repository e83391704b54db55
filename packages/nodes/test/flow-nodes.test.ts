/** The flow nodes: if, switch, merge (all / any), set, output, noop and fail. */
import { createBuiltinRegistry } from '@flowpilot/nodes';
import { describe, expect, test } from 'vitest';
import { edges, runManual, step, testRegistry, times, workflow } from './helpers.js';

const registry = createBuiltinRegistry();

describe('if', () => {
  test.each([
    { n: 7, taken: 'yes', skipped: 'no', result: true },
    { n: 3, taken: 'no', skipped: 'yes', result: false },
  ])('n = $n follows the "$taken" branch', async ({ n, taken, skipped, result: expected }) => {
    const wf = workflow(
      [
        { id: 'start', type: 'input' },
        { id: 'gate', type: 'if', data: { condition: '{{ start.n > 5 }}' } },
        { id: 'yes', type: 'set', data: { values: { branch: 'yes' } } },
        { id: 'no', type: 'set', data: { values: { branch: 'no' } } },
      ],
      edges('start -> gate', 'gate:true -> yes', 'gate:false -> no'),
    );
    const { result } = await runManual(wf, { registry, input: { n } });
    expect(result.status).toBe('succeeded');
    expect(step(result, 'gate').output).toEqual({ result: expected });
    expect(step(result, taken).status).toBe('succeeded');
    expect(step(result, skipped).status).toBe('skipped');
    expect(result.output).toEqual({ [taken]: { branch: taken } });
  });
});

describe('switch', () => {
  test.each([
    { n: 4, handle: 'small' }, // both cases hold: the first one wins
    { n: 12, handle: 'even' },
    { n: 13, handle: 'default' },
  ])('n = $n follows "$handle"', async ({ n, handle }) => {
    const wf = workflow(
      [
        { id: 'start', type: 'input' },
        {
          id: 'route',
          type: 'switch',
          data: {
            cases: [
              { handle: 'small', condition: '{{ start.n < 10 }}' },
              { handle: 'even', condition: '{{ start.n % 2 = 0 }}' },
            ],
          },
        },
        { id: 'small', type: 'noop' },
        { id: 'even', type: 'noop' },
        { id: 'default', type: 'noop' },
      ],
      edges('start -> route', 'route:small -> small', 'route:even -> even', 'route:default -> default'),
    );
    const { result } = await runManual(wf, { registry, input: { n } });
    expect(result.status).toBe('succeeded');
    expect(step(result, 'route').output).toEqual({ handle });
    for (const id of ['small', 'even', 'default']) expect(step(result, id).status).toBe(id === handle ? 'succeeded' : 'skipped');
    expect(step(result, handle).output).toEqual({ handle });
  });
});

describe('merge', () => {
  test('mode all waits for every non-skipped input and outputs them by node id', async () => {
    const test = testRegistry();
    const wf = workflow(
      [
        { id: 'gate', type: 'if', data: { condition: true } },
        { id: 'a', type: 'probe', data: { ms: 50, value: 'A' } },
        { id: 'b', type: 'probe', data: { ms: 10, value: 'B' } },
        { id: 'c', type: 'probe', data: { ms: 100, value: 'C' } },
        { id: 'm', type: 'merge', data: { mode: 'all' } },
      ],
      edges('gate:true -> a', 'gate:false -> b', 'a -> m', 'b -> m', 'c -> m'),
    );
    const { result, t0 } = await runManual(wf, { registry: test.registry });
    expect(result.status).toBe('succeeded');
    expect(step(result, 'b').status).toBe('skipped');
    const output = step(result, 'm').output as Record<string, unknown>;
    expect(output).toEqual({ a: 'A', c: 'C' });
    expect(Object.keys(output)).not.toContain('b');
    expect(times(result, 'm').start).toBe(t0 + 100);
  });

  test('mode any passes on the first input to finish and starts before the slow one ends', async () => {
    const wf = workflow(
      [
        { id: 'fast', type: 'delay', data: { ms: 10 } },
        { id: 'slow', type: 'delay', data: { ms: 200 } },
        { id: 'm', type: 'merge', data: { mode: 'any' } },
        { id: 'after', type: 'set', data: { values: { got: '{{ m.ms }}' } } },
      ],
      edges('fast -> m', 'slow -> m', 'm -> after'),
    );
    const { result, t0 } = await runManual(wf, { registry });
    expect(result.status).toBe('succeeded');
    expect(step(result, 'm').output).toEqual({ ms: 10 });
    expect(times(result, 'm').start).toBe(t0 + 10);
    expect(times(result, 'after').end).toBe(t0 + 10);
    expect(times(result, 'm').start).toBeLessThan(times(result, 'slow').end);
    expect(step(result, 'slow').status).toBe('succeeded');
    expect(step(result, 'after').output).toEqual({ got: 10 });
    expect(step(result, 'm').attempts).toBe(1);
  });
});

describe('set', () => {
  test('a string that is one template keeps the value type; mixed strings interpolate', async () => {
    const wf = workflow(
      [
        { id: 'start', type: 'input' },
        {
          id: 'calc',
          type: 'set',
          data: {
            values: {
              sum: '{{ start.a + start.b }}',
              text: 'sum={{ start.a + start.b }}!',
              flag: '{{ start.a > 1 }}',
              list: '{{ [start.a, start.b] }}',
              obj: '{{ {"x": start.a} }}',
              nested: { deep: '{{ start.b }}', plain: 'as is' },
              literal: 7,
            },
          },
        },
      ],
      edges('start -> calc'),
    );
    const { result } = await runManual(wf, { registry, input: { a: 2, b: 3 } });
    expect(result.status).toBe('succeeded');
    // Compared as JSON: JSONata object constructors build null-prototype objects.
    expect(JSON.parse(JSON.stringify(step(result, 'calc').output))).toStrictEqual({
      sum: 5,
      text: 'sum=5!',
      flag: true,
      list: [2, 3],
      obj: { x: 2 },
      nested: { deep: 3, plain: 'as is' },
      literal: 7,
    });
  });
});

describe('output', () => {
  test('an output node defines the run output even with other sinks', async () => {
    const wf = workflow(
      [
        { id: 'start', type: 'input' },
        { id: 'side', type: 'set', data: { values: { ignored: true } } },
        { id: 'out', type: 'output', data: { value: { name: '{{ start.name }}' } } },
      ],
      edges('start -> side', 'start -> out'),
    );
    const { result } = await runManual(wf, { registry, input: { name: 'ada' } });
    expect(result.output).toEqual({ name: 'ada' });
  });

  test('without an output node the run output is every succeeded sink by id', async () => {
    const wf = workflow(
      [
        { id: 'gate', type: 'if', data: { condition: false } },
        { id: 'one', type: 'set', data: { values: { v: 1 } } },
        { id: 'two', type: 'set', data: { values: { v: 2 } } },
        { id: 'never', type: 'set', data: { values: { v: 3 } } },
      ],
      edges('gate:false -> one', 'gate:false -> two', 'gate:true -> never'),
    );
    const { result } = await runManual(wf, { registry });
    expect(result.output).toEqual({ one: { v: 1 }, two: { v: 2 } });
  });
});

describe('noop', () => {
  test('passes on its first input, or null without inputs', async () => {
    const wf = workflow(
      [
        { id: 'src', type: 'set', data: { values: { v: 1 } } },
        { id: 'pass', type: 'noop' },
        { id: 'alone', type: 'noop', data: { anything: 'goes' } },
      ],
      edges('src -> pass'),
    );
    const { result } = await runManual(wf, { registry });
    expect(step(result, 'pass').output).toEqual({ v: 1 });
    expect(step(result, 'alone').status).toBe('succeeded');
    expect(step(result, 'alone').output ?? null).toBeNull();
  });
});

describe('fail', () => {
  const failing = (data: Record<string, unknown>): Record<string, unknown> =>
    workflow([{ id: 'boom', type: 'fail', data, retry: { maxAttempts: 3, initialDelayMs: 10, jitter: false } }]);

  test('retryable: true is retried up to maxAttempts, keeping the code', async () => {
    const { result } = await runManual(failing({ message: 'try again', code: 'FLAKY_THING', retryable: true }), { registry });
    expect(result.status).toBe('failed');
    expect(step(result, 'boom').attempts).toBe(3);
    expect(result.error).toMatchObject({ code: 'FLAKY_THING', message: 'try again', retryable: true, nodeId: 'boom' });
  });

  test('retryable defaults to false: one attempt, default code FAIL_NODE', async () => {
    const { result } = await runManual(failing({ message: 'no luck' }), { registry });
    expect(result.status).toBe('failed');
    expect(step(result, 'boom').attempts).toBe(1);
    expect(step(result, 'boom').error).toEqual({ code: 'FAIL_NODE', message: 'no luck' });
    expect(result.error).toMatchObject({ code: 'FAIL_NODE', retryable: false });
  });
});
