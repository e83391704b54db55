/**
 * First-start setup, login, refresh, logout (`/api/v1/setup`, `/api/v1/auth/*`) and `/api/v1/me`.
 * Without a secret key the token routes answer 503 `SECRET_KEY_REQUIRED`; API keys still work.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DEFAULT_WORKSPACE_ID } from '@flowpilot/store';
import { principalOf, ROLE_LEVELS, scopeLevel, minLevel, type Level } from '../auth.js';
import { verifyDecoy, verifyPassword } from '../auth/passwords.js';
import type { Sessions } from '../auth/sessions.js';
import { createUserAccount, emailSchema, passwordSchema, presentUser, userNameSchema } from '../auth/users.js';
import type { ServerContext } from '../context.js';
import { HttpProblem } from '../problems.js';
import { accessProblems, audit, publicSecurity, roleSchema, tokenPairSchema, userCaller, userSchema } from './access-common.js';

const tags = ['auth'];
// Generous: an access token sent here by mistake gets the same 401 as any other wrong token.
const refreshBody = z.object({ refreshToken: z.string().min(1).max(4096) });

export function authRoutes(app: FastifyInstance, ctx: ServerContext, sessions: Sessions | undefined): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const { store } = ctx;

  const requireSessions = (): Sessions => {
    if (sessions === undefined) throw new HttpProblem(503, 'SECRET_KEY_REQUIRED', 'logins need FLOWPILOT_SECRET_KEY on this server (API keys still work)');
    return sessions;
  };

  // Two setups at once in this process must not both see "no users yet" (across processes the
  // window is one request wide, on an install nobody else knows about yet).
  let setupQueue: Promise<unknown> = Promise.resolve();

  api.get('/setup', {
    config: { public: true },
    schema: { tags, security: publicSecurity, summary: 'Whether the first user still has to be created', response: { 200: z.object({ needed: z.boolean() }) } },
    handler: async () => ({ needed: (await store.countUsers()) === 0 }),
  });

  api.post('/setup', {
    config: { public: true },
    schema: {
      tags,
      security: publicSecurity,
      summary: 'Create the first user, owner of the default workspace (only while there are no users)',
      body: z.object({ email: emailSchema, password: passwordSchema, name: userNameSchema.optional() }),
      response: { 201: tokenPairSchema.extend({ user: userSchema }), ...accessProblems },
    },
    handler: async (request, reply) => {
      const live = requireSessions();
      const run = setupQueue.then(async () => {
        if ((await store.countUsers()) > 0) throw new HttpProblem(409, 'SETUP_DONE', 'setup is done: log in, or ask an owner for an invitation');
        return createUserAccount(store, { ...request.body, now: ctx.now() }, { workspaceId: DEFAULT_WORKSPACE_ID, role: 'owner' });
      });
      setupQueue = run.catch(() => undefined);
      const user = await run;
      await audit(request, ctx, userCaller(user.id, DEFAULT_WORKSPACE_ID, 'owner'), { action: 'auth.setup', resourceType: 'user', resourceId: user.id, details: { email: user.email } });
      return reply.code(201).send({ ...(await live.start(user.id)), user: presentUser(user) });
    },
  });

  api.post('/auth/login', {
    config: { public: true },
    schema: {
      tags,
      security: publicSecurity,
      summary: 'Log in: a short-lived access token and a one-time refresh token',
      // No length rules here: a wrong password of any length is just wrong (same 401).
      body: z.object({ email: z.string().max(254), password: z.string().max(1024) }),
      response: { 200: tokenPairSchema, ...accessProblems },
    },
    handler: async (request) => {
      const live = requireSessions();
      const user = await store.findUserByEmail(request.body.email.trim().toLowerCase());
      // Unknown email, wrong password, disabled user: one answer, after the same amount of work.
      const valid = user === undefined ? await verifyDecoy(request.body.password) : await verifyPassword(request.body.password, user.passwordHash);
      if (user === undefined || !valid || user.disabledAt !== undefined) {
        request.log.warn({ email: request.body.email.slice(0, 254) }, 'failed login');
        throw new HttpProblem(401, 'INVALID_CREDENTIALS', 'wrong email or password');
      }
      const tokens = await live.start(user.id);
      // Each workspace's owners see their members' logins.
      for (const { workspace, role } of await store.listUserWorkspaces(user.id)) {
        await audit(request, ctx, userCaller(user.id, workspace.id, role), { action: 'auth.login', resourceType: 'user', resourceId: user.id });
      }
      return tokens;
    },
  });

  api.post('/auth/refresh', {
    config: { public: true },
    schema: { tags, security: publicSecurity, summary: 'Exchange a refresh token for a new pair (the old one stops working)', body: refreshBody, response: { 200: tokenPairSchema, ...accessProblems } },
    handler: async (request) => {
      const outcome = await requireSessions().refresh(request.body.refreshToken);
      if (outcome.ok) return outcome.tokens;
      throw new HttpProblem(401, 'INVALID_REFRESH_TOKEN', outcome.reason === 'reused' ? 'this refresh token was already used: the session is revoked, log in again' : 'the refresh token is not valid, expired or revoked');
    },
  });

  api.post('/auth/logout', {
    config: { public: true },
    schema: { tags, security: publicSecurity, summary: 'Revoke the session of a refresh token', body: refreshBody, response: { 204: z.undefined(), ...accessProblems } },
    handler: async (request, reply) => {
      // No secret key is needed to end a session; an unknown token is answered the same (no oracle).
      if (sessions !== undefined) await sessions.end(request.body.refreshToken);
      return reply.code(204).send();
    },
  });

  api.get('/me', {
    config: { noWorkspace: true },
    schema: {
      tags,
      summary: 'Who is calling: the user (none for a bootstrap key), their workspaces with roles, and the API key if one is used',
      response: {
        200: z.object({
          user: userSchema.nullable(),
          workspaces: z.array(z.object({ id: z.string(), name: z.string(), role: roleSchema.optional(), level: z.enum(['read', 'run', 'write', 'admin']) })),
          apiKey: z.object({ id: z.string(), name: z.string(), prefix: z.string(), scopes: z.array(z.string()), workspaceId: z.string() }).optional(),
        }),
        ...accessProblems,
      },
    },
    handler: async (request) => {
      const principal = principalOf(request);
      if (principal.type === 'user') {
        const memberships = await store.listUserWorkspaces(principal.user.id);
        return { user: presentUser(principal.user), workspaces: memberships.map(({ workspace, role }) => ({ id: workspace.id, name: workspace.name, role, level: ROLE_LEVELS[role] })) };
      }
      const { key, user } = principal;
      const workspace = await store.getWorkspace(key.workspaceId);
      const role = user === undefined ? undefined : (await store.getMembership(key.workspaceId, user.id))?.role;
      let level: Level = scopeLevel(key.scopes) ?? 'read';
      if (role !== undefined) level = minLevel(level, ROLE_LEVELS[role]);
      return {
        user: user === undefined ? null : presentUser(user),
        workspaces: [{ id: key.workspaceId, name: workspace?.name ?? key.workspaceId, level, ...(role === undefined ? {} : { role }) }],
        apiKey: { id: key.id, name: key.name, prefix: key.prefix, scopes: key.scopes, workspaceId: key.workspaceId },
      };
    },
  });
}
