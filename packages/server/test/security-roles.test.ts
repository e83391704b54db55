/**
 * Security: route levels and privilege escalation by role, over real HTTP on SQLite and PostgreSQL.
 * The OpenAPI document, docs/security.md ("Route levels") and the suites' table must list the same
 * operations with the same levels; then every role and every key scope calls every operation in its
 * own workspace and gets exactly success or 403 `FORBIDDEN`, as the level table says.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { describeBackends, postgresUnavailable, startTestServer, type Backend, type TestServer } from './harness.js';
import { testRegistry } from './helpers.js';
import { buildWorld, expectNoMarks, problemOf, RANK, send, sendAs, type Actor, type Sent, type World } from './security-helpers.js';
import { documentedLevels, fill, HIDDEN, operations, paramsIn, ROUTES, UNGUARDED, type Operation, type RouteSpec } from './security-routes.js';

/** What `actor` must get from an operation of `spec` in its own workspace. */
function expected(spec: RouteSpec, actor: Actor): 'ok' | 'forbidden' {
  if (spec.level === 'any') return 'ok';
  if (spec.level === 'user') return actor.kind === 'user' ? 'ok' : 'forbidden';
  if (spec.level === 'public') throw new Error('public routes have no level');
  return RANK[actor.level] >= RANK[spec.level] ? 'ok' : 'forbidden';
}

/** What is wrong with an answer, or undefined. */
function verdict(spec: RouteSpec, actor: Actor, sent: Sent): string | undefined {
  if (expected(spec, actor) === 'ok') {
    if (sent.status !== spec.ok) return `expected ${spec.ok}, got ${sent.status} ${sent.text.slice(0, 200)}`;
    if (spec.sse === true && !sent.contentType.startsWith('text/event-stream')) return `expected an event stream, got ${sent.contentType}`;
    return undefined;
  }
  if (sent.status !== 403 || !sent.contentType.includes('application/problem+json')) return `expected 403 problem, got ${sent.status} ${sent.text.slice(0, 200)}`;
  const body = JSON.parse(sent.text) as { code?: string; requiredLevel?: string; level?: string };
  if (body.code !== 'FORBIDDEN') return `expected FORBIDDEN, got ${body.code}`;
  if (spec.level !== 'user' && (body.requiredLevel !== spec.level || body.level !== actor.level)) return `403 names level ${body.requiredLevel}/${body.level}, expected ${spec.level}/${actor.level}`;
  return undefined;
}

/**
 * The full paths of fastify's route tree (`printRoutes`): each line is a segment under the line one
 * level up. The webhook route `/hooks/*` prints as a bare `*` at the top.
 */
function routeTable(tree: string): string[] {
  const stack: string[] = [];
  const paths: string[] = [];
  for (const line of tree.split('\n')) {
    const match = /^([│ ]*)[├└]── (\S+) \(/u.exec(line);
    if (match === null) continue;
    const depth = [...match[1]!].length / 4;
    const path = depth === 0 && match[2] === '*' ? '/hooks/*' : `${stack[depth - 1] ?? ''}${match[2]!}`;
    stack[depth] = path;
    paths.push(path);
  }
  return paths;
}

describeBackends('security: route levels and roles', await postgresUnavailable(), (backend: Backend) => {
  let t: TestServer;
  let ops: Operation[];
  let a: World;
  let b: World;

  beforeAll(async () => {
    t = await startTestServer({ registry: testRegistry() }, backend);
    ops = await operations(t);
    a = await buildWorld(t, 'a');
    b = await buildWorld(t, 'b');
  }, 60_000);
  afterAll(() => t?.close());

  test("the OpenAPI document, docs/security.md and the suites' table list the same operations at the same levels", () => {
    const known = [...ops.map((op) => op.key), ...HIDDEN].sort();
    expect(Object.keys(ROUTES).sort(), 'security-routes.ts ROUTES').toEqual(known);
    const documented = documentedLevels();
    expect([...documented.keys()].sort(), 'docs/security.md "Route levels"').toEqual(known);
    for (const key of known) expect(documented.get(key), key).toBe(ROUTES[key]!.level);
    // The document's `security: []` operations are exactly the table's public ones.
    const open = ops.filter((op) => op.open).map((op) => op.key).sort();
    expect(open).toEqual(Object.entries(ROUTES).filter(([, spec]) => spec.level === 'public').map(([key]) => key).sort());
    expect(open).toHaveLength(6);
  });

  test('fastify has no route the suites do not know: every other one is in the document, hidden on purpose, or unguarded', () => {
    const listed = new Set([...ops.map((op) => op.template), ...HIDDEN.map((key) => key.split(' ')[1]!)].map((path) => path.replaceAll(/\{(\w+)\}/g, ':$1')));
    const paths = routeTable(t.server.app.printRoutes({ commonPrefix: false }));
    expect(paths.length).toBeGreaterThan(40);
    const unknown = paths.filter((path) => !listed.has(path) && !UNGUARDED.some((prefix) => path === prefix || path.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`)));
    expect(unknown).toEqual([]);
  });

  test('every role and every key scope gets success or 403 FORBIDDEN on every operation, as the level table says', async () => {
    const failures: string[] = [];
    let calls = 0;
    for (const op of ops) {
      const spec = ROUTES[op.key];
      if (spec === undefined) {
        failures.push(`${op.key}: not in the table`);
        continue;
      }
      if (spec.level === 'public') continue;
      for (const actor of b.actors) {
        const params = { ...paramsIn(spec, b), ...(await spec.fresh?.(t, b, actor)) };
        const path = `${fill(op.template, params)}${spec.query === undefined ? '' : `?${spec.query}`}`;
        const sent = await sendAs(t, actor, op.method, path, { json: spec.body?.() });
        calls += 1;
        const wrong = verdict(spec, actor, sent);
        if (wrong !== undefined) failures.push(`${op.key} as ${actor.label} (${actor.level}): ${wrong}`);
        // A's names, emails, ids and secret never appear in B's answers.
        const leaked = a.marks.filter((mark) => sent.text.includes(mark));
        if (leaked.length > 0) failures.push(`${op.key} as ${actor.label}: answer contains workspace A's ${leaked.join(', ')}`);
      }
    }
    expect(failures).toEqual([]);
    expect(calls).toBe((ops.length - 6) * b.actors.length);
  }, 120_000);

  test('no role below owner promotes itself, invites an owner or mints a key above its level', async () => {
    for (const actor of b.actors.filter((candidate) => candidate.kind === 'user' && candidate.level !== 'admin')) {
      problemOf(await sendAs(t, actor, 'PATCH', `/api/v1/workspaces/${b.id}/members/${actor.userId!}`, { json: { role: 'owner' } }), 403, 'FORBIDDEN', `${actor.label} promotes itself`);
      problemOf(await sendAs(t, actor, 'POST', `/api/v1/workspaces/${b.id}/invitations`, { json: { email: `friend-${actor.level}@example.com`, role: 'owner' } }), 403, 'FORBIDDEN', `${actor.label} invites an owner`);
      const above = (['run', 'write', 'admin'] as const).find((level) => RANK[level] === RANK[actor.level] + 1)!;
      problemOf(await sendAs(t, actor, 'POST', '/api/v1/keys', { json: { name: 'escalate', scopes: ['read', above] } }), 403, 'FORBIDDEN', `${actor.label} mints a ${above} key`);
    }
    for (const actor of b.actors.filter((candidate) => candidate.kind === 'key' && candidate.level !== 'admin')) {
      problemOf(await sendAs(t, actor, 'PUT', '/api/v1/workspace/limits', { json: { apiRequestsPerMinute: 1_000_000 } }), 403, 'FORBIDDEN', `${actor.label} lifts a limit`);
    }
    const members = await send(t, b.owner.bearer, 'GET', `/api/v1/workspaces/${b.id}/members`, { workspace: b.id });
    expectNoMarks(members, a.marks, 'members of B');
    const roles = new Map((JSON.parse(members.text) as { items: Array<{ userId: string; role: string }> }).items.map((member) => [member.userId, member.role]));
    for (const actor of b.actors.filter((candidate) => candidate.kind === 'user')) expect(roles.get(actor.userId!), actor.label).toBe({ admin: 'owner', write: 'editor', run: 'runner', read: 'viewer' }[actor.level]);
  });
});
