/** forEach and loop: ordering, concurrency, scope, failures and limits. */
import { describe, expect, test } from 'vitest';
import { edges, runManual, step, testRegistry, times, workflow } from './helpers.js';

/** start → each(forEach over start.items) with the given body and concurrency. */
function forEachWorkflow(body: Record<string, unknown>, concurrency: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return workflow(
    [
      { id: 'start', type: 'input' },
      { id: 'each', type: 'forEach', data: { items: '{{ start.items }}', concurrency, body } },
    ],
    edges('start -> each'),
    extra,
  );
}

describe('forEach', () => {
  test('outputs results in item order even when later items finish first', async () => {
    const { registry, probe } = testRegistry();
    const body = {
      nodes: [
        { id: 'work', type: 'probe', data: { ms: '{{ 50 - input.index * 10 }}', key: '{{ input.index }}', value: '{{ input.item }}' } },
        { id: 'out', type: 'output', data: { value: '{{ work & "!" }}' } },
      ],
      edges: [{ source: 'work', target: 'out' }],
    };
    const { result, t0 } = await runManual(forEachWorkflow(body, 4), { registry, input: { items: ['a', 'b', 'c', 'd'] } });
    expect(result.status).toBe('succeeded');
    expect(probe.ends.map((end) => end.key)).toEqual([3, 2, 1, 0]);
    expect(step(result, 'each').output).toEqual(['a!', 'b!', 'c!', 'd!']);
    expect(times(result, 'each').end).toBe(t0 + 50);
  });

  test.each([
    { items: 7, concurrency: 3, expected: 3 },
    { items: 7, concurrency: 1, expected: 1 },
    { items: 2, concurrency: 5, expected: 2 },
  ])('$items items with concurrency $concurrency run at most $expected at a time', async ({ items, concurrency, expected }) => {
    const { registry, probe } = testRegistry();
    const body = { nodes: [{ id: 'work', type: 'probe', data: { ms: 10, key: '{{ input.index }}', value: '{{ input.item }}' } }] };
    const list = Array.from({ length: items }, (_, index) => index * 10);
    const { result, t0 } = await runManual(forEachWorkflow(body, concurrency), { registry, input: { items: list } });
    expect(result.status).toBe('succeeded');
    expect(probe.maxRunning).toBe(expected);
    expect(probe.starts).toHaveLength(items);
    expect(step(result, 'each').output).toEqual(list.map((item) => ({ work: item })));
    expect(times(result, 'each').end - t0).toBe(10 * Math.ceil(items / expected));
  });

  test('empty items output [] without running the body', async () => {
    const { registry, probe } = testRegistry();
    const body = { nodes: [{ id: 'work', type: 'probe', data: {} }] };
    const { result } = await runManual(forEachWorkflow(body, 2), { registry, input: { items: [] } });
    expect(result.status).toBe('succeeded');
    expect(step(result, 'each').output).toEqual([]);
    expect(probe.starts).toEqual([]);
  });

  test('the body reads outer upstream outputs and vars', async () => {
    const { registry } = testRegistry();
    const body = {
      nodes: [
        { id: 'calc', type: 'set', data: { values: { v: '{{ input.item * start.factor + vars.offset }}', at: '{{ input.index }}' } } },
        { id: 'out', type: 'output', data: { value: '{{ calc }}' } },
      ],
      edges: [{ source: 'calc', target: 'out' }],
    };
    const wf = forEachWorkflow(body, 2, { vars: { offset: 100 } });
    const { result } = await runManual(wf, { registry, input: { items: [1, 2, 3], factor: 3 } });
    expect(result.status).toBe('succeeded');
    expect(step(result, 'each').output).toEqual([
      { v: 103, at: 0 },
      { v: 106, at: 1 },
      { v: 109, at: 2 },
    ]);
  });

  test('a failing item fails the node with its code, aborts running items and starts no more', async () => {
    const { registry, probe } = testRegistry();
    const body = { nodes: [{ id: 'work', type: 'probe', data: { ms: 1000, key: '{{ input.index }}', failKey: 1, failCode: 'ITEM_BAD' } }] };
    const wf = forEachWorkflow(body, 3);
    const { result, t0 } = await runManual(wf, { registry, input: { items: [0, 1, 2, 3, 4, 5] } });
    expect(result.status).toBe('failed');
    expect(step(result, 'each').status).toBe('failed');
    expect(step(result, 'each').error?.code).toBe('ITEM_BAD');
    expect(step(result, 'each').error?.message).toContain('item 1 is bad');
    expect(result.error).toMatchObject({ code: 'ITEM_BAD', nodeId: 'each' });
    expect(probe.starts.map((start) => start.key)).toEqual([0, 1, 2]);
    expect([...probe.aborted].sort()).toEqual(['work:0', 'work:2']);
    // Did not wait for the 1000 ms items to finish.
    expect(times(result, 'each').end).toBe(t0);
  });
});

describe('loop', () => {
  /** start → improve(loop) with a body that echoes its input. */
  function loopWorkflow(data: Record<string, unknown>, node: Record<string, unknown> = {}): Record<string, unknown> {
    const body = {
      nodes: [
        { id: 'tick', type: 'probe', data: { key: '{{ input.iteration }}' } },
        { id: 'out', type: 'output', data: { value: { iteration: '{{ input.iteration }}', previous: '{{ input.previous }}' } } },
      ],
      edges: [{ source: 'tick', target: 'out' }],
    };
    return workflow(
      [
        { id: 'start', type: 'input' },
        { id: 'improve', type: 'loop', data: { body, ...data }, ...node },
      ],
      edges('start -> improve'),
    );
  }

  test('stops when until holds, passing each output on as the next previous', async () => {
    const { registry, probe } = testRegistry();
    const { result } = await runManual(loopWorkflow({ maxIterations: 10, until: '{{ last.iteration >= 3 }}' }), { registry });
    expect(result.status).toBe('succeeded');
    expect(probe.starts.map((start) => start.key)).toEqual([1, 2, 3]);
    expect(step(result, 'improve').output).toEqual({
      iterations: 3,
      last: { iteration: 3, previous: { iteration: 2, previous: { iteration: 1, previous: null } } },
    });
  });

  test('until sees the iteration number', async () => {
    const { registry } = testRegistry();
    const { result } = await runManual(loopWorkflow({ maxIterations: 10, until: '{{ iteration = 2 }}' }), { registry });
    expect(step(result, 'improve').output).toMatchObject({ iterations: 2, last: { iteration: 2 } });
  });

  test('reaching maxIterations fails with LOOP_LIMIT, which is not retried', async () => {
    const { registry, probe } = testRegistry();
    const wf = loopWorkflow({ maxIterations: 4, until: false }, { retry: { maxAttempts: 3, initialDelayMs: 10, jitter: false } });
    const { result } = await runManual(wf, { registry });
    expect(result.status).toBe('failed');
    expect(result.error).toMatchObject({ code: 'LOOP_LIMIT', retryable: false, nodeId: 'improve' });
    expect(step(result, 'improve').attempts).toBe(1);
    expect(probe.starts).toHaveLength(4);
  });

  test('onExhausted "succeed" succeeds after maxIterations with the last output', async () => {
    const { registry } = testRegistry();
    const { result } = await runManual(loopWorkflow({ maxIterations: 4, until: '{{ false }}', onExhausted: 'succeed' }), { registry });
    expect(result.status).toBe('succeeded');
    expect(step(result, 'improve').output).toMatchObject({ iterations: 4, last: { iteration: 4, previous: { iteration: 3 } } });
  });
});
