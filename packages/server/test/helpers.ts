/** Shared pieces of the API suite: problem checks, polling, test node types, an SSE client. */
import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { z } from 'zod';
import { defineNodeType, FlowPilotError, type NodeRegistry } from '@flowpilot/engine';
import { createBuiltinRegistry } from '@flowpilot/nodes';
import { API_KEY, type TestServer } from './harness.js';

export type Json = Record<string, unknown>;

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  code: string;
  detail?: string;
  errors?: Array<{ code: string; message: string; nodeId?: string; path?: string }>;
  runId?: string;
}

export interface RunBody {
  id: string;
  workflowId: string;
  version: number;
  status: string;
  input?: unknown;
  output?: unknown;
  error?: { code: string; message: string; nodeId?: string };
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  steps?: Record<string, { status: string; attempts: number; output?: unknown; error?: { code: string; message: string }; startedAt?: string; finishedAt?: string; durationMs?: number }>;
}

export const FINISHED = new Set(['succeeded', 'failed', 'cancelled']);

/** A short random tag: names and webhook paths unique within a shared database. */
export const tag = (): string => randomBytes(4).toString('hex');

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Asserts an application/problem+json answer with this status (and code); returns its body. */
export async function expectProblem(response: Response, status: number, code?: string): Promise<ProblemBody> {
  const text = await response.text();
  expect(response.status, `${response.url} → ${text}`).toBe(status);
  expect(response.headers.get('content-type')).toContain('application/problem+json');
  const body = JSON.parse(text) as ProblemBody;
  expect(body).toMatchObject({ status, type: expect.any(String), title: expect.any(String), code: expect.stringMatching(/^[A-Z][A-Z0-9_]*$/) });
  if (code !== undefined) expect(body.code).toBe(code);
  return body;
}

/** Reads a JSON answer, asserting its status first. */
export async function expectJson<T = Json>(response: Response, status: number): Promise<T> {
  const text = await response.text();
  expect(response.status, `${response.url} → ${text}`).toBe(status);
  return (text === '' ? undefined : JSON.parse(text)) as T;
}

/** Polls `probe` until it returns something other than undefined. */
export async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 10_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export async function getRun(t: TestServer, runId: string): Promise<RunBody> {
  return expectJson<RunBody>(await t.api(`/api/v1/runs/${runId}`), 200);
}

/** Polls a run until `done` holds (default: it finished). */
export async function waitForRun(t: TestServer, runId: string, done: (run: RunBody) => boolean = (run) => FINISHED.has(run.status), timeoutMs = 10_000): Promise<RunBody> {
  let last: RunBody | undefined;
  try {
    return await until(async () => {
      last = await getRun(t, runId);
      return done(last) ? last : undefined;
    }, `run ${runId}`, timeoutMs);
  } catch (error) {
    throw new Error(`${(error as Error).message}; last seen: ${JSON.stringify(last)}`);
  }
}

/** Creates a workflow; returns its id. */
export async function createWorkflow(t: TestServer, definition: Json, id?: string): Promise<string> {
  const response = await t.api(`/api/v1/workflows${id === undefined ? '' : `?id=${id}`}`, { method: 'POST', json: definition });
  return (await expectJson<{ id: string }>(response, 201)).id;
}

/** Starts a run; without `wait`, answers 201 with the new run. */
export async function startRun(t: TestServer, workflowId: string, body: Json = {}, query = ''): Promise<Response> {
  return t.api(`/api/v1/workflows/${workflowId}/runs${query}`, { method: 'POST', json: body });
}

/** Starts a run and waits for it to finish (up to 10 s). */
export async function runToEnd(t: TestServer, workflowId: string, input: unknown = {}): Promise<RunBody> {
  const response = await startRun(t, workflowId, { input }, '?wait=true&timeoutMs=10000');
  return expectJson<RunBody>(response, 200);
}

// ——— Test node types ———

/** `test_log`: writes log lines through ctx.log and outputs their count. */
export const logNode = defineNodeType({
  type: 'test_log',
  title: 'Log lines (test)',
  description: 'Writes `lines` through ctx.log.',
  category: 'test',
  params: z.object({ lines: z.array(z.object({ level: z.enum(['debug', 'info', 'warn', 'error']), message: z.string(), fields: z.record(z.string(), z.unknown()).optional() })) }),
  execute(ctx) {
    for (const line of ctx.params.lines) ctx.log(line.level, line.message, line.fields);
    return { logged: ctx.params.lines.length };
  },
});

/** Keys for which `test_flaky` succeeds. */
export const healed = new Set<string>();
/** How often each `test_flaky` / `test_count` key ran. */
export const executions = new Map<string, number>();

/** `test_flaky`: fails (not retryable) until its key is in `healed`. */
export const flakyNode = defineNodeType({
  type: 'test_flaky',
  title: 'Fails until healed (test)',
  description: 'Fails with FLAKY until the test heals its key.',
  category: 'test',
  params: z.object({ key: z.string() }),
  execute(ctx) {
    executions.set(ctx.params.key, (executions.get(ctx.params.key) ?? 0) + 1);
    if (!healed.has(ctx.params.key)) throw new FlowPilotError('FLAKY', `not healed: ${ctx.params.key}`, { retryable: false });
    return { healed: ctx.params.key };
  },
});

/** `test_count`: counts its executions per key. */
export const countNode = defineNodeType({
  type: 'test_count',
  title: 'Count executions (test)',
  description: 'Counts how often it ran, per key.',
  category: 'test',
  params: z.object({ key: z.string() }),
  execute(ctx) {
    const count = (executions.get(ctx.params.key) ?? 0) + 1;
    executions.set(ctx.params.key, count);
    return { count };
  },
});

/** `test_whoami`: outputs the name of the server whose worker ran it. */
export function whoamiNode(name: string) {
  return defineNodeType({
    type: 'test_whoami',
    title: 'Which server ran me (test)',
    description: 'Outputs the name of the registry it was registered in.',
    category: 'test',
    params: z.object({}).loose(),
    execute: () => ({ server: name }),
  });
}

/** The built-in node types plus the test ones. */
export function testRegistry(server = 'A'): NodeRegistry {
  return createBuiltinRegistry().register(logNode).register(flakyNode).register(countNode).register(whoamiNode(server));
}

// ——— Workflows ———

/** start → d1 → d2 → … (delays of `ms`) → done. */
export function delayChain(name: string, delays: number, ms: number): Json {
  const nodes: Json[] = [{ id: 'start', type: 'manual' }];
  const edges: Json[] = [];
  let previous = 'start';
  for (let index = 1; index <= delays; index += 1) {
    nodes.push({ id: `d${index}`, type: 'delay', data: { ms } });
    edges.push({ source: previous, target: `d${index}` });
    previous = `d${index}`;
  }
  nodes.push({ id: 'done', type: 'set', data: { values: { finished: true } } });
  edges.push({ source: previous, target: 'done' });
  return { name, nodes, edges };
}

// ——— Server-Sent Events ———

export interface SseEvent {
  id?: string;
  event: string;
  data: Json;
}

/** Opens an SSE stream (with the API key, optionally resuming after `lastEventId`). */
export async function connectSse(url: string, options: { lastEventId?: string; signal?: AbortSignal; key?: string } = {}): Promise<Response> {
  const headers: Record<string, string> = { authorization: `Bearer ${options.key ?? API_KEY}`, accept: 'text/event-stream' };
  if (options.lastEventId !== undefined) headers['last-event-id'] = options.lastEventId;
  return fetch(url, { headers, signal: options.signal });
}

/** The messages of an SSE response body, as they complete (comments and `retry:` are dropped). */
export async function* sseEvents(response: Response, signal?: AbortSignal): AsyncGenerator<SseEvent> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  const stop = (): void => void reader.cancel().catch(() => undefined);
  signal?.addEventListener('abort', stop, { once: true });
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const message: Partial<SseEvent> & { raw?: string } = {};
        for (const line of block.split('\n')) {
          if (line.startsWith('id: ')) message.id = line.slice(4);
          else if (line.startsWith('event: ')) message.event = line.slice(7);
          else if (line.startsWith('data: ')) message.raw = (message.raw === undefined ? '' : `${message.raw}\n`) + line.slice(6);
        }
        if (message.event !== undefined) yield { id: message.id, event: message.event, data: JSON.parse(message.raw ?? 'null') as Json };
      }
    }
  } finally {
    signal?.removeEventListener('abort', stop);
    await reader.cancel().catch(() => undefined);
  }
}
