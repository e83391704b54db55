/**
 * Fuzz: thousands of malformed requests to every route of the OpenAPI document (plus webhooks,
 * the WebSocket path and the public routes): random JSON, wrong types, huge strings, invalid UTF-8,
 * wrong content types, junk path params and queries. No answer may be a 5xx, and every error must
 * be application/problem+json with a stable code. Seeded: FUZZ_SEED=<n> replays a run, FUZZ_REQUESTS
 * sets how many requests (default 4000 per backend).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { signBody } from '@flowpilot/server';
import { toSecretKey } from '@flowpilot/vault';
import { API_KEY, describeBackends, postgresUnavailable, startTestServer, type Backend, type TestServer } from './harness.js';
import { body, pathParam, query, Random, randomString } from './fuzz-gen.js';
import { createWorkflow, expectJson, runToEnd, testRegistry } from './helpers.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20_260_101);
const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 4000);
const CONCURRENCY = 8;
const SECRET = 'fuzzing-secret-123';

interface Route {
  method: string;
  template: string;
  queryKeys: string[];
}

interface Outcome {
  key: string;
  detail: string;
}

describeBackends('fuzz', await postgresUnavailable(), (backend: Backend) => {
  let t: TestServer;
  let routes: Route[];
  const known = { workflows: [] as string[], runs: [] as string[], hooks: ['fuzz/async', 'fuzz/sync', 'fuzz/signed'] };

  beforeAll(async () => {
    // With a secret key, as every embedded deployment has: credential routes answer 503 without one, by design.
    t = await startTestServer({ registry: testRegistry(), bodyLimit: 64 * 1024, secretKey: toSecretKey(randomBytes(32), 'env') }, backend);
    const target = await createWorkflow(t, { name: 'Fuzz target', nodes: [{ id: 'start', type: 'manual' }, { id: 'echo', type: 'set', data: { values: { got: '{{ start }}' } } }], edges: [{ source: 'start', target: 'echo' }] });
    known.workflows.push(target);
    known.runs.push((await runToEnd(t, target, { hello: 'fuzz' })).id);
    for (const [path, extra] of [
      ['fuzz/async', {}],
      ['fuzz/sync', { mode: 'sync', timeoutMs: 2000 }],
      ['fuzz/signed', { secret: SECRET }],
    ] as const) {
      const id = await createWorkflow(t, { name: `Hook ${path}`, nodes: [{ id: 'hook', type: 'webhook', data: { path, method: 'POST', ...extra } }, { id: 'echo', type: 'set', data: { values: { x: '{{ hook.body.x }}' } } }], edges: [{ source: 'hook', target: 'echo' }] });
      await expectJson(await t.api(`/api/v1/workflows/${id}/activate`, { method: 'POST' }), 200);
    }
    const document = await expectJson<{ paths: Record<string, Record<string, { parameters?: Array<{ in: string; name: string }> }>> }>(await t.api('/api/v1/openapi.json'), 200);
    routes = Object.entries(document.paths).flatMap(([template, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({ method: method.toUpperCase(), template, queryKeys: (operation.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name) })),
    );
    for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']) routes.push({ method, template: '/hooks/{hook}', queryKeys: [] });
    routes.push({ method: 'GET', template: '/api/v1/ws', queryKeys: [] }, { method: 'GET', template: '/healthz', queryKeys: [] }, { method: 'GET', template: '/readyz', queryKeys: [] });
  });
  afterAll(() => t?.close());

  /** Builds request `index` from its own seed, so any single request can be replayed. */
  function build(index: number): { method: string; url: string; init: RequestInit; route: Route } {
    const random = new Random(SEED * 7919 + index);
    const route = random.pick(routes);
    const method = random.chance(0.04) ? random.pick(['HEAD', 'OPTIONS', 'PATCH', 'PUT', 'DELETE']) : route.method;
    const path = route.template.replaceAll(/\{(\w+)\}/g, (_match, name: string) => {
      if (name === 'hook') return random.chance(0.6) ? random.pick(known.hooks) : pathParam(random, []);
      if (name === 'nodeId') return pathParam(random, ['start', 'echo']);
      if (name === 'v') return pathParam(random, ['1', '2']);
      const ids = route.template.startsWith('/api/v1/runs') ? known.runs : known.workflows;
      // Never DELETE the target: later requests should keep reaching deep into its handlers.
      return pathParam(random, method === 'DELETE' ? [] : ids);
    });
    const headers: Record<string, string> = {};
    const auth = random.int(40);
    if (auth > 1) headers.authorization = `Bearer ${API_KEY}`;
    else if (auth === 1) headers.authorization = `Bearer ${randomString(random, 20).replaceAll(/[^\x21-\x7e]/g, 'x')}`;
    if (random.chance(0.05)) headers['last-event-id'] = random.pick(['-1', '99999999999999999999', 'abc', '3']);
    const init: RequestInit = { method, headers, signal: AbortSignal.timeout(10_000), redirect: 'manual' };
    if (method !== 'GET' && method !== 'HEAD' && random.chance(0.9)) {
      const generated = body(random);
      if (generated.contentType !== undefined) headers['content-type'] = generated.contentType;
      init.body = generated.body;
      if (route.template === '/hooks/{hook}' && random.chance(0.5) && generated.body !== undefined) headers['x-flowpilot-signature'] = signBody(SECRET, Buffer.from(generated.body));
    }
    return { method, url: `${t.url}${path}${query(random, route.queryKeys)}`, init, route };
  }

  /** Sends request `index`; returns what was wrong with the answer, if anything. */
  async function check(index: number, statuses: Map<number, number>): Promise<Outcome | undefined> {
    const { method, url, init, route } = build(index);
    const sent = `#${index} ${method} ${url.slice(t.url.length, t.url.length + 160)} [${String((init.headers as Record<string, string>)['content-type'])}] ${typeof init.body === 'string' ? init.body.slice(0, 80) : init.body === undefined ? '' : `<${(init.body as Uint8Array).length} bytes>`}`;
    let response: Response;
    try {
      response = await fetch(url, init);
    } catch (error) {
      return { key: `${method} ${route.template} → network error ${String((error as Error).cause ?? error)}`.slice(0, 200), detail: sent };
    }
    statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
    const contentType = response.headers.get('content-type') ?? '';
    if (contentType.startsWith('text/event-stream')) {
      await response.body?.cancel();
      return response.status === 200 ? undefined : { key: `${method} ${route.template} → ${response.status} event-stream`, detail: sent };
    }
    const text = await response.text().catch((error: unknown) => `<unreadable: ${String(error)}>`);
    if (response.status < 400) return undefined;
    const problems: string[] = [];
    if (response.status >= 500) problems.push(`${response.status}`);
    if (!contentType.includes('application/problem+json')) problems.push(`${response.status} not problem+json (${contentType || 'no content-type'})`);
    else if (method !== 'HEAD') {
      try {
        const problem = JSON.parse(text) as { status?: unknown; code?: unknown };
        if (problem.status !== response.status || typeof problem.code !== 'string') problems.push(`${response.status} malformed problem`);
      } catch {
        problems.push(`${response.status} problem is not JSON`);
      }
    }
    if (problems.length === 0) return undefined;
    const code = /"code":"([A-Z_]+)"/.exec(text)?.[1] ?? '';
    // U+0000 anywhere in the request is its own class of failure (PostgreSQL refuses it in text).
    const bodyText = typeof init.body === 'string' ? init.body : init.body === undefined ? '' : Buffer.from(init.body as Uint8Array).toString('latin1');
    const nul = response.status >= 500 && (url.includes('%00') || bodyText.includes('\\u0000') || bodyText.includes('\u0000')) ? ' [U+0000 in request]' : '';
    return { key: `${method} ${route.template} → ${problems.join(', ')} ${code}${nul}`.trim(), detail: `${sent} ⇒ ${text.slice(0, 200)}` };
  }

  test(`${REQUESTS} malformed requests (seed ${SEED}): no 5xx, every error is problem+json`, async () => {
    const failures = new Map<string, { count: number; examples: string[] }>();
    const statuses = new Map<number, number>();
    let next = 0;
    const workers = Array.from({ length: CONCURRENCY }, async () => {
      while (next < REQUESTS) {
        const index = next;
        next += 1;
        const outcome = await check(index, statuses);
        if (outcome === undefined) continue;
        const entry = failures.get(outcome.key) ?? { count: 0, examples: [] };
        entry.count += 1;
        if (entry.examples.length < 3) entry.examples.push(outcome.detail);
        failures.set(outcome.key, entry);
      }
    });
    await Promise.all(workers);
    // The server is still healthy afterwards, and the target workflow still runs.
    expect((await fetch(`${t.url}/readyz`)).status).toBe(200);
    expect((await runToEnd(t, known.workflows[0]!, { after: 'fuzz' })).status).toBe('succeeded');
    console.info(`fuzz [${backend.kind}] statuses:`, Object.fromEntries([...statuses.entries()].sort(([a], [b]) => a - b)));
    const report = [...failures.entries()].sort((a, b) => b[1].count - a[1].count).map(([key, { count, examples }]) => `${count}× ${key}\n    ${examples.join('\n    ')}`);
    expect(report, `replay with FUZZ_SEED=${SEED}:\n${report.join('\n')}`).toEqual([]);
  }, 240_000);
});
