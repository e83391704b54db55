/**
 * The `onRequest` hook guarding `/api`: authenticates the bearer (an access token or an API key),
 * chooses the workspace the request acts in, and checks the route's level (docs/security.md).
 *
 * Order matters for what an outsider can learn: 401 (who are you?) before 404 (a workspace you do not
 * belong to, indistinguishable from one that does not exist) before 403 (a level you lack). The level
 * is checked before any resource is looked up, so a 403 never says whether an id exists.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiKeyRecord, Role } from '@flowpilot/store';
import { allows, hashApiKey, minLevel, ROLE_LEVELS, scopeLevel, type Caller, type Level, type Principal } from '../auth.js';
import type { ServerContext } from '../context.js';
import { problem, sendProblem, type Problem } from '../problems.js';
import { looksLikeJwt, type AccessTokens } from './tokens.js';

/** Selects the workspace of a user's request (keys always act in their own). */
export const WORKSPACE_HEADER = 'x-flowpilot-workspace';

/** A refusal: the problem to answer and, for 401, the `WWW-Authenticate` challenge. */
class Refusal {
  constructor(
    readonly body: Problem,
    readonly challenge?: string,
  ) {}
}

const unauthenticated = (detail: string, error?: string): Refusal =>
  new Refusal(problem(401, 'UNAUTHENTICATED', detail), error === undefined ? 'Bearer' : `Bearer error="${error}"`);
const noWorkspace = (id: string): Refusal => new Refusal(problem(404, 'WORKSPACE_NOT_FOUND', `workspace "${id}" not found`));

export function authGuard(ctx: ServerContext, accessTokens: AccessTokens | undefined) {
  const { store } = ctx;
  const touched = new Map<string, number>();

  /** Last-used time, written at most once a minute per key (not on every request). */
  const touch = (key: ApiKeyRecord): void => {
    const now = ctx.now();
    if ((touched.get(key.id) ?? 0) > now - 60_000) return;
    touched.set(key.id, now);
    void store.touchApiKey(key.id, now).catch(() => undefined);
  };

  async function authenticate(token: string): Promise<Principal> {
    if (looksLikeJwt(token)) {
      if (accessTokens === undefined) throw unauthenticated('access tokens need FLOWPILOT_SECRET_KEY on this server; use an API key', 'invalid_token');
      const userId = await accessTokens.verify(token);
      const user = userId === undefined ? undefined : await store.getUser(userId);
      if (user === undefined || user.disabledAt !== undefined) throw unauthenticated('the access token is not valid or has expired', 'invalid_token');
      return { type: 'user', user };
    }
    const key = await store.findApiKeyByHash(hashApiKey(token));
    if (key === undefined || key.revokedAt !== undefined) throw unauthenticated('the API key is not valid', 'invalid_token');
    if (key.userId === undefined) return { type: 'api_key', key };
    const user = await store.getUser(key.userId);
    if (user === undefined || user.disabledAt !== undefined) throw unauthenticated("the API key's user is disabled", 'invalid_token');
    return { type: 'api_key', key, user };
  }

  /** The caller in the requested workspace (`wanted`), or the default one. */
  async function resolve(principal: Principal, wanted: string | undefined): Promise<Caller> {
    if (principal.type === 'api_key') {
      const { key, user } = principal;
      if (wanted !== undefined && wanted !== key.workspaceId) throw noWorkspace(wanted);
      let level = scopeLevel(key.scopes);
      if (level === undefined) throw unauthenticated('the API key has no valid scope', 'invalid_token');
      if (user !== undefined) {
        // A key never does more than its user may do now: demoting or removing the user narrows it.
        const membership = await store.getMembership(key.workspaceId, user.id);
        if (membership === undefined) throw unauthenticated("the API key's user is no longer a member of its workspace", 'invalid_token');
        level = minLevel(level, ROLE_LEVELS[membership.role]);
      }
      touch(key);
      return { workspaceId: key.workspaceId, actorType: 'api_key', actorId: key.id, keyId: key.id, level, ...(user === undefined ? {} : { userId: user.id }) };
    }
    const { user } = principal;
    const asUser = (workspaceId: string, role: Role): Caller => ({ workspaceId, actorType: 'user', actorId: user.id, userId: user.id, level: ROLE_LEVELS[role] });
    if (wanted === undefined) {
      const first = (await store.listUserWorkspaces(user.id))[0];
      if (first === undefined) throw new Refusal(problem(404, 'WORKSPACE_NOT_FOUND', 'you are not a member of any workspace: create one (POST /api/v1/workspaces) or accept an invitation'));
      return asUser(first.workspace.id, first.role);
    }
    const membership = await store.getMembership(wanted, user.id);
    if (membership === undefined) throw noWorkspace(wanted);
    return asUser(wanted, membership.role);
  }

  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    const config = request.routeOptions.config;
    if (config.public === true) return undefined;
    try {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
      if (match === null) throw unauthenticated('send an access token or an API key: Authorization: Bearer <token>');
      const principal = await authenticate(match[1]!);
      request.principal = principal;
      if (config.noWorkspace === true) return undefined;
      const caller = await resolve(principal, wantedWorkspace(request, config.workspaceParam));
      const needed: Level = config.level ?? (request.method === 'GET' || request.method === 'HEAD' ? 'read' : 'write');
      if (!allows(caller.level, needed)) {
        throw new Refusal(problem(403, 'FORBIDDEN', `this needs the "${needed}" level; you have "${caller.level}" in workspace "${caller.workspaceId}"`, { requiredLevel: needed, level: caller.level }));
      }
      request.caller = caller;
      return undefined;
    } catch (error) {
      if (!(error instanceof Refusal)) throw error;
      if (error.challenge !== undefined) reply.header('www-authenticate', error.challenge);
      return sendProblem(reply, error.body);
    }
  };
}

/** The workspace a request names: the route's workspace param, else the header (empty = none). */
function wantedWorkspace(request: FastifyRequest, param: string | undefined): string | undefined {
  if (param !== undefined) {
    const value = (request.params as Record<string, unknown> | undefined)?.[param];
    return typeof value === 'string' ? value : '';
  }
  const header = request.headers[WORKSPACE_HEADER];
  const value = Array.isArray(header) ? header[0] : header;
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}
