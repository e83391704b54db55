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
  type LogLevel,
  type NodeRegistry,
  type Plan,
  type RunEvent,
  type RunState,
  type Scope,
  type WorkflowRef,
} from '@flowpilot/engine';
import { LazyAbort } from './abort.js';
import { childFailure, outcomeEvent, runAttempt, type ChildRunner } from './attempt.js';
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import { summarizeRun, type RunResult } from './result.js';

/** A log line written by a node. */
export interface LogEntry {
  runId: string;
  nodeId: string;
  attempt: number;
  level: LogLevel;
  message: string;
  fields?: Record<string, unknown>;
  at: number;
}

/** Loads a workflow for the `subworkflow` node; `from` is the file of the workflow asking. */
export type WorkflowLoader = (ref: WorkflowRef, from: string | undefined) => Promise<{ workflow: unknown; source?: string }>;

/** Options of an in-memory run. */
export interface MemoryRunOptions {
  registry: NodeRegistry;
  input?: unknown;
  runId?: string;
  clock?: Clock;
  /** Aborting it cancels the run. */
  signal?: AbortSignal;
  /** Every event of this run and its child runs, as it is recorded. */
  onEvent?: (event: RunEvent, run: { runId: string; depth: number }) => void;
  onLog?: (entry: LogEntry) => void;
  /** Resolves `subworkflow` references; without it, the node fails with `NO_WORKFLOW_LOADER`. */
  loadWorkflow?: WorkflowLoader;
  /** The file the workflow came from (relative sub-workflow files resolve against it). */
  source?: string;
  /** Maximum nesting of sub-graphs and sub-workflows (default 16). */
  maxDepth?: number;
  /** Internal: nesting of this run, the sources above it, names lent by an enclosing graph. */
  depth?: number;
  lineage?: readonly string[];
  outerScope?: Scope;
}

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
      log: (level, message, fields) => this.#options.onLog?.({ runId: this.runId, nodeId, attempt, level, message, fields, at: this.#clock.now() }),
    });
    // An aborted attempt's late result is dropped; the core already settled the step.
    if (this.#attempts.get(nodeId) !== abort) return;
    this.#attempts.delete(nodeId);
    const at = this.#clock.now();
    this.#apply(outcomeEvent(outcome, nodeId, attempt, at));
  }

  #children(): ChildRunner {
    const options = this.#options;
    const maxDepth = options.maxDepth ?? 16;
    const depth = this.#depth + 1;
    const lineage = options.lineage ?? (options.source === undefined ? [] : [options.source]);
    const child = async (plan: Plan, input: unknown, extra: Partial<MemoryRunOptions>, label: string): Promise<unknown> => {
      if (depth > maxDepth) {
        throw new FlowPilotError('MAX_DEPTH', `${label}: nesting exceeds ${maxDepth} levels (${[...lineage, label].join(' → ')})`, { retryable: false });
      }
      const run = new MemoryRun(plan, { ...options, runId: `${this.runId}/${label}`, input, depth, lineage, outerScope: undefined, ...extra });
      const result = await run.result;
      if (result.status !== 'succeeded') throw childFailure(label, result.error ?? { code: 'CHILD_FAILED', message: result.status });
      return result.output;
    };
    return {
      runSubgraph: (plan, input, outerScope, signal, label) => child(plan, input, { outerScope, signal }, label),
      runWorkflow: async (ref, input, signal) => {
        const label = ref.file ?? `${ref.workflowId ?? '?'}${ref.version === undefined ? '' : `@${ref.version}`}`;
        if (options.loadWorkflow === undefined) {
          throw new FlowPilotError('NO_WORKFLOW_LOADER', `cannot load workflow "${label}": this runner has no workflow loader`, { retryable: false });
        }
        const loaded = await options.loadWorkflow(ref, options.source);
        let plan: Plan;
        try {
          plan = planWorkflow(loaded.workflow, options.registry);
        } catch (error) {
          const info = error as FlowPilotError;
          throw new FlowPilotError('SUBWORKFLOW_INVALID', `sub-workflow "${label}": ${info.message}`, { retryable: false, details: info.details });
        }
        const source = loaded.source ?? label;
        return child(plan, input, { signal, source, lineage: [...lineage, source] }, label);
      },
    };
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
