/**
 * `/hooks/{path}` of active workflows: async (202 {runId}), sync (the `respond` node or the run
 * output; 504 with the run id when slow), HMAC signatures, the trigger's {body, query, headers}
 * output and the per-IP rate limit.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { signBody } from '@flowpilot/server';
import { API_KEY, describeBackends, postgresUnavailable, startTestServer, type Backend, type TestServer } from './harness.js';
import { createCredential } from './credentials-helpers.js';
import { createWorkflow, expectJson, expectProblem, tag, testRegistry, waitForRun, type Json } from './helpers.js';

const SECRET = 'a-very-secret-secret';

/** POSTs from a given local address (fetch cannot choose one); resolves to the status. */
function postFrom(localAddress: string, url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const outgoing = request(url, { method: 'POST', localAddress }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}

/** Creates and activates a workflow: `hook` (a webhook with `hookData`) → `nodes`. */
async function hooked(t: TestServer, hookData: Json, nodes: Json[] = [], edges: Json[] = []): Promise<string> {
  const id = await createWorkflow(t, { name: `Hook ${String(hookData.path)}`, nodes: [{ id: 'hook', type: 'webhook', data: hookData }, ...nodes], edges });
  await expectJson(await t.api(`/api/v1/workflows/${id}/activate`, { method: 'POST' }), 200);
  return id;
}

describeBackends('webhooks', await postgresUnavailable(), (backend: Backend) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ registry: testRegistry() }, backend);
  });
  afterAll(() => t?.close());

  test('async: 202 {runId}; the trigger outputs {body, query, headers} so {{ hook.body.x }} works', async () => {
    const path = `orders-${tag()}/new`;
    await hooked(t, { path }, [{ id: 'read', type: 'set', data: { values: { x: '{{ hook.body.x }}', q: '{{ hook.query.source }}', h: "{{ hook.headers.'x-custom' }}" } } }], [{ source: 'hook', target: 'read' }]);
    const response = await fetch(`${t.url}/hooks/${path}?source=shop`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-custom': 'hello', authorization: 'Bearer should-not-be-stored', cookie: 'session=secret' },
      body: JSON.stringify({ x: 41, nested: { ok: true } }),
    });
    const { runId } = await expectJson<{ runId: string }>(response, 202);
    expect(runId).toEqual(expect.any(String));
    const run = await waitForRun(t, runId);
    expect(run.status).toBe('succeeded');
    const output = run.steps?.hook?.output as { body: unknown; query: unknown; headers: Record<string, string> };
    expect(output.body).toEqual({ x: 41, nested: { ok: true } });
    expect(output.query).toEqual({ source: 'shop' });
    expect(output.headers['x-custom']).toBe('hello');
    expect(output.headers['content-type']).toBe('application/json');
    expect(output.headers.authorization).toBeUndefined();
    expect(output.headers.cookie).toBeUndefined();
    expect(run.steps?.read?.output).toEqual({ x: 41, q: 'shop', h: 'hello' });
    expect(run.input).toMatchObject({ body: { x: 41, nested: { ok: true } }, query: { source: 'shop' } });
  });

  test('async: a text body arrives as a string, no body as null; a trailing slash is the same hook', async () => {
    const path = `text-${tag()}`;
    await hooked(t, { path, method: 'PUT' });
    const text = await expectJson<{ runId: string }>(await fetch(`${t.url}/hooks/${path}/`, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: 'plain words' }), 202);
    expect((await waitForRun(t, text.runId)).steps?.hook?.output).toMatchObject({ body: 'plain words' });
    const empty = await expectJson<{ runId: string }>(await fetch(`${t.url}/hooks/${path}`, { method: 'PUT' }), 202);
    expect((await waitForRun(t, empty.runId)).steps?.hook?.output).toMatchObject({ body: null });
    await expectProblem(await fetch(`${t.url}/hooks/${path}`, { method: 'POST' }), 404, 'WEBHOOK_NOT_FOUND');
  });

  test('a JSON content type with a broken body is 400 INVALID_JSON and starts no run', async () => {
    const path = `broken-${tag()}`;
    const id = await hooked(t, { path });
    await expectProblem(await fetch(`${t.url}/hooks/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"x":' }), 400, 'INVALID_JSON');
    const runs = await expectJson<{ items: unknown[] }>(await t.api(`/api/v1/runs?workflowId=${id}`), 200);
    expect(runs.items).toEqual([]);
  });

  test("sync: answers with the respond node's {status, headers, body}", async () => {
    const path = `sync-respond-${tag()}`;
    await hooked(
      t,
      { path, mode: 'sync' },
      [
        { id: 'calc', type: 'set', data: { values: { doubled: '{{ hook.body.n * 2 }}' } } },
        { id: 'answer', type: 'respond', data: { status: 201, headers: { 'x-answer': '{{ hook.query.tag }}' }, body: { doubled: '{{ calc.doubled }}', ok: true } } },
      ],
      [
        { source: 'hook', target: 'calc' },
        { source: 'calc', target: 'answer' },
      ],
    );
    const response = await fetch(`${t.url}/hooks/${path}?tag=t1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"n": 21}' });
    expect(response.status).toBe(201);
    expect(response.headers.get('x-answer')).toBe('t1');
    const runId = response.headers.get('x-flowpilot-run-id');
    expect(runId).toEqual(expect.any(String));
    expect(await response.json()).toEqual({ doubled: 42, ok: true });
    expect((await waitForRun(t, runId!)).status).toBe('succeeded');
  });

  test('sync without a respond node: the run output as JSON', async () => {
    const path = `sync-output-${tag()}`;
    await hooked(t, { path, mode: 'sync' }, [{ id: 'result', type: 'set', data: { values: { echo: '{{ hook.body.say }}' } } }], [{ source: 'hook', target: 'result' }]);
    const response = await fetch(`${t.url}/hooks/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"say": "hi"}' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('application/json');
    expect(await response.json()).toEqual({ result: { echo: 'hi' } });
  });

  test('sync: a run slower than timeoutMs is 504 RUN_TIMEOUT with its runId; the run goes on', async () => {
    const path = `sync-slow-${tag()}`;
    await hooked(t, { path, mode: 'sync', timeoutMs: 300 }, [{ id: 'wait', type: 'delay', data: { ms: 1_500 } }], [{ source: 'hook', target: 'wait' }]);
    const started = Date.now();
    const body = await expectProblem(await fetch(`${t.url}/hooks/${path}`, { method: 'POST' }), 504, 'RUN_TIMEOUT');
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(body.runId).toEqual(expect.any(String));
    expect((await waitForRun(t, body.runId!)).status).toBe('succeeded');
  });

  test('HMAC: a missing or wrong X-FlowPilot-Signature is 401 INVALID_SIGNATURE; the right one is accepted', async () => {
    const path = `signed-${tag()}`;
    const id = await hooked(t, { path, secret: SECRET });
    const body = JSON.stringify({ amount: 10 });
    const send = (signature?: string, payload = body) =>
      fetch(`${t.url}/hooks/${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(signature === undefined ? {} : { 'x-flowpilot-signature': signature }) }, body: payload });
    await expectProblem(await send(), 401, 'INVALID_SIGNATURE');
    await expectProblem(await send(signBody('another-secret-entirely', body)), 401, 'INVALID_SIGNATURE');
    await expectProblem(await send(signBody(SECRET, body), JSON.stringify({ amount: 1000 })), 401, 'INVALID_SIGNATURE');
    await expectProblem(await send('sha256=zz'), 401, 'INVALID_SIGNATURE');
    await expectProblem(await send(signBody(SECRET, body).replace('sha256=', 'sha1=')), 401, 'INVALID_SIGNATURE');
    expect((await expectJson<{ items: unknown[] }>(await t.api(`/api/v1/runs?workflowId=${id}`), 200)).items).toEqual([]);
    const accepted = await expectJson<{ runId: string }>(await send(signBody(SECRET, body)), 202);
    const run = await waitForRun(t, accepted.runId);
    expect(run.steps?.hook?.output).toMatchObject({ body: { amount: 10 } });
    // The signature covers the exact bytes: the same JSON spelled differently needs its own signature.
    const spaced = '{ "amount": 10 }';
    await expectJson(await send(signBody(SECRET, spaced), spaced), 202);
  });

  test('HMAC with a webhookSecret credential: signatures are checked with its secret, which stays out of the workflow', async () => {
    const path = `cred-signed-${tag()}`;
    const vaulted = 'the-vaulted-signing-secret';
    const credential = await createCredential(t, 'webhookSecret', { secret: vaulted });
    const id = await hooked(t, { path, credential });
    const body = JSON.stringify({ n: 1 });
    const send = (signature?: string) =>
      fetch(`${t.url}/hooks/${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(signature === undefined ? {} : { 'x-flowpilot-signature': signature }) }, body });
    await expectProblem(await send(), 401, 'INVALID_SIGNATURE');
    await expectProblem(await send(signBody(SECRET, body)), 401, 'INVALID_SIGNATURE');
    const accepted = await expectJson<{ runId: string }>(await send(signBody(vaulted, body)), 202);
    expect((await waitForRun(t, accepted.runId)).status).toBe('succeeded');
    const stored = await (await t.api(`/api/v1/workflows/${id}`)).text();
    expect(stored).toContain(credential);
    expect(stored).not.toContain(vaulted);
    // Either a secret or a credential; and the credential must be a webhookSecret.
    const hookWith = (data: Json) => ({ name: 'Bad hook', nodes: [{ id: 'hook', type: 'webhook', data: { path: `bad-${tag()}`, ...data } }], edges: [] });
    await expectProblem(await t.api('/api/v1/workflows', { method: 'POST', json: hookWith({ secret: SECRET, credential }) }), 422, 'WORKFLOW_INVALID');
    const bearer = await createCredential(t, 'httpBearer', { token: 'not-a-signing-secret' });
    const mismatch = await expectProblem(await t.api('/api/v1/workflows', { method: 'POST', json: hookWith({ credential: bearer }) }), 422, 'WORKFLOW_INVALID');
    expect(JSON.stringify(mismatch)).toContain('CREDENTIAL_TYPE_MISMATCH');
  });

  test('a new version of an active workflow moves its webhook; deactivating removes it', async () => {
    const before = `moving-${tag()}`;
    const after = `${before}-moved`;
    const id = await hooked(t, { path: before });
    await expectJson(await t.api(`/api/v1/workflows/${id}`, { method: 'PUT', json: { name: 'Moved', nodes: [{ id: 'hook', type: 'webhook', data: { path: after } }], edges: [] } }), 200);
    await expectProblem(await fetch(`${t.url}/hooks/${before}`, { method: 'POST' }), 404, 'WEBHOOK_NOT_FOUND');
    await expectJson(await fetch(`${t.url}/hooks/${after}`, { method: 'POST' }), 202);
    await expectJson(await t.api(`/api/v1/workflows/${id}/deactivate`, { method: 'POST' }), 200);
    await expectProblem(await fetch(`${t.url}/hooks/${after}`, { method: 'POST' }), 404, 'WEBHOOK_NOT_FOUND');
  });

  describe('rate limit', () => {
    let limited: TestServer;
    beforeAll(async () => {
      limited = await startTestServer({ registry: testRegistry(), rateLimitPerMinute: 5 }, backend);
    });
    afterAll(() => limited?.close());

    test('more webhook requests a minute than allowed from one IP: 429 RATE_LIMITED with Retry-After; the API is not limited', async () => {
      const statuses: number[] = [];
      for (let index = 0; index < 5; index += 1) statuses.push((await fetch(`${limited.url}/hooks/limited-${index}`, { method: 'POST' })).status);
      expect(statuses).toEqual([404, 404, 404, 404, 404]);
      const refused = await fetch(`${limited.url}/hooks/limited-x`, { method: 'POST' });
      const retryAfter = Number(refused.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(60);
      const body = await expectProblem(refused, 429, 'RATE_LIMITED');
      for (let index = 0; index < 8; index += 1) {
        expect((await fetch(`${limited.url}/api/v1/workflows`, { headers: { authorization: `Bearer ${API_KEY}` } })).status).toBe(200);
      }
      expect((await fetch(`${limited.url}/healthz`)).status).toBe(200);
      // The limit is per client address: another loopback address is not limited yet.
      expect(await postFrom('127.0.0.2', `${limited.url}/hooks/limited-y`)).toBe(404);
      // Suspected bug: hooks.ts:25 builds the problem, problems.ts:86 rebuilds it from error.message and drops `detail`.
      expect(body.detail ?? '(no detail)').toContain('more than 5 webhook requests');
    });
  });
});
