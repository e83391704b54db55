/**
 * API keys over real HTTP on SQLite and PostgreSQL: scopes against route levels, keys bounded by
 * their user's role, who sees and revokes which keys, last-used time, and no hashes in answers.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { hashApiKey } from '@flowpilot/server';
import { describeBackends, postgresUnavailable, type Backend, type TestServer } from './harness.js';
import { addMember, as, createKey, createSimpleWorkflow, createWorkspace, expectForbidden, setupOwner, startAuthServer } from './auth-helpers.js';
import { expectJson, expectProblem, until } from './helpers.js';

interface KeyBody {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  userId?: string;
  lastUsedAt?: string;
  revokedAt?: string;
}

describeBackends('API keys', await postgresUnavailable(), (backend: Backend) => {
  let t: TestServer;
  let ownerToken: string;
  let ownerId: string;

  beforeAll(async () => {
    ({ t } = await startAuthServer(backend));
    const owner = await setupOwner(t);
    ownerToken = owner.tokens.accessToken;
    ownerId = owner.userId;
  });
  afterAll(() => t?.close());

  test('scopes against levels: a read key cannot start a run (403), a run key can but cannot edit, a write key edits', async () => {
    const workspaceId = await createWorkspace(t, ownerToken);
    const workflowId = await createSimpleWorkflow(t, ownerToken, workspaceId);
    const read = await createKey(t, ownerToken, ['read'], workspaceId);
    const run = await createKey(t, ownerToken, ['run'], workspaceId);
    const write = await createKey(t, ownerToken, ['write'], workspaceId);

    await expectJson(await as(t, read.key, `/api/v1/workflows/${workflowId}`), 200);
    await expectForbidden(await as(t, read.key, `/api/v1/workflows/${workflowId}/runs`, { method: 'POST', json: {} }), 'run');
    // Validating changes nothing: a read key may.
    await expectJson(await as(t, read.key, '/api/v1/workflows/validate', { method: 'POST', json: { name: 'x', nodes: [], edges: [] } }), 200);

    const started = await expectJson<{ id: string }>(await as(t, run.key, `/api/v1/workflows/${workflowId}/runs`, { method: 'POST', json: {} }), 201);
    await expectForbidden(await as(t, read.key, `/api/v1/runs/${started.id}/cancel`, { method: 'POST' }), 'run');
    await expectForbidden(await as(t, run.key, `/api/v1/workflows/${workflowId}`, { method: 'DELETE' }), 'write');
    await expectForbidden(await as(t, run.key, '/api/v1/workflows', { method: 'POST', json: { name: 'y', nodes: [{ id: 'start', type: 'manual' }], edges: [] } }), 'write');
    await expectJson(await as(t, write.key, '/api/v1/workflows', { method: 'POST', json: { name: 'y', nodes: [{ id: 'start', type: 'manual' }], edges: [] } }), 201);
    await expectForbidden(await as(t, write.key, `/api/v1/workspaces/${workspaceId}/invitations`, { method: 'POST', json: { email: 'k@example.com', role: 'viewer' } }), 'admin');
  });

  test('a key acts in its own workspace only: naming another one is 404', async () => {
    const workspaceId = await createWorkspace(t, ownerToken);
    const { key } = await createKey(t, ownerToken, ['admin'], workspaceId);
    await expectJson(await as(t, key, '/api/v1/workflows', { workspace: workspaceId }), 200);
    await expectProblem(await as(t, key, '/api/v1/workflows', { workspace: 'default' }), 404, 'WORKSPACE_NOT_FOUND');
  });

  test('a user cannot mint a key above their role; a key is bounded by its user’s current role', async () => {
    const workspaceId = await createWorkspace(t, ownerToken);
    const workflowId = await createSimpleWorkflow(t, ownerToken, workspaceId);
    const viewer = await addMember(t, ownerToken, workspaceId, 'viewer');
    await expectForbidden(await as(t, viewer.tokens.accessToken, '/api/v1/keys', { method: 'POST', json: { name: 'too much', scopes: ['read', 'write'] }, workspace: workspaceId }), 'write');
    await createKey(t, viewer.tokens.accessToken, ['read'], workspaceId);

    const runner = await addMember(t, ownerToken, workspaceId, 'runner');
    const { key } = await createKey(t, runner.tokens.accessToken, ['run'], workspaceId);
    await expectJson(await as(t, key, `/api/v1/workflows/${workflowId}/runs`, { method: 'POST', json: {} }), 201);
    await expectJson(await as(t, ownerToken, `/api/v1/workspaces/${workspaceId}/members/${runner.userId}`, { method: 'PATCH', json: { role: 'viewer' } }), 200);
    await expectForbidden(await as(t, key, `/api/v1/workflows/${workflowId}/runs`, { method: 'POST', json: {} }), 'run');
    const me = await expectJson<{ workspaces: Array<{ level: string; role: string }>; user: { id: string } }>(await as(t, key, '/api/v1/me'), 200);
    expect(me).toMatchObject({ user: { id: runner.userId }, workspaces: [{ role: 'viewer', level: 'read' }] });
  });

  test('owners list every key, others their own; revoking someone else’s key is 404 unless owner; revoked keys are 401', async () => {
    const workspaceId = await createWorkspace(t, ownerToken);
    const editor = await addMember(t, ownerToken, workspaceId, 'editor');
    const mine = await createKey(t, editor.tokens.accessToken, ['write'], workspaceId);
    const ownerKey = await createKey(t, ownerToken, ['read'], workspaceId);
    const list = async (bearer: string): Promise<KeyBody[]> => (await expectJson<{ items: KeyBody[] }>(await as(t, bearer, '/api/v1/keys', { workspace: workspaceId }), 200)).items;

    const all = await list(ownerToken);
    expect(all.map((key) => key.id).sort()).toEqual([mine.id, ownerKey.id].sort());
    expect(all.find((key) => key.id === mine.id)).toMatchObject({ userId: editor.userId, scopes: ['write'], prefix: mine.key.slice(0, 10) });
    expect((await list(editor.tokens.accessToken)).map((key) => key.id)).toEqual([mine.id]);
    const text = JSON.stringify(all);
    expect(text).not.toContain(hashApiKey(mine.key));
    expect(text).not.toContain(mine.key);
    expect(text).not.toContain('"hash"');

    await expectProblem(await as(t, editor.tokens.accessToken, `/api/v1/keys/${ownerKey.id}`, { method: 'DELETE', workspace: workspaceId }), 404, 'KEY_NOT_FOUND');
    await expectJson(await as(t, ownerKey.key, '/api/v1/workflows'), 200);
    expect((await as(t, editor.tokens.accessToken, `/api/v1/keys/${mine.id}`, { method: 'DELETE', workspace: workspaceId })).status).toBe(204);
    await expectProblem(await as(t, mine.key, '/api/v1/workflows'), 401, 'UNAUTHENTICATED');

    const other = await createKey(t, editor.tokens.accessToken, ['read'], workspaceId);
    expect((await as(t, ownerToken, `/api/v1/keys/${other.id}`, { method: 'DELETE', workspace: workspaceId })).status).toBe(204);
    await expectProblem(await as(t, other.key, '/api/v1/workflows'), 401, 'UNAUTHENTICATED');
    expect((await list(ownerToken)).find((key) => key.id === other.id)?.revokedAt).toEqual(expect.any(String));

    // A leaked weaker key of the same user cannot revoke a stronger one; a key of equal level can.
    const strong = await createKey(t, editor.tokens.accessToken, ['write'], workspaceId);
    const weak = await createKey(t, editor.tokens.accessToken, ['read'], workspaceId);
    await expectForbidden(await as(t, weak.key, `/api/v1/keys/${strong.id}`, { method: 'DELETE' }), 'write');
    await expectJson(await as(t, strong.key, '/api/v1/workflows'), 200);
    expect((await as(t, strong.key, `/api/v1/keys/${weak.id}`, { method: 'DELETE' })).status).toBe(204);
    await expectProblem(await as(t, weak.key, '/api/v1/workflows'), 401, 'UNAUTHENTICATED');

    const actions = (await t.store.listAudit(workspaceId, { limit: 50 })).items.filter((entry) => entry.resourceType === 'api_key').map((entry) => `${entry.action} ${entry.actorId}`);
    expect(actions).toEqual(expect.arrayContaining([`key.create ${editor.userId}`, `key.revoke ${editor.userId}`, `key.revoke ${ownerId}`]));
  });

  test('a key records when it was last used', async () => {
    const { key, id } = await createKey(t, ownerToken, ['read']);
    const before = (await expectJson<{ items: KeyBody[] }>(await as(t, ownerToken, '/api/v1/keys'), 200)).items.find((item) => item.id === id);
    expect(before?.lastUsedAt).toBeUndefined();
    await expectJson(await as(t, key, '/api/v1/workflows'), 200);
    const used = await until(async () => {
      const item = (await expectJson<{ items: KeyBody[] }>(await as(t, ownerToken, '/api/v1/keys'), 200)).items.find((candidate) => candidate.id === id);
      return item?.lastUsedAt;
    }, 'lastUsedAt');
    expect(Date.parse(used)).toBeGreaterThan(0);
  });

  test('a key with a scope that is not one of read, run, write, admin is refused (400)', async () => {
    await expectProblem(await as(t, ownerToken, '/api/v1/keys', { method: 'POST', json: { name: 'bad', scopes: ['root'] } }), 400, 'INVALID_REQUEST');
    await expectProblem(await as(t, ownerToken, '/api/v1/keys', { method: 'POST', json: { name: 'none', scopes: [] } }), 400, 'INVALID_REQUEST');
  });
});
