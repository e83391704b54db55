/** Shared pieces of the credentials suites: a server with a secret key, keys of other workspaces and scopes. */
import { randomBytes } from 'node:crypto';
import { createApiKey, type ServerOptions } from '@flowpilot/server';
import { toSecretKey, type SecretKey } from '@flowpilot/vault';
import { startTestServer, type Backend, type TestServer } from './harness.js';
import { expectJson, tag, testRegistry } from './helpers.js';

export const newSecretKey = (): SecretKey => toSecretKey(randomBytes(32), 'env');

/** A server with the test node types and a fresh secret key (returned: tests read rows with it). */
export async function startVaultServer(backend: Backend, options: Partial<ServerOptions> = {}): Promise<{ t: TestServer; secretKey: SecretKey }> {
  const secretKey = options.secretKey ?? newSecretKey();
  return { t: await startTestServer({ registry: testRegistry(), ...options, secretKey }, backend), secretKey };
}

/** A request with another bearer. */
export function withKey(t: TestServer, key: string, path: string, init: RequestInit & { json?: unknown } = {}): Promise<Response> {
  return t.api(path, { ...init, headers: { ...(init.headers as Record<string, string> | undefined), authorization: `Bearer ${key}` } });
}

/** An API key of `scopes` in `workspaceId` (created if missing). */
export async function keyFor(t: TestServer, workspaceId: string, scopes: string[]): Promise<string> {
  if ((await t.store.getWorkspace(workspaceId)) === undefined) await t.store.createWorkspace({ id: workspaceId, name: workspaceId, createdAt: Date.now(), limits: {} });
  return (await createApiKey(t.store, { name: `key-${tag()}`, workspaceId, scopes })).key;
}

/** Creates a credential; returns its id. */
export async function createCredential(t: TestServer, type: string, data: Record<string, unknown>, name = `${type}-${tag()}`, key?: string): Promise<string> {
  const init = { method: 'POST', json: { name, type, data } };
  const response = key === undefined ? await t.api('/api/v1/credentials', init) : await withKey(t, key, '/api/v1/credentials', init);
  return (await expectJson<{ id: string }>(response, 201)).id;
}
