/**
 * 1. Every examples/*.json workflow (sub-workflow examples aside) runs durably to the result the
 * in-memory runner gives for the same input: run status, output and error, and every step's status,
 * attempts, output and error.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { runWorkflow, type RunResult } from '@flowpilot/runtime';
import { summarizeStoredRun } from '@flowpilot/worker';
import { describeError, registry, WS, type DurableSuite } from '../helpers.js';

const EXAMPLES = new URL('../../../../examples/', import.meta.url);

/** Inputs per example; an example not listed runs with `{}`. */
const INPUTS: Record<string, unknown[]> = {
  'branching.json': [
    { total: 150, country: 'DE' },
    { total: 99.99, country: 'US' },
    { total: 100, country: 'JP' },
  ],
  'for-each.json': [
    {
      items: [
        { name: 'apple', net: 10 },
        { name: 'pear', net: 2.5 },
        { name: 'plum', net: 7 },
      ],
    },
  ],
  'greeting.json': [{ name: 'Ada' }],
  'improve-until-good.json': [{ topic: 'Essay' }],
};

/** A result without times and run ids: what must be the same in memory and durably. */
function comparable(result: RunResult): unknown {
  const steps = Object.fromEntries(
    Object.entries(result.steps).map(([nodeId, step]) => [nodeId, { status: step.status, attempts: step.attempts, output: step.output, error: step.error }]),
  );
  const error = result.error === undefined ? undefined : { code: result.error.code, message: result.error.message, nodeId: result.error.nodeId };
  return { status: result.status, output: result.output, error, steps };
}

export const examplesSuite: DurableSuite = (harness) => {
  const files = readdirSync(EXAMPLES, { withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.json'))
    .map((entry) => entry.name)
    .sort();
  const cases = files.flatMap((file) => (INPUTS[file] ?? [{}]).map((input, index) => ({ name: `${file} #${index + 1}`, file, input })));

  describe('examples', () => {
    test('examples/ has workflows to run', () => {
      expect(files).toContain('greeting.json');
      expect(files.length).toBeGreaterThanOrEqual(5);
    });

    test.each(cases)('$name runs durably to the in-memory result', async ({ file, input }) => {
      const h = harness();
      const definition: unknown = JSON.parse(readFileSync(fileURLToPath(new URL(file, EXAMPLES)), 'utf8'));
      const memory = await runWorkflow(definition, { registry, input });

      h.worker({ concurrency: 8 });
      const workflowId = `example-${file.replace(/\.json$/, '')}`;
      await h.save(workflowId, definition);
      const run = await h.start({ workflowId, input });
      const finished = await h.waitForRun(run.id);
      const plan = await h.engine.plans.get(WS, workflowId, run.version);
      const durable = summarizeStoredRun(finished, await h.store.getSteps(WS, run.id), plan.nodes.map((node) => node.id));

      expect(memory.status).toBe('succeeded');
      expect(comparable(durable)).toEqual(comparable(memory));
      expect(h.errors.map(describeError)).toEqual([]);
    });
  });
};
