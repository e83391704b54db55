/**
 * `/api/v1/keys`: API keys of the caller's workspace. A key belongs to the user who made it and acts
 * with the smaller of its scope and that user's role; owners see and revoke every key, others their
 * own. The secret is answered once, at creation; hashes are never answered.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiKeyRecord } from '@flowpilot/store';
import { allows, callerOf, createApiKey, LEVELS, scopeLevel, type Caller, type Level } from '../auth.js';
import type { ServerContext } from '../context.js';
import { iso } from '../present.js';
import { HttpProblem } from '../problems.js';
import { idParams } from '../schemas.js';
import { accessProblems, audit } from './access-common.js';

const tags = ['keys'];
const scopeSchema = z.enum(Object.keys(LEVELS) as [Level, ...Level[]]);

const keySchema = z.object({
  id: z.string(),
  name: z.string(),
  prefix: z.string().describe('The first characters of the key, to recognise it.'),
  scopes: z.array(z.string()),
  userId: z.string().optional(),
  createdAt: z.string(),
  lastUsedAt: z.string().optional(),
  revokedAt: z.string().optional(),
});

function presentKey(key: ApiKeyRecord): z.infer<typeof keySchema> {
  return {
    id: key.id,
    name: key.name,
    prefix: key.prefix,
    scopes: key.scopes,
    createdAt: iso(key.createdAt),
    ...(key.userId === undefined ? {} : { userId: key.userId }),
    ...(key.lastUsedAt === undefined ? {} : { lastUsedAt: iso(key.lastUsedAt) }),
    ...(key.revokedAt === undefined ? {} : { revokedAt: iso(key.revokedAt) }),
  };
}

/** Owners (and admin keys) manage every key; anyone else only their own (or, a userless key, itself). */
function mayManage(caller: Caller, key: ApiKeyRecord): boolean {
  if (allows(caller.level, 'admin')) return true;
  return caller.userId === undefined ? key.id === caller.keyId : key.userId === caller.userId;
}

export function keyRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const { store } = ctx;

  api.get('/keys', {
    schema: { tags, summary: 'API keys of the workspace (owners: all; others: their own)', response: { 200: z.object({ items: z.array(keySchema) }), ...accessProblems } },
    handler: async (request) => {
      const caller = callerOf(request);
      return { items: (await store.listApiKeys(caller.workspaceId)).filter((key) => mayManage(caller, key)).map(presentKey) };
    },
  });

  api.post('/keys', {
    // Anyone may make a key for themselves; the scope check below keeps it within their own level.
    config: { level: 'read' },
    schema: {
      tags,
      summary: 'Create an API key for yourself (shown once); its scope cannot exceed your role',
      body: z.object({ name: z.string().trim().min(1).max(200), scopes: z.array(scopeSchema).min(1).max(4) }),
      response: { 201: keySchema.extend({ key: z.string().describe('The secret: shown only now.') }), ...accessProblems },
    },
    handler: async (request, reply) => {
      const caller = callerOf(request);
      const wanted = scopeLevel(request.body.scopes)!;
      if (!allows(caller.level, wanted)) {
        throw new HttpProblem(403, 'FORBIDDEN', `a "${wanted}" key needs the "${wanted}" level; you have "${caller.level}"`, { requiredLevel: wanted, level: caller.level });
      }
      const { key, record } = await createApiKey(store, {
        name: request.body.name,
        workspaceId: caller.workspaceId,
        scopes: [...new Set(request.body.scopes)],
        now: ctx.now(),
        ...(caller.userId === undefined ? {} : { userId: caller.userId }),
      });
      await audit(request, ctx, caller, { action: 'key.create', resourceType: 'api_key', resourceId: record.id, details: { name: record.name, scopes: record.scopes } });
      return reply.code(201).send({ ...presentKey(record), key });
    },
  });

  api.delete('/keys/:id', {
    config: { level: 'read' },
    schema: { tags, summary: 'Revoke a key (your own, or any as owner)', params: idParams, response: { 204: z.undefined(), ...accessProblems } },
    handler: async (request, reply) => {
      const caller = callerOf(request);
      const key = await store.getApiKey(caller.workspaceId, request.params.id);
      // Someone else's key is as invisible as a missing one (ids cannot be probed).
      if (key === undefined || !mayManage(caller, key)) throw new HttpProblem(404, 'KEY_NOT_FOUND', `API key "${request.params.id}" not found`);
      // A key may not revoke a more powerful key of its user: a leaked read key must not be able to
      // lock its owner out. The person (logged in) may always revoke their own keys.
      const keyLevel = scopeLevel(key.scopes) ?? 'read';
      if (caller.actorType === 'api_key' && !allows(caller.level, keyLevel)) {
        throw new HttpProblem(403, 'FORBIDDEN', `revoking a "${keyLevel}" key needs the "${keyLevel}" level; this key has "${caller.level}"`, { requiredLevel: keyLevel, level: caller.level });
      }
      if (await store.revokeApiKey(caller.workspaceId, key.id, ctx.now())) {
        await audit(request, ctx, caller, { action: 'key.revoke', resourceType: 'api_key', resourceId: key.id, details: { name: key.name } });
      }
      return reply.code(204).send();
    },
  });
}
