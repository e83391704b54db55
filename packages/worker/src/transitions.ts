/**
 * The bridge between the engine core and the store: under a run's lock, bring its state up to date,
 * apply new events, and turn the resulting commands and changed steps into one `RunWrite`.
 * Every state transition of a run is exactly one call here, committed in one transaction together
 * with the steps it makes ready.
 */
import { applyEvent, FINISHED_RUN_STATUSES, RUN_TIMEOUT_TIMER, type Plan, type RunEvent, type RunState, type StepState } from '@flowpilot/engine';
import type { Lease, QueueWrite, RunRecord, RunWrite, StepWrite, StoreTransaction } from '@flowpilot/store';
import { EffectTracker, type AnnotatedEvent } from './effects.js';
import type { PlanCache } from './plans.js';
import { durationLimitedPlan, runDurationError, type RunLimitsCache } from './run-limits.js';
import type { RunStateCache } from './state-cache.js';

/** Leases a new ready step to the committing worker at once (eager dispatch), or declines. */
export type LeaseAllocator = (nodeId: string) => Lease | undefined;

/** A step attempt leased to the committer by a transition: it runs it without a claim round trip. */
export interface LeasedStep {
  workspaceId: string;
  runId: string;
  workflowId: string;
  version: number;
  nodeId: string;
  attempt: number;
  inputs: readonly string[];
  lease: Lease;
  claimedAt: number;
}

/** What a committed transition changed: for live events, metrics and waiters. */
export interface TransitionNotice {
  workspaceId: string;
  runId: string;
  workflowId: string;
  /** Seq of the first event written (events are numbered from here). */
  firstSeq: number;
  events: readonly AnnotatedEvent[];
  steps: readonly StepWrite[];
  status: RunState['status'];
  statusBefore: RunState['status'];
  finished: boolean;
  /** The earliest due time of the timers this transition set, if it set any. */
  timerDueAt?: number;
}

export interface TransitionOptions {
  now: number;
  /** Collects a notice per transition, published after the transaction commits. */
  notices?: TransitionNotice[];
  /** Queue items to remove besides those the core aborts (the attempt that just finished). */
  dequeue?: readonly string[];
  /** Timer rows to remove besides those the core cancels (the timer that just fired). */
  timersDeleted?: readonly string[];
  lease?: LeaseAllocator;
}

export interface TransitionResult {
  state: RunState;
  leased: LeasedStep[];
  /** The run finished in this transition. */
  finished: boolean;
}

export class RunTransitions {
  constructor(
    private readonly plans: PlanCache,
    private readonly states: RunStateCache,
    private readonly limits?: RunLimitsCache,
  ) {}

  /** Catches the cached states of locked `runs` up with one read (before applying a batch). */
  async catchUp(tx: StoreTransaction, runs: readonly RunRecord[]): Promise<void> {
    const items: Array<{ run: RunRecord; plan: Plan }> = [];
    for (const run of runs) {
      const planned = await this.plans.get(run.workspaceId, run.workflowId, run.version);
      items.push({ run, plan: durationLimitedPlan(planned, this.limits?.cached(run.workspaceId) ?? {}).plan });
    }
    await this.states.prefetch(tx, items);
  }

  /** Applies `events` to the locked `run` and writes the outcome. `run.lastSeq` is advanced. */
  async apply(tx: StoreTransaction, run: RunRecord, events: readonly RunEvent[], options: TransitionOptions): Promise<TransitionResult> {
    const planned = await this.plans.get(run.workspaceId, run.workflowId, run.version);
    // The run timeout is the smaller of the workflow's and the workspace's maximum duration.
    const limits = this.limits?.cached(run.workspaceId) ?? {};
    const { plan, limited } = durationLimitedPlan(planned, limits);
    const state = await this.states.load(tx, run, plan);
    const statusBefore = state.status;
    const dequeue = [...(options.dequeue ?? [])];
    const timersSet: Array<{ timerId: string; dueAt: number }> = [];
    const timersDeleted = [...(options.timersDeleted ?? [])];
    const enqueue: QueueWrite[] = [];
    const leased: LeasedStep[] = [];
    const tracker = new EffectTracker(state);
    const annotated: AnnotatedEvent[] = [];
    for (const event of events) {
      const commands = applyEvent(plan, state, event);
      const effects = tracker.effectsOf(plan, event);
      annotated.push(effects === undefined ? event : { ...event, effects });
      for (const command of commands) {
        switch (command.type) {
          case 'startStep': {
            const lease = options.lease?.(command.nodeId);
            enqueue.push({ nodeId: command.nodeId, attempt: command.attempt, inputs: command.inputs, lease });
            if (lease !== undefined) {
              leased.push({ workspaceId: run.workspaceId, runId: run.id, workflowId: run.workflowId, version: run.version, nodeId: command.nodeId, attempt: command.attempt, inputs: command.inputs, lease, claimedAt: options.now });
            }
            break;
          }
          case 'abortStep':
            dequeue.push(command.nodeId);
            break;
          case 'startTimer':
            timersSet.push({ timerId: command.timerId, dueAt: command.dueAt });
            break;
          case 'cancelTimer':
            timersDeleted.push(command.timerId);
            break;
          case 'completeRun':
            break;
        }
      }
    }
    if (state.error?.code === 'RUN_TIMEOUT' && state.status !== statusBefore && (limited || planned.workflow.settings.timeoutMs === undefined)) {
      // The timeout that fired was the workspace's limit, not the workflow's own: say so.
      if (events.some((event) => event.type === 'timer.fired' && event.timerId === RUN_TIMEOUT_TIMER)) {
        state.error = runDurationError(plan.workflow.settings.timeoutMs ?? limits.maxRunDurationMs ?? 0);
      }
    }
    // A step started and finished within these events (a trigger completed as its run starts) has
    // nothing left to queue or run.
    if (enqueue.some((item) => !inFlight(plan, state, item.nodeId, item.attempt))) {
      enqueue.splice(0, enqueue.length, ...enqueue.filter((item) => inFlight(plan, state, item.nodeId, item.attempt)));
      leased.splice(0, leased.length, ...leased.filter((item) => inFlight(plan, state, item.nodeId, item.attempt)));
    }
    const leasedNodes = new Set(leased.map((item) => item.nodeId));
    const steps: StepWrite[] = [];
    for (const index of state.touched) {
      const node = plan.nodes[index]!;
      const step = stepWrite(node.id, state.steps[index]!);
      // An eagerly leased step is running from this commit on; the core learns it at completion.
      if (leasedNodes.has(node.id)) Object.assign(step, { status: 'running', startedAt: step.startedAt ?? options.now });
      steps.push(step);
    }
    state.touched.clear();
    const finished = FINISHED_RUN_STATUSES.has(state.status) && !FINISHED_RUN_STATUSES.has(statusBefore);
    const write: RunWrite = {
      workspaceId: run.workspaceId,
      runId: run.id,
      expectedSeq: run.lastSeq,
      priority: run.priority,
      workflowId: run.workflowId,
      events: annotated,
      steps,
      enqueue,
      dequeue,
      timersSet,
      timersDeleted,
    };
    if (state.status !== statusBefore) {
      write.run = { status: state.status, output: state.output, error: state.error, startedAt: state.startedAt, finishedAt: state.finishedAt };
    }
    await tx.write(write);
    options.notices?.push({
      workspaceId: run.workspaceId,
      runId: run.id,
      workflowId: run.workflowId,
      firstSeq: run.lastSeq + 1,
      events: annotated,
      steps,
      status: state.status,
      statusBefore,
      finished,
      ...(timersSet.length === 0 ? {} : { timerDueAt: Math.min(...timersSet.map((timer) => timer.dueAt)) }),
    });
    run.lastSeq += events.length;
    this.states.advance(run.id, run.lastSeq);
    return { state, leased, finished };
  }
}

function inFlight(plan: Plan, state: RunState, nodeId: string, attempt: number): boolean {
  const step = state.steps[plan.byId.get(nodeId)!.index]!;
  return step.dispatched && step.attempts === attempt;
}

function stepWrite(nodeId: string, step: StepState): StepWrite {
  const write: StepWrite = { nodeId, status: step.status, attempts: step.attempts };
  if (step.output !== undefined) write.output = step.output;
  if (step.error !== undefined) write.error = step.error;
  if (step.startedAt !== undefined) write.startedAt = step.startedAt;
  if (step.finishedAt !== undefined) write.finishedAt = step.finishedAt;
  return write;
}
