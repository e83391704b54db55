/**
 * The crash tests' probe-log analysis must catch what it claims to catch: these feed it synthetic
 * logs of the violations it exists for (a step running concurrently with itself, a new attempt
 * instead of a takeover, a re-execution without a death) and of legitimate histories.
 */
import { describe, expect, it } from 'vitest';
import { buildExecutions, checkExecutions } from './crash-analysis.js';
import type { ProbeLine } from './fixtures/crash-probe.js';

const RUN = 'r1';
const line = (ev: 'start' | 'end', pid: number, attempt: number, t: number, outcome?: ProbeLine['outcome']): ProbeLine => ({
  ev,
  runId: RUN,
  nodeId: 'a',
  attempt,
  key: `${RUN}:a:${attempt}`,
  pid,
  t,
  ...(outcome === undefined ? {} : { outcome }),
});

function analyse(lines: ProbeLine[], deaths: Array<[number, number]>, succeededAt = 1, warnings?: string[]): string[] {
  const deathMap = new Map(deaths);
  const { executions, anomalies } = buildExecutions(lines, deathMap);
  return [...anomalies, ...checkExecutions(executions, [{ id: RUN }], { a: succeededAt }, deathMap, warnings)];
}

describe('crash log analysis', () => {
  it('accepts a takeover of the same attempt after the executor was killed, and a retry after a failure', () => {
    expect(analyse([line('start', 1, 1, 100), line('start', 2, 1, 1200), line('end', 2, 1, 1250, 'ok')], [[1, 150]])).toEqual([]);
    expect(analyse([line('start', 1, 1, 100), line('end', 1, 1, 120, 'fail'), line('start', 1, 2, 300), line('end', 1, 2, 320, 'ok')], [], 2)).toEqual([]);
    // Ended ok, but died before the commit: the same attempt runs again.
    expect(analyse([line('start', 1, 1, 100), line('end', 1, 1, 120, 'ok'), line('start', 2, 1, 1300), line('end', 2, 1, 1320, 'ok')], [[1, 130]])).toEqual([]);
  });

  it('flags a step running concurrently with itself across processes (a killed execution lasts until the kill)', () => {
    const violations = analyse([line('start', 1, 1, 100), line('start', 2, 1, 140), line('end', 2, 1, 190, 'ok')], [[1, 150]]);
    expect(violations.join('\n')).toMatch(/ran concurrently with itself/);
  });

  it('flags a new attempt number after a takeover, and a re-execution whose previous executor did not die', () => {
    expect(analyse([line('start', 1, 1, 100), line('start', 2, 2, 1200), line('end', 2, 2, 1250, 'ok')], [[1, 150]], 2).join('\n')).toMatch(/did not fail/);
    const reExecution = [line('start', 1, 1, 100), line('end', 1, 1, 120, 'ok'), line('start', 2, 1, 300), line('end', 2, 1, 320, 'ok')];
    expect(analyse(reExecution, []).join('\n')).toMatch(/did not die/);
    // With a warnings list, such a re-execution (a lease lost by a live worker) is reported there instead.
    const warnings: string[] = [];
    expect(analyse(reExecution, [], 1, warnings)).toEqual([]);
    expect(warnings.join('\n')).toMatch(/did not die/);
  });

  it('flags executions that never ended in a live process, lines logged after a death, and wrong idempotency keys', () => {
    expect(analyse([line('start', 1, 1, 100)], []).join('\n')).toMatch(/never ended/);
    expect(analyse([line('start', 1, 1, 100), line('end', 1, 1, 200, 'ok')], [[1, 150]]).join('\n')).toMatch(/after its death/);
    const wrongKey = { ...line('start', 1, 1, 100), key: 'r1:a:7' };
    expect(analyse([wrongKey, { ...line('end', 1, 1, 120, 'ok'), key: 'r1:a:7' }], []).join('\n')).toMatch(/idempotency key/);
  });

  it('flags a step that never executed or never succeeded at the expected attempt', () => {
    expect(analyse([], []).join('\n')).toMatch(/never executed/);
    expect(analyse([line('start', 1, 1, 100), line('end', 1, 1, 120, 'fail')], [], 1).join('\n')).toMatch(/no execution of attempt 1 ended ok/);
  });
});
