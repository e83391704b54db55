/**
 * The in-memory runner: drives the engine core for one run, executing its commands with real (or
 * manual) timers and in-process node calls. Used by the CLI, tests and sub-graphs. Nothing is
 * persisted; the durable runner drives the same core through the store.
 */
import { randomUUID } from 'node:crypto';
import {
  applyEvent,
  createRunState,
  deepFreeze,
  FlowPilotError,
  planWorkflow,
  stateScopeSource,
  type Command,
  type ErrorInfo,
  type Plan,
  type RunEvent,
  type RunState,
} from '@flowpilot/engine';
import { LazyAbort } from './abort.js';
import { outcomeEvent, runAttempt, type ChildRunner } from './attempt.js';
import { createChildRunner } from './children.js';
import type { MemoryRunOptions } from './options.js';
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import { summarizeRun, type RunResult } from './result.js';

/** A run in progress: await `result`, or `cancel()` it. */
export class MemoryRun {
  readonly runId: string;
  readonly state: RunState;
  readonly result: Promise<RunResult>;
  readonly #plan: Plan;
  readonly #options: MemoryRunOptions;
  readonly #clock: Clock;
  readonly #attempts = new Map<string, LazyAbort>();
  readonly #timers = new Map<string, TimerHandle>();
  readonly #depth: number;
  #resolve!: (result: RunResult) => void;

  constructor(plan: Plan, options: MemoryRunOptions) {
    this.#plan = plan;
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#depth = options.depth ?? 0;
    this.runId = options.runId ?? randomUUID();
    this.state = createRunState(plan, this.runId);
    this.result = new Promise((resolve) => (this.#resolve = resolve));
    const { signal } = options;
    if (signal !== undefined) {
      const onAbort = (): void => this.cancel(reasonText(signal.reason));
      if (signal.aborted) queueMicrotask(onAbort);
      else signal.addEventListener('abort', onAbort, { once: true });
      void this.result.then(() => signal.removeEventListener('abort', onAbort));
    }
    // Nodes get a frozen copy: nothing a node does can change the input another node (or the caller) sees.
    this.#apply({ type: 'run.started', at: this.#clock.now(), input: deepFreeze(structuredClone(options.input)) });
  }

  /** Cancels the run: in-flight attempts are aborted and the run ends `cancelled`. */
  cancel(reason = 'run cancelled'): void {
    this.#apply({ type: 'run.cancelled', at: this.#clock.now(), reason });
  }

  #apply(event: RunEvent): void {
    const commands = applyEvent(this.#plan, this.state, event);
    this.#options.onEvent?.(event, { runId: this.runId, depth: this.#depth });
    for (const command of commands) this.#perform(command);
  }

  #perform(command: Command): void {
    switch (command.type) {
      case 'startStep':
        void this.#runStep(command.nodeId, command.attempt, command.inputs);
        return;
      case 'abortStep': {
        const running = this.#attempts.get(command.nodeId);
        this.#attempts.delete(command.nodeId);
        running?.abort(new FlowPilotError('CANCELLED', command.reason, { retryable: false }));
        return;
      }
      case 'startTimer':
        this.#timers.set(
          command.timerId,
          this.#clock.setTimer(command.dueAt - this.#clock.now(), () => {
            this.#timers.delete(command.timerId);
            this.#apply({ type: 'timer.fired', at: this.#clock.now(), timerId: command.timerId });
          }),
        );
        return;
      case 'cancelTimer':
        this.#timers.get(command.timerId)?.cancel();
        this.#timers.delete(command.timerId);
        return;
      case 'completeRun':
        this.#resolve(summarizeRun(this.#plan, this.state));
        return;
    }
  }

  async #runStep(nodeId: string, attempt: number, inputs: readonly string[]): Promise<void> {
    const node = this.#plan.byId.get(nodeId)!;
    const abort = new LazyAbort();
    this.#attempts.set(nodeId, abort);
    this.#apply({ type: 'step.started', at: this.#clock.now(), nodeId, attempt });
    const outcome = await runAttempt({
      plan: this.#plan,
      node,
      runId: this.runId,
      attempt,
      inputs,
      source: stateScopeSource(this.state),
      outerScope: this.#options.outerScope,
      depth: this.#depth,
      clock: this.#clock,
      abort,
      children: this.#children(),
      credentials: this.#options.credentials,
      log: (level, message, fields) => this.#options.onLog?.({ runId: this.runId, nodeId, attempt, level, message, fields, at: this.#clock.now() }),
    });
    // An aborted attempt's late result is dropped; the core already settled the step.
    if (this.#attempts.get(nodeId) !== abort) return;
    this.#attempts.delete(nodeId);
    const at = this.#clock.now();
    this.#apply(outcomeEvent(outcome, nodeId, attempt, at));
  }

  #children(): ChildRunner {
    return createChildRunner(this.runId, this.#depth, this.#options, (plan, options) => new MemoryRun(plan, options).result);
  }

}

/** Runs a workflow (JSON value, string or plan) in memory and resolves when it finishes. */
export async function runWorkflow(workflow: unknown, options: MemoryRunOptions): Promise<RunResult> {
  const plan = isPlan(workflow) ? workflow : planWorkflow(workflow, options.registry);
  return new MemoryRun(plan, options).result;
}

function isPlan(value: unknown): value is Plan {
  return value !== null && typeof value === 'object' && 'byId' in value && value.byId instanceof Map;
}

function reasonText(reason: unknown): string {
  if (reason instanceof Error) return reason.message;
  return typeof reason === 'string' ? reason : 'run cancelled';
}

export type { ErrorInfo };
