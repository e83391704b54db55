/** Helpers to drive the run state machine by hand in tests (not a test file itself). */
import { applyEvent, createRunState, type Command, type ErrorInfo, type Plan, type RunEvent, type RunState } from '@flowpilot/engine';
import { plan, wf, type RawEdge, type RawNode } from './helpers.js';

export const noop = (id: string, extra: Record<string, unknown> = {}): RawNode => ({ id, type: 'noop', ...extra });
export const edge = (source: string, target: string, sourceHandle?: string): RawEdge =>
  sourceHandle === undefined ? { source, target } : { source, target, sourceHandle };

/** Plans a workflow made of `nodes` and `edges` (throws when it is invalid). */
export function planOf(nodes: RawNode[], edges: RawEdge[], extra: Record<string, unknown> = {}): Plan {
  return plan(wf(nodes, edges, extra));
}

/** One run driven by hand: every event applied is recorded with the commands it produced. */
export class Driver {
  readonly state: RunState;
  readonly events: RunEvent[] = [];
  readonly commands: Command[][] = [];

  constructor(
    readonly plan: Plan,
    readonly runId = 'run-1',
  ) {
    this.state = createRunState(plan, runId);
  }

  apply(event: RunEvent): Command[] {
    this.events.push(event);
    const commands = applyEvent(this.plan, this.state, event);
    this.commands.push(commands);
    return commands;
  }

  start(at = 0, input: unknown = {}): Command[] {
    return this.apply({ type: 'run.started', at, input });
  }

  succeed(nodeId: string, at: number, output: unknown = `${nodeId}-out`, handles?: readonly string[], attempt?: number): Command[] {
    const event: RunEvent = { type: 'step.succeeded', at, nodeId, attempt: attempt ?? this.attemptOf(nodeId), output };
    return this.apply(handles === undefined ? event : { ...event, handles });
  }

  fail(nodeId: string, at: number, error: Partial<ErrorInfo> = {}, attempt?: number): Command[] {
    const info: ErrorInfo = { code: 'BOOM', message: `${nodeId} failed`, retryable: true, ...error };
    return this.apply({ type: 'step.failed', at, nodeId, attempt: attempt ?? this.attemptOf(nodeId), error: info });
  }

  fire(timerId: string, at: number): Command[] {
    return this.apply({ type: 'timer.fired', at, timerId });
  }

  step(nodeId: string): RunState['steps'][number] {
    const node = this.plan.byId.get(nodeId);
    const step = node === undefined ? undefined : this.state.steps[node.index];
    if (step === undefined) throw new Error(`no step ${nodeId}`);
    return step;
  }

  attemptOf(nodeId: string): number {
    return this.step(nodeId).attempts;
  }

  status(nodeId: string): string {
    return this.step(nodeId).status;
  }
}

/** A JSON-safe projection of a run state (Sets and Maps turned into arrays). */
export function project(state: RunState): unknown {
  const { scheduling } = state;
  return JSON.parse(
    JSON.stringify({
      runId: state.runId,
      status: state.status,
      input: state.input,
      steps: state.steps,
      output: state.output,
      error: state.error,
      startedAt: state.startedAt,
      finishedAt: state.finishedAt,
      scheduling: {
        ...scheduling,
        queued: [...scheduling.queued],
        inFlight: [...scheduling.inFlight],
        timers: [...scheduling.timers],
      },
    }),
  ) as unknown;
}
