/**
 * Per-workspace limits over real HTTP: reading and changing them (`/api/v1/workspace/limits`), and
 * each limit refusing with its status and a problem naming it: payload (413), workflow size (422),
 * concurrent runs (429). The limits a running run is held to (duration, steps of children) and the
 * request rate are in limits-run.test.ts and limits-rate.test.ts.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { limitDefaults } from '@flowpilot/server';
import { as, addMember, createKey, setupOwner, startAuthServer, type Tokens } from './auth-helpers.js';
import { describeBackends, postgresUnavailable, type Backend, type TestServer } from './harness.js';
import { createWorkflow, delayChain, expectJson, expectProblem, startRun, tag, testRegistry, until, waitForRun, type Json, type RunBody } from './helpers.js';
import { chain } from './limits-helpers.js';

interface LimitsBody {
  limits: Record<string, number>;
  overrides: Record<string, number>;
  defaults: Record<string, number>;
}

/** Asserts a LIMIT_EXCEEDED problem naming `limit` and its `max`. */
async function expectLimit(response: Response, status: number, limit: string, max: number): Promise<void> {
  const body = await expectProblem(response, status, 'LIMIT_EXCEEDED');
  expect(body).toMatchObject({ limit, max });
  expect(body.detail).toContain(String(max));
}

test('defaults: built in, then FLOWPILOT_LIMIT_* from the environment, then the server options; a malformed variable fails', () => {
  expect(limitDefaults({}, {})).toEqual({ maxConcurrentRuns: 1000, maxRunDurationMs: 86_400_000, maxPayloadBytes: 524_288, maxStepsPerRun: 10_000, apiRequestsPerMinute: 6000 });
  const env = { FLOWPILOT_LIMIT_MAX_CONCURRENT_RUNS: '7', FLOWPILOT_LIMIT_MAX_RUN_DURATION_MS: '60000', FLOWPILOT_LIMIT_MAX_PAYLOAD_BYTES: ' 2048 ', FLOWPILOT_LIMIT_MAX_STEPS_PER_RUN: '', FLOWPILOT_LIMIT_API_REQUESTS_PER_MINUTE: '120' };
  expect(limitDefaults({ apiRequestsPerMinute: 30 }, env)).toEqual({ maxConcurrentRuns: 7, maxRunDurationMs: 60_000, maxPayloadBytes: 2048, maxStepsPerRun: 10_000, apiRequestsPerMinute: 30 });
  for (const bad of ['0', '-5', '1.5', 'ten', '1e3', '99999999999999999999']) {
    expect(() => limitDefaults({}, { FLOWPILOT_LIMIT_MAX_STEPS_PER_RUN: bad })).toThrow(/FLOWPILOT_LIMIT_MAX_STEPS_PER_RUN must be a positive integer/);
  }
});

describeBackends('workspace limits', await postgresUnavailable(), (backend: Backend) => {
  let t: TestServer;
  let owner: { userId: string; tokens: Tokens };

  const put = (json: unknown): Promise<Response> => t.api('/api/v1/workspace/limits', { method: 'PUT', json });
  const setLimits = async (json: Json): Promise<LimitsBody> => expectJson<LimitsBody>(await put(json), 200);
  /** No run of the workspace is unfinished (earlier tests' runs do not count against the next). */
  const idle = (): Promise<true> => until(async () => ((await t.store.countActiveRuns('default', 1000)) === 0 ? true : undefined), 'no unfinished runs');

  beforeAll(async () => {
    ({ t } = await startAuthServer(backend, { registry: testRegistry(), limits: { maxConcurrentRuns: 50 } }));
    owner = await setupOwner(t);
  });
  afterAll(() => t?.close());

  test('GET shows the limits in force, the overrides and the defaults; PUT sets, keeps and clears overrides (owners only)', async () => {
    const initial = await expectJson<LimitsBody>(await t.api('/api/v1/workspace/limits'), 200);
    expect(initial.overrides).toEqual({});
    expect(initial.defaults.maxConcurrentRuns).toBe(50);
    expect(initial.limits).toEqual(initial.defaults);

    const set = await setLimits({ maxPayloadBytes: 4096, maxStepsPerRun: 40 });
    expect(set.overrides).toEqual({ maxPayloadBytes: 4096, maxStepsPerRun: 40 });
    expect(set.limits).toEqual({ ...initial.defaults, maxPayloadBytes: 4096, maxStepsPerRun: 40 });
    // An absent field keeps its override; null clears one back to the default.
    const changed = await setLimits({ maxStepsPerRun: null, apiRequestsPerMinute: 100_000 });
    expect(changed.overrides).toEqual({ maxPayloadBytes: 4096, apiRequestsPerMinute: 100_000 });
    expect(changed.limits.maxStepsPerRun).toBe(initial.defaults.maxStepsPerRun);
    expect(await expectJson<LimitsBody>(await t.api('/api/v1/workspace/limits'), 200)).toEqual(changed);

    for (const bad of [{ maxPayloadBytes: 0 }, { maxPayloadBytes: -1 }, { maxPayloadBytes: 1.5 }, { maxPayloadBytes: '10' }, { maxRunDurationMs: 2 ** 60 }, { maxWidgets: 3 }]) {
      await expectProblem(await put(bad), 400, 'INVALID_REQUEST');
    }
    expect((await expectJson<LimitsBody>(await t.api('/api/v1/workspace/limits'), 200)).overrides).toEqual(changed.overrides);

    // Reading is for every member; changing is for owners and admin keys.
    const viewer = await addMember(t, owner.tokens.accessToken, 'default', 'viewer');
    expect((await expectJson<LimitsBody>(await as(t, viewer.tokens.accessToken, '/api/v1/workspace/limits'), 200)).limits).toEqual(changed.limits);
    const editor = await addMember(t, owner.tokens.accessToken, 'default', 'editor');
    await expectProblem(await as(t, editor.tokens.accessToken, '/api/v1/workspace/limits', { method: 'PUT', json: { maxPayloadBytes: 1 } }), 403, 'FORBIDDEN');
    const writeKey = await createKey(t, owner.tokens.accessToken, ['write']);
    await expectProblem(await as(t, writeKey.key, '/api/v1/workspace/limits', { method: 'PUT', json: { maxPayloadBytes: 1 } }), 403, 'FORBIDDEN');
    const byOwner = await expectJson<LimitsBody>(await as(t, owner.tokens.accessToken, '/api/v1/workspace/limits', { method: 'PUT', json: { maxPayloadBytes: null, apiRequestsPerMinute: null } }), 200);
    expect(byOwner.overrides).toEqual({});

    // Who changed which limit is in the audit log.
    const entries = await expectJson<{ items: Array<{ actorId: string; action: string; details: Json }> }>(await t.api('/api/v1/audit?action=limits.update&resourceId=default'), 200);
    expect(entries.items.map((entry) => entry.details.changes)).toEqual([
      { maxPayloadBytes: null, apiRequestsPerMinute: null },
      { maxStepsPerRun: null, apiRequestsPerMinute: 100_000 },
      { maxPayloadBytes: 4096, maxStepsPerRun: 40 },
    ]);
    expect(entries.items[0]!.actorId).toBe(owner.userId);
  });

  test('maxPayloadBytes: a larger run input answers 413 naming the limit, from the API and from a webhook', async () => {
    await setLimits({ maxPayloadBytes: 1000 });
    const workflowId = await createWorkflow(t, chain(2));
    const big = { text: 'x'.repeat(1000) };
    await expectLimit(await startRun(t, workflowId, { input: big }), 413, 'maxPayloadBytes', 1000);
    expect((await expectJson<RunBody>(await startRun(t, workflowId, { input: { text: 'small' } }), 201)).status).not.toBe('failed');

    const path = `limits/${tag()}`;
    const hooked = await createWorkflow(t, { name: 'Hooked', nodes: [{ id: 'hook', type: 'webhook', data: { path } }], edges: [] });
    await expectJson(await t.api(`/api/v1/workflows/${hooked}/activate`, { method: 'POST' }), 200);
    const post = (body: unknown): Promise<Response> => fetch(`${t.url}/hooks/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    await expectLimit(await post(big), 413, 'maxPayloadBytes', 1000);
    // The webhook's input is {body, query, headers}: the headers count too.
    expect((await post({ text: 'small' })).status).toBe(202);
    await setLimits({ maxPayloadBytes: null });
    expect((await post(big)).status).toBe(202);
  });

  test('maxStepsPerRun: a workflow with more nodes than the limit answers 422 at start, from the API and from a webhook', async () => {
    await setLimits({ maxStepsPerRun: 3 });
    const small = await createWorkflow(t, chain(3));
    const large = await createWorkflow(t, chain(4));
    expect((await waitForRun(t, (await expectJson<RunBody>(await startRun(t, small), 201)).id)).status).toBe('succeeded');
    await expectLimit(await startRun(t, large), 422, 'maxStepsPerRun', 3);

    const path = `limits/${tag()}`;
    const hooked = await createWorkflow(t, { name: 'Big hook', nodes: [{ id: 'hook', type: 'webhook', data: { path } }, ...(chain(4).nodes as Json[]).slice(1)], edges: [{ source: 'hook', target: 's1' }, ...(chain(4).edges as Json[]).slice(1)] });
    await expectJson(await t.api(`/api/v1/workflows/${hooked}/activate`, { method: 'POST' }), 200);
    await expectLimit(await fetch(`${t.url}/hooks/${path}`, { method: 'POST' }), 422, 'maxStepsPerRun', 3);
    await setLimits({ maxStepsPerRun: null });
    expect((await fetch(`${t.url}/hooks/${path}`, { method: 'POST' })).status).toBe(202);
  });

  test('maxConcurrentRuns: over the unfinished runs allowed, starts and retries answer 429 naming the limit', async () => {
    await idle();
    await setLimits({ maxConcurrentRuns: 2 });
    const slow = await createWorkflow(t, delayChain('Slow', 1, 60_000));
    const first = await expectJson<RunBody>(await startRun(t, slow), 201);
    const second = await expectJson<RunBody>(await startRun(t, slow), 201);
    await expectLimit(await startRun(t, slow), 429, 'maxConcurrentRuns', 2);

    // Paused runs are unfinished too.
    await waitForRun(t, first.id, (run) => run.status === 'waiting' || run.status === 'running');
    await expectJson(await t.api(`/api/v1/runs/${first.id}/pause`, { method: 'POST' }), 200);
    await expectLimit(await startRun(t, slow), 429, 'maxConcurrentRuns', 2);

    const path = `limits/${tag()}`;
    const hooked = await createWorkflow(t, { name: 'Hook', nodes: [{ id: 'hook', type: 'webhook', data: { path } }], edges: [] });
    await expectJson(await t.api(`/api/v1/workflows/${hooked}/activate`, { method: 'POST' }), 200);
    await expectLimit(await fetch(`${t.url}/hooks/${path}`, { method: 'POST' }), 429, 'maxConcurrentRuns', 2);

    // A finished run frees its place; retrying a cancelled run needs one.
    await expectJson(await t.api(`/api/v1/runs/${first.id}/cancel`, { method: 'POST' }), 200);
    const third = await expectJson<RunBody>(await startRun(t, slow), 201);
    await expectLimit(await t.api(`/api/v1/runs/${first.id}/retry`, { method: 'POST' }), 429, 'maxConcurrentRuns', 2);
    expect((await waitForRun(t, first.id)).status).toBe('cancelled');

    // Raising the limit takes effect at once.
    await setLimits({ maxConcurrentRuns: 3 });
    expect((await expectJson<RunBody>(await t.api(`/api/v1/runs/${first.id}/retry`, { method: 'POST' }), 200)).status).not.toBe('cancelled');
    for (const run of [first, second, third]) await expectJson(await t.api(`/api/v1/runs/${run.id}/cancel`, { method: 'POST' }), 200);
    await setLimits({ maxConcurrentRuns: null });
    await idle();
  });
});
