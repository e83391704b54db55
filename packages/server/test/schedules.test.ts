/**
 * Schedule triggers driven by a ManualClock passed to createServer: exactly one run per tick, the
 * run input {scheduledFor, firedAt}, catch-up after a gap ("one" fires once, "none" fires none),
 * time zones, and deactivation.
 */
import { afterEach, expect, test } from 'vitest';
import { ManualClock } from '@flowpilot/runtime';
import { describeBackends, postgresUnavailable, startTestServer, type Backend, type TestServer } from './harness.js';
import { createWorkflow, expectJson, testRegistry, until, type RunBody } from './helpers.js';
import { expectRunCount, INTERVAL_MS, iso, listRuns, scheduled, SECOND } from './scheduling.js';

describeBackends('schedules', await postgresUnavailable(), (backend: Backend) => {
  let t: TestServer | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  /** A server on a clock of its own starting at `start`, with an active schedule; returns both and the workflow id. */
  async function serverWithSchedule(start: number, cron: string, extra: Record<string, unknown> = {}): Promise<{ t: TestServer; clock: ManualClock; workflowId: string }> {
    const clock = new ManualClock(start);
    t = await startTestServer({ registry: testRegistry(), clock, schedulerIntervalMs: INTERVAL_MS }, backend);
    const workflowId = await createWorkflow(t, scheduled(cron, extra));
    await expectJson(await t.api(`/api/v1/workflows/${workflowId}/activate`, { method: 'POST' }), 200);
    return { t, clock, workflowId };
  }

  test('every tick of the cron starts exactly one run, with {scheduledFor, firedAt} as input', async () => {
    const start = Date.UTC(2026, 0, 1);
    const { t, clock, workflowId } = await serverWithSchedule(start, '* * * * * *');
    await expectRunCount(t, workflowId, 0);
    for (let tick = 1; tick <= 5; tick += 1) {
      await clock.advance(SECOND);
      await expectRunCount(t, workflowId, tick);
    }
    const runs = await listRuns(t, workflowId);
    const ticks = [1, 2, 3, 4, 5].map((n) => iso(start + n * SECOND));
    expect(runs.map((run) => run.input)).toEqual(ticks.map((at) => ({ scheduledFor: at, firedAt: at })));
    for (const run of runs) {
      const done = await until(async () => {
        const full = await expectJson<RunBody>(await t.api(`/api/v1/runs/${run.id}`), 200);
        return full.status === 'succeeded' ? full : undefined;
      }, `run ${run.id}`);
      expect(done.steps?.work?.output).toEqual({ at: (run.input as { scheduledFor: string }).scheduledFor });
    }
  });

  test('half a tick starts nothing; the tick itself starts one run', async () => {
    const start = Date.UTC(2026, 1, 1);
    const { t, clock, workflowId } = await serverWithSchedule(start, '*/10 * * * * *');
    await clock.advance(5 * SECOND);
    await expectRunCount(t, workflowId, 0);
    await clock.advance(4 * SECOND);
    await expectRunCount(t, workflowId, 0);
    await clock.advance(SECOND);
    const [run] = await expectRunCount(t, workflowId, 1);
    expect(run!.input).toMatchObject({ scheduledFor: iso(start + 10 * SECOND) });
  });

  test('catchUp "one": a gap of many ticks fires once, then the schedule goes on from now', async () => {
    const start = Date.UTC(2026, 2, 1);
    const { t, clock, workflowId } = await serverWithSchedule(start, '* * * * * *', { catchUp: 'one' });
    await clock.advance(SECOND);
    await expectRunCount(t, workflowId, 1);
    await clock.advance(10 * 60 * SECOND); // 600 ticks missed
    const afterGap = await expectRunCount(t, workflowId, 2);
    expect(afterGap[1]!.input).toEqual({ scheduledFor: iso(start + 2 * SECOND), firedAt: iso(start + 601 * SECOND) });
    await clock.advance(SECOND);
    const next = await expectRunCount(t, workflowId, 3);
    expect(next[2]!.input).toMatchObject({ scheduledFor: iso(start + 602 * SECOND) });
  });

  test('catchUp "none": a gap of many ticks fires none of them; the next tick fires as usual', async () => {
    const start = Date.UTC(2026, 3, 1);
    const { t, clock, workflowId } = await serverWithSchedule(start, '* * * * * *', { catchUp: 'none' });
    await clock.advance(SECOND);
    await expectRunCount(t, workflowId, 1);
    await clock.advance(10 * 60 * SECOND);
    await expectRunCount(t, workflowId, 1);
    await clock.advance(SECOND);
    const runs = await expectRunCount(t, workflowId, 2);
    expect(runs[1]!.input).toMatchObject({ scheduledFor: iso(start + 602 * SECOND) });
  });

  test('a late tick within the grace period still fires with catchUp "none"', async () => {
    const start = Date.UTC(2026, 4, 1);
    const { t, clock, workflowId } = await serverWithSchedule(start, '0 * * * * *', { catchUp: 'none' });
    await clock.advance(90 * SECOND); // the tick at +60 s is 30 s late
    const [run] = await expectRunCount(t, workflowId, 1);
    expect(run!.input).toMatchObject({ scheduledFor: iso(start + 60 * SECOND) });
  });

  test('the cron is read in the schedule time zone', async () => {
    const start = Date.UTC(2026, 0, 5);
    const { t, clock, workflowId } = await serverWithSchedule(start, '0 0 9 * * *', { timezone: 'Europe/Berlin' });
    await clock.advance(7 * 3600 * SECOND + 59 * 60 * SECOND); // 07:59 UTC = 08:59 in Berlin
    await expectRunCount(t, workflowId, 0);
    await clock.advance(60 * SECOND);
    const [run] = await expectRunCount(t, workflowId, 1);
    expect(run!.input).toMatchObject({ scheduledFor: '2026-01-05T08:00:00.000Z' });
  });

  test('deactivating stops the schedule; activating again starts from the next tick', async () => {
    const start = Date.UTC(2026, 5, 1);
    const { t, clock, workflowId } = await serverWithSchedule(start, '* * * * * *');
    await clock.advance(SECOND);
    await expectRunCount(t, workflowId, 1);
    await expectJson(await t.api(`/api/v1/workflows/${workflowId}/deactivate`, { method: 'POST' }), 200);
    await clock.advance(5 * SECOND);
    await expectRunCount(t, workflowId, 1);
    await expectJson(await t.api(`/api/v1/workflows/${workflowId}/activate`, { method: 'POST' }), 200);
    await clock.advance(SECOND);
    const runs = await expectRunCount(t, workflowId, 2);
    expect(runs[1]!.input).toMatchObject({ scheduledFor: iso(start + 7 * SECOND) });
  });

  test('an invalid cron is refused when the workflow is saved', async () => {
    const clock = new ManualClock();
    t = await startTestServer({ registry: testRegistry(), clock, schedulerIntervalMs: INTERVAL_MS }, backend);
    const response = await t.api('/api/v1/workflows', { method: 'POST', json: scheduled('every now and then') });
    expect(response.status).toBe(422);
    expect(((await response.json()) as { errors: Array<{ code: string; nodeId?: string }> }).errors).toContainEqual(expect.objectContaining({ code: 'INVALID_PARAMS', nodeId: 'tick' }));
  });
});
