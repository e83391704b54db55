/**
 * No secret leaks: workflows use credentials (http with bearer, basic and header auth against a
 * server that echoes the credential back; a failing request; a node that logs its secret and
 * fails with it in its error, message and details), then every row of every table, the server's
 * pino logs, the SSE streams and the API's answers are scanned for every secret and its encodings.
 */
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { z } from 'zod';
import { credentialParam, defineNodeType, FlowPilotError } from '@flowpilot/engine';
import { describeBackends, postgresUnavailable, type Backend, type TestServer } from './harness.js';
import { connectSse, createWorkflow, expectJson, runToEnd, testRegistry, until, type Json, type RunBody } from './helpers.js';
import { createCredential, startVaultServer } from './credentials-helpers.js';
import { dumpDatabase, findLeaks } from './secret-leak-scan.js';

const random = (): string => randomBytes(12).toString('hex');
const TOKEN = `tok-${random()}`;
const USERNAME = 'svc-user';
const PASSWORD = `pw+/${random()}`;
const HEADER_VALUE = `hdr-${random()}`;
const SECRETS = [TOKEN, PASSWORD, `${USERNAME}:${PASSWORD}`, HEADER_VALUE];

/** `test_leaky`: logs its credential's secret, then returns it, or throws it in a retryable error. */
const leakyNode = defineNodeType({
  type: 'test_leaky',
  title: 'Leaks its secret (test)',
  description: 'Logs the secret and puts it in its output or error.',
  category: 'test',
  params: z.object({ credential: credentialParam(['httpBearer', 'httpBasic', 'httpHeader'], { required: true }), fail: z.boolean() }),
  async execute(ctx) {
    const { data } = await ctx.credential();
    const secret = String(data.token ?? data.password ?? data.value);
    ctx.log('info', `the secret is ${secret}`, { secret, encoded: Buffer.from(secret).toString('base64'), url: `https://x.test/?k=${encodeURIComponent(secret)}` });
    if (ctx.params.fail) throw new FlowPilotError('LEAKY', `upstream refused ${secret}`, { retryable: true, details: { secret, header: `Bearer ${secret}` } });
    return { secret, basic: Buffer.from(`${String(data.username)}:${secret}`).toString('base64') };
  },
});

/** Echoes every request header (Authorization included) in its body and in a header; /deny answers 401. */
function echoServer(): Server {
  return createHttpServer((req, res) => {
    const status = req.url?.startsWith('/deny') === true ? 401 : 200;
    res.writeHead(status, { 'content-type': 'application/json', 'x-echo': String(req.headers.authorization ?? req.headers['x-api-key'] ?? '') });
    res.end(JSON.stringify({ url: req.url, authorization: req.headers.authorization, apiKey: req.headers['x-api-key'], headers: req.headers }));
  });
}

describeBackends('secret leaks', await postgresUnavailable(), (backend: Backend) => {
  let t: TestServer;
  let echo: Server;
  let echoUrl = '';
  const logLines: string[] = [];

  beforeAll(async () => {
    echo = echoServer();
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    echoUrl = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;
    ({ t } = await startVaultServer(backend, {
      registry: testRegistry().register(leakyNode),
      logger: { level: 'trace', stream: { write: (line: string) => void logLines.push(line) } },
    }));
  });
  afterAll(async () => {
    await t?.close();
    echo?.closeAllConnections();
    await new Promise<void>((resolve) => (echo === undefined ? resolve() : echo.close(() => resolve())));
  });

  test('no secret in any table, log line, event stream or API answer', async () => {
    const bearer = await createCredential(t, 'httpBearer', { token: TOKEN });
    const basic = await createCredential(t, 'httpBasic', { username: USERNAME, password: PASSWORD });
    const header = await createCredential(t, 'httpHeader', { name: 'X-Api-Key', value: HEADER_VALUE });
    const call = (id: string, credential: string, extra: Json = {}): Json => ({ id, type: 'http', data: { url: `${echoUrl}/echo/${id}`, credential, ...extra } });
    const calls = await createWorkflow(t, {
      name: 'Calls with credentials',
      nodes: [
        { id: 'start', type: 'manual' },
        call('viaBearer', bearer),
        call('viaBasic', basic, { method: 'POST', body: { hello: 'world' } }),
        call('viaHeader', header),
        { id: 'each', type: 'forEach', data: { items: [1, 2], body: { nodes: [call('inner', basic)] } } },
        { id: 'summary', type: 'set', data: { values: { bearer: '{{ viaBearer.body.authorization }}', basic: '{{ viaBasic.body.authorization }}', header: '{{ viaHeader.body.apiKey }}' } } },
        { id: 'out', type: 'output', data: { value: '{{ summary }}' } },
      ],
      edges: [
        { source: 'start', target: 'viaBearer' },
        { source: 'start', target: 'viaBasic' },
        { source: 'start', target: 'viaHeader' },
        { source: 'start', target: 'each' },
        { source: 'viaBearer', target: 'summary' },
        { source: 'viaBasic', target: 'summary' },
        { source: 'viaHeader', target: 'summary' },
        { source: 'each', target: 'summary' },
        { source: 'summary', target: 'out' },
      ],
    });
    const denied = await createWorkflow(t, { name: 'Denied', nodes: [{ id: 'start', type: 'manual' }, call('deny', bearer, { url: `${echoUrl}/deny` })], edges: [{ source: 'start', target: 'deny' }] });
    const leaky = await createWorkflow(t, {
      name: 'Leaky',
      nodes: [
        { id: 'start', type: 'manual' },
        { id: 'tolerated', type: 'test_leaky', data: { credential: header, fail: true }, onError: 'continue' },
        { id: 'returns', type: 'test_leaky', data: { credential: basic, fail: false } },
        { id: 'fails', type: 'test_leaky', data: { credential: bearer, fail: true }, retry: { maxAttempts: 2, initialDelayMs: 1, jitter: false } },
      ],
      edges: [
        { source: 'start', target: 'tolerated' },
        { source: 'tolerated', target: 'returns' },
        { source: 'returns', target: 'fails' },
      ],
    });

    // Live streams of every workflow, open while the runs happen.
    const live = new AbortController();
    const liveChunks: string[] = [];
    const liveStreams = await Promise.all([calls, denied, leaky].map((id) => connectSse(`${t.url}/api/v1/workflows/${id}/events`, { signal: live.signal })));
    for (const response of liveStreams) expect(response.status).toBe(200);
    const liveReads = liveStreams.map(async (response) => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of response.body!) liveChunks.push(decoder.decode(chunk as Uint8Array, { stream: true }));
      } catch {
        // Aborted by the test once every run finished.
      }
    });

    const ok = await runToEnd(t, calls);
    expect(ok.status, JSON.stringify(ok.error)).toBe('succeeded');
    // The echo server saw the credentials; what was recorded shows them scrubbed.
    expect(ok.output).toEqual({ bearer: 'Bearer ***', basic: 'Basic ***', header: '***' });
    const deny = await runToEnd(t, denied);
    expect(deny).toMatchObject({ status: 'failed', error: { code: 'HTTP_STATUS', nodeId: 'deny' } });
    const leak = await runToEnd(t, leaky);
    expect(leak).toMatchObject({ status: 'failed', error: { code: 'LEAKY', message: 'upstream refused ***', nodeId: 'fails' } });
    expect(leak.steps?.fails?.attempts).toBe(2);
    expect(leak.steps?.returns?.output).toEqual({ secret: '***', basic: '***' });
    expect(leak.steps?.tolerated).toMatchObject({ status: 'succeeded' });

    // Replayed streams of each run (they end by themselves once the run finished).
    const runs = [ok, deny, leak] as RunBody[];
    const replays = await Promise.all(runs.map(async (run) => (await connectSse(`${t.url}/api/v1/runs/${run.id}/events`)).text()));
    for (const replay of replays) expect(replay).toContain('run.finished');
    await until(async () => (liveChunks.join('').split('event: run.finished').length > runs.length ? true : undefined), 'run.finished on every live stream');
    live.abort();
    await Promise.all(liveReads);

    const answers: string[] = [];
    for (const run of runs) {
      answers.push(await (await t.api(`/api/v1/runs/${run.id}`)).text());
      for (const nodeId of Object.keys(run.steps ?? {})) answers.push(await (await t.api(`/api/v1/runs/${run.id}/steps/${nodeId}/logs`)).text());
    }
    answers.push(await (await t.api('/api/v1/credentials')).text(), JSON.stringify(runs));
    const logs = await expectJson<{ items?: unknown[] } | unknown[]>(await t.api(`/api/v1/runs/${leak.id}/steps/returns/logs`), 200);
    expect(JSON.stringify(logs)).toContain('the secret is ***');

    const rows = await dumpDatabase(backend, t);
    expect(rows.some((row) => row.startsWith('credentials: '))).toBe(true);
    expect(rows.some((row) => row.includes('the secret is ***'))).toBe(true);
    const leaks = findLeaks({ database: rows, logs: logLines, 'live SSE': liveChunks, 'replayed SSE': replays, 'API answers': answers }, SECRETS);
    expect(leaks).toEqual([]);
    // The scan would have found them: the live streams did carry the runs, the logs did record requests.
    expect(liveChunks.join('')).toContain(ok.id);
    expect(logLines.length).toBeGreaterThan(0);
  });
});
