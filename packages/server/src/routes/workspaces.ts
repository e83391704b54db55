/**
 * `/api/v1/workspaces`: the caller's workspaces, creating one, and its members. Routes under
 * `/workspaces/{id}` act in workspace `{id}` (the guard's `workspaceParam`): a workspace the caller
 * does not belong to answers 404, and the level is checked in that workspace.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { MembershipRecord, Role, UserRecord, WorkspaceRecord } from '@flowpilot/store';
import { callerOf, principalOf } from '../auth.js';
import type { ServerContext } from '../context.js';
import { iso } from '../present.js';
import { HttpProblem } from '../problems.js';
import { idParams } from '../schemas.js';
import { accessProblems, audit, roleSchema, userCaller } from './access-common.js';

const tags = ['workspaces'];

export const workspaceSchema = z.object({ id: z.string(), name: z.string(), createdAt: z.string(), role: roleSchema.optional() });
export const memberSchema = z.object({ userId: z.string(), email: z.string(), name: z.string(), role: roleSchema, createdAt: z.string() });

export function presentWorkspace(workspace: WorkspaceRecord, role?: Role): z.infer<typeof workspaceSchema> {
  return { id: workspace.id, name: workspace.name, createdAt: iso(workspace.createdAt), ...(role === undefined ? {} : { role }) };
}

export function presentMember(member: MembershipRecord, user: UserRecord): z.infer<typeof memberSchema> {
  return { userId: user.id, email: user.email, name: user.name, role: member.role, createdAt: iso(member.createdAt) };
}

const memberParams = idParams.extend({ userId: z.string().min(1).max(200) });

export function workspaceRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const { store } = ctx;

  api.get('/workspaces', {
    config: { noWorkspace: true },
    schema: { tags, summary: "The caller's workspaces with their role (an API key: its own)", response: { 200: z.object({ items: z.array(workspaceSchema) }), ...accessProblems } },
    handler: async (request) => {
      const principal = principalOf(request);
      if (principal.type === 'user') return { items: (await store.listUserWorkspaces(principal.user.id)).map(({ workspace, role }) => presentWorkspace(workspace, role)) };
      const workspace = await store.getWorkspace(principal.key.workspaceId);
      const role = principal.user === undefined ? undefined : (await store.getMembership(principal.key.workspaceId, principal.user.id))?.role;
      return { items: workspace === undefined ? [] : [presentWorkspace(workspace, role)] };
    },
  });

  api.post('/workspaces', {
    config: { noWorkspace: true },
    schema: { tags, summary: 'Create a workspace; its creator is its owner (users only)', body: z.object({ name: z.string().trim().min(1).max(200) }), response: { 201: workspaceSchema, ...accessProblems } },
    handler: async (request, reply) => {
      const principal = principalOf(request);
      // A key is bound to one workspace: letting it found others would escape that bound.
      if (principal.type !== 'user') throw new HttpProblem(403, 'FORBIDDEN', 'creating a workspace needs a user login; API keys act only in their own workspace');
      const now = ctx.now();
      const workspace: WorkspaceRecord = { id: randomUUID(), name: request.body.name, createdAt: now, limits: {} };
      await store.createWorkspace(workspace);
      await store.putMembership({ workspaceId: workspace.id, userId: principal.user.id, role: 'owner', createdAt: now });
      await audit(request, ctx, userCaller(principal.user.id, workspace.id, 'owner'), { action: 'workspace.create', resourceType: 'workspace', resourceId: workspace.id, details: { name: workspace.name } });
      return reply.code(201).send(presentWorkspace(workspace, 'owner'));
    },
  });

  api.get('/workspaces/:id', {
    config: { workspaceParam: 'id' },
    schema: { tags, summary: 'A workspace the caller belongs to', params: idParams, response: { 200: workspaceSchema, ...accessProblems } },
    handler: async (request) => {
      const caller = callerOf(request);
      const workspace = await store.getWorkspace(caller.workspaceId);
      if (workspace === undefined) throw new HttpProblem(404, 'WORKSPACE_NOT_FOUND', `workspace "${caller.workspaceId}" not found`);
      const role = caller.userId === undefined ? undefined : (await store.getMembership(workspace.id, caller.userId))?.role;
      return presentWorkspace(workspace, role);
    },
  });

  api.get('/workspaces/:id/members', {
    config: { workspaceParam: 'id' },
    schema: { tags, summary: 'Members of the workspace with their roles', params: idParams, response: { 200: z.object({ items: z.array(memberSchema) }), ...accessProblems } },
    handler: async (request) => ({ items: (await store.listMembers(callerOf(request).workspaceId)).map((member) => presentMember(member, member.user)) }),
  });

  /**
   * Changes or removes a membership, never leaving the workspace without an owner. The check before
   * the write covers one request; the check after it covers two owners demoting each other at once:
   * whoever finds no owner left puts the membership back and answers 409.
   */
  const change = async (workspaceId: string, userId: string, role: Role | undefined): Promise<{ before: MembershipRecord; user: UserRecord }> => {
    const before = await store.getMembership(workspaceId, userId);
    const user = before === undefined ? undefined : await store.getUser(userId);
    if (before === undefined || user === undefined) throw new HttpProblem(404, 'MEMBER_NOT_FOUND', `user "${userId}" is not a member of this workspace`);
    const losesOwner = before.role === 'owner' && role !== 'owner';
    const owners = async (): Promise<number> => (await store.listMembers(workspaceId)).filter((member) => member.role === 'owner').length;
    const lastOwner = new HttpProblem(409, 'LAST_OWNER', 'a workspace keeps at least one owner: make someone else owner first');
    if (losesOwner && (await owners()) <= 1) throw lastOwner;
    if (role === undefined) await store.deleteMembership(workspaceId, userId);
    else await store.putMembership({ ...before, role });
    if (losesOwner && (await owners()) === 0) {
      await store.putMembership(before);
      throw lastOwner;
    }
    return { before, user };
  };

  api.patch('/workspaces/:id/members/:userId', {
    config: { workspaceParam: 'id', level: 'admin' },
    schema: { tags, summary: "Change a member's role (owners)", params: memberParams, body: z.object({ role: roleSchema }), response: { 200: memberSchema, ...accessProblems } },
    handler: async (request) => {
      const caller = callerOf(request);
      const { role } = request.body;
      const { before, user } = await change(caller.workspaceId, request.params.userId, role);
      await audit(request, ctx, caller, { action: 'member.update', resourceType: 'member', resourceId: user.id, details: { role, previousRole: before.role } });
      return presentMember({ ...before, role }, user);
    },
  });

  api.delete('/workspaces/:id/members/:userId', {
    config: { workspaceParam: 'id', level: 'admin' },
    schema: { tags, summary: 'Remove a member (owners); their API keys of this workspace stop working', params: memberParams, response: { 204: z.undefined(), ...accessProblems } },
    handler: async (request, reply) => {
      const caller = callerOf(request);
      const { before, user } = await change(caller.workspaceId, request.params.userId, undefined);
      await audit(request, ctx, caller, { action: 'member.remove', resourceType: 'member', resourceId: user.id, details: { role: before.role } });
      return reply.code(204).send();
    },
  });
}
