/** Determinism and replay: the same events always rebuild the same state and commands. */
import { applyEvent, createRunState, replayEvents, runOutput, type Command, type Plan, type RunEvent, type RunState } from '@flowpilot/engine';
import { describe, expect, test } from 'vitest';
import { Driver, edge, noop, planOf, project } from './core-helpers.js';
import { plan as planWorkflow, readExample, Rng, type RawEdge, type RawNode } from './helpers.js';

/** The state without `touched`, which the owner clears at will and replay comparisons ignore. */
function logical(state: RunState): Omit<RunState, 'touched'> {
  const copy: Partial<RunState> = { ...state };
  delete copy.touched;
  return copy as Omit<RunState, 'touched'>;
}

function applyAll(plan: Plan, runId: string, events: readonly RunEvent[]): { state: RunState; commands: Command[][] } {
  const state = createRunState(plan, runId);
  const commands = events.map((event) => applyEvent(plan, state, event));
  return { state, commands };
}

/** A fixed event list over examples/branching.json: a large EU order. */
const branchingEvents: RunEvent[] = [
  { type: 'run.started', at: 100, input: { total: 250, country: 'DE' } },
  { type: 'step.started', at: 101, nodeId: 'order', attempt: 1 },
  { type: 'step.succeeded', at: 102, nodeId: 'order', attempt: 1, output: { total: 250, country: 'DE' } },
  { type: 'step.succeeded', at: 103, nodeId: 'region', attempt: 1, output: { handle: 'eu' }, handles: ['eu'] },
  { type: 'step.succeeded', at: 104, nodeId: 'isLarge', attempt: 1, output: { result: true }, handles: ['true'] },
  { type: 'step.failed', at: 105, nodeId: 'euShipping', attempt: 1, error: { code: 'X', message: 'flaky', retryable: false } },
];

describe('determinism', () => {
  test('the same event list applied twice to fresh states gives equal states and commands', () => {
    const plan = planWorkflow(readExample('branching.json'));
    const first = applyAll(plan, 'run-a', branchingEvents);
    const second = applyAll(plan, 'run-a', branchingEvents);
    expect(second.state).toEqual(first.state);
    expect(second.commands).toEqual(first.commands);
    // Sanity: the events did drive the run (to a failure on euShipping).
    expect(first.commands.flat().map((command) => command.type)).toContain('startStep');
    expect(first.state).toMatchObject({ status: 'failed', error: { code: 'X', nodeId: 'euShipping' } });
  });

  test('replayEvents equals the live state, including after a retry and a cancel', () => {
    const plan = planOf([noop('a', { retry: { maxAttempts: 3, initialDelayMs: 10 } }), noop('b'), noop('c')], [edge('a', 'b'), edge('a', 'c')], {
      settings: { concurrency: 1, timeoutMs: 10_000 },
    });
    const run = new Driver(plan, 'live');
    run.start(0, { n: 1 });
    run.fail('a', 5);
    const [timer] = [...run.state.scheduling.timers.entries()].filter(([id]) => id.startsWith('retry:'));
    run.fire(timer![0], timer![1].dueAt);
    run.apply({ type: 'step.started', at: timer![1].dueAt + 1, nodeId: 'a', attempt: 2 });
    run.succeed('a', 40, { ok: true });
    run.succeed('b', 50);
    const midway = replayEvents(plan, 'live', run.events);
    expect(logical(midway)).toEqual(logical(run.state));
    expect(project(midway)).toEqual(project(run.state));
    run.apply({ type: 'run.cancelled', at: 60 });
    const replayed = replayEvents(plan, 'live', run.events);
    expect(project(replayed)).toEqual(project(run.state));
    expect(replayed).toMatchObject({ status: 'cancelled', finishedAt: 60 });
    expect(replayed.steps.map((step) => step.status)).toEqual(['succeeded', 'succeeded', 'cancelled']);
  });
});

describe('waiting steps', () => {
  test('step.waiting frees the slot and the wake timer settles the step with its output', () => {
    const run = new Driver(planOf([noop('sleepy'), noop('after'), noop('other')], [edge('sleepy', 'after')], { settings: { concurrency: 1 } }));
    expect(run.start(0).map((command) => command.type)).toEqual(['startStep']);
    const commands = run.apply({ type: 'step.waiting', at: 5, nodeId: 'sleepy', attempt: 1, wakeAt: 500, output: { slept: true } });
    expect(commands).toEqual([
      { type: 'startTimer', timerId: 'wake:sleepy:1', dueAt: 500 },
      { type: 'startStep', nodeId: 'other', attempt: 1, inputs: [] },
    ]);
    expect(run.step('sleepy')).toMatchObject({ status: 'waiting', wakeAt: 500, dispatched: false });
    run.succeed('other', 10);
    expect(run.state.status).toBe('waiting');
    expect(run.fire('wake:sleepy:1', 500)).toEqual([{ type: 'startStep', nodeId: 'after', attempt: 1, inputs: ['sleepy'] }]);
    expect(run.step('sleepy')).toMatchObject({ status: 'succeeded', output: { slept: true }, finishedAt: 500 });
    expect(run.step('sleepy').wakeAt).toBeUndefined();
  });
});

/** A seeded random DAG of noop / if / merge nodes with random retries and onError. */
function randomWorkflow(rng: Rng): Record<string, unknown> {
  const count = 3 + rng.int(10);
  const nodes: RawNode[] = [];
  for (let index = 0; index < count; index += 1) {
    const type = index === 0 ? 'noop' : rng.pick(['noop', 'noop', 'if', 'merge']);
    const node: RawNode = { id: `n${index}`, type, data: type === 'if' ? { condition: '{{ input.x }}' } : type === 'merge' ? { mode: rng.pick(['all', 'any']) } : {} };
    if (rng.chance(0.3)) node.retry = { maxAttempts: 1 + rng.int(3), initialDelayMs: rng.int(50), factor: 1 + rng.int(3), jitter: rng.chance(0.5) };
    if (rng.chance(0.3)) node.onError = rng.pick(['fail', 'continue', 'route']);
    nodes.push(node);
  }
  const edges: RawEdge[] = [];
  const seen = new Set<string>();
  for (let target = 1; target < count; target += 1) {
    const fanIn = rng.chance(0.15) ? 0 : 1 + rng.int(Math.min(target, 3));
    for (let pick = 0; pick < fanIn; pick += 1) {
      const source = nodes[rng.int(target)]!;
      let handle: string | undefined;
      if (source.type === 'if') handle = rng.pick(['true', 'false']);
      else if (source.onError === 'route' && rng.chance(0.4)) handle = 'error';
      const key = `${String(source.id)}>${target}>${handle}`;
      if (seen.has(key)) continue;
      seen.add(key);
      edges.push(edge(String(source.id), `n${target}`, handle));
    }
  }
  const settings: Record<string, unknown> = { concurrency: 1 + rng.int(4) };
  if (rng.chance(0.2)) settings.timeoutMs = 100 + rng.int(1500);
  return { name: 'random', nodes, edges, settings };
}

const SETTLED = new Set(['succeeded', 'failed', 'skipped']);

/** Runs `plan` to completion, executing started steps in a seeded random order; checks invariants as it goes. */
function drive(plan: Plan, rng: Rng, runId: string, seen: Map<string, number>): Driver {
  const run = new Driver(plan, runId);
  const note = (what: string): void => void seen.set(what, (seen.get(what) ?? 0) + 1);
  const inFlight = new Map<string, { attempt: number; started: boolean }>();
  const timers = new Map<string, number>();
  let completed: Extract<Command, { type: 'completeRun' }> | undefined;
  let at = 0;
  const handle = (commands: readonly Command[]): void => {
    expect(run.state.scheduling.inFlight.size).toBeLessThanOrEqual(plan.workflow.settings.concurrency);
    for (const command of commands) {
      expect(completed, 'no command after completeRun').toBeUndefined();
      if (command.type === 'startStep') {
        const node = plan.byId.get(command.nodeId)!;
        expect(inFlight.has(command.nodeId)).toBe(false);
        if (node.incoming.length > 0) expect(command.inputs.length).toBeGreaterThan(0);
        if (node.join === 'all' && command.attempt === 1) {
          for (const incoming of node.incoming) expect(SETTLED.has(run.state.steps[incoming.source]!.status)).toBe(true);
        }
        if (command.attempt > 1) note('retry');
        inFlight.set(command.nodeId, { attempt: command.attempt, started: false });
      } else if (command.type === 'abortStep') {
        expect(inFlight.get(command.nodeId)?.attempt).toBe(command.attempt);
        inFlight.delete(command.nodeId);
      } else if (command.type === 'startTimer') {
        timers.set(command.timerId, command.dueAt);
      } else if (command.type === 'cancelTimer') {
        expect(timers.delete(command.timerId)).toBe(true);
      } else {
        completed = command;
      }
    }
  };
  handle(run.start(at, { x: rng.chance(0.5) }));
  for (let guard = 0; completed === undefined; guard += 1) {
    expect(guard).toBeLessThan(5000);
    at += rng.int(20);
    if (rng.chance(0.01)) {
      handle(run.apply({ type: 'run.cancelled', at, reason: 'random cancel' }));
      continue;
    }
    const stepEvents = run.events.filter((event) => event.type.startsWith('step.'));
    if (stepEvents.length > 0 && rng.chance(0.05)) {
      // A duplicate delivery of an old report changes nothing.
      const before = project(run.state);
      expect(run.apply({ ...rng.pick(stepEvents), at })).toEqual([]);
      expect(project(run.state)).toEqual(before);
      continue;
    }
    const running = [...inFlight.entries()];
    const due = [...timers.entries()].sort((left, right) => left[1] - right[1] || left[0].localeCompare(right[0]));
    if (running.length > 0 && (due.length === 0 || rng.chance(0.75))) {
      const [nodeId, attempt] = rng.pick(running);
      if (!attempt.started && rng.chance(0.5)) {
        attempt.started = true;
        handle(run.apply({ type: 'step.started', at, nodeId, attempt: attempt.attempt }));
        continue;
      }
      inFlight.delete(nodeId);
      const node = plan.byId.get(nodeId)!;
      const roll = rng.next();
      if (roll < 0.2) {
        handle(run.fail(nodeId, at, { code: 'RANDOM', message: `${nodeId} failed`, retryable: rng.chance(0.6) }, attempt.attempt));
      } else if (roll < 0.27 && node.nodeType.type === 'noop') {
        note('waiting');
        handle(run.apply({ type: 'step.waiting', at, nodeId, attempt: attempt.attempt, wakeAt: at + rng.int(100), output: { woke: nodeId } }));
      } else {
        const handles = node.nodeType.type === 'if' ? rng.pick([['true'], ['false'], ['true'], ['false'], ['true', 'false'], []]) : undefined;
        handle(run.succeed(nodeId, at, { from: nodeId, value: rng.int(1000) }, handles, attempt.attempt));
      }
    } else {
      const [timerId, dueAt] = due[0]!;
      at = Math.max(at, dueAt);
      timers.delete(timerId);
      handle(run.fire(timerId, at));
    }
  }
  // The run finished consistently.
  expect(run.state.status).toBe(completed.status);
  expect(run.state.error?.code).not.toBe('INTERNAL');
  expect(timers.size).toBe(0);
  for (const step of run.state.steps) {
    expect(['pending', 'running', 'waiting']).not.toContain(step.status);
    if (step.status === 'skipped') expect(step.attempts).toBe(0);
    note(`step:${step.status}`);
  }
  if (completed.status === 'succeeded') expect(completed.output).toEqual(runOutput(plan, run.state));
  note(`run:${completed.status}`);
  return run;
}

test('replay over 50 seeded random DAG runs rebuilds the same steps, status, output and commands', () => {
  const rng = new Rng(0x5eed);
  const seen = new Map<string, number>();
  for (let index = 0; index < 50; index += 1) {
    const workflow = randomWorkflow(rng);
    const plan = planWorkflow(workflow);
    for (let runIndex = 0; runIndex < 3; runIndex += 1) {
      const runId = `run-${index}-${runIndex}`;
      const live = drive(plan, rng, runId, seen);
      const replayed = replayEvents(plan, runId, live.events);
      const label = `workflow ${index} run ${runIndex}: ${JSON.stringify(workflow)}`;
      expect(replayed.steps, label).toEqual(live.state.steps);
      expect(replayed.status, label).toBe(live.state.status);
      expect(replayed.output, label).toEqual(live.state.output);
      expect(replayed.error, label).toEqual(live.state.error);
      expect(project(replayed), label).toEqual(project(live.state));
      expect(logical(replayed), label).toEqual(logical(live.state));
      expect(applyAll(plan, runId, live.events).commands, label).toEqual(live.commands);
    }
  }
  // The random runs covered the interesting paths.
  for (const what of ['run:succeeded', 'run:failed', 'run:cancelled', 'retry', 'waiting', 'step:skipped', 'step:failed', 'step:cancelled']) {
    expect(seen.get(what) ?? 0, what).toBeGreaterThan(0);
  }
});
