/**
 * Every workflow in examples/ runs offline through the built `flowpilot` bin and gives the output
 * worked out by hand from the example. Examples are discovered on disk, so a new one without a case
 * here fails the "every example has a case" test.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import type { RunResult, StepSummary } from '@flowpilot/runtime';
import { EXAMPLES, findExamples, ISO_DATE, parseJson, runCli } from './helpers.js';

type StepStatus = StepSummary['status'];

interface ExampleCase {
  /** What this case covers (one example may need several inputs to cover its branches). */
  name: string;
  input?: unknown;
  output: unknown;
  /** Expected status per node; nodes not listed must have succeeded. */
  statuses?: Record<string, StepStatus>;
  /** Extra checks on the result. */
  check?: (result: RunResult) => void;
}

const PRICE_ITEMS = [
  { name: 'apple', net: 10 },
  { name: 'pear', net: 2.5 },
  { name: 'plum', net: 7 },
];

const CASES: Record<string, ExampleCase[]> = {
  'greeting.json': [{ name: 'greets Ada', input: { name: 'Ada' }, output: { greet: { message: 'Hello, Ada!', length: 3 } } }],
  'branching.json': [
    {
      name: 'large EU order (total >= 100, DE)',
      input: { total: 150, country: 'DE' },
      output: { queue: 'manual-review', carrier: 'DHL' },
      statuses: { autoApprove: 'skipped', usShipping: 'skipped', otherShipping: 'skipped' },
    },
    {
      name: 'small US order (total < 100, US)',
      input: { total: 99.99, country: 'US' },
      output: { queue: 'auto', carrier: 'UPS' },
      statuses: { review: 'skipped', euShipping: 'skipped', otherShipping: 'skipped' },
    },
    {
      name: 'order of exactly 100 to another country (boundary, default handle)',
      input: { total: 100, country: 'JP' },
      output: { queue: 'manual-review', carrier: 'Post' },
      statuses: { autoApprove: 'skipped', euShipping: 'skipped', usShipping: 'skipped' },
    },
  ],
  'for-each.json': [
    {
      // Delays are 30, 20, 10 ms by index, two at a time: items finish out of order, results do not.
      name: 'prices every item, in item order, and sums the gross prices',
      input: { items: PRICE_ITEMS },
      output: {
        lines: [
          { name: 'apple', gross: 12, position: 1 },
          { name: 'pear', gross: 3, position: 2 },
          { name: 'plum', gross: 8.4, position: 3 },
        ],
        sum: 23.4,
      },
    },
  ],
  'improve-until-good.json': [
    {
      // quality 0.3 → 0.6 → 0.9: the until condition (>= 0.8) holds in round 3.
      name: 'improves for three rounds until quality reaches 0.8',
      input: { topic: 'Essay' },
      output: { iterations: 3, last: { text: 'Essay (revision 3)', quality: 0.9 } },
    },
  ],
  'error-handling.json': [
    {
      name: 'continues past the flaky node and routes the strict failure to the fallback',
      output: { flakyError: 'UNAVAILABLE', path: 'fallback', because: 'bad request' },
      statuses: { strict: 'failed', happy: 'skipped' },
      check(result) {
        const flaky = result.steps.flaky;
        expect(flaky).toMatchObject({ attempts: 3, output: { error: { code: 'UNAVAILABLE', message: 'service unavailable' } } });
        // Two retries back off at least half of 20 ms and half of 40 ms.
        expect(flaky?.durationMs).toBeGreaterThanOrEqual(30);
        expect(result.steps.strict).toMatchObject({ attempts: 1, error: { code: 'FAIL_NODE', message: 'bad request' } });
        expect(result.steps.fallback?.output).toEqual({ used: 'fallback', because: 'bad request' });
        expect(result.error).toBeUndefined();
      },
    },
  ],
  'parallel.json': [
    {
      name: 'runs both 300 ms delays at the same time',
      output: { both: { left: { ms: 300 }, right: { ms: 300 } } },
      check(result) {
        expect(result.durationMs).toBeGreaterThanOrEqual(300);
        expect(result.durationMs).toBeLessThan(600);
        for (const id of ['left', 'right']) expect(result.steps[id]?.durationMs).toBeGreaterThanOrEqual(299);
        const left = result.steps.left;
        const right = result.steps.right;
        // They overlap: each starts before the other finishes.
        expect(Date.parse(left?.startedAt ?? '')).toBeLessThan(Date.parse(right?.finishedAt ?? ''));
        expect(Date.parse(right?.startedAt ?? '')).toBeLessThan(Date.parse(left?.finishedAt ?? ''));
      },
    },
  ],
  'subworkflow/parent.json': [
    {
      name: 'runs tax.json as a child and returns net and gross',
      input: { amounts: [100, 50] },
      output: { net: 150, gross: 178.5 },
      check(result) {
        expect(result.steps.invoice?.output).toEqual({ net: 150, gross: 178.5 });
      },
    },
  ],
  'subworkflow/tax.json': [{ name: 'runs on its own', input: { amounts: [100, 50] }, output: { net: 150, gross: 178.5 } }],
};

const examples = findExamples();

function nodeIds(example: string): string[] {
  const workflow = JSON.parse(readFileSync(join(EXAMPLES, example), 'utf8')) as { nodes: Array<{ id: string }> };
  return workflow.nodes.map((node) => node.id);
}

/** Checks the steps map: every node present, with the shape its status calls for. */
function expectStepShapes(result: RunResult, ids: readonly string[], statuses: Record<string, StepStatus>): void {
  expect(Object.keys(result.steps).sort()).toEqual([...ids].sort());
  for (const id of ids) {
    const step = result.steps[id];
    const expected = statuses[id] ?? 'succeeded';
    expect(step, `step ${id}`).toBeDefined();
    if (step === undefined) continue;
    expect(step.status, `status of ${id}`).toBe(expected);
    if (expected === 'skipped') {
      expect(step.attempts, `attempts of skipped ${id}`).toBe(0);
      expect(step.startedAt, `startedAt of skipped ${id}`).toBeUndefined();
      expect(step.output, `output of skipped ${id}`).toBeUndefined();
      continue;
    }
    expect(step.attempts, `attempts of ${id}`).toBeGreaterThanOrEqual(1);
    expect(step.startedAt, `startedAt of ${id}`).toMatch(ISO_DATE);
    expect(step.finishedAt, `finishedAt of ${id}`).toMatch(ISO_DATE);
    expect(typeof step.durationMs, `durationMs of ${id}`).toBe('number');
    expect(step.durationMs).toBe(Date.parse(step.finishedAt ?? '') - Date.parse(step.startedAt ?? ''));
    expect(step.durationMs).toBeGreaterThanOrEqual(0);
    if (expected === 'succeeded') expect(step, `output of ${id}`).toHaveProperty('output');
    if (expected === 'failed') expect(step.error, `error of ${id}`).toEqual({ code: expect.any(String), message: expect.any(String) });
  }
}

test('examples/ holds workflows and every one has a case here', () => {
  expect(examples.length).toBeGreaterThan(0);
  expect(examples).toEqual(Object.keys(CASES).sort());
});

describe.each(examples)('examples/%s', (example) => {
  const file = `examples/${example}`;

  test('validates (exit 0)', async () => {
    const result = await runCli(['validate', file]);
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain('is valid');
    expect(result.code).toBe(0);
    const json = await runCli(['validate', file, '--json']);
    expect(json.code).toBe(0);
    expect(parseJson(json)).toEqual({ valid: true, errors: [], warnings: [] });
  });

  const cases = CASES[example];
  if (cases === undefined) {
    test('has expected outputs in CASES', () => expect.fail(`add a case for ${file} to packages/cli/test/examples.test.ts`));
    return;
  }

  test.each(cases)('run: $name', async (item) => {
    const args = ['run', file, '--json'];
    if (item.input !== undefined) args.push('--input', JSON.stringify(item.input));
    const cli = await runCli(args);
    const result = parseJson<RunResult>(cli);
    expect(result.status, cli.stdout).toBe('succeeded');
    expect(cli.code).toBe(0);
    expect(cli.stderr).toBe('');
    expect(result.runId).toEqual(expect.any(String));
    expect(result.output).toEqual(item.output);
    expect(result.startedAt).toMatch(ISO_DATE);
    expect(result.finishedAt).toMatch(ISO_DATE);
    expectStepShapes(result, nodeIds(example), item.statuses ?? {});
    item.check?.(result);
  });
});
