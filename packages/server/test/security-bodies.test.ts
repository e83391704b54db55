/**
 * Security: oversized bodies on every POST, PUT and PATCH operation of the OpenAPI document (public
 * ones too) and on a webhook, over real HTTP on SQLite and PostgreSQL, with the server's default
 * body limit (1 MiB): 413 problem+json `PAYLOAD_TOO_LARGE`, whether the length is announced or the
 * body is streamed, and nothing is created.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { describeBackends, postgresUnavailable, startTestServer, type Backend, type TestServer } from './harness.js';
import { as } from './auth-helpers.js';
import { expectJson, expectProblem, tag, testRegistry } from './helpers.js';
import { buildWorld, send, snapshot, type World } from './security-helpers.js';
import { fill, operations, paramsIn, ROUTES, type Operation, type RouteSpec } from './security-routes.js';

const LIMIT = 1024 * 1024;

/** Valid JSON of exactly `bytes` bytes. */
const jsonOf = (bytes: number): string => `{"pad":"${'x'.repeat(bytes - 10)}"}`;

describeBackends('security: oversized bodies', await postgresUnavailable(), (backend: Backend) => {
  let t: TestServer;
  let ops: Operation[];
  let b: World;
  let hookPath: string;

  beforeAll(async () => {
    t = await startTestServer({ registry: testRegistry() }, backend);
    ops = await operations(t);
    b = await buildWorld(t, 'b');
    hookPath = `security/${tag()}`;
    const hook = { name: 'hook', nodes: [{ id: 'hook', type: 'webhook', data: { path: hookPath, method: 'POST' } }], edges: [] };
    const id = (await expectJson<{ id: string }>(await as(t, b.owner.bearer, '/api/v1/workflows', { method: 'POST', json: hook, workspace: b.id }), 201)).id;
    await expectJson(await as(t, b.owner.bearer, `/api/v1/workflows/${id}/activate`, { method: 'POST', workspace: b.id }), 200);
  }, 60_000);
  afterAll(() => t?.close());

  test('every POST, PUT and PATCH operation and a webhook answer a body over 1 MiB with 413 PAYLOAD_TOO_LARGE; nothing changes', async () => {
    expect(jsonOf(LIMIT + 1)).toHaveLength(LIMIT + 1);
    const before = await snapshot(t, b);
    const failures: string[] = [];
    const writes = ops.filter((op) => ['POST', 'PUT', 'PATCH'].includes(op.method));
    expect(writes.length).toBeGreaterThan(20);
    const targets = [...writes.map((op) => ({ op, spec: ROUTES[op.key] })), { op: { key: `POST /hooks/${hookPath}`, method: 'POST', template: `/hooks/${hookPath}` }, spec: { level: 'public' } as RouteSpec }];
    for (const { op, spec } of targets) {
      if (spec === undefined) {
        failures.push(`${op.key}: not in the table`);
        continue;
      }
      const path = `${fill(op.template, paramsIn(spec, b))}${spec.query === undefined ? '' : `?${spec.query}`}`;
      const bearer = spec.level === 'public' ? undefined : b.owner.bearer;
      const sent = await send(t, bearer, op.method, path, { body: jsonOf(LIMIT + 1), headers: { 'content-type': 'application/json' }, workspace: b.id });
      const body = sent.contentType.includes('application/problem+json') ? (JSON.parse(sent.text) as { code?: string; status?: number }) : undefined;
      if (sent.status !== 413 || body?.code !== 'PAYLOAD_TOO_LARGE' || body.status !== 413) failures.push(`${op.key}: ${sent.status} ${sent.text.slice(0, 200)}`);
    }
    expect(failures).toEqual([]);
    expect(await snapshot(t, b)).toEqual(before);
  }, 120_000);

  test('a streamed body (no Content-Length) is cut off at the limit too; a body just under it is read', async () => {
    const chunk = new TextEncoder().encode('x'.repeat(64 * 1024));
    let sentBytes = 0;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"name":"streamed","pad":"'));
      },
      pull(controller) {
        // Bounded: stop well after the limit even if the server kept reading.
        if (sentBytes > 4 * LIMIT) return controller.close();
        sentBytes += chunk.length;
        controller.enqueue(chunk);
      },
    });
    const streamed = await fetch(`${t.url}/api/v1/workflows`, { method: 'POST', body: stream, duplex: 'half', headers: { authorization: `Bearer ${b.owner.bearer}`, 'x-flowpilot-workspace': b.id, 'content-type': 'application/json' } } as RequestInit);
    await expectProblem(streamed, 413, 'PAYLOAD_TOO_LARGE');

    const definition = { name: `just-under-${tag()}`, nodes: [{ id: 'start', type: 'manual' }], edges: [], pad: '' };
    definition.pad = 'x'.repeat(LIMIT - Buffer.byteLength(JSON.stringify(definition)) - 16);
    const report = await expectJson<{ valid: boolean }>(await as(t, b.owner.bearer, '/api/v1/workflows/validate', { method: 'POST', json: definition, workspace: b.id }), 200);
    expect(typeof report.valid).toBe('boolean');
  });
});
