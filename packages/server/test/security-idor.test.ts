/**
 * Security: IDOR across workspaces, over real HTTP on SQLite and PostgreSQL. Workspaces A and B each
 * have a workflow, runs, a credential, API keys and members. Every operation of the OpenAPI document
 * that takes the id of a resource is called by each role and each key scope of B (and by the
 * bootstrap key of the default workspace) with A's ids, by B's users naming A in
 * X-FlowPilot-Workspace, and with A's ids in query filters. Nothing of A may be answered or changed:
 * the answer is 404 — or 403 when the caller lacks the route's level, which is checked before any
 * lookup — and always the same answer as for an id that does not exist. A is then re-read as A.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { API_KEY, describeBackends, postgresUnavailable, startTestServer, type Backend, type TestServer } from './harness.js';
import { tag, testRegistry } from './helpers.js';
import { buildWorld, RANK, sendAs, snapshot, type Actor, type Sent, type World } from './security-helpers.js';
import { fill, idIn, operations, paramsIn, RESOURCE_KINDS, ROUTES, type Operation, type RouteSpec } from './security-routes.js';

/** Every non-empty subset of `items`. */
function subsets<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let mask = 1; mask < 1 << items.length; mask += 1) out.push(items.filter((_item, index) => (mask & (1 << index)) !== 0));
  return out;
}

const code = (sent: Sent): string | undefined => (sent.contentType.includes('problem+json') ? (JSON.parse(sent.text) as { code?: string }).code : undefined);

describeBackends('security: IDOR across workspaces', await postgresUnavailable(), (backend: Backend) => {
  let t: TestServer;
  let ops: Operation[];
  let a: World;
  let b: World;
  /** B's roles and scopes, and a key of another workspace without a user. */
  let attackers: Array<Actor & { home: string }>;

  beforeAll(async () => {
    t = await startTestServer({ registry: testRegistry() }, backend);
    ops = await operations(t);
    a = await buildWorld(t, 'a');
    b = await buildWorld(t, 'b');
    attackers = [...b.actors.map((actor) => ({ ...actor, home: b.id })), { label: 'bootstrap key of the default workspace', kind: 'key', bearer: API_KEY, level: 'admin', home: 'default' }];
  }, 60_000);
  afterAll(() => t?.close());

  /**
   * What `attacker` must get when `path` names something not theirs: 404 WORKSPACE_NOT_FOUND for a
   * workspace it does not belong to; else 403 when below the route's level; else a *_NOT_FOUND 404.
   */
  function check(spec: RouteSpec, attacker: Actor & { home: string }, workspaceNamed: string | undefined, sent: Sent, control: Sent): string | undefined {
    if (sent.status !== control.status || code(sent) !== code(control)) return `answers ${sent.status} ${code(sent)} for A's id but ${control.status} ${code(control)} for a missing one`;
    if (!sent.contentType.includes('application/problem+json')) return `answered ${sent.status} ${sent.contentType}: ${sent.text.slice(0, 200)}`;
    if (workspaceNamed !== undefined && workspaceNamed !== attacker.home) return code(sent) === 'WORKSPACE_NOT_FOUND' && sent.status === 404 ? undefined : `expected 404 WORKSPACE_NOT_FOUND, got ${sent.status} ${code(sent)}`;
    if (spec.level !== 'any' && spec.level !== 'user' && spec.level !== 'public' && RANK[attacker.level] < RANK[spec.level]) return sent.status === 403 && code(sent) === 'FORBIDDEN' ? undefined : `expected 403 FORBIDDEN, got ${sent.status} ${code(sent)}`;
    return sent.status === 404 && /_NOT_FOUND$/.test(code(sent) ?? '') ? undefined : `expected 404 *_NOT_FOUND, got ${sent.status} ${code(sent)}`;
  }

  test("every operation taking a resource id answers B's callers 404 for A's ids (403 below the level), like a missing id; A is unchanged", async () => {
    const before = await snapshot(t, a);
    const failures: string[] = [];
    const kinds = new Set<string>();
    let calls = 0;
    for (const op of ops) {
      const spec = ROUTES[op.key];
      if (spec === undefined) {
        failures.push(`${op.key}: not in the table`);
        continue;
      }
      const resources = Object.entries(spec.params ?? {}).filter(([, kind]) => RESOURCE_KINDS.has(kind));
      const query = spec.query === undefined ? '' : `?${spec.query}`;
      for (const subset of subsets(resources.map(([name]) => name))) {
        const theirs = paramsIn(spec, b, Object.fromEntries(subset.map((name) => [name, a])));
        const missing = { ...paramsIn(spec, b), ...Object.fromEntries(subset.map((name) => [name, `missing-${tag()}`])) };
        for (const [name, kind] of resources) if (subset.includes(name)) kinds.add(kind);
        const workspaceParam = resources.find(([, kind]) => kind === 'workspace')?.[0];
        for (const attacker of attackers) {
          const sent = await sendAs(t, attacker, op.method, `${fill(op.template, theirs)}${query}`, { json: spec.body?.() });
          const control = await sendAs(t, attacker, op.method, `${fill(op.template, missing)}${query}`, { json: spec.body?.() });
          calls += 1;
          const wrong = check(spec, attacker, workspaceParam === undefined ? undefined : theirs[workspaceParam], sent, control);
          if (wrong !== undefined) failures.push(`${op.key} with A's ${subset.join('+')} as ${attacker.label}: ${wrong}`);
          // A 404 names the id it was asked for, nothing else of A's.
          const leaked = a.marks.filter((mark) => sent.text.includes(mark) && !Object.values(theirs).includes(mark));
          if (leaked.length > 0) failures.push(`${op.key} as ${attacker.label} leaked ${leaked.join(', ')}`);
        }
      }
    }
    expect(failures).toEqual([]);
    expect([...kinds].sort()).toEqual(['credential', 'key', 'member', 'run', 'workflow', 'workspace']);
    expect(calls).toBeGreaterThan(200);
    expect(await snapshot(t, a)).toEqual(before);
  }, 180_000);

  test("B's users naming workspace A in X-FlowPilot-Workspace, and B's keys too, get 404 WORKSPACE_NOT_FOUND on every workspace operation; A is unchanged", async () => {
    const before = await snapshot(t, a);
    const failures: string[] = [];
    let calls = 0;
    for (const op of ops) {
      const spec = ROUTES[op.key]!;
      // Routes that name their workspace in the path ignore the header (the walk above covers them).
      if (spec.level === 'public' || spec.level === 'any' || spec.level === 'user' || Object.values(spec.params ?? {}).includes('workspace')) continue;
      const path = `${fill(op.template, paramsIn(spec, a))}${spec.query === undefined ? '' : `?${spec.query}`}`;
      for (const attacker of attackers) {
        const sent = await sendAs(t, attacker, op.method, path, { json: spec.body?.(), workspace: a.id });
        calls += 1;
        if (sent.status !== 404 || code(sent) !== 'WORKSPACE_NOT_FOUND') failures.push(`${op.key} as ${attacker.label} in A: ${sent.status} ${sent.text.slice(0, 200)}`);
      }
    }
    expect(failures).toEqual([]);
    expect(calls).toBeGreaterThan(200);
    expect(await snapshot(t, a)).toEqual(before);
  }, 180_000);

  test("A's ids in the query filters of B's lists find nothing", async () => {
    const failures: string[] = [];
    let calls = 0;
    for (const op of ops) {
      const spec = ROUTES[op.key]!;
      for (const [name, kind] of Object.entries(spec.queryIds ?? {})) {
        for (const attacker of attackers.filter((candidate) => RANK[candidate.level] >= RANK[spec.level as keyof typeof RANK])) {
          const sent = await sendAs(t, attacker, op.method, `${op.template}?${name}=${encodeURIComponent(idIn(a, kind))}`);
          calls += 1;
          const items = sent.status === 200 ? (JSON.parse(sent.text) as { items: unknown[] }).items : undefined;
          if (items === undefined || items.length > 0) failures.push(`${op.key}?${name}=<A's ${kind}> as ${attacker.label}: ${sent.status} ${sent.text.slice(0, 200)}`);
        }
      }
    }
    expect(failures).toEqual([]);
    expect(calls).toBeGreaterThanOrEqual(6);
  });

  test("A's own callers still reach A afterwards (no key of A was revoked, no member removed)", async () => {
    for (const actor of a.actors) expect((await sendAs(t, actor, 'GET', `/api/v1/workflows/${a.workflowId}`)).status, actor.label).toBe(200);
  });
});
