/** Helpers of the schedule tests: counting a workflow's runs, scheduled workflows. */
import { expect } from 'vitest';
import type { TestServer } from './harness.js';
import { expectJson, sleep, until, type RunBody } from './helpers.js';

export const SECOND = 1000;
export const INTERVAL_MS = 10;
/** Long enough for the scheduler to have looked many times. */
export const SETTLE_MS = 20 * INTERVAL_MS;

/** Runs of a workflow, oldest first. */
export async function listRuns(t: TestServer, workflowId: string): Promise<RunBody[]> {
  const page = await expectJson<{ items: RunBody[] }>(await t.api(`/api/v1/runs?workflowId=${workflowId}&limit=200`), 200);
  return page.items.reverse();
}

/** Waits until the workflow has `count` runs, then a while longer, and checks no more came. */
export async function expectRunCount(t: TestServer, workflowId: string, count: number): Promise<RunBody[]> {
  if (count > 0) await until(async () => ((await listRuns(t, workflowId)).length >= count ? true : undefined), `${count} runs of ${workflowId}`, 10_000, 5);
  await sleep(SETTLE_MS);
  const runs = await listRuns(t, workflowId);
  expect(runs.map((run) => (run.input as { scheduledFor?: string }).scheduledFor)).toHaveLength(count);
  return runs;
}

export function scheduled(cron: string, extra: Record<string, unknown> = {}) {
  return {
    name: `Every ${cron}`,
    nodes: [
      { id: 'tick', type: 'schedule', data: { cron, ...extra } },
      { id: 'work', type: 'set', data: { values: { at: '{{ tick.scheduledFor }}' } } },
    ],
    edges: [{ source: 'tick', target: 'work' }],
  };
}

export const iso = (ms: number): string => new Date(ms).toISOString();
