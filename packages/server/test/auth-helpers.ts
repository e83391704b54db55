/** Helpers of the identity suites: a server with a secret key, sessions, users in roles, requests as them. */
import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { toSecretKey, type SecretKey } from '@flowpilot/vault';
import type { ServerOptions } from '@flowpilot/server';
import { startTestServer, type Backend, type TestServer } from './harness.js';
import { expectJson, expectProblem, tag, type Json } from './helpers.js';

export const PASSWORD = 'correct horse battery';

export interface Tokens {
  accessToken: string;
  refreshToken: string;
  tokenType: string;
  expiresIn: number;
}

/** A server on `backend` with a fresh secret key (returned, so tests can forge tokens with it). */
export async function startAuthServer(backend: Backend, options: Partial<ServerOptions> = {}): Promise<{ t: TestServer; secretKey: SecretKey }> {
  const secretKey = toSecretKey(randomBytes(32), 'env');
  return { t: await startTestServer({ secretKey, ...options }, backend), secretKey };
}

/** A request with this bearer (an access token or an API key), optionally in a workspace. */
export function as(t: TestServer, bearer: string | undefined, path: string, init: RequestInit & { json?: unknown; workspace?: string } = {}): Promise<Response> {
  const { json, workspace, ...rest } = init;
  const headers = new Headers(rest.headers);
  if (bearer !== undefined) headers.set('authorization', `Bearer ${bearer}`);
  if (workspace !== undefined) headers.set('x-flowpilot-workspace', workspace);
  if (json !== undefined) headers.set('content-type', 'application/json');
  return fetch(`${t.url}${path}`, { ...rest, headers, body: json === undefined ? rest.body : JSON.stringify(json) });
}

export async function login(t: TestServer, email: string, password = PASSWORD): Promise<Tokens> {
  return expectJson<Tokens>(await as(t, undefined, '/api/v1/auth/login', { method: 'POST', json: { email, password } }), 200);
}

/** Creates the first user through setup (the database must have none); logs in as them. */
export async function setupOwner(t: TestServer, email = `owner-${tag()}@example.com`): Promise<{ email: string; userId: string; tokens: Tokens }> {
  const body = await expectJson<Tokens & { user: { id: string } }>(await as(t, undefined, '/api/v1/setup', { method: 'POST', json: { email, password: PASSWORD, name: 'Owner' } }), 201);
  return { email, userId: body.user.id, tokens: body };
}

export async function createWorkspace(t: TestServer, ownerToken: string, name = `ws-${tag()}`): Promise<string> {
  return (await expectJson<{ id: string }>(await as(t, ownerToken, '/api/v1/workspaces', { method: 'POST', json: { name } }), 201)).id;
}

/** A new user with `role` in `workspaceId`, invited by `ownerToken`, who accepted and logged in. */
export async function addMember(t: TestServer, ownerToken: string, workspaceId: string, role: string, email = `${role}-${tag()}@example.com`): Promise<{ email: string; userId: string; tokens: Tokens }> {
  const invited = await expectJson<{ status: string; token: string }>(await as(t, ownerToken, `/api/v1/workspaces/${workspaceId}/invitations`, { method: 'POST', json: { email, role } }), 201);
  expect(invited.status).toBe('invited');
  const accepted = await expectJson<{ user: { id: string } }>(await as(t, undefined, '/api/v1/invitations/accept', { method: 'POST', json: { token: invited.token, password: PASSWORD } }), 200);
  return { email, userId: accepted.user.id, tokens: await login(t, email) };
}

/** Creates an API key as `bearer` (in `workspace`); returns the secret and its id. */
export async function createKey(t: TestServer, bearer: string, scopes: string[], workspace?: string): Promise<{ key: string; id: string }> {
  const body = await expectJson<{ key: string; id: string }>(await as(t, bearer, '/api/v1/keys', { method: 'POST', json: { name: `key-${tag()}`, scopes }, workspace }), 201);
  return { key: body.key, id: body.id };
}

/** A one-node workflow (`manual` → `set`) created as `bearer`; returns its id. */
export async function createSimpleWorkflow(t: TestServer, bearer: string, workspace?: string): Promise<string> {
  const definition: Json = { name: `wf-${tag()}`, nodes: [{ id: 'start', type: 'manual' }, { id: 'done', type: 'set', data: { values: { ok: true } } }], edges: [{ source: 'start', target: 'done' }] };
  return (await expectJson<{ id: string }>(await as(t, bearer, '/api/v1/workflows', { method: 'POST', json: definition, workspace }), 201)).id;
}

/** The decoded (unverified) header and payload of a JWT. */
export function decodeJwt(token: string): { header: Json; payload: Json } {
  const [header, payload] = token.split('.');
  return { header: JSON.parse(Buffer.from(header!, 'base64url').toString()) as Json, payload: JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Json };
}

/** Asserts a 403 FORBIDDEN problem that names the level needed. */
export async function expectForbidden(response: Response, level: string): Promise<void> {
  const body = (await expectProblem(response, 403, 'FORBIDDEN')) as { requiredLevel?: unknown; detail?: string };
  expect(body.requiredLevel).toBe(level);
  expect(body.detail).toContain(`"${level}"`);
}
