/**
 * Malformed requests the fuzz test found, one class per test so each failure names its cause:
 * every answer must be a 4xx application/problem+json, never a 5xx or fastify's own JSON.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { describeBackends, postgresUnavailable, startTestServer, type Backend, type TestServer } from './harness.js';
import { createWorkflow, expectJson, type ProblemBody, type RunBody } from './helpers.js';

const b64 = (text: string): string => Buffer.from(text).toString('base64url');

/** A 4xx problem+json answer (any 4xx: these tests pin "client error, well formed", not the status). */
async function expectClientProblem(response: Response, what: string): Promise<ProblemBody> {
  const text = await response.text();
  const summary = `${what} → ${response.status} ${response.headers.get('content-type') ?? '(no content-type)'} ${text.slice(0, 200)}`;
  expect(response.status, summary).toBeGreaterThanOrEqual(400);
  expect(response.status, summary).toBeLessThan(500);
  expect(response.headers.get('content-type') ?? '', summary).toContain('application/problem+json');
  const body = JSON.parse(text) as ProblemBody;
  expect(body.status, summary).toBe(response.status);
  expect(body.code, summary).toMatch(/^[A-Z][A-Z0-9_]*$/);
  return body;
}

/** Not a 5xx, and a problem when it is an error. */
function wellFormed(response: Response): boolean {
  if (response.status >= 500) return false;
  return response.status < 400 || (response.headers.get('content-type') ?? '').includes('application/problem+json');
}

describeBackends('malformed requests', await postgresUnavailable(), (backend: Backend) => {
  let t: TestServer;
  let workflowId: string;
  beforeAll(async () => {
    t = await startTestServer({}, backend);
    workflowId = await createWorkflow(t, { name: 'Malformed target', nodes: [{ id: 'start', type: 'manual' }], edges: [] });
    const hook = await createWorkflow(t, { name: 'Hook', nodes: [{ id: 'hook', type: 'webhook', data: { path: 'malformed/hook' } }], edges: [] });
    await expectJson(await t.api(`/api/v1/workflows/${hook}/activate`, { method: 'POST' }), 200);
  });
  afterAll(() => t?.close());

  // Suspected cause: fastify's router rejects params over maxParamLength (default 100) with its own
  // JSON 414 before the route schema (idParams allows 200) — app.ts:20 sets neither maxParamLength
  // nor a frameworkErrors handler.
  test('an id of 101-200 characters (allowed by the schema) is a 404 problem, not fastify JSON 414', async () => {
    const id = 'a'.repeat(150);
    const body = await expectClientProblem(await t.api(`/api/v1/workflows/${id}`), 'GET a 150-character id');
    expect(body.code).toBe('WORKFLOW_NOT_FOUND');
    await expectClientProblem(await t.api(`/api/v1/runs/${'r'.repeat(300)}`), 'GET a 300-character run id');
  });

  // Suspected cause: FST_ERR_BAD_URL goes to fastify's default frameworkErrors answer (app.ts:20).
  test('an invalid percent-encoding in the path is a 400 problem', async () => {
    for (const path of ['/api/v1/workflows/%', '/api/v1/workflows/%E0%A4%A', '/api/v1/runs/%C3%28/cancel', '/hooks/%FF%']) {
      await expectClientProblem(await t.api(path, { method: path.endsWith('cancel') || path.startsWith('/hooks') ? 'POST' : 'GET' }), path);
    }
  });

  // Suspected cause: Node's header-size limit answers through fastify's default clientErrorHandler
  // (JSON {error, message, statusCode}); app.ts:20 sets no clientErrorHandler.
  test('a URL over the header size limit is a problem (431/414)', async () => {
    await expectClientProblem(await t.api(`/api/v1/workflows?q=${'x'.repeat(20_000)}`), 'a 20 kB query');
  });

  // Suspected cause: routes/events.ts:122 registers /ws with only a WebSocket handler;
  // @fastify/websocket answers a plain GET with an empty 404.
  test('GET /api/v1/ws without an upgrade is a problem', async () => {
    await expectClientProblem(await t.api('/api/v1/ws'), 'GET /api/v1/ws (no upgrade)');
  });

  // Suspected cause (PostgreSQL): text parameters with U+0000 fail with 22021 "invalid byte sequence
  // for encoding UTF8: 0x00" (store/src/postgres/*), which reaches the error handler as a 500.
  test('NUL characters in ids, filters, search and webhook paths are client errors (or not found)', async () => {
    const cases: Array<[string, string]> = [
      ['GET', '/api/v1/workflows/a%00b'],
      ['GET', '/api/v1/workflows/a%00b/versions'],
      ['POST', '/api/v1/workflows/a%00b/runs'],
      ['GET', '/api/v1/runs/a%00b'],
      ['GET', '/api/v1/runs/a%00b/steps/x%00/logs'],
      ['POST', '/api/v1/runs/a%00b/cancel'],
      ['GET', '/api/v1/workflows?q=%00'],
      ['GET', '/api/v1/runs?workflowId=%00'],
      ['POST', '/hooks/a%00b'],
    ];
    const failures: string[] = [];
    for (const [method, path] of cases) {
      const response = await t.api(path, { method, ...(method === 'POST' && path.startsWith('/api') ? { json: {} } : {}) });
      if (!wellFormed(response)) failures.push(`${method} ${path} → ${response.status}`);
    }
    expect(failures).toEqual([]);
  });

  // Suspected cause: store/src/cursor.ts:23 isTimeIdKey accepts any number (1.5, 1e308), which
  // PostgreSQL's BIGINT refuses (22P02); NUL in a cursor's id fails like above.
  test('forged cursors of the right shape but wrong values are never a 500 (INVALID_CURSOR expected)', async () => {
    const failures: string[] = [];
    for (const [path, cursor] of [
      ['/api/v1/runs', '[1.5,"x"]'],
      ['/api/v1/runs', '[1e308,"x"]'],
      ['/api/v1/runs', '[-1e308,"x"]'],
      ['/api/v1/runs', '[1,"\\u0000"]'],
      ['/api/v1/workflows', '["\\u0000"]'],
      ['/api/v1/workflows', '[1]'],
      ['/api/v1/runs', '["x",1]'],
    ] as const) {
      const response = await t.api(`${path}?cursor=${b64(cursor)}`);
      if (!wellFormed(response)) failures.push(`${path} cursor ${cursor} → ${response.status}`);
    }
    expect(failures).toEqual([]);
  });

  // Suspected cause: sse.ts openSse() writes the head with writeHead(); for HEAD Node sends no body,
  // so the head goes out only at end(), which a workflow stream never reaches.
  test('HEAD of an event stream answers at once', async () => {
    for (const path of [`/api/v1/workflows/${workflowId}/events`]) {
      const status = await t.api(path, { method: 'HEAD', signal: AbortSignal.timeout(3_000) }).then(
        (response) => response.status,
        (error: unknown) => String(error),
      );
      expect(status, `HEAD ${path}`).toBe(200);
    }
  });

  test('NUL characters inside JSON bodies: saved, run or refused, never a 500', async () => {
    const failures: string[] = [];
    const check = async (what: string, response: Response): Promise<void> => {
      if (!wellFormed(response)) failures.push(`${what} → ${response.status} ${(await response.text()).slice(0, 120)}`);
    };
    await check('workflow name', await t.api('/api/v1/workflows', { method: 'POST', json: { name: 'nul\u0000name', nodes: [{ id: 'start', type: 'manual' }], edges: [] } }));
    await check('node data', await t.api('/api/v1/workflows', { method: 'POST', json: { name: 'nul data', nodes: [{ id: 'start', type: 'set', data: { values: { v: 'a\u0000b' } } }], edges: [] } }));
    const run = await t.api(`/api/v1/workflows/${workflowId}/runs?wait=true&timeoutMs=5000`, { method: 'POST', json: { input: { text: 'a\u0000b' } } });
    await check('run input', run);
    if (run.status === 200) expect(((await run.json()) as RunBody).status).toBe('succeeded');
    await check('webhook body', await fetch(`${t.url}/hooks/malformed/hook`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"text":"a\\u0000b"}' }));
    await check('webhook text body', await fetch(`${t.url}/hooks/malformed/hook`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'a\u0000b' }));
    await check('webhook header', await fetch(`${t.url}/hooks/malformed/hook?x=%00`, { method: 'POST' }));
    expect(failures).toEqual([]);
  });
});
