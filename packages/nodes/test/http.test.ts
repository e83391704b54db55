/** The http node against a real local server: bodies, statuses, retries, timeouts and network errors. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createBuiltinRegistry } from '@flowpilot/nodes';
import { runWorkflow, type RunResult } from '@flowpilot/runtime';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { step, workflow } from './helpers.js';

const registry = createBuiltinRegistry();
const hits = new Map<string, number>();
const sockets = new Set<Socket>();
let server: Server;
let base = '';

function send(res: ServerResponse, status: number, body: string, type: string): void {
  res.writeHead(status, { 'content-type': type, 'x-test': 'yes' });
  res.end(body);
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const count = (hits.get(url.pathname) ?? 0) + 1;
  hits.set(url.pathname, count);
  const [, route = '', a = '', b = ''] = url.pathname.split('/');
  switch (route) {
    case 'echo':
      return send(res, 200, JSON.stringify({ method: req.method, path: url.pathname, query: Object.fromEntries(url.searchParams), headers: req.headers, body: Buffer.concat(chunks).toString() }), 'application/json; charset=utf-8');
    case 'text':
      return send(res, 200, 'plain hello', 'text/plain');
    case 'status':
      return send(res, Number(a), JSON.stringify({ error: `status ${a}` }), 'application/json');
    case 'flaky': // /flaky/<status>/<failures>/<key>: answers <status> <failures> times, then 200
      return count <= Number(b) ? send(res, Number(a), 'not yet', 'text/plain') : send(res, 200, JSON.stringify({ hits: count }), 'application/json');
    case 'badjson':
      return send(res, 200, '{"oops": ', a === 'labelled' ? 'application/json' : 'text/plain');
    case 'hang':
      return; // never answers
    default:
      return send(res, 404, 'no route', 'text/plain');
  }
}

beforeAll(async () => {
  server = createServer((req, res) => void handle(req, res));
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const fastRetry = (maxAttempts: number): Record<string, unknown> => ({ maxAttempts, initialDelayMs: 5, factor: 1, jitter: false });

function request(data: Record<string, unknown>, node: Record<string, unknown> = {}): Promise<RunResult> {
  return runWorkflow(workflow([{ id: 'req', type: 'http', data, ...node }]), { registry });
}

describe('http', () => {
  test('GET with query and headers outputs {status, headers, body} with JSON parsed', async () => {
    const result = await request({ url: `${base}/echo`, query: { q: 'flow pilot', page: 2, exact: true }, headers: { 'x-api-key': 'k1' } });
    expect(result.status).toBe('succeeded');
    const output = step(result, 'req').output as { status: number; headers: Record<string, string>; body: Record<string, unknown> };
    expect(output.status).toBe(200);
    expect(output.headers['x-test']).toBe('yes');
    expect(output.headers['content-type']).toContain('application/json');
    expect(output.body).toMatchObject({ method: 'GET', path: '/echo', query: { q: 'flow pilot', page: '2', exact: 'true' }, body: '' });
    expect((output.body['headers'] as Record<string, string>)['x-api-key']).toBe('k1');
  });

  test('a text response stays text', async () => {
    const result = await request({ url: `${base}/text` });
    expect(step(result, 'req').output).toMatchObject({ status: 200, body: 'plain hello' });
  });

  test('POST sends an object body as JSON with content-type application/json', async () => {
    const result = await request({ method: 'POST', url: `${base}/echo`, body: { name: 'ada', tags: ['x'] } });
    expect(result.status).toBe('succeeded');
    const body = (step(result, 'req').output as { body: { method: string; headers: Record<string, string>; body: string } }).body;
    expect(body.method).toBe('POST');
    expect(body.headers['content-type']).toBe('application/json');
    expect(JSON.parse(body.body)).toEqual({ name: 'ada', tags: ['x'] });
  });

  test('404 fails with HTTP_STATUS, non-retryable, after one attempt despite retries', async () => {
    hits.delete('/status/404');
    const result = await request({ url: `${base}/status/404` }, { retry: fastRetry(3) });
    expect(result.status).toBe('failed');
    expect(result.error).toMatchObject({ code: 'HTTP_STATUS', retryable: false, nodeId: 'req' });
    expect(result.error?.details).toMatchObject({ status: 404 });
    expect(step(result, 'req').attempts).toBe(1);
    expect(hits.get('/status/404')).toBe(1);
  });

  test('503 twice then 200 succeeds on attempt 3', async () => {
    const result = await request({ url: `${base}/flaky/503/2/a` }, { retry: fastRetry(3) });
    expect(result.status).toBe('succeeded');
    expect(step(result, 'req').attempts).toBe(3);
    expect(step(result, 'req').output).toMatchObject({ status: 200, body: { hits: 3 } });
  });

  test('429 is retryable', async () => {
    const retried = await request({ url: `${base}/flaky/429/1/b` }, { retry: fastRetry(2) });
    expect(retried.status).toBe('succeeded');
    expect(step(retried, 'req').attempts).toBe(2);
    const exhausted = await request({ url: `${base}/flaky/429/5/c` }, { retry: fastRetry(2) });
    expect(exhausted.error).toMatchObject({ code: 'HTTP_STATUS', retryable: true });
    expect(hits.get('/flaky/429/5/c')).toBe(2);
  });

  test('failOnStatus: false succeeds with the error status in the output', async () => {
    const result = await request({ url: `${base}/status/500`, failOnStatus: false }, { retry: fastRetry(3) });
    expect(result.status).toBe('succeeded');
    expect(step(result, 'req').attempts).toBe(1);
    expect(step(result, 'req').output).toMatchObject({ status: 500, body: { error: 'status 500' } });
  });

  test('the timeoutMs param fails a request the server never answers with TIMEOUT', async () => {
    const result = await request({ url: `${base}/hang`, timeoutMs: 150 });
    expect(result.status).toBe('failed');
    expect(result.error).toMatchObject({ code: 'TIMEOUT', nodeId: 'req' });
    expect(step(result, 'req').attempts).toBe(1);
  });

  test('responseType json with an invalid body fails with HTTP_INVALID_JSON; auto falls back to text', async () => {
    const strict = await request({ url: `${base}/badjson/plain`, responseType: 'json' }, { retry: fastRetry(3) });
    expect(strict.error).toMatchObject({ code: 'HTTP_INVALID_JSON', retryable: false });
    expect(step(strict, 'req').attempts).toBe(1);
    const auto = await request({ url: `${base}/badjson/labelled` });
    expect(step(auto, 'req').output).toMatchObject({ status: 200, body: '{"oops": ' });
  });

  test('connection refused fails with HTTP_NETWORK, retryable', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const result = await request({ url: `http://127.0.0.1:${port}/` }, { retry: fastRetry(2) });
    expect(result.status).toBe('failed');
    expect(result.error).toMatchObject({ code: 'HTTP_NETWORK', retryable: true });
    expect(result.error?.message).toContain('ECONNREFUSED');
    expect(step(result, 'req').attempts).toBe(2);
  });
});
