/** The input node: JSON Schema validation of the run input. */
import { createBuiltinRegistry } from '@flowpilot/nodes';
import { runWorkflow, type RunResult } from '@flowpilot/runtime';
import { describe, expect, test } from 'vitest';
import { edges, step, workflow } from './helpers.js';

const registry = createBuiltinRegistry();

const schema = {
  type: 'object',
  required: ['name', 'age'],
  properties: { name: { type: 'string' }, age: { type: 'integer', minimum: 0 }, tags: { type: 'array', items: { type: 'string' } } },
};

function run(input: unknown, withSchema = true): Promise<RunResult> {
  const wf = workflow(
    [
      { id: 'start', type: 'input', data: withSchema ? { schema } : {}, retry: { maxAttempts: 3, initialDelayMs: 1, jitter: false } },
      { id: 'after', type: 'noop' },
    ],
    edges('start -> after'),
  );
  return runWorkflow(wf, { registry, input });
}

describe('input', () => {
  test('a missing required field fails the run with INVALID_INPUT naming the field, without retrying', async () => {
    const result = await run({ name: 'ada' });
    expect(result.status).toBe('failed');
    expect(result.error).toMatchObject({ code: 'INVALID_INPUT', nodeId: 'start', retryable: false });
    expect(result.error?.message).toMatch(/\bage\b/);
    expect(result.error?.message).not.toMatch(/\bname\b/);
    expect(step(result, 'start').attempts).toBe(1);
    expect(step(result, 'after').output).toBeUndefined();
  });

  test('a field of the wrong type fails with INVALID_INPUT naming its path', async () => {
    const result = await run({ name: 'ada', age: 'old' });
    expect(result.error?.code).toBe('INVALID_INPUT');
    expect(result.error?.message).toContain('input/age');
    expect(result.error?.message).toContain('integer');
  });

  test('every problem is reported at once', async () => {
    const result = await run({ name: 42, tags: ['ok', 7] });
    const message = result.error?.message ?? '';
    expect(message).toContain('input/name');
    expect(message).toMatch(/\bage\b/);
    expect(message).toContain('input/tags/1');
  });

  test('a non-object input fails against an object schema', async () => {
    const result = await run([1, 2]);
    expect(result.error?.code).toBe('INVALID_INPUT');
  });

  test('a valid input passes through as the node output', async () => {
    const input = { name: 'ada', age: 36, tags: ['math'], extra: { kept: true } };
    const result = await run(input);
    expect(result.status).toBe('succeeded');
    expect(step(result, 'start').output).toEqual(input);
    expect(step(result, 'after').output).toEqual(input);
  });

  test.each([
    { label: 'object', input: { anything: [1, { deep: null }] }, expected: { anything: [1, { deep: null }] } },
    { label: 'number', input: 42, expected: 42 },
    { label: 'string', input: 'text', expected: 'text' },
    { label: 'no input', input: undefined, expected: {} },
  ])('without a schema anything passes ($label)', async ({ input, expected }) => {
    const result = await run(input, false);
    expect(result.status).toBe('succeeded');
    expect(step(result, 'start').output).toEqual(expected);
  });
});
