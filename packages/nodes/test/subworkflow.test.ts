/** subworkflow: child runs loaded from files relative to the parent, failures, validation, recursion. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { readFileSync } from 'node:fs';
import { createBuiltinRegistry } from '@flowpilot/nodes';
import { runWorkflow, type RunResult } from '@flowpilot/runtime';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { fileWorkflowLoader } from '../../cli/src/workflow-file.js';
import { edges, step, workflow } from './helpers.js';

const registry = createBuiltinRegistry();
let dir = '';

async function put(relative: string, value: unknown): Promise<string> {
  const path = join(dir, relative);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, typeof value === 'string' ? value : JSON.stringify(value));
  return path;
}

/** Runs the workflow file at `path` the way the CLI does. */
function runFile(path: string, input: unknown = {}, extra: { maxDepth?: number; withLoader?: boolean } = {}): Promise<RunResult> {
  const wf = JSON.parse(readFileSync(path, 'utf8')) as unknown;
  const loader = extra.withLoader === false ? {} : { loadWorkflow: fileWorkflowLoader };
  return runWorkflow(wf, { registry, input, source: path, ...loader, ...(extra.maxDepth === undefined ? {} : { maxDepth: extra.maxDepth }) });
}

/** A workflow whose `call` node runs `file` with `{{ start }}` as input, output passed through. */
function caller(file: string): Record<string, unknown> {
  return workflow(
    [
      { id: 'start', type: 'input' },
      { id: 'call', type: 'subworkflow', data: { file, input: '{{ start }}' } },
      { id: 'out', type: 'output', data: { value: '{{ call }}' } },
    ],
    edges('start -> call', 'call -> out'),
  );
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flowpilot-subworkflow-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('subworkflow', () => {
  test("the child's output becomes the node's output (child given by a path relative to the parent file)", async () => {
    await put('a/lib/double.json', workflow(
      [
        { id: 'start', type: 'input', data: { schema: { type: 'object', required: ['n'] } } },
        { id: 'result', type: 'output', data: { value: { doubled: '{{ start.n * 2 }}', rate: '{{ vars.rate }}' } } },
      ],
      edges('start -> result'),
      { vars: { rate: 0.5 } },
    ));
    const parent = await put('a/parent.json', caller('lib/double.json'));
    const result = await runFile(parent, { n: 21 });
    expect(result.status).toBe('succeeded');
    expect(step(result, 'call').output).toEqual({ doubled: 42, rate: 0.5 });
    expect(result.output).toEqual({ doubled: 42, rate: 0.5 });
  });

  test("a grandchild path resolves against the child's directory, not the parent's", async () => {
    await put('b/leaf.json', workflow([{ id: 'wrong', type: 'output', data: { value: 'resolved against the parent' } }]));
    await put('b/nested/leaf.json', workflow([{ id: 'right', type: 'output', data: { value: 'resolved against the child' } }]));
    await put('b/nested/middle.json', caller('leaf.json'));
    const parent = await put('b/top.json', caller('nested/middle.json'));
    const result = await runFile(parent);
    expect(result.status).toBe('succeeded');
    expect(result.output).toBe('resolved against the child');
  });

  test("a failing child fails the parent step with the child's code", async () => {
    await put('c/child.json', workflow([{ id: 'explode', type: 'fail', data: { message: 'child broke', code: 'CHILD_BROKE' } }]));
    const parent = await put('c/parent.json', caller('child.json'));
    const result = await runFile(parent);
    expect(result.status).toBe('failed');
    expect(step(result, 'call').status).toBe('failed');
    expect(step(result, 'call').error?.code).toBe('CHILD_BROKE');
    expect(step(result, 'call').error?.message).toContain('child broke');
    expect(result.error).toMatchObject({ code: 'CHILD_BROKE', nodeId: 'call', retryable: false });
  });

  test('an invalid child workflow fails with SUBWORKFLOW_INVALID', async () => {
    await put('d/child.json', workflow([{ id: 'x', type: 'no-such-type' }]));
    const parent = await put('d/parent.json', caller('child.json'));
    const result = await runFile(parent);
    expect(result.status).toBe('failed');
    expect(result.error).toMatchObject({ code: 'SUBWORKFLOW_INVALID', nodeId: 'call' });
    expect(result.error?.message).toContain('child.json');
  });

  test('a workflow calling itself stops with MAX_DEPTH, listing the chain', async () => {
    const self = await put('e/self.json', caller('self.json'));
    const result = await runFile(self, {}, { maxDepth: 3 });
    expect(result.status).toBe('failed');
    expect(result.error?.code).toBe('MAX_DEPTH');
    const message = result.error?.message ?? '';
    expect(message).toContain('nesting exceeds 3 levels');
    // top → 3 nested runs → the call that was refused
    const chain = message.slice(message.indexOf('(') + 1, message.lastIndexOf(')')).split(' → ');
    expect(chain).toHaveLength(5);
    for (const link of chain.slice(0, 4)) expect(link).toBe(self);
    expect(chain[4]).toBe('self.json');
  });

  test('recursion stops at the default depth too', async () => {
    const self = await put('f/self.json', caller('self.json'));
    const result = await runFile(self);
    expect(result.error?.code).toBe('MAX_DEPTH');
    expect(result.error?.message).toContain('nesting exceeds 16 levels');
  });

  test('without a workflow loader the node fails with NO_WORKFLOW_LOADER', async () => {
    await put('g/child.json', workflow([{ id: 'ok', type: 'noop' }]));
    const parent = await put('g/parent.json', caller('child.json'));
    const result = await runFile(parent, {}, { withLoader: false });
    expect(result.status).toBe('failed');
    expect(result.error).toMatchObject({ code: 'NO_WORKFLOW_LOADER', nodeId: 'call', retryable: false });
  });
});
