/**
 * The level every API operation needs, as the security suites expect it, with how to call each one
 * successfully. The OpenAPI document says which operations exist; docs/security.md ("Route levels")
 * says which level each needs; `security-roles.test.ts` checks that the three agree, so a new route
 * fails the suites until it is in this table and in the docs.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import type { Level } from '@flowpilot/server';
import { PASSWORD } from './auth-helpers.js';
import type { TestServer } from './harness.js';
import { expectJson, tag, type Json } from './helpers.js';
import { freshCredential, freshKey, freshMember, freshRun, freshWorkflow, type Actor, type World } from './security-helpers.js';

/**
 * What a caller needs: `public` (nothing), `any` (any valid bearer; no workspace chosen), `user` (a
 * user login, not an API key), or a level in the workspace the request acts in.
 */
export type RouteLevel = 'public' | 'any' | 'user' | Level;

/** What a path parameter names. */
export type ParamKind = 'workflow' | 'run' | 'credential' | 'key' | 'member' | 'owner' | 'workspace' | 'version' | 'node';

/** Kinds that are resources of a workspace: the IDOR walk puts another workspace's ids there. */
export const RESOURCE_KINDS: ReadonlySet<ParamKind> = new Set(['workflow', 'run', 'credential', 'key', 'member', 'owner', 'workspace']);

export interface RouteSpec {
  level: RouteLevel;
  /** The status of a successful call (the role matrix expects it). */
  ok?: number;
  /** What each `{param}` of the path names. */
  params?: Record<string, ParamKind>;
  /** A query string a successful call needs (without `?`). */
  query?: string;
  /** Query parameters that name a resource (the IDOR walk gives them another workspace's ids). */
  queryIds?: Record<string, ParamKind>;
  /** A valid body (a function: names must be fresh). */
  body?: () => unknown;
  /** For calls that use their target up (delete, revoke, state changes): a fresh one per call. */
  fresh?: (t: TestServer, w: World, actor: Actor) => Promise<Record<string, string>>;
  /** Answers with a live event stream. */
  sse?: true;
  /** A WebSocket upgrade: only the authentication suite calls it (a plain GET cannot succeed). */
  websocket?: true;
}

const simpleWorkflow = (): Json => ({ name: `sec-${tag()}`, nodes: [{ id: 'start', type: 'manual' }, { id: 'done', type: 'set', data: { values: { ok: true } } }], edges: [{ source: 'start', target: 'done' }] });
const run = (state: Parameters<typeof freshRun>[2]) => async (t: TestServer, w: World) => ({ id: await freshRun(t, w, state) });

/** Every operation of the OpenAPI document (`METHOD /path/{param}`), plus the hidden WebSocket route. */
export const ROUTES: Readonly<Record<string, RouteSpec>> = {
  'GET /api/v1/setup': { level: 'public' },
  'POST /api/v1/setup': { level: 'public', body: () => ({ email: `setup-${tag()}@example.com`, password: PASSWORD }) },
  'POST /api/v1/auth/login': { level: 'public', body: () => ({ email: `nobody-${tag()}@example.com`, password: PASSWORD }) },
  'POST /api/v1/auth/refresh': { level: 'public', body: () => ({ refreshToken: `fpr_${tag()}` }) },
  'POST /api/v1/auth/logout': { level: 'public', body: () => ({ refreshToken: `fpr_${tag()}` }) },
  'POST /api/v1/invitations/accept': { level: 'public', body: () => ({ token: `fpi_${tag()}`, password: PASSWORD }) },

  'GET /api/v1/me': { level: 'any', ok: 200 },
  'GET /api/v1/workspaces': { level: 'any', ok: 200 },
  'POST /api/v1/workspaces': { level: 'user', ok: 201, body: () => ({ name: `ws-${tag()}` }) },
  'GET /api/v1/workspaces/{id}': { level: 'read', ok: 200, params: { id: 'workspace' } },
  'GET /api/v1/workspaces/{id}/members': { level: 'read', ok: 200, params: { id: 'workspace' } },
  'PATCH /api/v1/workspaces/{id}/members/{userId}': { level: 'admin', ok: 200, params: { id: 'workspace', userId: 'member' }, body: () => ({ role: 'owner' }), fresh: async (t, w) => ({ userId: await freshMember(t, w) }) },
  'DELETE /api/v1/workspaces/{id}/members/{userId}': { level: 'admin', ok: 204, params: { id: 'workspace', userId: 'member' }, fresh: async (t, w) => ({ userId: await freshMember(t, w) }) },
  'POST /api/v1/workspaces/{id}/invitations': { level: 'admin', ok: 201, params: { id: 'workspace' }, body: () => ({ email: `invited-${tag()}@example.com`, role: 'owner' }) },
  'GET /api/v1/workspaces/{id}/invitations': { level: 'admin', ok: 200, params: { id: 'workspace' } },

  'GET /api/v1/keys': { level: 'read', ok: 200 },
  'POST /api/v1/keys': { level: 'read', ok: 201, body: () => ({ name: `key-${tag()}`, scopes: ['read'] }) },
  'DELETE /api/v1/keys/{id}': { level: 'read', ok: 204, params: { id: 'key' }, fresh: async (t, w, actor) => ({ id: await freshKey(t, w, actor) }) },

  'GET /api/v1/credential-types': { level: 'read', ok: 200 },
  'POST /api/v1/credentials': { level: 'write', ok: 201, body: () => ({ name: `cred-${tag()}`, type: 'httpBearer', data: { token: `t-${tag()}` } }) },
  'GET /api/v1/credentials': { level: 'read', ok: 200 },
  'GET /api/v1/credentials/{id}': { level: 'read', ok: 200, params: { id: 'credential' } },
  'PUT /api/v1/credentials/{id}': { level: 'write', ok: 200, params: { id: 'credential' }, body: () => ({ name: `renamed-${tag()}`, data: { token: `stolen-${tag()}` } }) },
  'DELETE /api/v1/credentials/{id}': { level: 'write', ok: 204, params: { id: 'credential' }, fresh: async (t, w) => ({ id: await freshCredential(t, w) }) },

  'POST /api/v1/workflows': { level: 'write', ok: 201, body: simpleWorkflow },
  'GET /api/v1/workflows': { level: 'read', ok: 200 },
  'POST /api/v1/workflows/validate': { level: 'read', ok: 200, body: simpleWorkflow },
  'GET /api/v1/workflows/{id}': { level: 'read', ok: 200, params: { id: 'workflow' } },
  'PUT /api/v1/workflows/{id}': { level: 'write', ok: 200, params: { id: 'workflow' }, body: simpleWorkflow },
  'DELETE /api/v1/workflows/{id}': { level: 'write', ok: 204, params: { id: 'workflow' }, fresh: async (t, w) => ({ id: await freshWorkflow(t, w) }) },
  'GET /api/v1/workflows/{id}/versions': { level: 'read', ok: 200, params: { id: 'workflow' } },
  'GET /api/v1/workflows/{id}/versions/{v}': { level: 'read', ok: 200, params: { id: 'workflow', v: 'version' } },
  'GET /api/v1/workflows/{id}/diff': { level: 'read', ok: 200, params: { id: 'workflow' }, query: 'from=1' },
  'POST /api/v1/workflows/{id}/activate': { level: 'write', ok: 200, params: { id: 'workflow' } },
  'POST /api/v1/workflows/{id}/deactivate': { level: 'write', ok: 200, params: { id: 'workflow' } },
  'POST /api/v1/workflows/{id}/runs': { level: 'run', ok: 201, params: { id: 'workflow' }, body: () => ({}) },
  'GET /api/v1/workflows/{id}/events': { level: 'read', ok: 200, params: { id: 'workflow' }, sse: true },

  'GET /api/v1/runs': { level: 'read', ok: 200, queryIds: { workflowId: 'workflow' } },
  'GET /api/v1/runs/{id}': { level: 'read', ok: 200, params: { id: 'run' } },
  'GET /api/v1/runs/{id}/steps/{nodeId}/logs': { level: 'read', ok: 200, params: { id: 'run', nodeId: 'node' } },
  'GET /api/v1/runs/{id}/events': { level: 'read', ok: 200, params: { id: 'run' }, sse: true },
  'POST /api/v1/runs/{id}/cancel': { level: 'run', ok: 200, params: { id: 'run' }, fresh: run('pending') },
  'POST /api/v1/runs/{id}/retry': { level: 'run', ok: 200, params: { id: 'run' }, fresh: run('cancelled') },
  'POST /api/v1/runs/{id}/pause': { level: 'run', ok: 200, params: { id: 'run' }, fresh: run('waiting') },
  'POST /api/v1/runs/{id}/resume': { level: 'run', ok: 200, params: { id: 'run' }, fresh: run('paused') },

  'GET /api/v1/audit': { level: 'admin', ok: 200, queryIds: { resourceId: 'workflow', actorId: 'owner' } },
  'GET /api/v1/workspace/limits': { level: 'read', ok: 200 },
  'PUT /api/v1/workspace/limits': { level: 'admin', ok: 200, body: () => ({ maxStepsPerRun: 10_000 }) },

  'GET /api/v1/ws': { level: 'read', websocket: true },
};

/** Guarded routes the OpenAPI document does not show (they are in ROUTES and docs/security.md too). */
export const HIDDEN = ['GET /api/v1/ws'];

/** Routes outside the guard on purpose: health, metrics, the API's own description, webhooks (HMAC). */
export const UNGUARDED = ['/healthz', '/readyz', '/metrics', '/api/v1/openapi.json', '/api/v1/docs', '/hooks/'];

export interface Operation {
  /** `METHOD /path/{param}` */
  key: string;
  method: string;
  template: string;
  /** True when the document marks it `security: []`. */
  open: boolean;
  queryKeys: string[];
  hasBody: boolean;
}

interface OpenApiOperation {
  security?: unknown[];
  parameters?: Array<{ in: string; name: string }>;
  requestBody?: unknown;
}

/** Every operation of the server's OpenAPI document. */
export async function operations(t: TestServer): Promise<Operation[]> {
  const document = await expectJson<{ paths: Record<string, Record<string, OpenApiOperation>> }>(await t.api('/api/v1/openapi.json'), 200);
  return Object.entries(document.paths).flatMap(([template, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({
      key: `${method.toUpperCase()} ${template}`,
      method: method.toUpperCase(),
      template,
      open: operation.security?.length === 0,
      queryKeys: (operation.parameters ?? []).filter((parameter) => parameter.in === 'query').map((parameter) => parameter.name),
      hasBody: operation.requestBody !== undefined,
    })),
  );
}

/** The spec of an operation; fails the test when the table lacks it. */
export function specOf(key: string): RouteSpec {
  const spec = ROUTES[key];
  expect(spec, `${key} is in the OpenAPI document but not in security-routes.ts (nor in docs/security.md, "Route levels")`).toBeDefined();
  return spec!;
}

/** The value of a parameter of `kind` in world `w`. */
export function idIn(w: World, kind: ParamKind): string {
  const ids: Record<ParamKind, string> = { workflow: w.workflowId, run: w.runId, credential: w.credentialId, key: w.keyId, member: w.memberId, owner: w.owner.userId, workspace: w.id, version: '1', node: 'done' };
  return ids[kind];
}

/** The path with its `{param}`s filled from `values`. */
export function fill(template: string, values: Record<string, string>): string {
  return template.replaceAll(/\{(\w+)\}/g, (_match, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`no value for {${name}} in ${template}`);
    return encodeURIComponent(value);
  });
}

/** The parameter values of `spec` in world `w` (each kind from `worlds[kind]` when given, else `w`). */
export function paramsIn(spec: RouteSpec, w: World, override: Partial<Record<string, World>> = {}): Record<string, string> {
  return Object.fromEntries(Object.entries(spec.params ?? {}).map(([name, kind]) => [name, idIn(override[name] ?? w, kind)]));
}

/** The table of docs/security.md's "Route levels" section: `METHOD /path` → level. */
export function documentedLevels(): Map<string, string> {
  const text = readFileSync(new URL('../../../docs/security.md', import.meta.url), 'utf8');
  const section = text.split(/^### Route levels/m)[1]?.split(/^#{2,3} /m)[0] ?? '';
  const levels = new Map<string, string>();
  for (const match of section.matchAll(/^\| `(GET|POST|PUT|PATCH|DELETE) (\/\S+)` \| `(\w+)` \|/gm)) levels.set(`${match[1]} ${match[2]}`, match[3]!);
  return levels;
}
