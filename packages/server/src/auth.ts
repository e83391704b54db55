/**
 * Who is calling and what they may do (docs/security.md). Two kinds of principals authenticate with
 * `Authorization: Bearer …`: users (a short-lived JWT access token from `POST /api/v1/auth/login`)
 * and API keys (`fp_…`, random 32-byte secrets of which only the SHA-256 is stored: a key has full
 * entropy, so a slow hash adds nothing). The guard itself is in `auth/guard.ts`.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { DEFAULT_WORKSPACE_ID, type ApiKeyRecord, type Role, type UserRecord } from '@flowpilot/store';
import type { ServerStore } from './server-store.js';

/** Access levels, each including the ones below it (docs/security.md: roles and scopes). */
export const LEVELS = { read: 1, run: 2, write: 3, admin: 4 } as const;
export type Level = keyof typeof LEVELS;

/** The level each workspace role grants. */
export const ROLE_LEVELS: Readonly<Record<Role, Level>> = { owner: 'admin', editor: 'write', runner: 'run', viewer: 'read' };

/** True when `level` includes `needed`. */
export function allows(level: Level, needed: Level): boolean {
  return LEVELS[level] >= LEVELS[needed];
}

/** The lower of two levels. */
export function minLevel(a: Level, b: Level): Level {
  return LEVELS[a] <= LEVELS[b] ? a : b;
}

/**
 * A key's level: the highest of its scopes (each includes the ones below). Unknown scope names are
 * ignored; undefined when none is known.
 */
export function scopeLevel(scopes: readonly string[]): Level | undefined {
  let best: Level | undefined;
  for (const scope of scopes) {
    if (!Object.hasOwn(LEVELS, scope)) continue;
    if (best === undefined || LEVELS[scope as Level] > LEVELS[best]) best = scope as Level;
  }
  return best;
}

/** Who is calling: set on every authenticated request that acts in a workspace. */
export interface Caller {
  /** The workspace the request acts in. */
  workspaceId: string;
  actorType: 'user' | 'api_key';
  /** The user id or the API key id (what the audit log records). */
  actorId: string;
  /** The user behind the request (a key's user; none for bootstrap keys). */
  userId?: string;
  keyId?: string;
  /** What this caller may do in `workspaceId`. */
  level: Level;
}

/** Who authenticated, before any workspace is chosen (set on every authenticated request). */
export type Principal = { type: 'user'; user: UserRecord } | { type: 'api_key'; key: ApiKeyRecord; user?: UserRecord };

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller;
    principal?: Principal;
  }
  interface FastifyContextConfig {
    /** The level a route needs; default `read` for GET/HEAD, `write` otherwise. */
    level?: Level;
    /** No authentication (setup, login, refresh, logout, accepting an invitation). */
    public?: boolean;
    /**
     * The route param naming the workspace the route acts in (`/workspaces/:id/…`): it replaces the
     * `X-FlowPilot-Workspace` header, and the caller must belong to that workspace.
     */
    workspaceParam?: string;
    /**
     * The route acts on the principal, not in a workspace (`/me`, `/workspaces`): it is authenticated
     * but no workspace is chosen and no level is checked; the handler uses `principalOf`.
     */
    noWorkspace?: boolean;
  }
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** Creates a key; the secret is returned once and never stored. */
export async function createApiKey(store: ServerStore, input: { name: string; workspaceId?: string; scopes?: string[]; userId?: string; key?: string; now?: number }): Promise<{ key: string; record: ApiKeyRecord }> {
  const key = input.key ?? `fp_${randomBytes(32).toString('base64url')}`;
  const record: ApiKeyRecord = {
    workspaceId: input.workspaceId ?? DEFAULT_WORKSPACE_ID,
    id: randomUUID(),
    name: input.name,
    prefix: key.slice(0, 10),
    hash: hashApiKey(key),
    scopes: input.scopes ?? ['admin'],
    createdAt: input.now ?? Date.now(),
    ...(input.userId === undefined ? {} : { userId: input.userId }),
  };
  await store.createApiKey(record);
  return { key, record };
}

/**
 * Makes sure the key in `FLOWPILOT_API_KEY` exists (idempotent across restarts and processes): an
 * `admin` key of the default workspace without a user.
 */
export async function bootstrapApiKey(store: ServerStore, key: string | undefined): Promise<void> {
  if (key === undefined || key === '') return;
  if ((await store.findApiKeyByHash(hashApiKey(key))) !== undefined) return;
  await createApiKey(store, { name: 'FLOWPILOT_API_KEY', key }).catch(async (error: unknown) => {
    // Another process created it at the same moment: fine.
    if ((await store.findApiKeyByHash(hashApiKey(key))) === undefined) throw error;
  });
}

/** The caller of an authenticated route that acts in a workspace. */
export function callerOf(request: FastifyRequest): Caller {
  if (request.caller === undefined) throw new Error('route is not behind the auth guard (or is marked noWorkspace)');
  return request.caller;
}

/** The principal of an authenticated route (any route but the public ones). */
export function principalOf(request: FastifyRequest): Principal {
  if (request.principal === undefined) throw new Error('route is not behind the auth guard');
  return request.principal;
}
