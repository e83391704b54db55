/**
 * 10. Replay: for ~30 runs of varied workflows (branches, retries, onError continue/route, forEach,
 *     loop, delays, failures, cancels, retried runs), replaying the stored events with the engine core
 *     reproduces the stored run (status, output, error) and every stored step (status, attempts,
 *     output, error).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, test } from 'vitest';
import { replayEvents } from '@flowpilot/engine';
import type { RunRecord } from '@flowpilot/store';
import { probes, WS, workflow, type DurableSuite, type Harness } from '../helpers.js';

const example = (file: string): unknown => JSON.parse(readFileSync(fileURLToPath(new URL(`../../../../examples/${file}`, import.meta.url)), 'utf8'));

const WORKFLOWS: Record<string, unknown> = {
  'replay-branching': example('branching.json'),
  'replay-errors': example('error-handling.json'),
  'replay-for-each': example('for-each.json'),
  'replay-greeting': example('greeting.json'),
  'replay-loop': example('improve-until-good.json'),
  'replay-flaky': workflow('Replay flaky', [
    { id: 'start', type: 'input' },
    { id: 'flaky', type: 'test.flaky', data: { failures: '{{ start.failures }}' }, retry: { maxAttempts: 3, initialDelayMs: 10, jitter: true } },
    { id: 'result', type: 'output', data: { value: '{{ flaky }}' } },
  ]),
  'replay-fanout': workflow(
    'Replay fan-out',
    [
      { id: 'start', type: 'input' },
      { id: 'a', type: 'set', data: { values: { a: '{{ start.n }}' } } },
      { id: 'b', type: 'delay', data: { ms: 20 } },
      { id: 'c', type: 'fail', data: { message: 'c failed' }, onError: 'continue' },
      { id: 'joined', type: 'merge', data: { mode: 'all' } },
    ],
    ['a', 'b', 'c'].flatMap((id) => [
      { source: 'start', target: id },
      { source: id, target: 'joined' },
    ]),
  ),
  'replay-wait': workflow('Replay wait', [
    { id: 'start', type: 'input' },
    { id: 'wait', type: 'delay', data: { ms: 60_000 } },
    { id: 'after', type: 'set', data: { values: { late: true } } },
  ]),
  'replay-gated': workflow('Replay gated', [
    { id: 'start', type: 'input' },
    { id: 'counted', type: 'test.count', data: { value: '{{ start.gate }}' } },
    { id: 'gated', type: 'test.gate', data: { gate: '{{ start.gate }}', retryable: false } },
    { id: 'result', type: 'output', data: { value: { counted: '{{ counted.value }}', gated: '{{ gated.attempt }}' } } },
  ]),
};

type RunSpec = { workflowId: string; input: unknown; then?: 'cancel' | 'retry' | 'leave-failed' };

const RUNS: RunSpec[] = [
  ...[
    { total: 150, country: 'DE' },
    { total: 99.99, country: 'US' },
    { total: 100, country: 'JP' },
    { total: 5, country: 'FR' },
    { total: 500, country: 'US' },
    { country: 'DE' }, // invalid input: the input node fails the run
  ].map((input) => ({ workflowId: 'replay-branching', input })),
  ...[1, 2, 3].map(() => ({ workflowId: 'replay-errors', input: {} })),
  ...[[], [{ name: 'fig', net: 1 }], [{ name: 'a', net: 1 }, { name: 'b', net: 2 }, { name: 'c', net: 3 }]].map((items) => ({ workflowId: 'replay-for-each', input: { items } })),
  ...['Ada', 'Grace'].map((name) => ({ workflowId: 'replay-greeting', input: { name } })),
  ...['Essay', 'Poem'].map((topic) => ({ workflowId: 'replay-loop', input: { topic } })),
  ...[0, 1, 2, 3, 1, 2].map((failures) => ({ workflowId: 'replay-flaky', input: { failures } })),
  ...[1, 2, 3].map((n) => ({ workflowId: 'replay-fanout', input: { n } })),
  ...[1, 2].map(() => ({ workflowId: 'replay-wait', input: {}, then: 'cancel' as const })),
  ...['r1', 'r2'].map((gate) => ({ workflowId: 'replay-gated', input: { gate }, then: 'retry' as const })),
  { workflowId: 'replay-gated', input: { gate: 'r3' }, then: 'leave-failed' },
];

/** As stored: JSON (an undefined property and a missing one are the same). */
const asJson = (value: unknown): unknown => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));

/** Differences between the stored run and the replay of its stored events. */
async function replayDifferences(h: Harness, run: RunRecord): Promise<string[]> {
  const plan = await h.engine.plans.get(WS, run.workflowId, run.version);
  const state = replayEvents(plan, run.id, await h.events(run.id));
  const differences: string[] = [];
  const check = (what: string, stored: unknown, replayed: unknown): void => {
    if (!isDeepStrictEqual(asJson(stored), asJson(replayed))) differences.push(`${run.workflowId} ${run.id} ${what}: stored ${JSON.stringify(stored)} replayed ${JSON.stringify(replayed)}`);
  };
  check('status', run.status, state.status);
  check('output', run.output, state.output);
  check('error', run.error, state.error);
  const steps = await h.store.getSteps(WS, run.id);
  if (steps.length === 0) differences.push(`${run.id}: no steps stored`);
  for (const step of steps) {
    const replayed = state.steps[plan.byId.get(step.nodeId)!.index]!;
    check(`${step.nodeId}.status`, step.status, replayed.status);
    check(`${step.nodeId}.attempts`, step.attempts, replayed.attempts);
    check(`${step.nodeId}.output`, step.output, replayed.output);
    check(`${step.nodeId}.error`, step.error, replayed.error);
  }
  return differences;
}

export const replaySuite: DurableSuite = (harness) => {
  describe('replay', () => {
    test(`replaying the stored events of ${RUNS.length} varied runs reproduces the stored runs and steps`, async () => {
      const h = harness();
      h.worker({ concurrency: 8 });
      h.worker({ concurrency: 8 });
      for (const [workflowId, definition] of Object.entries(WORKFLOWS)) await h.save(workflowId, definition);
      for (const spec of RUNS) if (spec.then === 'retry' || spec.then === 'leave-failed') probes.closedGates.add((spec.input as { gate: string }).gate);

      const started = await Promise.all(RUNS.map((spec) => h.start({ workflowId: spec.workflowId, input: spec.input })));
      await Promise.all(
        started.map(async (run, index) => {
          const then = RUNS[index]!.then;
          if (then === 'cancel') {
            await h.waitForRun(run.id, { until: (current) => current.status === 'waiting' });
            await h.engine.cancelRun(run.id);
          } else if (then === 'retry') {
            expect((await h.waitForRun(run.id)).status).toBe('failed');
            probes.closedGates.delete((RUNS[index]!.input as { gate: string }).gate);
            await h.engine.retryRun(run.id);
          }
        }),
      );
      const finished = await Promise.all(started.map((run) => h.waitForRun(run.id)));

      const statuses = finished.map((run) => run.status);
      expect(statuses.filter((status) => status === 'succeeded').length).toBeGreaterThanOrEqual(20);
      expect(statuses.filter((status) => status === 'failed')).toHaveLength(3); // invalid input, 3 flaky failures, a closed gate
      expect(statuses.filter((status) => status === 'cancelled')).toHaveLength(2);
      expect(finished.length).toBeGreaterThanOrEqual(30);

      const differences = (await Promise.all(finished.map((run) => replayDifferences(h, run)))).flat();
      expect(differences).toEqual([]);
    });
  });
};
