import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestServer, type TestServer } from './harness.js';

const greeting = {
  name: 'Greeting',
  nodes: [
    { id: 'start', type: 'input', data: { schema: { type: 'object', required: ['name'] } } },
    { id: 'greet', type: 'set', data: { values: { message: "{{ 'Hello, ' & start.name }}" } } },
  ],
  edges: [{ source: 'start', target: 'greet' }],
};

describe('API smoke', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => t.close());

  test('health is public, the API needs a key (401 problem+json)', async () => {
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
    const denied = await fetch(`${t.url}/api/v1/workflows`);
    expect(denied.status).toBe(401);
    expect(denied.headers.get('content-type')).toContain('application/problem+json');
    expect(((await denied.json()) as { code: string }).code).toBe('UNAUTHENTICATED');
  });

  test('create a workflow, run it and wait for the result', async () => {
    const created = await t.api('/api/v1/workflows', { method: 'POST', json: greeting });
    expect(created.status).toBe(201);
    const workflow = (await created.json()) as { id: string; version: number };
    expect(workflow.version).toBe(1);
    const run = await t.api(`/api/v1/workflows/${workflow.id}/runs?wait=true&timeoutMs=10000`, { method: 'POST', json: { input: { name: 'Ada' } } });
    expect(run.status).toBe(200);
    const body = (await run.json()) as { status: string; output: unknown; steps: Record<string, { status: string }> };
    expect(body.status).toBe('succeeded');
    expect(body.output).toEqual({ greet: { message: 'Hello, Ada' } });
    expect(body.steps.greet?.status).toBe('succeeded');
  });

  test('an invalid workflow is a 422 problem listing the validator issues', async () => {
    const response = await t.api('/api/v1/workflows', { method: 'POST', json: { name: 'bad', nodes: [{ id: 'a', type: 'nope' }], edges: [] } });
    expect(response.status).toBe(422);
    const body = (await response.json()) as { code: string; errors: Array<{ code: string }> };
    expect(body.code).toBe('WORKFLOW_INVALID');
    expect(body.errors.map((error) => error.code)).toContain('UNKNOWN_NODE_TYPE');
  });

  test('OpenAPI 3.1 document lists the routes', async () => {
    const response = await t.api('/api/v1/openapi.json');
    const document = (await response.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(document.openapi).toBe('3.1.0');
    expect(Object.keys(document.paths)).toEqual(expect.arrayContaining(['/api/v1/workflows', '/api/v1/runs/{id}']));
  });
});
