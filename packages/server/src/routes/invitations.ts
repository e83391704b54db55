/**
 * Invitations: an owner offers a role in a workspace to an email address. An existing user is added
 * at once; anyone else gets a one-time token (only its SHA-256 is stored) that
 * `POST /api/v1/invitations/accept` redeems, creating the user.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { InvitationRecord, UserRecord } from '@flowpilot/store';
import { callerOf } from '../auth.js';
import { createUserAccount, emailSchema, passwordSchema, presentUser, userNameSchema } from '../auth/users.js';
import type { ServerContext } from '../context.js';
import { iso } from '../present.js';
import { HttpProblem } from '../problems.js';
import { idParams } from '../schemas.js';
import { accessProblems, audit, publicSecurity, roleSchema, userCaller, userSchema } from './access-common.js';
import { memberSchema, presentMember } from './workspaces.js';

const tags = ['workspaces'];
export const INVITATION_TTL_MS = 7 * 24 * 3_600_000;

const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');

const invitationSchema = z.object({ id: z.string(), email: z.string(), role: roleSchema, createdAt: z.string(), expiresAt: z.string(), acceptedAt: z.string().optional() });

function presentInvitation(invitation: InvitationRecord): z.infer<typeof invitationSchema> {
  return {
    id: invitation.id,
    email: invitation.email,
    role: invitation.role,
    createdAt: iso(invitation.createdAt),
    expiresAt: iso(invitation.expiresAt),
    ...(invitation.acceptedAt === undefined ? {} : { acceptedAt: iso(invitation.acceptedAt) }),
  };
}

export function invitationRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const { store } = ctx;

  api.post('/workspaces/:id/invitations', {
    config: { workspaceParam: 'id', level: 'admin' },
    schema: {
      tags,
      summary: 'Invite an email with a role (owners). An existing user is added at once; otherwise the one-time token is answered (only now)',
      params: idParams,
      body: z.object({ email: emailSchema, role: roleSchema }),
      response: {
        201: z.discriminatedUnion('status', [
          z.object({ status: z.literal('added'), member: memberSchema }),
          z.object({ status: z.literal('invited'), invitation: invitationSchema, token: z.string(), acceptPath: z.string().describe('Where the editor accepts it; the token is in the fragment, so it stays out of server logs.') }),
        ]),
        ...accessProblems,
      },
    },
    handler: async (request, reply) => {
      const caller = callerOf(request);
      const { email, role } = request.body;
      const now = ctx.now();
      const existing = await store.findUserByEmail(email);
      if (existing !== undefined) {
        if ((await store.getMembership(caller.workspaceId, existing.id)) !== undefined) throw new HttpProblem(409, 'ALREADY_MEMBER', `${email} is already a member: change their role instead`);
        const membership = { workspaceId: caller.workspaceId, userId: existing.id, role, createdAt: now };
        await store.putMembership(membership);
        await audit(request, ctx, caller, { action: 'member.invite', resourceType: 'member', resourceId: existing.id, details: { email, role, added: true } });
        return reply.code(201).send({ status: 'added' as const, member: presentMember(membership, existing) });
      }
      const token = `fpi_${randomBytes(32).toString('base64url')}`;
      const invitation: InvitationRecord = {
        workspaceId: caller.workspaceId,
        id: randomUUID(),
        email,
        role,
        tokenHash: hashToken(token),
        invitedBy: caller.actorId,
        createdAt: now,
        expiresAt: now + INVITATION_TTL_MS,
      };
      await store.createInvitation(invitation);
      await audit(request, ctx, caller, { action: 'member.invite', resourceType: 'invitation', resourceId: invitation.id, details: { email, role } });
      return reply.code(201).send({ status: 'invited' as const, invitation: presentInvitation(invitation), token, acceptPath: `/invite#token=${token}` });
    },
  });

  api.get('/workspaces/:id/invitations', {
    config: { workspaceParam: 'id', level: 'admin' },
    schema: { tags, summary: 'Invitations of the workspace (owners; never their tokens)', params: idParams, response: { 200: z.object({ items: z.array(invitationSchema) }), ...accessProblems } },
    handler: async (request) => ({ items: (await store.listInvitations(callerOf(request).workspaceId)).map(presentInvitation) }),
  });

  api.post('/invitations/accept', {
    config: { public: true },
    schema: {
      tags,
      security: publicSecurity,
      summary: 'Accept an invitation with its token; a new user also gives a password (and a name)',
      body: z.object({ token: z.string().min(1).max(200), name: userNameSchema.optional(), password: passwordSchema.optional() }),
      response: { 200: z.object({ workspace: z.object({ id: z.string(), name: z.string() }), user: userSchema, role: roleSchema }), ...accessProblems },
    },
    handler: async (request) => {
      const { token, name, password } = request.body;
      const invitation = await store.findInvitationByTokenHash(hashToken(token));
      if (invitation === undefined) throw new HttpProblem(400, 'INVALID_INVITATION', 'the invitation token is not valid');
      if (invitation.acceptedAt !== undefined) throw new HttpProblem(410, 'INVITATION_USED', 'this invitation was already accepted');
      const now = ctx.now();
      if (invitation.expiresAt <= now) throw new HttpProblem(410, 'INVITATION_EXPIRED', 'this invitation has expired: ask for a new one');
      let user: UserRecord | undefined = await store.findUserByEmail(invitation.email);
      if (user === undefined && password === undefined) {
        throw new HttpProblem(400, 'INVALID_REQUEST', 'body.password: a password is needed to create your user', { errors: [{ code: 'INVALID_REQUEST', message: 'body.password: a password is needed to create your user', path: 'body.password' }] });
      }
      // Marking it accepted is the compare-and-set: of two requests with one token, one wins.
      if (!(await store.acceptInvitation(invitation.id, now))) throw new HttpProblem(410, 'INVITATION_USED', 'this invitation was already accepted');
      user ??= await createUserAccount(store, { email: invitation.email, password: password!, name, now }).catch(async (error: unknown) => {
        // The same person accepted another invitation at this moment: use the user that created.
        const raced = await store.findUserByEmail(invitation.email);
        if (raced === undefined) throw error;
        return raced;
      });
      // Someone who joined meanwhile keeps the role they have: an old invitation must not demote an owner.
      const current = await store.getMembership(invitation.workspaceId, user.id);
      const role = current?.role ?? invitation.role;
      if (current === undefined) await store.putMembership({ workspaceId: invitation.workspaceId, userId: user.id, role, createdAt: now });
      await audit(request, ctx, userCaller(user.id, invitation.workspaceId, role), { action: 'invitation.accept', resourceType: 'invitation', resourceId: invitation.id, details: { email: invitation.email, role } });
      const workspace = await store.getWorkspace(invitation.workspaceId);
      return { workspace: { id: invitation.workspaceId, name: workspace?.name ?? invitation.workspaceId }, user: presentUser(user), role };
    },
  });
}
