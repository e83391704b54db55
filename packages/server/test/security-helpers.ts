/**
 * Fixtures of the security suites (docs/security.md, "How this is tested"): a workspace ("world")
 * with a user of every role, an API key of every scope, and one resource of each kind; requests
 * as any of them; forged bearers; snapshots that show a workspace did not change.
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import { createUserAccount, type Level } from '@flowpilot/server';
import type { Role } from '@flowpilot/store';
import { as, createKey, createSimpleWorkflow, createWorkspace, login, PASSWORD } from './auth-helpers.js';
import type { TestServer } from './harness.js';
import { expectJson, tag, until, type Json } from './helpers.js';

/** Each role with the level it grants, and each key scope (docs/security.md, roles and scopes). */
export const ROLE_LEVEL: ReadonlyArray<readonly [Role, Level]> = [
  ['owner', 'admin'],
  ['editor', 'write'],
  ['runner', 'run'],
  ['viewer', 'read'],
];
export const SCOPES: readonly Level[] = ['admin', 'write', 'run', 'read'];
export const RANK: Readonly<Record<Level, number>> = { read: 1, run: 2, write: 3, admin: 4 };

/** Someone who calls the API: a user (access token, sending the workspace header) or an API key. */
export interface Actor {
  label: string;
  kind: 'user' | 'key';
  bearer: string;
  level: Level;
  /** Sent as X-FlowPilot-Workspace by users. */
  workspace?: string;
  userId?: string;
}

/** A workspace with members of every role, keys of every scope and one resource of each kind. */
export interface World {
  id: string;
  name: string;
  owner: Actor & { userId: string; email: string; refreshToken: string };
  /** The four role users, then the four keys (of the owner, one per scope). */
  actors: Actor[];
  /** A `manual → done` workflow. */
  workflowId: string;
  /** `manual → wait (1 h delay) → done`, to make runs that stay unfinished. */
  delayWorkflowId: string;
  /** A run waiting on its delay (unfinished: cancel and pause would work on it). */
  runId: string;
  /** A finished run of `workflowId`. */
  finishedRunId: string;
  credentialId: string;
  credentialSecret: string;
  /** An API key of the owner that no actor uses. */
  keyId: string;
  /** The viewer's user id. */
  memberId: string;
  /** Strings that only this workspace's data contains: names, emails, ids, the secret. */
  marks: string[];
}

export interface Sent {
  status: number;
  contentType: string;
  text: string;
  headers: Headers;
}

/** Sends a request as `bearer` (none when undefined); a live event stream is closed at once. */
export async function send(t: TestServer, bearer: string | undefined, method: string, path: string, init: { json?: unknown; body?: string; workspace?: string; headers?: Record<string, string> } = {}): Promise<Sent> {
  const response = await as(t, bearer, path, {
    method,
    workspace: init.workspace,
    headers: init.headers,
    ...(init.json === undefined ? {} : { json: init.json }),
    ...(init.body === undefined ? {} : { body: init.body }),
    signal: AbortSignal.timeout(15_000),
  });
  const contentType = response.headers.get('content-type') ?? '';
  if (contentType.startsWith('text/event-stream')) {
    await response.body?.cancel();
    return { status: response.status, contentType, text: '', headers: response.headers };
  }
  return { status: response.status, contentType, text: await response.text(), headers: response.headers };
}

/** Sends as `actor` (users in their own workspace unless `workspace` names another). */
export function sendAs(t: TestServer, actor: Actor, method: string, path: string, init: { json?: unknown; workspace?: string } = {}): Promise<Sent> {
  return send(t, actor.bearer, method, path, { json: init.json, workspace: init.workspace ?? actor.workspace });
}

/** Asserts an application/problem+json answer with this status (and code); returns its body. */
export function problemOf(sent: Sent, status: number, code?: string, why = ''): { code: string; requiredLevel?: string } {
  expect(sent.status, `${why} → ${sent.text.slice(0, 300)}`).toBe(status);
  expect(sent.contentType, why).toContain('application/problem+json');
  const body = JSON.parse(sent.text) as { code: string; status: number; requiredLevel?: string };
  expect(body.status, why).toBe(status);
  expect(body.code, why).toMatch(code === undefined ? /^[A-Z][A-Z0-9_]*$/ : new RegExp(`^${code}$`));
  return body;
}

/** Asserts that an answer mentions none of `marks` (another workspace's names, emails, ids, secrets). */
export function expectNoMarks(sent: Sent, marks: readonly string[], why: string): void {
  const leaked = marks.filter((mark) => sent.text.includes(mark));
  expect(leaked, `${why} leaked ${leaked.join(', ')}: ${sent.text.slice(0, 300)}`).toEqual([]);
}

/** A user who belongs to no workspace yet, logged in. */
async function newUser(t: TestServer, label: string, membership?: { workspaceId: string; role: Role }): Promise<{ userId: string; email: string; accessToken: string; refreshToken: string }> {
  const email = `${label}-${tag()}@example.com`;
  const user = await createUserAccount(t.store, { email, password: PASSWORD, name: label, now: Date.now() }, membership);
  const tokens = await login(t, email);
  return { userId: user.id, email, accessToken: tokens.accessToken, refreshToken: tokens.refreshToken };
}

/** A workflow whose runs wait an hour on a delay (durable timer: it holds no worker). */
const DELAYED = { name: 'delayed', nodes: [{ id: 'start', type: 'manual' }, { id: 'wait', type: 'delay', data: { ms: 3_600_000 } }, { id: 'done', type: 'set', data: { values: { ok: true } } }], edges: [{ source: 'start', target: 'wait' }, { source: 'wait', target: 'done' }] };

/** Builds a world: its owner (a new user who creates it), members of the other roles, keys, resources. */
export async function buildWorld(t: TestServer, label: string): Promise<World> {
  const ownerUser = await newUser(t, `${label}-owner`);
  const name = `${label}-space-${tag()}`;
  const id = await createWorkspace(t, ownerUser.accessToken, name);
  const owner = { label: `${label} owner`, kind: 'user' as const, bearer: ownerUser.accessToken, level: 'admin' as const, workspace: id, userId: ownerUser.userId, email: ownerUser.email, refreshToken: ownerUser.refreshToken };
  const actors: Actor[] = [owner];
  const emails = [ownerUser.email];
  let memberId = '';
  for (const [role, level] of ROLE_LEVEL.slice(1)) {
    const user = await newUser(t, `${label}-${role}`, { workspaceId: id, role });
    emails.push(user.email);
    if (role === 'viewer') memberId = user.userId;
    actors.push({ label: `${label} ${role}`, kind: 'user', bearer: user.accessToken, level, workspace: id, userId: user.userId });
  }
  for (const scope of SCOPES) {
    const { key } = await createKey(t, owner.bearer, [scope], id);
    actors.push({ label: `${label} ${scope} key`, kind: 'key', bearer: key, level: scope, userId: owner.userId });
  }
  const workflowId = await createSimpleWorkflow(t, owner.bearer, id);
  const delayWorkflowId = (await expectJson<{ id: string }>(await as(t, owner.bearer, '/api/v1/workflows', { method: 'POST', json: { ...DELAYED, name: `${label}-delayed-${tag()}` }, workspace: id }), 201)).id;
  const finishedRunId = (await expectJson<{ id: string; status: string }>(await as(t, owner.bearer, `/api/v1/workflows/${workflowId}/runs?wait=true&timeoutMs=10000`, { method: 'POST', json: {}, workspace: id }), 200)).id;
  const credentialSecret = `secret-${label}-${randomUUID()}`;
  const credentialName = `${label}-credential-${tag()}`;
  const credentialId = (await expectJson<{ id: string }>(await as(t, owner.bearer, '/api/v1/credentials', { method: 'POST', json: { name: credentialName, type: 'httpBearer', data: { token: credentialSecret } }, workspace: id }), 201)).id;
  const keyId = (await createKey(t, owner.bearer, ['read'], id)).id;
  const world: World = { id, name, owner, actors, workflowId, delayWorkflowId, runId: '', finishedRunId, credentialId, credentialSecret, keyId, memberId, marks: [] };
  world.runId = await freshRun(t, world, 'waiting');
  const workflowName = (await expectJson<{ name: string }>(await as(t, owner.bearer, `/api/v1/workflows/${workflowId}`, { workspace: id }), 200)).name;
  world.marks = [name, ...emails, workflowName, credentialName, credentialSecret, id, workflowId, delayWorkflowId, world.runId, finishedRunId, credentialId, keyId, ...actors.map((actor) => actor.userId ?? '').filter((userId) => userId !== '')];
  return world;
}

/** Polls a run (as the world's owner) until its status is `status`. */
async function runReaches(t: TestServer, w: World, runId: string, status: string): Promise<void> {
  await until(async () => {
    const run = await expectJson<{ status: string }>(await as(t, w.owner.bearer, `/api/v1/runs/${runId}`, { workspace: w.id }), 200);
    return run.status === status ? true : undefined;
  }, `run ${runId} ${status}`);
}

/**
 * A new run of the delayed workflow in the state a control action needs: `pending` (just started;
 * cancel), `waiting` (pause), `paused` (resume) or `cancelled` (retry).
 */
export async function freshRun(t: TestServer, w: World, state: 'pending' | 'waiting' | 'paused' | 'cancelled'): Promise<string> {
  const ownerDoes = (path: string): Promise<Response> => as(t, w.owner.bearer, path, { method: 'POST', json: {}, workspace: w.id });
  const runId = (await expectJson<{ id: string }>(await ownerDoes(`/api/v1/workflows/${w.delayWorkflowId}/runs`), 201)).id;
  if (state === 'pending') return runId;
  if (state === 'cancelled') {
    await expectJson(await ownerDoes(`/api/v1/runs/${runId}/cancel`), 200);
    return runId;
  }
  await runReaches(t, w, runId, 'waiting');
  if (state === 'paused') await expectJson(await ownerDoes(`/api/v1/runs/${runId}/pause`), 200);
  return runId;
}

/** A new member (viewer) of the world, made in the store: a target for role changes and removals. */
export async function freshMember(t: TestServer, w: World): Promise<string> {
  const id = randomUUID();
  const now = Date.now();
  await t.store.createUser({ id, email: `spare-${tag()}@example.com`, name: 'Spare', createdAt: now });
  await t.store.putMembership({ workspaceId: w.id, userId: id, role: 'viewer', createdAt: now });
  return id;
}

/** A new API key `actor` may revoke: their own (a key actor's: another key of its user). */
export async function freshKey(t: TestServer, w: World, actor: Actor): Promise<string> {
  return (await createKey(t, actor.kind === 'user' ? actor.bearer : w.owner.bearer, ['read'], w.id)).id;
}

export async function freshWorkflow(t: TestServer, w: World): Promise<string> {
  return createSimpleWorkflow(t, w.owner.bearer, w.id);
}

export async function freshCredential(t: TestServer, w: World): Promise<string> {
  const json = { name: `spare-${tag()}`, type: 'httpBearer', data: { token: `spare-${tag()}` } };
  return (await expectJson<{ id: string }>(await as(t, w.owner.bearer, '/api/v1/credentials', { method: 'POST', json, workspace: w.id }), 201)).id;
}

/**
 * Everything an owner can read about a world, as JSON: compared before and after an attack to show
 * nothing changed (last-used times of keys aside: reading touches nothing, but they are not data).
 */
export async function snapshot(t: TestServer, w: World): Promise<Record<string, unknown>> {
  const paths = [
    `/api/v1/workspaces/${w.id}`,
    `/api/v1/workspaces/${w.id}/members`,
    `/api/v1/workspaces/${w.id}/invitations`,
    `/api/v1/workflows?limit=200`,
    `/api/v1/workflows/${w.workflowId}`,
    `/api/v1/workflows/${w.workflowId}/versions`,
    `/api/v1/runs?limit=200`,
    `/api/v1/runs/${w.runId}`,
    `/api/v1/runs/${w.finishedRunId}`,
    `/api/v1/credentials?limit=200`,
    `/api/v1/credentials/${w.credentialId}`,
    `/api/v1/workspace/limits`,
    `/api/v1/audit?limit=200`,
  ];
  const out: Record<string, unknown> = {};
  for (const path of paths) out[path] = await expectJson(await as(t, w.owner.bearer, path, { workspace: w.id }), 200);
  const keys = await expectJson<{ items: Json[] }>(await as(t, w.owner.bearer, '/api/v1/keys', { workspace: w.id }), 200);
  out['/api/v1/keys'] = keys.items.map(({ lastUsedAt: _lastUsedAt, ...key }) => key);
  return out;
}
