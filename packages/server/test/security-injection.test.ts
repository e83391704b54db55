/**
 * Security: SQL injection strings in every path id and query parameter of every GET operation of the
 * OpenAPI document (filters, search, cursors — also cursors crafted to decode into such strings), as
 * B's owner, over real HTTP on SQLite and PostgreSQL. Every answer is 200 with only B's rows (and
 * filters taken literally), or a 400/404 problem; never a 5xx. Afterwards both workspaces read back
 * unchanged, so no table was dropped or altered.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { describeBackends, postgresUnavailable, startTestServer, type Backend, type TestServer } from './harness.js';
import { expectJson, testRegistry } from './helpers.js';
import { as } from './auth-helpers.js';
import { buildWorld, send, snapshot, type Sent, type World } from './security-helpers.js';
import { fill, operations, paramsIn, ROUTES, type Operation } from './security-routes.js';

const cursor = (key: unknown[]): string => Buffer.from(JSON.stringify(key)).toString('base64url');

/** Strings that break naive SQL, LIKE patterns, encodings and length limits. */
export const INJECTIONS = [
  "' OR 1=1 --",
  "' OR '1'='1",
  '" OR ""="',
  "'; DROP TABLE runs; --",
  '"; DROP TABLE runs; --',
  "1') UNION SELECT id, email, password_hash FROM users --",
  '%',
  '_',
  '\\',
  "%' --",
  '$1',
  '@q',
  ':id',
  '*',
  'é中😀',
  '\u0000',
  '\u202e\u200b\ufeff',
  '../../../etc/passwd',
  'x'.repeat(5000),
];

/** Cursors that decode, and pass a shape check, into hostile keys. */
export const CURSORS = [
  cursor(["' OR 1=1 --"]),
  cursor([0, "'; DROP TABLE runs; --"]),
  cursor([1.5, 'x']),
  cursor([1e300, 'x']),
  cursor([-1e300, '%']),
  Buffer.from('[9007199254740993]').toString('base64url'),
  cursor([-1]),
  cursor([{ $gt: '' }]),
  cursor(['\u0000']),
  Buffer.from("'; DROP TABLE runs; --").toString('base64url'),
];

/** A workflow of B whose name holds every short injection string, so literal search must find it. */
const WEIRD = `Weird 100%_\\ ' OR 1=1 -- "; DROP TABLE runs; -- $1 @q :id * é中😀`;

/** Filters whose matches are checked: `field` of every item equals (or, for q, contains) the value. */
const FILTER_FIELDS: Record<string, string> = { workflowId: 'workflowId', type: 'type', action: 'action', actorId: 'actorId', resourceType: 'resourceType', resourceId: 'resourceId', status: 'status' };

describeBackends('security: injection strings in ids and filters', await postgresUnavailable(), (backend: Backend) => {
  let t: TestServer;
  let ops: Operation[];
  let a: World;
  let b: World;
  let weirdId: string;

  beforeAll(async () => {
    t = await startTestServer({ registry: testRegistry() }, backend);
    ops = await operations(t);
    a = await buildWorld(t, 'a');
    b = await buildWorld(t, 'b');
    weirdId = (await expectJson<{ id: string }>(await as(t, b.owner.bearer, '/api/v1/workflows', { method: 'POST', json: { name: WEIRD, nodes: [{ id: 'start', type: 'manual' }], edges: [] }, workspace: b.id }), 201)).id;
  }, 60_000);
  afterAll(() => t?.close());

  /** What is wrong with the answer to `param=value`, or undefined. */
  function verdict(param: string, value: string, sent: Sent): string | undefined {
    if (sent.status === 400 || sent.status === 404) return sent.contentType.includes('application/problem+json') ? undefined : `${sent.status} is not problem+json`;
    if (sent.status !== 200) return `answered ${sent.status}: ${sent.text.slice(0, 200)}`;
    if (sent.contentType.startsWith('text/event-stream')) return undefined;
    const leaked = a.marks.filter((mark) => sent.text.includes(mark));
    if (leaked.length > 0) return `answer holds workspace A's ${leaked.join(', ')}`;
    const items = (JSON.parse(sent.text) as { items?: Array<Record<string, unknown>> }).items;
    if (items === undefined) return undefined;
    if (param === 'q') {
      const bad = items.filter((item) => !`${String(item.name)}\n${String(item.id)}`.toLowerCase().includes(value.toLowerCase()));
      if (bad.length > 0) return `q matched ${bad.map((item) => String(item.name)).join(', ')}, which do not contain it`;
      if (WEIRD.toLowerCase().includes(value.toLowerCase()) && !items.some((item) => item.id === weirdId)) return `q did not find the workflow whose name contains it`;
    }
    const field = FILTER_FIELDS[param];
    if (field !== undefined && items.some((item) => item[field] !== value)) return `${param} filter matched other rows`;
    return undefined;
  }

  test('every path id and query parameter of every GET operation takes injection strings without a 5xx or a foreign row', async () => {
    const before = await snapshot(t, a);
    const failures: string[] = [];
    let calls = 0;
    const gets = ops.filter((op) => op.method === 'GET' && ROUTES[op.key]?.level !== 'public');
    expect(gets.length).toBeGreaterThan(20);
    for (const op of gets) {
      const spec = ROUTES[op.key];
      if (spec === undefined) {
        failures.push(`${op.key}: not in the table`);
        continue;
      }
      const valid = paramsIn(spec, b);
      const baseQuery = new URLSearchParams(spec.query ?? '');
      const targets = [...Object.keys(valid).map((name) => ({ name, in: 'path' as const })), ...op.queryKeys.map((name) => ({ name, in: 'query' as const }))];
      for (const target of targets) {
        for (const value of [...INJECTIONS, ...(target.name === 'cursor' ? CURSORS : [])]) {
          const query = new URLSearchParams(baseQuery);
          const params = { ...valid };
          if (target.in === 'path') params[target.name] = value;
          else query.set(target.name, value);
          const search = query.toString();
          const sent = await send(t, b.owner.bearer, 'GET', `${fill(op.template, params)}${search === '' ? '' : `?${search}`}`, { workspace: b.id });
          calls += 1;
          const wrong = verdict(target.name, value, sent);
          if (wrong !== undefined) failures.push(`${op.key} ${target.in} ${target.name}=${JSON.stringify(value.slice(0, 40))}: ${wrong}`);
        }
      }
    }
    expect(failures).toEqual([]);
    expect(calls).toBeGreaterThan(400);
    // Nothing was dropped or changed: A reads back the same, B's lists still answer with B's rows.
    expect(await snapshot(t, a)).toEqual(before);
    await snapshot(t, b);
    const found = await expectJson<{ items: Array<{ id: string }> }>(await as(t, b.owner.bearer, `/api/v1/workflows?q=${encodeURIComponent("' OR 1=1 --")}`, { workspace: b.id }), 200);
    expect(found.items.map((item) => item.id)).toEqual([weirdId]);
    expect((await t.store.listRuns(a.id, { limit: 10 })).items.length).toBeGreaterThan(0);
  }, 180_000);
});
