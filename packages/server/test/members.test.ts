/**
 * Workspaces, members, invitations and roles over real HTTP on SQLite and PostgreSQL: who may do
 * what, the last owner, and users addressing workspaces they do not belong to (404).
 */
import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { describeBackends, postgresUnavailable, type Backend, type TestServer } from './harness.js';
import { addMember, as, createKey, expectForbidden, createSimpleWorkflow, createWorkspace, login, PASSWORD, setupOwner, startAuthServer, type Tokens } from './auth-helpers.js';
import { expectJson, expectProblem, tag } from './helpers.js';

interface Member {
  userId: string;
  email: string;
  role: string;
}

describeBackends('workspaces and members', await postgresUnavailable(), (backend: Backend) => {
  let t: TestServer;
  let owner: { email: string; userId: string; tokens: Tokens };
  let ownerToken: string;

  beforeAll(async () => {
    ({ t } = await startAuthServer(backend));
    owner = await setupOwner(t);
    ownerToken = owner.tokens.accessToken;
  });
  afterAll(() => t?.close());

  const members = async (token: string, workspaceId: string): Promise<Member[]> => (await expectJson<{ items: Member[] }>(await as(t, token, `/api/v1/workspaces/${workspaceId}/members`), 200)).items;

  describe('workspaces', () => {
    test('any user creates a workspace and owns it; it is listed with the role; API keys may not create one', async () => {
      const name = `Team ${tag()}`;
      const created = await expectJson<{ id: string; name: string; role: string }>(await as(t, ownerToken, '/api/v1/workspaces', { method: 'POST', json: { name } }), 201);
      expect(created).toMatchObject({ name, role: 'owner', id: expect.any(String) });
      const mine = await expectJson<{ items: Array<{ id: string; role: string }> }>(await as(t, ownerToken, '/api/v1/workspaces'), 200);
      expect(mine.items).toEqual(expect.arrayContaining([expect.objectContaining({ id: 'default', role: 'owner' }), expect.objectContaining({ id: created.id, role: 'owner' })]));
      expect(await expectJson(await as(t, ownerToken, `/api/v1/workspaces/${created.id}`), 200)).toMatchObject({ id: created.id, name, role: 'owner' });
      expect(await members(ownerToken, created.id)).toEqual([expect.objectContaining({ userId: owner.userId, email: owner.email, role: 'owner' })]);
      const audit = await t.store.listAudit(created.id, { action: 'workspace.create', limit: 10 });
      expect(audit.items).toEqual([expect.objectContaining({ actorId: owner.userId, resourceId: created.id })]);

      const { key } = await createKey(t, ownerToken, ['admin']);
      await expectProblem(await as(t, key, '/api/v1/workspaces', { method: 'POST', json: { name: 'by key' } }), 403, 'FORBIDDEN');
      expect((await expectJson<{ items: Array<{ id: string }> }>(await as(t, key, '/api/v1/workspaces'), 200)).items.map((w) => w.id)).toEqual(['default']);
    });

    test('a user without any workspace can still log in, see /me and create one', async () => {
      const workspaceId = await createWorkspace(t, ownerToken);
      const loner = await addMember(t, ownerToken, workspaceId, 'viewer');
      expect((await as(t, ownerToken, `/api/v1/workspaces/${workspaceId}/members/${loner.userId}`, { method: 'DELETE' })).status).toBe(204);
      const me = await expectJson<{ workspaces: unknown[] }>(await as(t, loner.tokens.accessToken, '/api/v1/me'), 200);
      expect(me.workspaces).toEqual([]);
      await expectProblem(await as(t, loner.tokens.accessToken, '/api/v1/workflows'), 404, 'WORKSPACE_NOT_FOUND');
      const own = await createWorkspace(t, loner.tokens.accessToken);
      await expectJson(await as(t, loner.tokens.accessToken, '/api/v1/workflows'), 200);
      expect((await expectJson<{ workspaces: Array<{ id: string }> }>(await as(t, loner.tokens.accessToken, '/api/v1/me'), 200)).workspaces.map((w) => w.id)).toEqual([own]);
    });
  });

  describe('invitations', () => {
    test('a new email gets a one-time token; accepting creates the user with the role; a second accept is 410', async () => {
      const workspaceId = await createWorkspace(t, ownerToken);
      const email = `New-${tag()}@Example.com`;
      const invited = await expectJson<{ status: string; token: string; acceptPath: string; invitation: { email: string; role: string } }>(
        await as(t, ownerToken, `/api/v1/workspaces/${workspaceId}/invitations`, { method: 'POST', json: { email, role: 'runner' } }),
        201,
      );
      expect(invited).toMatchObject({ status: 'invited', token: expect.stringMatching(/^fpi_/), invitation: { email: email.toLowerCase(), role: 'runner' } });
      expect(invited.acceptPath).toContain(invited.token);
      const listed = await expectJson<{ items: Array<Record<string, unknown>> }>(await as(t, ownerToken, `/api/v1/workspaces/${workspaceId}/invitations`), 200);
      expect(listed.items).toHaveLength(1);
      expect(JSON.stringify(listed)).not.toContain(invited.token);
      expect(JSON.stringify(listed)).not.toContain(createHash('sha256').update(invited.token).digest('hex'));

      const accept = (body: Record<string, unknown>): Promise<Response> => as(t, undefined, '/api/v1/invitations/accept', { method: 'POST', json: body });
      const noPassword = await expectProblem(await accept({ token: invited.token }), 400, 'INVALID_REQUEST');
      expect(noPassword.errors?.map((error) => error.path)).toEqual(['body.password']);
      const short = await expectProblem(await accept({ token: invited.token, password: 'short' }), 400, 'INVALID_REQUEST');
      expect(short.errors?.map((error) => error.path)).toEqual(['body.password']);
      const accepted = await expectJson<{ user: { email: string; name: string }; role: string; workspace: { id: string } }>(await accept({ token: invited.token, password: PASSWORD, name: 'Runner' }), 200);
      expect(accepted).toMatchObject({ role: 'runner', workspace: { id: workspaceId }, user: { email: email.toLowerCase(), name: 'Runner' } });
      await expectProblem(await accept({ token: invited.token, password: PASSWORD }), 410, 'INVITATION_USED');
      await expectProblem(await accept({ token: 'fpi_not-a-token', password: PASSWORD }), 400, 'INVALID_INVITATION');

      const runner = await login(t, email);
      const me = await expectJson<{ workspaces: Array<{ id: string; role: string }> }>(await as(t, runner.accessToken, '/api/v1/me'), 200);
      expect(me.workspaces).toEqual([expect.objectContaining({ id: workspaceId, role: 'runner', level: 'run' })]);
      const actions = (await t.store.listAudit(workspaceId, { limit: 50 })).items.map((entry) => entry.action);
      expect(actions).toEqual(expect.arrayContaining(['member.invite', 'invitation.accept']));
    });

    test('an expired invitation is 410 INVITATION_EXPIRED', async () => {
      const token = `fpi_${tag()}${tag()}`;
      const now = Date.now();
      await t.store.createInvitation({ workspaceId: 'default', id: randomUUID(), email: `late-${tag()}@example.com`, role: 'viewer', tokenHash: createHash('sha256').update(token).digest('hex'), invitedBy: owner.userId, createdAt: now - 10_000, expiresAt: now - 1 });
      await expectProblem(await as(t, undefined, '/api/v1/invitations/accept', { method: 'POST', json: { token, password: PASSWORD } }), 410, 'INVITATION_EXPIRED');
    });

    test('an existing user is added at once; inviting a member again is 409; only owners invite', async () => {
      const workspaceId = await createWorkspace(t, ownerToken);
      // The creator is a member already.
      await expectProblem(await as(t, ownerToken, `/api/v1/workspaces/${workspaceId}/invitations`, { method: 'POST', json: { email: owner.email, role: 'viewer' } }), 409, 'ALREADY_MEMBER');
      const other = await addMember(t, ownerToken, 'default', 'editor');
      const direct = await expectJson<{ status: string; member: Member }>(await as(t, ownerToken, `/api/v1/workspaces/${workspaceId}/invitations`, { method: 'POST', json: { email: other.email, role: 'viewer' } }), 201);
      expect(direct).toEqual({ status: 'added', member: expect.objectContaining({ userId: other.userId, role: 'viewer' }) });
      await expectProblem(await as(t, ownerToken, `/api/v1/workspaces/${workspaceId}/invitations`, { method: 'POST', json: { email: other.email, role: 'editor' } }), 409, 'ALREADY_MEMBER');
      // An editor of the default workspace may not invite there.
      await expectProblem(await as(t, other.tokens.accessToken, '/api/v1/workspaces/default/invitations', { method: 'POST', json: { email: `x-${tag()}@example.com`, role: 'viewer' } }), 403, 'FORBIDDEN');
    });
  });

  describe('roles', () => {
    test('what each role may do: viewer reads, runner runs, editor edits, owner manages members', async () => {
      const workspaceId = await createWorkspace(t, ownerToken);
      const workflowId = await createSimpleWorkflow(t, ownerToken, workspaceId);
      const users = {
        viewer: await addMember(t, ownerToken, workspaceId, 'viewer'),
        runner: await addMember(t, ownerToken, workspaceId, 'runner'),
        editor: await addMember(t, ownerToken, workspaceId, 'editor'),
      };
      for (const [role, user] of Object.entries(users)) {
        const token = user.tokens.accessToken;
        const canRun = role !== 'viewer';
        const canEdit = role === 'editor';
        await expectJson(await as(t, token, `/api/v1/workflows/${workflowId}`, { workspace: workspaceId }), 200);
        const run = await as(t, token, `/api/v1/workflows/${workflowId}/runs`, { method: 'POST', json: {}, workspace: workspaceId });
        if (canRun) await expectJson(run, 201);
        else await expectForbidden(run, 'run');
        const create = await as(t, token, '/api/v1/workflows', { method: 'POST', json: { name: 'x', nodes: [{ id: 'start', type: 'manual' }], edges: [] }, workspace: workspaceId });
        if (canEdit) await expectJson(create, 201);
        else await expectForbidden(create, 'write');
        const invite = await as(t, token, `/api/v1/workspaces/${workspaceId}/invitations`, { method: 'POST', json: { email: `x-${tag()}@example.com`, role: 'viewer' } });
        await expectForbidden(invite, 'admin');
        await expectProblem(await as(t, token, `/api/v1/workspaces/${workspaceId}/members/${owner.userId}`, { method: 'PATCH', json: { role: 'viewer' } }), 403, 'FORBIDDEN');
        // Everyone may read the member list.
        expect(await members(token, workspaceId)).toHaveLength(4);
      }
    });

    test('an owner changes a role and it takes effect at once; unknown members are 404', async () => {
      const workspaceId = await createWorkspace(t, ownerToken);
      const editor = await addMember(t, ownerToken, workspaceId, 'editor');
      await createSimpleWorkflow(t, editor.tokens.accessToken, workspaceId);
      const changed = await expectJson<Member>(await as(t, ownerToken, `/api/v1/workspaces/${workspaceId}/members/${editor.userId}`, { method: 'PATCH', json: { role: 'viewer' } }), 200);
      expect(changed).toMatchObject({ userId: editor.userId, role: 'viewer' });
      const create = await as(t, editor.tokens.accessToken, '/api/v1/workflows', { method: 'POST', json: { name: 'x', nodes: [{ id: 'start', type: 'manual' }], edges: [] }, workspace: workspaceId });
      await expectProblem(create, 403, 'FORBIDDEN');
      await expectProblem(await as(t, ownerToken, `/api/v1/workspaces/${workspaceId}/members/no-such-user`, { method: 'PATCH', json: { role: 'viewer' } }), 404, 'MEMBER_NOT_FOUND');
      await expectProblem(await as(t, ownerToken, `/api/v1/workspaces/${workspaceId}/members/${editor.userId}`, { method: 'PATCH', json: { role: 'superuser' } }), 400, 'INVALID_REQUEST');
      const audit = await t.store.listAudit(workspaceId, { action: 'member.update', limit: 10 });
      expect(audit.items).toEqual([expect.objectContaining({ actorId: owner.userId, resourceId: editor.userId, details: { role: 'viewer', previousRole: 'editor' } })]);
    });

    test('the last owner can be neither demoted nor removed (409); with a second owner both work', async () => {
      const workspaceId = await createWorkspace(t, ownerToken);
      const path = `/api/v1/workspaces/${workspaceId}/members/${owner.userId}`;
      await expectProblem(await as(t, ownerToken, path, { method: 'PATCH', json: { role: 'editor' } }), 409, 'LAST_OWNER');
      await expectProblem(await as(t, ownerToken, path, { method: 'DELETE' }), 409, 'LAST_OWNER');
      const second = await addMember(t, ownerToken, workspaceId, 'owner');
      await expectJson(await as(t, ownerToken, path, { method: 'PATCH', json: { role: 'editor' } }), 200);
      // Now the second owner is the last one.
      await expectProblem(await as(t, second.tokens.accessToken, `/api/v1/workspaces/${workspaceId}/members/${second.userId}`, { method: 'DELETE' }), 409, 'LAST_OWNER');
      expect((await as(t, second.tokens.accessToken, path, { method: 'DELETE' })).status).toBe(204);
      expect((await members(second.tokens.accessToken, workspaceId)).map((member) => [member.userId, member.role])).toEqual([[second.userId, 'owner']]);
      const removed = await t.store.listAudit(workspaceId, { action: 'member.remove', limit: 10 });
      expect(removed.items).toEqual([expect.objectContaining({ actorId: second.userId, resourceId: owner.userId })]);
    });

    test('a removed member loses the workspace: 404 for their requests, 401 for their keys', async () => {
      const workspaceId = await createWorkspace(t, ownerToken);
      const runner = await addMember(t, ownerToken, workspaceId, 'runner');
      const { key } = await createKey(t, runner.tokens.accessToken, ['run'], workspaceId);
      await expectJson(await as(t, key, '/api/v1/workflows'), 200);
      expect((await as(t, ownerToken, `/api/v1/workspaces/${workspaceId}/members/${runner.userId}`, { method: 'DELETE' })).status).toBe(204);
      await expectProblem(await as(t, runner.tokens.accessToken, '/api/v1/workflows', { workspace: workspaceId }), 404, 'WORKSPACE_NOT_FOUND');
      await expectProblem(await as(t, key, '/api/v1/workflows'), 401, 'UNAUTHENTICATED');
    });
  });

  describe('other workspaces answer 404', () => {
    test('a user of workspace A addressing workspace B: header, workspace routes and resources are all 404', async () => {
      const a = await createWorkspace(t, ownerToken);
      const alice = await addMember(t, ownerToken, a, 'owner');
      const b = await createWorkspace(t, ownerToken);
      const bWorkflow = await createSimpleWorkflow(t, ownerToken, b);
      const token = alice.tokens.accessToken;
      await expectProblem(await as(t, token, '/api/v1/workflows', { workspace: b }), 404, 'WORKSPACE_NOT_FOUND');
      await expectProblem(await as(t, token, `/api/v1/workflows/${bWorkflow}`, { workspace: b }), 404, 'WORKSPACE_NOT_FOUND');
      await expectProblem(await as(t, token, `/api/v1/workflows/${bWorkflow}`, { workspace: a }), 404, 'WORKFLOW_NOT_FOUND');
      await expectProblem(await as(t, token, `/api/v1/workflows/${bWorkflow}/runs`, { method: 'POST', json: {}, workspace: a }), 404, 'WORKFLOW_NOT_FOUND');
      await expectProblem(await as(t, token, `/api/v1/workspaces/${b}`), 404, 'WORKSPACE_NOT_FOUND');
      await expectProblem(await as(t, token, `/api/v1/workspaces/${b}/members`), 404, 'WORKSPACE_NOT_FOUND');
      // Alice is an owner (in A), yet B's owner-only routes answer 404, not 403.
      await expectProblem(await as(t, token, `/api/v1/workspaces/${b}/members/${owner.userId}`, { method: 'PATCH', json: { role: 'viewer' } }), 404, 'WORKSPACE_NOT_FOUND');
      await expectProblem(await as(t, token, `/api/v1/workspaces/${b}/invitations`, { method: 'POST', json: { email: `x-${tag()}@example.com`, role: 'owner' } }), 404, 'WORKSPACE_NOT_FOUND');
      await expectProblem(await as(t, token, '/api/v1/workspaces/no-such-workspace'), 404, 'WORKSPACE_NOT_FOUND');
      // The same through one of Alice's API keys of A.
      const { key } = await createKey(t, token, ['admin'], a);
      await expectProblem(await as(t, key, '/api/v1/workflows', { workspace: b }), 404, 'WORKSPACE_NOT_FOUND');
      await expectProblem(await as(t, key, `/api/v1/workspaces/${b}/members`), 404, 'WORKSPACE_NOT_FOUND');
      await expectJson(await as(t, key, `/api/v1/workspaces/${a}/members`), 200);
      // Nothing in B changed.
      expect((await members(ownerToken, b)).map((member) => member.userId)).toEqual([owner.userId]);
    });
  });
});
