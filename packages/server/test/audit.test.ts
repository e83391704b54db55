/**
 * The audit log over real HTTP: an entry per workflow and run action with the caller as actor
 * (a user, an API key, or FlowPilot itself for webhooks and schedules), filters, pagination,
 * owners only, append-only in the database, and a failed audit write that does not fail the action.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { hashApiKey } from '@flowpilot/server';
import { as, addMember, createKey, setupOwner, startAuthServer, type Tokens } from './auth-helpers.js';
import { rawSql } from './audit-db.js';
import { API_KEY, describeBackends, postgresUnavailable, type Backend, type TestServer } from './harness.js';
import { createWorkflow, delayChain, expectJson, expectProblem, startRun, tag, testRegistry, until, waitForRun, type Json, type RunBody } from './helpers.js';

interface Entry {
  id: number;
  at: string;
  actorType: string;
  actorId: string;
  action: string;
  resourceType: string;
  resourceId: string;
  details?: Json;
}

interface AuditPage {
  items: Entry[];
  nextCursor?: string;
}

const simple = (name: string): Json => ({ name, nodes: [{ id: 'start', type: 'manual' }, { id: 'done', type: 'set', data: { values: { ok: true } } }], edges: [{ source: 'start', target: 'done' }] });

describeBackends('audit log', await postgresUnavailable(), (backend: Backend) => {
  let t: TestServer;
  let owner: { userId: string; tokens: Tokens };
  let keyId: string;

  /** GET /audit as the bootstrap admin key. */
  const audit = async (query = ''): Promise<AuditPage> => expectJson<AuditPage>(await t.api(`/api/v1/audit${query}`), 200);

  beforeAll(async () => {
    ({ t } = await startAuthServer(backend, { registry: testRegistry() }));
    owner = await setupOwner(t);
    keyId = (await t.store.findApiKeyByHash(hashApiKey(API_KEY)))!.id;
  });
  afterAll(() => t?.close());

  test('workflow create, update, activate, deactivate, delete: one entry each, with the caller as actor', async () => {
    const id = `wf-${tag()}`;
    // Created by the owner (a user, through a JWT), changed by the bootstrap API key.
    await expectJson(await as(t, owner.tokens.accessToken, `/api/v1/workflows?id=${id}`, { method: 'POST', json: simple('Audited') }), 201);
    await expectJson(await t.api(`/api/v1/workflows/${id}`, { method: 'PUT', json: simple('Audited v2') }), 200);
    await expectJson(await t.api(`/api/v1/workflows/${id}/activate`, { method: 'POST' }), 200);
    await expectJson(await t.api(`/api/v1/workflows/${id}/deactivate`, { method: 'POST' }), 200);
    expect((await t.api(`/api/v1/workflows/${id}`, { method: 'DELETE' })).status).toBe(204);

    const page = await audit(`?resourceType=workflow&resourceId=${id}`);
    expect(page.items.map((entry) => entry.action)).toEqual(['workflow.delete', 'workflow.deactivate', 'workflow.activate', 'workflow.update', 'workflow.create']);
    const [deleted, deactivated, activated, updated, created] = page.items;
    expect(created).toMatchObject({ actorType: 'user', actorId: owner.userId, resourceType: 'workflow', resourceId: id, details: { version: 1 } });
    expect(updated).toMatchObject({ actorType: 'api_key', actorId: keyId, details: { version: 2 } });
    expect(activated).toMatchObject({ actorType: 'api_key', actorId: keyId, details: { version: 2 } });
    expect(deactivated).toMatchObject({ actorType: 'api_key', actorId: keyId });
    expect(deleted).toMatchObject({ actorType: 'api_key', actorId: keyId });
    expect(deleted!.details).toBeUndefined();
    // Newest first, ids increasing with time.
    expect(page.items.map((entry) => entry.id)).toEqual([...page.items.map((entry) => entry.id)].sort((a, b) => b - a));
    for (const entry of page.items) expect(Date.parse(entry.at)).not.toBeNaN();
  });

  test('run start, pause, resume, cancel, retry: entries carry ids and the version, never the input', async () => {
    const secret = `sk-live-${tag()}${tag()}`;
    const workflowId = await createWorkflow(t, delayChain('Slow', 1, 60_000));
    const run = await expectJson<RunBody>(await startRun(t, workflowId, { input: { apiKey: secret } }), 201);
    await waitForRun(t, run.id, (current) => current.status === 'waiting' || current.status === 'running');
    for (const action of ['pause', 'resume', 'cancel', 'retry', 'cancel']) {
      await expectJson(await t.api(`/api/v1/runs/${run.id}/${action}`, { method: 'POST' }), 200);
    }
    const response = await t.api(`/api/v1/audit?resourceType=run&resourceId=${run.id}`);
    const text = await response.clone().text();
    expect(text).not.toContain(secret);
    const page = await expectJson<AuditPage>(response, 200);
    expect(page.items.map((entry) => entry.action)).toEqual(['run.cancel', 'run.retry', 'run.cancel', 'run.resume', 'run.pause', 'run.start']);
    for (const entry of page.items) expect(entry).toMatchObject({ actorType: 'api_key', actorId: keyId, resourceType: 'run', resourceId: run.id, details: { workflowId } });
    expect(page.items.at(-1)!.details).toEqual({ workflowId, version: 1, trigger: 'api' });
  });

  test('a run a webhook starts is recorded as system "webhook:<path>"; one a schedule starts as "schedule:<workflowId>/<nodeId>"', async () => {
    const path = `audit/${tag()}`;
    const hooked = await createWorkflow(t, { name: 'Hooked', nodes: [{ id: 'hook', type: 'webhook', data: { path } }, { id: 'done', type: 'set', data: { values: { ok: true } } }], edges: [{ source: 'hook', target: 'done' }] });
    await expectJson(await t.api(`/api/v1/workflows/${hooked}/activate`, { method: 'POST' }), 200);
    const { runId } = await expectJson<{ runId: string }>(await fetch(`${t.url}/hooks/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: 'not-for-the-log' }) }), 202);
    const [hookEntry] = (await audit(`?action=run.start&resourceId=${runId}`)).items;
    expect(hookEntry).toMatchObject({ actorType: 'system', actorId: `webhook:${path}`, details: { workflowId: hooked, version: 1, trigger: 'webhook' } });
    expect(JSON.stringify(hookEntry)).not.toContain('not-for-the-log');

    const scheduled = await createWorkflow(t, { name: 'Ticking', nodes: [{ id: 'tick', type: 'schedule', data: { cron: '* * * * * *' } }, { id: 'work', type: 'set', data: { values: { ok: true } } }], edges: [{ source: 'tick', target: 'work' }] });
    await expectJson(await t.api(`/api/v1/workflows/${scheduled}/activate`, { method: 'POST' }), 200);
    const ticked = await until(async () => (await audit(`?actorId=${encodeURIComponent(`schedule:${scheduled}/tick`)}`)).items[0], 'a scheduled run in the audit log');
    await expectJson(await t.api(`/api/v1/workflows/${scheduled}/deactivate`, { method: 'POST' }), 200);
    expect(ticked).toMatchObject({ actorType: 'system', action: 'run.start', resourceType: 'run', details: { workflowId: scheduled, trigger: 'schedule' } });
    expect((await t.api(`/api/v1/runs/${ticked.resourceId}`)).status).toBe(200);
  });

  test('filters: action, actorId, resourceType, resourceId, since and until (ms or ISO-8601)', async () => {
    const first = await createWorkflow(t, simple('Filter A'));
    const second = await createWorkflow(t, simple('Filter B'));
    await expectJson(await as(t, owner.tokens.accessToken, `/api/v1/workflows/${second}`, { method: 'PUT', json: simple('Filter B2') }), 200);

    const creates = (await audit('?action=workflow.create&limit=200')).items;
    expect(creates.length).toBeGreaterThanOrEqual(2);
    expect(creates.every((entry) => entry.action === 'workflow.create')).toBe(true);
    expect(creates.map((entry) => entry.resourceId)).toEqual(expect.arrayContaining([first, second]));

    const byOwner = (await audit(`?actorId=${owner.userId}&limit=200`)).items;
    expect(byOwner.length).toBeGreaterThanOrEqual(2);
    expect(byOwner.every((entry) => entry.actorId === owner.userId && entry.actorType === 'user')).toBe(true);
    expect(byOwner.some((entry) => entry.action === 'workflow.update' && entry.resourceId === second)).toBe(true);

    expect((await audit(`?resourceId=${second}`)).items.map((entry) => entry.action)).toEqual(['workflow.update', 'workflow.create']);
    expect((await audit(`?resourceType=run&resourceId=${second}`)).items).toEqual([]);
    expect((await audit(`?action=workflow.update&resourceId=${first}`)).items).toEqual([]);

    // Time windows: since is inclusive, until exclusive; both take ms or ISO-8601. (Workflow
    // entries only: a scheduled run of the test before may still be recorded meanwhile.)
    const all = (await audit('?resourceType=workflow&limit=200')).items;
    const pivot = all[Math.floor(all.length / 2)]!;
    const at = Date.parse(pivot.at);
    const since = (await audit(`?resourceType=workflow&since=${at}&limit=200`)).items;
    expect(since.map((entry) => entry.id)).toContain(pivot.id);
    expect(since.every((entry) => Date.parse(entry.at) >= at)).toBe(true);
    expect((await audit(`?resourceType=workflow&since=${encodeURIComponent(pivot.at)}&limit=200`)).items).toEqual(since);
    const before = (await audit(`?resourceType=workflow&until=${encodeURIComponent(pivot.at)}&limit=200`)).items;
    expect(before.map((entry) => entry.id)).not.toContain(pivot.id);
    expect(before.every((entry) => Date.parse(entry.at) < at)).toBe(true);
    expect(before.length).toBeGreaterThan(0);
    expect(since.length + before.length).toBe(all.length);
    expect((await audit(`?since=${at}&until=${at}`)).items).toEqual([]);

    await expectProblem(await t.api('/api/v1/audit?since=yesterday'), 400, 'INVALID_REQUEST');
    await expectProblem(await t.api('/api/v1/audit?until=2026-13-45T00:00:00Z'), 400, 'INVALID_REQUEST');
  });

  test('pagination: pages of `limit` entries, newest first, with a cursor to the next; limit capped at 200', async () => {
    for (let index = 0; index < 5; index += 1) await createWorkflow(t, simple(`Page ${index}`));
    const everything = (await audit('?resourceType=workflow&limit=200')).items;
    expect(everything.length).toBeGreaterThanOrEqual(5);
    const walked: Entry[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await audit(`?resourceType=workflow&limit=2${cursor === undefined ? '' : `&cursor=${encodeURIComponent(cursor)}`}`);
      expect(page.items.length).toBeLessThanOrEqual(2);
      walked.push(...page.items);
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor !== undefined && pages < 500);
    expect(walked).toEqual(everything);
    expect(pages).toBe(Math.ceil(everything.length / 2));

    const filtered = await audit('?action=workflow.create&limit=1');
    const next = await audit(`?action=workflow.create&limit=1&cursor=${encodeURIComponent(filtered.nextCursor!)}`);
    expect(next.items[0]!.action).toBe('workflow.create');
    expect(next.items[0]!.id).toBeLessThan(filtered.items[0]!.id);

    await expectProblem(await t.api('/api/v1/audit?limit=201'), 400, 'INVALID_REQUEST');
    await expectProblem(await t.api('/api/v1/audit?limit=0'), 400, 'INVALID_REQUEST');
    await expectProblem(await t.api('/api/v1/audit?cursor=bm90LWEtY3Vyc29y'), 400, 'INVALID_CURSOR');
  });

  test('only owners and admin keys read the audit log: other roles and scopes get 403', async () => {
    for (const role of ['editor', 'runner', 'viewer']) {
      const member = await addMember(t, owner.tokens.accessToken, 'default', role);
      const body = await expectProblem(await as(t, member.tokens.accessToken, '/api/v1/audit'), 403, 'FORBIDDEN');
      expect(body).toMatchObject({ requiredLevel: 'admin' });
    }
    for (const scope of ['read', 'run', 'write']) {
      const key = await createKey(t, owner.tokens.accessToken, [scope]);
      await expectProblem(await as(t, key.key, '/api/v1/audit'), 403, 'FORBIDDEN');
    }
    const admin = await createKey(t, owner.tokens.accessToken, ['admin']);
    expect((await expectJson<AuditPage>(await as(t, admin.key, '/api/v1/audit'), 200)).items.length).toBeGreaterThan(0);
    expect((await expectJson<AuditPage>(await as(t, owner.tokens.accessToken, '/api/v1/audit?limit=1'), 200)).items).toHaveLength(1);
    await expectProblem(await fetch(`${t.url}/api/v1/audit`), 401, 'UNAUTHENTICATED');
  });

  test('the database refuses UPDATE and DELETE on the audit table', async () => {
    const [newest] = (await audit('?limit=1')).items;
    const update = { sqlite: `UPDATE audit_log SET actor_id = 'someone-else' WHERE id = ${newest!.id}`, postgres: `UPDATE audit_log SET actor_id = 'someone-else' WHERE id = ${newest!.id}` };
    await expect(rawSql(t, backend, update)).rejects.toThrow(/append-only/);
    await expect(rawSql(t, backend, { sqlite: 'DELETE FROM audit_log', postgres: 'DELETE FROM audit_log' })).rejects.toThrow(/append-only/);
    const [after] = (await audit(`?resourceId=${encodeURIComponent(newest!.resourceId)}&limit=1`)).items;
    expect(after).toEqual(newest);
  });

  describe('when the audit log cannot be written', () => {
    const failing = {
      sqlite: `CREATE TRIGGER audit_test_refuse BEFORE INSERT ON audit_log WHEN NEW.action = 'workflow.delete' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;`,
      postgres: `CREATE FUNCTION audit_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.action = 'workflow.delete' THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$;
                 CREATE TRIGGER audit_test_refuse BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_test_refuse();`,
    };
    afterAll(async () => {
      await rawSql(t, backend, { sqlite: 'DROP TRIGGER IF EXISTS audit_test_refuse', postgres: 'DROP TRIGGER IF EXISTS audit_test_refuse ON audit_log; DROP FUNCTION IF EXISTS audit_test_refuse();' });
    });

    test('the action still succeeds (the failure is logged), and nothing is recorded for it', async () => {
      const id = await createWorkflow(t, simple('Doomed'));
      await rawSql(t, backend, failing);
      expect((await t.api(`/api/v1/workflows/${id}`, { method: 'DELETE' })).status).toBe(204);
      await expectProblem(await t.api(`/api/v1/workflows/${id}`), 404, 'WORKFLOW_NOT_FOUND');
      expect((await audit(`?resourceId=${id}`)).items.map((entry) => entry.action)).toEqual(['workflow.create']);
    });
  });
});
