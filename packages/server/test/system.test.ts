/** `/healthz`, `/readyz` (503 problem when the store is gone) and `/metrics` (Prometheus). */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { describeBackends, postgresUnavailable, startTestServer, type Backend, type TestServer } from './harness.js';
import { createWorkflow, expectJson, expectProblem, runToEnd, testRegistry } from './helpers.js';

/** The value of one sample line of a Prometheus text exposition (0 when absent). */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describeBackends('system routes', await postgresUnavailable(), (backend: Backend) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ registry: testRegistry() }, backend);
  });
  afterAll(() => t?.close());

  test('/healthz is public and ok; /readyz names the store', async () => {
    expect(await expectJson(await fetch(`${t.url}/healthz`), 200)).toEqual({ status: 'ok' });
    expect(await expectJson(await fetch(`${t.url}/readyz`), 200)).toEqual({ status: 'ready', store: backend.kind });
  });

  test('/metrics counts runs started and finished, step durations, queue depth and workers', async () => {
    const before = await (await fetch(`${t.url}/metrics`)).text();
    const ok = await createWorkflow(t, { name: 'Metered', nodes: [{ id: 'start', type: 'manual' }, { id: 'a', type: 'set', data: { values: { x: 1 } } }], edges: [{ source: 'start', target: 'a' }] });
    const bad = await createWorkflow(t, { name: 'Failing', nodes: [{ id: 'boom', type: 'fail', data: { message: 'no' } }], edges: [] });
    for (let index = 0; index < 3; index += 1) expect((await runToEnd(t, ok)).status).toBe('succeeded');
    expect((await runToEnd(t, bad)).status).toBe('failed');

    const response = await fetch(`${t.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    const delta = (series: string): number => sample(text, series) - sample(before, series);
    expect(text).toContain('# TYPE flowpilot_runs_started_total counter');
    expect(delta('flowpilot_runs_started_total{trigger="api"}')).toBe(4);
    expect(delta('flowpilot_runs_finished_total{status="succeeded"}')).toBe(3);
    expect(delta('flowpilot_runs_finished_total{status="failed"}')).toBe(1);
    expect(delta('flowpilot_step_duration_seconds_count{node_type="set",outcome="succeeded"}')).toBe(3);
    expect(sample(text, 'flowpilot_step_duration_seconds_count{node_type="fail",outcome="failed"}')).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/^flowpilot_queue_depth \d+$/m);
    expect(sample(text, 'flowpilot_active_workers')).toBe(1);
    expect(text).toContain('flowpilot_process_');
  });

  test('/readyz is a 503 problem when the store is closed; /healthz stays up', async () => {
    const doomed = await startTestServer({ registry: testRegistry() }, backend);
    try {
      expect((await fetch(`${doomed.url}/readyz`)).status).toBe(200);
      await doomed.store.close();
      const body = await expectProblem(await fetch(`${doomed.url}/readyz`), 503, 'STORE_UNREACHABLE');
      expect(body.detail).toContain(backend.kind);
      expect((await fetch(`${doomed.url}/healthz`)).status).toBe(200);
    } finally {
      await doomed.close();
    }
  });
});
