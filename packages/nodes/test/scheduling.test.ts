/** Scheduling: real concurrency, the concurrency limit, joins, frozen inputs, skips and dispatch order. */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { planWorkflow } from '@flowpilot/engine';
import { createBuiltinRegistry } from '@flowpilot/nodes';
import { runWorkflow } from '@flowpilot/runtime';
import { describe, expect, test } from 'vitest';
import { edges, fnNode, runManual, step, testRegistry, times, workflow } from './helpers.js';

describe('independent branches', () => {
  test('two 300 ms delays in parallel finish together on the real clock (examples/parallel.json)', async () => {
    const parallel = JSON.parse(readFileSync(new URL('../../../examples/parallel.json', import.meta.url), 'utf8')) as unknown;
    const started = performance.now();
    const result = await runWorkflow(parallel, { registry: createBuiltinRegistry() });
    const elapsed = performance.now() - started;
    expect(result.status).toBe('succeeded');
    expect(step(result, 'both').output).toEqual({ left: { ms: 300 }, right: { ms: 300 } });
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(550);
  });

  test('settings.concurrency 1 serializes independent steps; the default lets them overlap', async () => {
    const nodes = [
      { id: 'a', type: 'probe', data: { ms: 100 } },
      { id: 'b', type: 'probe', data: { ms: 100 } },
    ];
    const serial = testRegistry();
    const one = await runManual(workflow(nodes, [], { settings: { concurrency: 1 } }), { registry: serial.registry });
    expect(one.result.status).toBe('succeeded');
    expect(serial.probe.maxRunning).toBe(1);
    expect(serial.probe.starts.map((s) => [s.id, s.at - one.t0])).toEqual([['a', 0], ['b', 100]]);

    const parallel = testRegistry();
    const two = await runManual(workflow(nodes), { registry: parallel.registry });
    expect(parallel.probe.maxRunning).toBe(2);
    expect(parallel.probe.starts.map((s) => [s.id, s.at - two.t0])).toEqual([['a', 0], ['b', 0]]);
  });
});

describe('joins', () => {
  test('a node starts only after all incoming edges settled; inputs come in the order sources finished', async () => {
    const seen: Array<{ at: number; inputs: string[] }> = [];
    const join = fnNode('join', (ctx) => {
      seen.push({ at: ctx.now(), inputs: ctx.inputs.map((input) => input.nodeId) });
      return ctx.inputs.map((input) => input.output);
    });
    const { registry } = testRegistry(join);
    const wf = workflow(
      [
        { id: 'slow', type: 'probe', data: { ms: 200, value: 'S' } },
        { id: 'fast', type: 'probe', data: { ms: 50, value: 'F' } },
        { id: 'j', type: 'join' },
      ],
      edges('slow -> j', 'fast -> j'),
    );
    const { result, t0 } = await runManual(wf, { registry });
    expect(result.status).toBe('succeeded');
    expect(seen).toEqual([{ at: t0 + 200, inputs: ['fast', 'slow'] }]);
    expect(times(result, 'j').start).toBeGreaterThanOrEqual(times(result, 'slow').end);
    expect(step(result, 'j').output).toEqual(['F', 'S']);
  });

  test('a node with one active and one skipped input still runs, seeing only the active one', async () => {
    let inputs: string[] | undefined;
    const { registry } = testRegistry(fnNode('join', (ctx) => (inputs = ctx.inputs.map((input) => input.nodeId))));
    const wf = workflow(
      [
        { id: 'gate', type: 'if', data: { condition: true } },
        { id: 'x', type: 'set', data: { values: { from: 'x' } } },
        { id: 'y', type: 'set', data: { values: { from: 'y' } } },
        { id: 'j', type: 'join' },
      ],
      edges('gate:true -> x', 'gate:false -> y', 'x -> j', 'y -> j'),
    );
    const { result } = await runManual(wf, { registry });
    expect(result.status).toBe('succeeded');
    expect(step(result, 'y').status).toBe('skipped');
    expect(step(result, 'j').status).toBe('succeeded');
    expect(inputs).toEqual(['x']);
  });
});

describe('frozen view of data', () => {
  test('mutating an upstream output throws in strict mode and other nodes still see the original', async () => {
    const errors: string[] = [];
    const mutate = fnNode('mutate', (ctx) => {
      const output = ctx.inputs[0]?.output as { nested: { n: number }; list: number[] };
      const attempts: Array<() => void> = [
        () => (output.nested.n = 99),
        () => output.list.push(99),
        () => ((output as Record<string, unknown>)['added'] = true),
      ];
      for (const attempt of attempts) {
        try {
          attempt();
          errors.push('no error');
        } catch (error) {
          errors.push((error as Error).name);
        }
      }
      return { done: true };
    });
    const { registry } = testRegistry(mutate);
    const wf = workflow(
      [
        { id: 'src', type: 'set', data: { values: { nested: { n: '{{ 1 }}' }, list: [1, 2] } } },
        { id: 'm', type: 'mutate' },
        { id: 'reader', type: 'set', data: { values: { n: '{{ src.nested.n }}', list: '{{ src.list }}', added: '{{ $exists(src.added) }}' } } },
      ],
      edges('src -> m', 'm -> reader', 'src -> reader'),
    );
    const { result } = await runManual(wf, { registry });
    expect(result.status).toBe('succeeded');
    expect(errors).toEqual(['TypeError', 'TypeError', 'TypeError']);
    expect(step(result, 'reader').output).toEqual({ n: 1, list: [1, 2], added: false });
    expect(step(result, 'src').output).toEqual({ nested: { n: 1 }, list: [1, 2] });
  });

  test('a node cannot change the run input another node reads (ctx.input is documented as frozen)', async () => {
    let threw: string | undefined;
    const mutate = fnNode('mutate', (ctx) => {
      try {
        (ctx.input as { name: string }).name = 'mallory';
      } catch (error) {
        threw = (error as Error).name;
      }
      return null;
    });
    const { registry } = testRegistry(mutate);
    const wf = workflow(
      [
        { id: 'm', type: 'mutate' },
        { id: 'reader', type: 'set', data: { values: { name: '{{ input.name }}' } } },
      ],
      edges('m -> reader'),
    );
    const { result } = await runManual(wf, { registry, input: { name: 'alice' } });
    expect(step(result, 'reader').output).toEqual({ name: 'alice' });
    expect(threw).toBe('TypeError');
  });

  test('a node cannot change the workflow vars seen by later nodes and later runs of the same plan', async () => {
    const mutate = fnNode('mutate', (ctx) => {
      try {
        (ctx.vars as Record<string, unknown>)['greeting'] = 'changed';
      } catch {
        // expected: vars are a frozen view
      }
      return null;
    });
    const { registry } = testRegistry(mutate);
    const plan = planWorkflow(
      workflow(
        [
          { id: 'm', type: 'mutate' },
          { id: 'reader', type: 'set', data: { values: { greeting: '{{ vars.greeting }}' } } },
        ],
        edges('m -> reader'),
        { vars: { greeting: 'hello' } },
      ),
      registry,
    );
    const first = await runWorkflow(plan, { registry });
    const second = await runWorkflow(plan, { registry });
    expect(step(first, 'reader').output).toEqual({ greeting: 'hello' });
    expect(step(second, 'reader').output).toEqual({ greeting: 'hello' });
  });
});

describe('skips', () => {
  test('skips propagate down a chain behind the untaken branch of an if', async () => {
    const { registry, probe } = testRegistry();
    const wf = workflow(
      [
        { id: 'start', type: 'input' },
        { id: 'gate', type: 'if', data: { condition: '{{ start.go }}' } },
        { id: 'a', type: 'probe', data: {} },
        { id: 'b', type: 'probe', data: {} },
        { id: 'c', type: 'probe', data: {} },
        { id: 'other', type: 'set', data: { values: { took: 'false' } } },
      ],
      edges('start -> gate', 'gate:true -> a', 'a -> b', 'b -> c', 'gate:false -> other'),
    );
    const { result } = await runManual(wf, { registry, input: { go: false } });
    expect(result.status).toBe('succeeded');
    expect(['a', 'b', 'c'].map((id) => step(result, id).status)).toEqual(['skipped', 'skipped', 'skipped']);
    expect(probe.starts).toEqual([]);
    expect(step(result, 'other').status).toBe('succeeded');
    expect(result.output).toEqual({ other: { took: 'false' } });
  });
});

describe('dispatch order', () => {
  test('the same definition dispatches in the same order every run (roots in definition order, then successors)', async () => {
    const wf = workflow(
      [
        { id: 'r3', type: 'probe', data: {} },
        { id: 'r1', type: 'probe', data: {} },
        { id: 'r5', type: 'probe', data: {} },
        { id: 'k2', type: 'probe', data: {} },
        { id: 'r2', type: 'probe', data: {} },
        { id: 'k1', type: 'probe', data: {} },
        { id: 'r4', type: 'probe', data: {} },
      ],
      edges('r3 -> k2', 'r3 -> k1', 'r4 -> k1'),
      { settings: { concurrency: 1 } },
    );
    const orders: string[][] = [];
    for (let run = 0; run < 5; run += 1) {
      const { registry, probe } = testRegistry();
      const { result } = await runManual(wf, { registry });
      expect(result.status).toBe('succeeded');
      orders.push(probe.starts.map((start) => start.id));
    }
    expect(orders[0]).toEqual(['r3', 'r1', 'r5', 'r2', 'r4', 'k2', 'k1']);
    for (const order of orders) expect(order).toEqual(orders[0]);
  });
});
