/**
 * The http node with credentials against real local servers: the auth header arrives, every
 * recorded trace of the secret (output, error, logs, events) is scrubbed, the header never follows
 * a redirect to another origin, and missing or wrong credentials fail with typed errors.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FlowPilotError, NonRetryableError, type RunEvent } from '@flowpilot/engine';
import { createBuiltinRegistry } from '@flowpilot/nodes';
import { runWorkflow, type CredentialProvider, type LogEntry, type ResolvedCredential } from '@flowpilot/runtime';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { step, workflow } from './helpers.js';

const registry = createBuiltinRegistry();
const TOKEN = 'tok_Zq8+/secret=value';
const PASSWORD = 'p@ss w0rd!';
const HEADER_VALUE = 'hdr-secret-7781';
const credentials = new Map<string, ResolvedCredential>([
  ['bearer', { id: 'bearer', type: 'httpBearer', data: { token: TOKEN }, secrets: [TOKEN] }],
  ['basic', { id: 'basic', type: 'httpBasic', data: { username: 'alice', password: PASSWORD }, secrets: [PASSWORD, `alice:${PASSWORD}`] }],
  ['header', { id: 'header', type: 'httpHeader', data: { name: 'X-Api-Key', value: HEADER_VALUE }, secrets: [HEADER_VALUE] }],
  ['smtp', { id: 'smtp', type: 'smtp', data: { host: 'h', password: 'smtp-pw' }, secrets: ['smtp-pw'] }],
]);
/** The provider a durable worker would pass in: here, credentials held in a map. */
const provider: CredentialProvider = async (id) => {
  const credential = credentials.get(id);
  if (credential === undefined) throw new NonRetryableError('CREDENTIAL_NOT_FOUND', `credential "${id}" not found`);
  return credential;
};

interface Received {
  server: 'a' | 'b';
  path: string;
  headers: IncomingMessage['headers'];
}
const received: Received[] = [];
let serverA: Server;
let serverB: Server;
let baseA = '';
let baseB = '';

function echo(name: 'a' | 'b') {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    received.push({ server: name, path, headers: req.headers });
    if (path === '/to-same') return void res.writeHead(302, { location: '/echo' }).end();
    if (path === '/to-other') return void res.writeHead(307, { location: `${baseB}/echo` }).end();
    const status = path === '/deny' ? 401 : 200;
    // Echoes the credential back in the body and a header, like a careless API.
    res.writeHead(status, { 'content-type': 'application/json', 'x-echo-auth': String(req.headers.authorization ?? '') });
    res.end(JSON.stringify({ path, authorization: req.headers.authorization, apiKey: req.headers['x-api-key'] }));
  };
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  serverA = createServer(echo('a'));
  serverB = createServer(echo('b'));
  baseA = await listen(serverA);
  baseB = await listen(serverB);
});

afterAll(async () => {
  for (const server of [serverA, serverB]) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

async function request(data: Record<string, unknown>, options: { credentials?: CredentialProvider } = { credentials: provider }) {
  const events: RunEvent[] = [];
  const logs: LogEntry[] = [];
  const result = await runWorkflow(workflow([{ id: 'req', type: 'http', data }]), { registry, ...options, onEvent: (event) => void events.push(event), onLog: (entry) => void logs.push(entry) });
  return { result, everything: JSON.stringify({ result, events, logs }) };
}

const basicHeader = `Basic ${Buffer.from(`alice:${PASSWORD}`).toString('base64')}`;

describe('http node credentials', () => {
  test('bearer: the server gets the token; output, events and the echoed header show ***', async () => {
    const { result, everything } = await request({ url: `${baseA}/echo`, credential: 'bearer' });
    expect(result.status).toBe('succeeded');
    expect(received.at(-1)).toMatchObject({ server: 'a', headers: { authorization: `Bearer ${TOKEN}` } });
    const output = step(result, 'req').output as { headers: Record<string, string>; body: Record<string, string> };
    expect(output.body.authorization).toBe('Bearer ***');
    expect(output.headers['x-echo-auth']).toBe('Bearer ***');
    expect(everything).not.toContain(TOKEN);
    expect(everything).not.toContain(Buffer.from(TOKEN).toString('base64').replace(/=+$/, ''));
  });

  test('basic: the server gets base64(user:password); neither the password nor that base64 is recorded', async () => {
    const { result, everything } = await request({ url: `${baseA}/echo`, credential: 'basic' });
    expect(received.at(-1)?.headers.authorization).toBe(basicHeader);
    expect((step(result, 'req').output as { body: Record<string, string> }).body.authorization).toBe('Basic ***');
    expect(everything).not.toContain(PASSWORD);
    expect(everything).not.toContain(basicHeader.slice('Basic '.length));
    expect(everything).not.toContain(encodeURIComponent(PASSWORD));
  });

  test('header: a custom header carries the value; a user header of the same name is overridden', async () => {
    const { result, everything } = await request({ url: `${baseA}/echo`, headers: { 'x-api-key': 'user-set' }, credential: 'header' });
    expect(received.at(-1)?.headers['x-api-key']).toBe(HEADER_VALUE);
    expect((step(result, 'req').output as { body: Record<string, string> }).body.apiKey).toBe('***');
    expect(everything).not.toContain(HEADER_VALUE);
  });

  test('a failing request whose error body echoes the secret records it scrubbed (message and details)', async () => {
    const { result, everything } = await request({ url: `${baseA}/deny`, credential: 'bearer' });
    expect(result.status).toBe('failed');
    expect(result.error).toMatchObject({ code: 'HTTP_STATUS', details: { status: 401, body: { authorization: 'Bearer ***' } } });
    expect(everything).not.toContain(TOKEN);
  });

  test('redirects: the credential follows one to the same origin, never one to another origin', async () => {
    received.length = 0;
    await request({ url: `${baseA}/to-same`, credential: 'header' });
    expect(received.map((r) => [r.server, r.path, r.headers['x-api-key']])).toEqual([
      ['a', '/to-same', HEADER_VALUE],
      ['a', '/echo', HEADER_VALUE],
    ]);
    received.length = 0;
    const { result } = await request({ url: `${baseA}/to-other`, credential: 'bearer' });
    expect(result.status).toBe('succeeded');
    expect(received.map((r) => [r.server, r.path, r.headers.authorization])).toEqual([
      ['a', '/to-other', `Bearer ${TOKEN}`],
      ['b', '/echo', undefined],
    ]);
  });

  test('without a credential provider (an in-memory run) the step fails NO_CREDENTIAL_PROVIDER, naming the id, not retried', async () => {
    received.length = 0;
    const { result } = await runWorkflow(workflow([{ id: 'req', type: 'http', data: { url: `${baseA}/echo`, credential: 'bearer' }, retry: { maxAttempts: 3, initialDelayMs: 1 } }]), { registry }).then((result) => ({ result }));
    expect(result.error).toMatchObject({ code: 'NO_CREDENTIAL_PROVIDER', retryable: false, nodeId: 'req', details: { credentialId: 'bearer' } });
    expect(result.error?.message).toContain('"bearer"');
    expect(step(result, 'req').attempts).toBe(1);
    expect(received).toEqual([]);
  });

  test('an unknown credential and one of a type the node does not accept fail with typed, non-retryable errors', async () => {
    const missing = await request({ url: `${baseA}/echo`, credential: 'nope' });
    expect(missing.result.error).toMatchObject({ code: 'CREDENTIAL_NOT_FOUND', retryable: false, message: 'credential "nope" not found' });
    const wrong = await request({ url: `${baseA}/echo`, credential: 'smtp' });
    expect(wrong.result.error).toMatchObject({ code: 'CREDENTIAL_TYPE_MISMATCH', retryable: false, details: { credentialId: 'smtp', type: 'smtp' } });
    expect(wrong.everything).not.toContain('smtp-pw');
  });

  test('a provider failure that may pass (a store outage) stays retryable', async () => {
    let calls = 0;
    const flaky: CredentialProvider = async (id) => {
      calls += 1;
      if (calls === 1) throw new FlowPilotError('STORE_UNAVAILABLE', 'database unreachable');
      return provider(id);
    };
    const result = await runWorkflow(workflow([{ id: 'req', type: 'http', data: { url: `${baseA}/echo`, credential: 'bearer' }, retry: { maxAttempts: 2, initialDelayMs: 1, jitter: false } }]), { registry, credentials: flaky });
    expect(result.status).toBe('succeeded');
    expect(step(result, 'req').attempts).toBe(2);
  });

  test('inside a forEach body the credential resolves too, and the body output is scrubbed', async () => {
    const result = await runWorkflow(
      workflow([{ id: 'each', type: 'forEach', data: { items: [1, 2], body: { nodes: [{ id: 'call', type: 'http', data: { url: `${baseA}/echo`, credential: 'bearer' } }] } } }]),
      { registry, credentials: provider },
    );
    expect(result.status).toBe('succeeded');
    expect(JSON.stringify(result)).toContain('Bearer ***');
    expect(JSON.stringify(result)).not.toContain(TOKEN);
  });
});
