/**
 * API keys: `Authorization: Bearer <key>` on every `/api` route. Keys are random 32-byte secrets;
 * only their SHA-256 is stored (a key has full entropy, so a slow hash adds nothing).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DEFAULT_WORKSPACE_ID, type ApiKeyRecord } from '@flowpilot/store';
import { problem, sendProblem } from './problems.js';
import type { ServerStore } from './server-store.js';

/** Access levels, each including the ones below it (docs/security.md: roles and scopes). */
export const LEVELS = { read: 1, run: 2, write: 3, admin: 4 } as const;
export type Level = keyof typeof LEVELS;

/** Who is calling: set on every authenticated request. */
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

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller;
  }
  interface FastifyContextConfig {
    /** The level a route needs; default `read` for GET/HEAD, `write` otherwise. */
    level?: Level;
    /** No authentication (setup, login, refresh). */
    public?: boolean;
  }
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** Creates a key; the secret is returned once and never stored. */
export async function createApiKey(store: ServerStore, input: { name: string; workspaceId?: string; scopes?: string[]; key?: string }): Promise<{ key: string; record: ApiKeyRecord }> {
  const key = input.key ?? `fp_${randomBytes(32).toString('base64url')}`;
  const record: ApiKeyRecord = {
    workspaceId: input.workspaceId ?? DEFAULT_WORKSPACE_ID,
    id: randomUUID(),
    name: input.name,
    prefix: key.slice(0, 10),
    hash: hashApiKey(key),
    scopes: input.scopes ?? ['admin'],
    createdAt: Date.now(),
  };
  await store.createApiKey(record);
  return { key, record };
}

/** Makes sure the key in `FLOWPILOT_API_KEY` exists (idempotent across restarts and processes). */
export async function bootstrapApiKey(store: ServerStore, key: string | undefined): Promise<void> {
  if (key === undefined || key === '') return;
  if ((await store.findApiKeyByHash(hashApiKey(key))) !== undefined) return;
  await createApiKey(store, { name: 'FLOWPILOT_API_KEY', key }).catch(async (error: unknown) => {
    // Another process created it at the same moment: fine.
    if ((await store.findApiKeyByHash(hashApiKey(key))) === undefined) throw error;
  });
}

/** The `onRequest` hook guarding `/api`: 401 problem+json without a valid key. */
export function apiKeyGuard(store: ServerStore) {
  const touched = new Map<string, number>();
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    const header = request.headers.authorization;
    const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (match === null) {
      return sendProblem(reply.header('www-authenticate', 'Bearer'), problem(401, 'UNAUTHENTICATED', 'send an API key: Authorization: Bearer <key>'));
    }
    const record = await store.findApiKeyByHash(hashApiKey(match[1]!));
    if (record === undefined || record.revokedAt !== undefined) {
      return sendProblem(reply.header('www-authenticate', 'Bearer error="invalid_token"'), problem(401, 'UNAUTHENTICATED', 'the API key is not valid'));
    }
    request.caller = { workspaceId: record.workspaceId, actorType: 'api_key', actorId: record.id, keyId: record.id, level: 'admin' };
    // Last-used time, written at most once a minute per key.
    const now = Date.now();
    if ((touched.get(record.id) ?? 0) < now - 60_000) {
      touched.set(record.id, now);
      void store.touchApiKey(record.id, now).catch(() => undefined);
    }
    return undefined;
  };
}

/** The caller of an authenticated route. */
export function callerOf(request: FastifyRequest): Caller {
  if (request.caller === undefined) throw new Error('route is not behind the API key guard');
  return request.caller;
}
