/**
 * The run state machine: `applyEvent(plan, state, event)` records the event in `state` and returns
 * the commands that follow from it. No clock, I/O or randomness: the same plan and events always
 * give the same state and commands, which is what lets the in-memory runner, the durable runner and
 * replay share it.
 *
 * The state is updated in place so that one event costs O(edges it touches), not O(run size);
 * callers that need the previous state keep a copy (`structuredClone`).
 */
import type { ErrorInfo } from '../errors.js';
import { ERROR_HANDLE, MAIN_HANDLE } from '../node-type.js';
import type { Plan } from '../plan/types.js';
import { retryDelayMs } from './retry.js';
import {
  FINISHED_RUN_STATUSES,
  RUN_TIMEOUT_TIMER,
  retryTimerId,
  wakeTimerId,
  type Command,
  type RunEvent,
  type RunState,
  type StepState,
} from './types.js';

/** A fresh run in status `pending`; apply `run.started` to start it. */
export function createRunState(plan: Plan, runId: string): RunState {
  const count = plan.nodes.length;
  return {
    runId,
    status: 'pending',
    input: undefined,
    steps: plan.nodes.map((): StepState => ({ status: 'pending', attempts: 0, dispatched: false })),
    touched: new Set(),
    scheduling: {
      unsettledInputs: plan.nodes.map((node) => node.incoming.length),
      activeSources: Array.from({ length: count }, () => []),
      ready: [],
      readyHead: 0,
      queued: new Set(),
      inFlight: new Set(),
      paused: false,
      timers: new Map(),
      unsettledSteps: count,
    },
  };
}

/** Rebuilds a run's state from its recorded events. */
export function replayEvents(plan: Plan, runId: string, events: Iterable<RunEvent>): RunState {
  const state = createRunState(plan, runId);
  for (const event of events) applyEvent(plan, state, event);
  return state;
}

/** Records `event` in `state` (in place) and returns the commands that follow. */
export function applyEvent(plan: Plan, state: RunState, event: RunEvent): Command[] {
  if (FINISHED_RUN_STATUSES.has(state.status) && event.type !== 'run.retried') return [];
  const commands: Command[] = [];
  switch (event.type) {
    case 'run.started':
      if (state.status !== 'pending') return [];
      startRun(plan, state, event, commands);
      break;
    case 'step.started': {
      const step = currentAttempt(plan, state, event.nodeId, event.attempt);
      if (step === undefined) return [];
      step.status = 'running';
      step.startedAt ??= event.at;
      state.touched.add(plan.byId.get(event.nodeId)!.index);
      return [];
    }
    case 'step.succeeded': {
      const index = plan.byId.get(event.nodeId)?.index;
      const step = currentAttempt(plan, state, event.nodeId, event.attempt);
      if (step === undefined || index === undefined) return [];
      state.scheduling.inFlight.delete(index);
      step.output = event.output;
      delete step.error;
      settle(plan, state, index, 'succeeded', event.handles ?? [MAIN_HANDLE], event.at);
      break;
    }
    case 'step.failed':
      stepFailed(plan, state, event, commands);
      break;
    case 'step.log':
      return [];
    case 'step.waiting': {
      const node = plan.byId.get(event.nodeId);
      const step = currentAttempt(plan, state, event.nodeId, event.attempt);
      if (node === undefined || step === undefined) return [];
      // A waiting step holds no concurrency slot: a run parked for a day costs nothing.
      state.scheduling.inFlight.delete(node.index);
      step.dispatched = false;
      step.status = 'waiting';
      state.touched.add(node.index);
      step.output = event.output;
      step.wakeAt = event.wakeAt;
      const timerId = wakeTimerId(node.id, event.attempt);
      state.scheduling.timers.set(timerId, { kind: 'wake', node: node.index, dueAt: event.wakeAt });
      commands.push({ type: 'startTimer', timerId, dueAt: event.wakeAt });
      break;
    }
    case 'timer.fired':
      timerFired(plan, state, event, commands);
      break;
    case 'run.paused':
      // In-flight steps finish; nothing new starts until `run.resumed`. Timers keep firing.
      if (state.scheduling.paused || (state.status !== 'running' && state.status !== 'waiting')) return [];
      state.scheduling.paused = true;
      break;
    case 'run.resumed':
      if (!state.scheduling.paused) return [];
      state.scheduling.paused = false;
      break;
    case 'run.retried':
      if (state.status !== 'failed' && state.status !== 'cancelled') return [];
      retryRun(plan, state, event.at, commands);
      break;
    case 'run.cancelled':
      finishEarly(plan, state, 'cancelled', { code: 'CANCELLED', message: event.reason ?? 'run cancelled', retryable: false }, event.at, commands);
      return commands;
  }
  if (!FINISHED_RUN_STATUSES.has(state.status)) advance(plan, state, event.at, commands);
  return commands;
}

function startRun(plan: Plan, state: RunState, event: { at: number; input: unknown }, commands: Command[]): void {
  state.status = 'running';
  state.input = event.input;
  state.startedAt = event.at;
  const timeoutMs = plan.workflow.settings.timeoutMs;
  if (timeoutMs !== undefined) {
    state.scheduling.timers.set(RUN_TIMEOUT_TIMER, { kind: 'run-timeout', dueAt: event.at + timeoutMs });
    commands.push({ type: 'startTimer', timerId: RUN_TIMEOUT_TIMER, dueAt: event.at + timeoutMs });
  }
  for (const root of plan.roots) {
    state.scheduling.ready.push(root);
    state.scheduling.queued.add(root);
  }
}

/**
 * Retries a failed or cancelled run from where it stopped: steps that failed without a handler or
 * were cancelled go back to pending (keeping their attempt count, so new attempts get new
 * idempotency keys); succeeded, skipped and routed steps keep their outputs.
 */
function retryRun(plan: Plan, state: RunState, at: number, commands: Command[]): void {
  const scheduling = state.scheduling;
  state.status = 'running';
  delete state.error;
  delete state.output;
  delete state.finishedAt;
  delete scheduling.unhandledFailure;
  scheduling.ready = [];
  scheduling.readyHead = 0;
  scheduling.queued.clear();
  for (const [index, step] of state.steps.entries()) {
    const unhandled = step.status === 'failed' && (step.handles?.length ?? 0) === 0;
    if (!unhandled && step.status !== 'cancelled') continue;
    step.status = 'pending';
    delete step.finishedAt;
    delete step.handles;
    state.touched.add(index);
    scheduling.unsettledSteps += 1;
    const node = plan.nodes[index]!;
    const active = scheduling.activeSources[index]!.length > 0;
    const startable = node.incoming.length === 0 || (active && (node.join === 'any' || scheduling.unsettledInputs[index] === 0));
    if (startable) {
      scheduling.ready.push(index);
      scheduling.queued.add(index);
    }
  }
  const timeoutMs = plan.workflow.settings.timeoutMs;
  if (timeoutMs !== undefined) {
    scheduling.timers.set(RUN_TIMEOUT_TIMER, { kind: 'run-timeout', dueAt: at + timeoutMs });
    commands.push({ type: 'startTimer', timerId: RUN_TIMEOUT_TIMER, dueAt: at + timeoutMs });
  }
}

/** The step if `attempt` is its current, dispatched attempt; stale or duplicate reports are ignored. */
function currentAttempt(plan: Plan, state: RunState, nodeId: string, attempt: number): StepState | undefined {
  const node = plan.byId.get(nodeId);
  const step = node === undefined ? undefined : state.steps[node.index];
  if (step === undefined || !step.dispatched || step.attempts !== attempt) return undefined;
  return step;
}

function stepFailed(plan: Plan, state: RunState, event: Extract<RunEvent, { type: 'step.failed' }>, commands: Command[]): void {
  const node = plan.byId.get(event.nodeId);
  const step = currentAttempt(plan, state, event.nodeId, event.attempt);
  if (node === undefined || step === undefined) return;
  state.scheduling.inFlight.delete(node.index);
  step.dispatched = false;
  step.error = event.error;
  if (event.error.retryable !== false && step.attempts < node.retry.maxAttempts) {
    const dueAt = event.at + retryDelayMs(node.retry, step.attempts + 1, `${state.runId}:${node.id}:${step.attempts}`);
    const timerId = retryTimerId(node.id, step.attempts + 1);
    step.status = 'waiting';
    state.touched.add(node.index);
    step.retryAt = dueAt;
    state.scheduling.timers.set(timerId, { kind: 'retry', node: node.index, dueAt });
    commands.push({ type: 'startTimer', timerId, dueAt });
    return;
  }
  const summary = { error: { code: event.error.code, message: event.error.message } };
  if (node.onError === 'continue') {
    step.output = summary;
    settle(plan, state, node.index, 'succeeded', [MAIN_HANDLE], event.at);
  } else if (node.onError === 'route') {
    step.output = summary;
    settle(plan, state, node.index, 'failed', [ERROR_HANDLE], event.at);
  } else {
    // No propagation: the run stops here, and `run.retried` can pick the step up again.
    markSettled(state, node.index, 'failed', [], event.at);
    state.scheduling.unhandledFailure ??= { nodeId: node.id, error: event.error };
    finishEarly(plan, state, 'failed', { ...event.error, nodeId: node.id }, event.at, commands);
  }
}

function timerFired(plan: Plan, state: RunState, event: { at: number; timerId: string }, commands: Command[]): void {
  const { timers } = state.scheduling;
  const timer = timers.get(event.timerId);
  if (timer === undefined) return;
  timers.delete(event.timerId);
  if (timer.kind === 'run-timeout') {
    const timeoutMs = plan.workflow.settings.timeoutMs;
    finishEarly(plan, state, 'failed', { code: 'RUN_TIMEOUT', message: `run timed out after ${timeoutMs} ms`, retryable: false }, event.at, commands);
    return;
  }
  const step = state.steps[timer.node]!;
  if (timer.kind === 'wake') {
    delete step.wakeAt;
    settle(plan, state, timer.node, 'succeeded', [MAIN_HANDLE], event.at);
    return;
  }
  step.status = 'pending';
  state.touched.add(timer.node);
  delete step.retryAt;
  state.scheduling.ready.push(timer.node);
  state.scheduling.queued.add(timer.node);
}

/** Settles a step and propagates along its outgoing edges; skips cascade without recursion. */
function settle(plan: Plan, state: RunState, index: number, status: 'succeeded' | 'failed' | 'skipped', handles: readonly string[], at: number): void {
  const { unsettledInputs, activeSources, ready, queued } = state.scheduling;
  const work: Array<{ index: number; handles: readonly string[] }> = [];
  markSettled(state, index, status, handles, at);
  work.push({ index, handles });
  while (work.length > 0) {
    const { index: source, handles: taken } = work.pop()!;
    for (const edge of plan.nodes[source]!.outgoing) {
      const target = edge.target;
      unsettledInputs[target]! -= 1;
      const active = taken.includes(edge.handle);
      if (active) activeSources[target]!.push(source);
      const step = state.steps[target]!;
      if (step.status !== 'pending' || step.dispatched || step.attempts > 0 || queued.has(target)) continue;
      const node = plan.nodes[target]!;
      if (active && node.join === 'any') {
        queued.add(target);
        ready.push(target);
      } else if (unsettledInputs[target] === 0) {
        if (activeSources[target]!.length > 0) {
          queued.add(target);
          ready.push(target);
        } else {
          markSettled(state, target, 'skipped', [], at);
          work.push({ index: target, handles: [] });
        }
      }
    }
  }
}

function markSettled(state: RunState, index: number, status: StepState['status'], handles: readonly string[], at: number): void {
  const step = state.steps[index]!;
  state.touched.add(index);
  step.status = status;
  step.dispatched = false;
  step.handles = handles;
  step.finishedAt = at;
  state.scheduling.unsettledSteps -= 1;
}

/** Starts ready steps up to the concurrency limit, then finishes the run or updates its status. */
function advance(plan: Plan, state: RunState, at: number, commands: Command[]): void {
  const scheduling = state.scheduling;
  const limit = scheduling.paused ? 0 : plan.workflow.settings.concurrency;
  while (scheduling.inFlight.size < limit && scheduling.readyHead < scheduling.ready.length) {
    const index = scheduling.ready[scheduling.readyHead]!;
    scheduling.readyHead += 1;
    const step = state.steps[index]!;
    scheduling.queued.delete(index);
    step.attempts += 1;
    state.touched.add(index);
    step.dispatched = true;
    step.inputs ??= scheduling.activeSources[index]!.map((source) => plan.nodes[source]!.id);
    scheduling.inFlight.add(index);
    commands.push({ type: 'startStep', nodeId: plan.nodes[index]!.id, attempt: step.attempts, inputs: step.inputs });
  }
  if (scheduling.readyHead > 1024 && scheduling.readyHead * 2 > scheduling.ready.length) {
    scheduling.ready.splice(0, scheduling.readyHead);
    scheduling.readyHead = 0;
  }
  if (scheduling.unsettledSteps === 0) {
    complete(plan, state, at, commands);
    return;
  }
  if (scheduling.paused) {
    state.status = 'paused';
    return;
  }
  const idle = scheduling.inFlight.size === 0 && scheduling.readyHead >= scheduling.ready.length;
  if (idle && [...scheduling.timers.values()].every((timer) => timer.kind === 'run-timeout')) {
    // Unreachable for a valid plan; failing loudly beats a run that hangs forever.
    finishEarly(plan, state, 'failed', { code: 'INTERNAL', message: 'run stalled: no step can start', retryable: false }, at, commands);
    return;
  }
  state.status = idle ? 'waiting' : 'running';
}

function complete(plan: Plan, state: RunState, at: number, commands: Command[]): void {
  cancelTimers(state, commands);
  const failure = state.scheduling.unhandledFailure;
  state.finishedAt = at;
  if (failure !== undefined) {
    state.status = 'failed';
    state.error = { ...failure.error, nodeId: failure.nodeId };
    commands.push({ type: 'completeRun', status: 'failed', error: state.error });
    return;
  }
  state.status = 'succeeded';
  state.output = runOutput(plan, state);
  commands.push({ type: 'completeRun', status: 'succeeded', output: state.output });
}

/** The `output` node's value if one succeeded, else every succeeded sink's output by id. */
export function runOutput(plan: Plan, state: RunState): unknown {
  for (const index of plan.outputNodes) if (state.steps[index]!.status === 'succeeded') return state.steps[index]!.output;
  const output: Record<string, unknown> = {};
  for (const index of plan.sinks) if (state.steps[index]!.status === 'succeeded') output[plan.nodes[index]!.id] = state.steps[index]!.output;
  return output;
}

/** Fails or cancels the run now: in-flight attempts are aborted, unsettled steps cancelled. */
function finishEarly(plan: Plan, state: RunState, status: 'failed' | 'cancelled', error: ErrorInfo & { nodeId?: string }, at: number, commands: Command[]): void {
  const reason = status === 'cancelled' ? 'run cancelled' : `run failed: ${error.message}`;
  for (const index of state.scheduling.inFlight) {
    commands.push({ type: 'abortStep', nodeId: plan.nodes[index]!.id, attempt: state.steps[index]!.attempts, reason });
  }
  state.scheduling.inFlight.clear();
  for (const [index, step] of state.steps.entries()) {
    if (step.status === 'pending' || step.status === 'running' || step.status === 'waiting') {
      state.touched.add(index);
      step.status = 'cancelled';
      step.dispatched = false;
      step.finishedAt = at;
      delete step.retryAt;
      delete step.wakeAt;
    }
  }
  state.scheduling.unsettledSteps = 0;
  cancelTimers(state, commands);
  state.status = status;
  state.error = error;
  state.finishedAt = at;
  commands.push({ type: 'completeRun', status, error });
}

function cancelTimers(state: RunState, commands: Command[]): void {
  for (const timerId of state.scheduling.timers.keys()) commands.push({ type: 'cancelTimer', timerId });
  state.scheduling.timers.clear();
}
