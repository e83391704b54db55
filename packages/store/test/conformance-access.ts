/**
 * Conformance: the access part of the store (identity-types.ts) — users, workspaces, members,
 * invitations and refresh tokens here; credentials, API key administration and the audit log in
 * their own modules, registered from here.
 */
import { describe, expect, it } from 'vitest';
import { registerAuditTests } from './conformance-audit.js';
import { registerCredentialTests } from './conformance-credentials.js';
import { accessOf, freshId, isUniqueViolation, type Suite, user, WS } from './conformance-helpers.js';

export function registerAccessTests(suite: Suite): void {
  const store = () => accessOf(suite.store());
  /** A new workspace of its own for a test. */
  const workspace = async (name = 'W', createdAt = 5): Promise<string> => {
    const id = freshId('ws');
    await store().createWorkspace({ id, name, createdAt, limits: {} });
    return id;
  };

  describe('access: users', () => {
    it('creates, finds by id and by email, counts', async () => {
      expect(await store().countUsers()).toBe(0);
      const ada = user('ada', { passwordHash: 'scrypt$abc', createdAt: 10 });
      await store().createUser(ada);
      await store().createUser(user('bob'));
      expect(await store().countUsers()).toBe(2);
      expect(await store().getUser('ada')).toEqual(ada);
      expect(await store().findUserByEmail('ada@example.com')).toEqual(ada);
      expect(await store().getUser('bob')).toEqual({ id: 'bob', email: 'bob@example.com', name: 'User bob', createdAt: 1 });
      expect(await store().getUser('nobody')).toBeUndefined();
      expect(await store().findUserByEmail('ADA@example.com')).toBeUndefined();
    });

    it('refuses a second user with the same email as a unique violation (409)', async () => {
      await store().createUser(user('ada'));
      const error = await store().createUser(user('ada2', { email: 'ada@example.com' })).catch((failure: unknown) => failure);
      expect(isUniqueViolation(error), String(error)).toBe(true);
      expect(await store().countUsers()).toBe(1);
    });

    it('updates only the fields in the patch; a present undefined clears (re-enabling a user)', async () => {
      await store().createUser(user('ada', { passwordHash: 'old' }));
      expect(await store().updateUser('ada', { name: 'Ada L.' })).toBe(true);
      expect(await store().getUser('ada')).toMatchObject({ name: 'Ada L.', passwordHash: 'old' });
      expect(await store().updateUser('ada', { passwordHash: 'new', disabledAt: 50 })).toBe(true);
      expect(await store().getUser('ada')).toEqual({ ...user('ada'), name: 'Ada L.', passwordHash: 'new', disabledAt: 50 });
      expect(await store().updateUser('ada', { disabledAt: undefined })).toBe(true);
      const enabled = await store().getUser('ada');
      expect(enabled).toMatchObject({ name: 'Ada L.', passwordHash: 'new' });
      expect(enabled?.disabledAt).toBeUndefined();
      expect(await store().updateUser('nobody', { name: 'X' })).toBe(false);
    });
  });

  describe('access: workspaces and members', () => {
    it('has the default workspace; creates and reads workspaces with their limits', async () => {
      expect(await store().getWorkspace(WS)).toEqual({ id: WS, name: 'Default', createdAt: 0, limits: {} });
      const id = freshId('ws');
      await store().createWorkspace({ id, name: 'Team', createdAt: 7, limits: { maxConcurrentRuns: 3 } });
      expect(await store().getWorkspace(id)).toEqual({ id, name: 'Team', createdAt: 7, limits: { maxConcurrentRuns: 3 } });
      expect(await store().setWorkspaceLimits(id, { maxPayloadBytes: 1024, apiRequestsPerMinute: 60 })).toBe(true);
      expect((await store().getWorkspace(id))?.limits).toEqual({ maxPayloadBytes: 1024, apiRequestsPerMinute: 60 });
      expect(await store().setWorkspaceLimits('missing', {})).toBe(false);
      expect(await store().getWorkspace('missing')).toBeUndefined();
      const error = await store().createWorkspace({ id, name: 'Again', createdAt: 8, limits: {} }).catch((failure: unknown) => failure);
      expect(isUniqueViolation(error), String(error)).toBe(true);
    });

    it('adds members, changes a role (keeping the membership age), lists members with their user', async () => {
      const ws = await workspace();
      await store().createUser(user('ada'));
      await store().createUser(user('bob'));
      await store().putMembership({ workspaceId: ws, userId: 'bob', role: 'viewer', createdAt: 20 });
      await store().putMembership({ workspaceId: ws, userId: 'ada', role: 'owner', createdAt: 10 });
      await store().putMembership({ workspaceId: ws, userId: 'bob', role: 'editor', createdAt: 99 });
      expect(await store().getMembership(ws, 'bob')).toEqual({ workspaceId: ws, userId: 'bob', role: 'editor', createdAt: 20 });
      expect(await store().getMembership(ws, 'nobody')).toBeUndefined();
      expect(await store().getMembership(WS, 'bob')).toBeUndefined();
      expect(await store().listMembers(ws)).toEqual([
        { workspaceId: ws, userId: 'ada', role: 'owner', createdAt: 10, user: user('ada') },
        { workspaceId: ws, userId: 'bob', role: 'editor', createdAt: 20, user: user('bob') },
      ]);
      expect(await store().listMembers(await workspace())).toEqual([]);
    });

    it("lists a user's workspaces with the role, oldest membership first", async () => {
      const first = await workspace('First', 1);
      const second = await workspace('Second', 2);
      await store().createUser(user('ada'));
      await store().putMembership({ workspaceId: second, userId: 'ada', role: 'runner', createdAt: 30 });
      await store().putMembership({ workspaceId: first, userId: 'ada', role: 'owner', createdAt: 40 });
      await store().putMembership({ workspaceId: WS, userId: 'ada', role: 'viewer', createdAt: 35 });
      expect(await store().listUserWorkspaces('ada')).toEqual([
        { workspace: { id: second, name: 'Second', createdAt: 2, limits: {} }, role: 'runner' },
        { workspace: { id: WS, name: 'Default', createdAt: 0, limits: {} }, role: 'viewer' },
        { workspace: { id: first, name: 'First', createdAt: 1, limits: {} }, role: 'owner' },
      ]);
      expect(await store().listUserWorkspaces('nobody')).toEqual([]);
    });

    it('removes a membership once; a role outside the four is refused by the schema', async () => {
      const ws = await workspace();
      await store().createUser(user('ada'));
      await store().putMembership({ workspaceId: ws, userId: 'ada', role: 'editor', createdAt: 1 });
      expect(await store().deleteMembership(ws, 'ada')).toBe(true);
      expect(await store().deleteMembership(ws, 'ada')).toBe(false);
      expect(await store().getMembership(ws, 'ada')).toBeUndefined();
      await expect(store().putMembership({ workspaceId: ws, userId: 'ada', role: 'admin' as never, createdAt: 1 })).rejects.toThrow();
      // A membership names a real user and workspace.
      await expect(store().putMembership({ workspaceId: ws, userId: 'nobody', role: 'viewer', createdAt: 1 })).rejects.toThrow();
      await expect(store().putMembership({ workspaceId: 'missing', userId: 'ada', role: 'viewer', createdAt: 1 })).rejects.toThrow();
    });
  });

  describe('access: invitations', () => {
    const invitation = (ws: string, id: string, tokenHash: string, createdAt = 1) => ({
      workspaceId: ws,
      id,
      email: `${id}@example.com`,
      role: 'runner' as const,
      tokenHash,
      invitedBy: 'ada',
      createdAt,
      expiresAt: createdAt + 1000,
    });

    it('creates, finds by token hash, lists per workspace in creation order', async () => {
      const ws = await workspace();
      const other = await workspace();
      await store().createInvitation(invitation(ws, 'inv-2', 'hash-2', 20));
      await store().createInvitation(invitation(ws, 'inv-1', 'hash-1', 10));
      await store().createInvitation(invitation(other, 'inv-3', 'hash-3', 5));
      expect(await store().findInvitationByTokenHash('hash-1')).toEqual(invitation(ws, 'inv-1', 'hash-1', 10));
      expect(await store().findInvitationByTokenHash('nope')).toBeUndefined();
      expect((await store().listInvitations(ws)).map((entry) => entry.id)).toEqual(['inv-1', 'inv-2']);
      expect((await store().listInvitations(other)).map((entry) => entry.id)).toEqual(['inv-3']);
      const error = await store().createInvitation(invitation(ws, 'inv-4', 'hash-1')).catch((failure: unknown) => failure);
      expect(isUniqueViolation(error), String(error)).toBe(true);
    });

    it('is accepted once: the second accept answers false and keeps the first time', async () => {
      const ws = await workspace();
      await store().createInvitation(invitation(ws, 'inv', 'hash'));
      const accepts = await Promise.all([store().acceptInvitation('inv', 50), store().acceptInvitation('inv', 60)]);
      expect(accepts.filter(Boolean)).toHaveLength(1);
      const acceptedAt = accepts[0] ? 50 : 60;
      expect(await store().acceptInvitation('inv', 70)).toBe(false);
      expect(await store().findInvitationByTokenHash('hash')).toEqual({ ...invitation(ws, 'inv', 'hash'), acceptedAt });
      expect(await store().acceptInvitation('missing', 1)).toBe(false);
    });
  });

  describe('access: refresh tokens', () => {
    const token = (id: string, familyId: string, userId = 'ada') => ({ id, userId, familyId, tokenHash: `hash-${id}`, createdAt: 1, expiresAt: 1000 });

    it('creates and finds by hash; revoking twice answers false the second time (a reuse)', async () => {
      await store().createUser(user('ada'));
      await store().createRefreshToken(token('t1', 'f1'));
      expect(await store().findRefreshTokenByHash('hash-t1')).toEqual(token('t1', 'f1'));
      expect(await store().findRefreshTokenByHash('nope')).toBeUndefined();
      expect(await store().revokeRefreshToken('t1', 10, 't2')).toBe(true);
      expect(await store().revokeRefreshToken('t1', 20)).toBe(false);
      expect(await store().findRefreshTokenByHash('hash-t1')).toEqual({ ...token('t1', 'f1'), revokedAt: 10, replacedBy: 't2' });
      expect(await store().revokeRefreshToken('missing', 10)).toBe(false);
      const error = await store().createRefreshToken({ ...token('t3', 'f1'), tokenHash: 'hash-t1' }).catch((failure: unknown) => failure);
      expect(isUniqueViolation(error), String(error)).toBe(true);
    });

    it('revokes a whole family, leaving other families and earlier revocations as they were', async () => {
      await store().createUser(user('ada'));
      await store().createUser(user('bob'));
      for (const id of ['a1', 'a2', 'a3']) await store().createRefreshToken(token(id, 'fa'));
      await store().createRefreshToken(token('b1', 'fb', 'bob'));
      await store().revokeRefreshToken('a1', 5, 'a2');
      await store().revokeRefreshFamily('fa', 30);
      expect((await store().findRefreshTokenByHash('hash-a1'))?.revokedAt).toBe(5);
      expect((await store().findRefreshTokenByHash('hash-a2'))?.revokedAt).toBe(30);
      expect((await store().findRefreshTokenByHash('hash-a3'))?.revokedAt).toBe(30);
      expect((await store().findRefreshTokenByHash('hash-b1'))?.revokedAt).toBeUndefined();
      expect(await store().revokeRefreshToken('a3', 40)).toBe(false);
    });
  });

  registerCredentialTests(suite);
  registerAuditTests(suite);
}
