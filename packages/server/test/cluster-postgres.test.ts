/**
 * Several servers on one PostgreSQL schema, like several processes: a schedule fires exactly once
 * per tick (one ManualClock shared, and the real clock with a per-second cron), and live events of
 * a run executed by server A's worker reach clients of server B (embeddedWorker: false), over SSE
 * and WebSocket.
 */
import { afterEach, expect, test } from 'vitest';
import WebSocket from 'ws';
import { ManualClock } from '@flowpilot/runtime';
import { API_KEY, describePostgres, postgresUnavailable, startTestServer, type TestServer } from './harness.js';
import { connectSse, createWorkflow, delayChain, expectJson, sleep, startRun, testRegistry, waitForRun, type RunBody, type SseEvent } from './helpers.js';
import { expectRunCount, listRuns, scheduled, SECOND } from './scheduling.js';
import { expectCompleteStream, readUntil } from './streams.js';

describePostgres('several servers on one PostgreSQL schema', await postgresUnavailable(), (backend) => {
  const servers: TestServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });
  const start = async (...args: Parameters<typeof startTestServer>): Promise<TestServer> => {
    const server = await startTestServer(...args);
    servers.push(server);
    return server;
  };

  test('two servers sharing a ManualClock fire each tick of one schedule exactly once', async () => {
    const clock = new ManualClock(Date.UTC(2026, 6, 1));
    const a = await start({ registry: testRegistry('A'), clock, schedulerIntervalMs: 5 }, backend);
    const b = await start({ registry: testRegistry('B'), clock, schedulerIntervalMs: 5 }, backend);
    const workflowId = await createWorkflow(a, scheduled('* * * * * *'));
    await expectJson(await b.api(`/api/v1/workflows/${workflowId}/activate`, { method: 'POST' }), 200);
    for (let tick = 1; tick <= 10; tick += 1) {
      await clock.advance(SECOND);
      await expectRunCount(a, workflowId, tick);
    }
    const runs = await listRuns(b, workflowId);
    const ticks = runs.map((run) => (run.input as { scheduledFor: string }).scheduledFor);
    expect(new Set(ticks).size).toBe(10);
    expect(runs).toHaveLength(10);
    await expectJson(await a.api(`/api/v1/workflows/${workflowId}/deactivate`, { method: 'POST' }), 200);
  });

  test('three servers on the real clock with a per-second cron: one run per tick over ~3 s', async () => {
    const cluster = await Promise.all(['A', 'B', 'C'].map((name) => start({ registry: testRegistry(name), schedulerIntervalMs: 20 }, backend)));
    const [a, b] = cluster as [TestServer, TestServer, TestServer];
    const workflowId = await createWorkflow(a, scheduled('* * * * * *'));
    await expectJson(await b.api(`/api/v1/workflows/${workflowId}/activate`, { method: 'POST' }), 200);
    await sleep(3_200);
    await expectJson(await a.api(`/api/v1/workflows/${workflowId}/deactivate`, { method: 'POST' }), 200);
    await sleep(200);
    const runs = await listRuns(a, workflowId);
    const ticks = runs.map((run) => (run.input as { scheduledFor: string }).scheduledFor);
    // ~3 ticks; a loaded machine may merge late ticks (catch-up fires them once), never add any.
    expect(runs.length).toBeGreaterThanOrEqual(1);
    expect(runs.length).toBeLessThanOrEqual(4);
    expect(new Set(ticks).size).toBe(runs.length);
    for (const at of ticks) expect(Date.parse(at) % SECOND).toBe(0);
  });

  test('SSE on server B (no worker) follows a run that server A executes, with resume', async () => {
    const a = await start({ registry: testRegistry('A') }, backend);
    const b = await start({ registry: testRegistry('B'), embeddedWorker: false }, backend);
    expect(b.server.worker).toBeUndefined();
    const definition = delayChain('Across', 3, 150) as { nodes: unknown[]; edges: unknown[] };
    definition.nodes.push({ id: 'who', type: 'test_whoami' });
    definition.edges.push({ source: 'done', target: 'who' });
    const workflowId = await createWorkflow(b, definition);
    const run = await expectJson<RunBody>(await startRun(b, workflowId), 201);
    const url = `${b.url}/api/v1/runs/${run.id}/events`;

    const first = new AbortController();
    const before = await readUntil(await connectSse(url, { signal: first.signal }), (event) => event.event === 'step.started' && event.data.nodeId === 'd2');
    first.abort();
    expect(before.at(-1)).toMatchObject({ event: 'step.started', data: { nodeId: 'd2' } });
    await sleep(200);
    const after = await readUntil(await connectSse(url, { lastEventId: before.at(-1)!.id! }));
    expect(after.at(-1)?.event).toBe('end');
    await expectCompleteStream(b, run.id, [...before, ...after]);
    const finished = await waitForRun(b, run.id);
    expect(finished.status).toBe('succeeded');
    expect(finished.steps?.who?.output).toEqual({ server: 'A' });
    expect(a.server.worker).toBeDefined();
  });

  test('WebSocket on server B receives the events of a run executed on server A', async () => {
    const a = await start({ registry: testRegistry('A') }, backend);
    const b = await start({ registry: testRegistry('B'), embeddedWorker: false }, backend);
    const workflowId = await createWorkflow(a, delayChain('Socket across', 2, 150));
    const socket = new WebSocket(`${b.url.replace('http', 'ws')}/api/v1/ws`, { headers: { authorization: `Bearer ${API_KEY}` } });
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    const received: SseEvent[] = [];
    const finished = new Promise<void>((resolve) =>
      socket.on('message', (raw) => {
        const message = JSON.parse(String(raw)) as SseEvent;
        received.push(message);
        if (message.event === 'run.finished') resolve();
      }),
    );
    const run = await expectJson<RunBody>(await startRun(a, workflowId), 201);
    socket.send(JSON.stringify({ subscribe: { runId: run.id } }));
    await Promise.race([finished, sleep(10_000).then(() => Promise.reject(new Error(`no run.finished on B: ${JSON.stringify(received)}`)))]);
    socket.close();
    expect(received[0]?.event).toBe('subscribed');
    await expectCompleteStream(b, run.id, received.slice(1));
  });

  test('a workflow SSE stream on server B sees runs started and executed on server A', async () => {
    const a = await start({ registry: testRegistry('A') }, backend);
    const b = await start({ registry: testRegistry('B'), embeddedWorker: false }, backend);
    const workflowId = await createWorkflow(a, delayChain('Watched across', 1, 50));
    const controller = new AbortController();
    const stream = await connectSse(`${b.url}/api/v1/workflows/${workflowId}/events`, { signal: controller.signal });
    const run = await expectJson<RunBody>(await startRun(a, workflowId), 201);
    const events = await readUntil(stream, (event) => event.event === 'run.finished');
    controller.abort();
    expect(events.at(-1)).toMatchObject({ event: 'run.finished', data: { runId: run.id, status: 'succeeded' } });
  });
});
