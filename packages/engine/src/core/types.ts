/**
 * Glossary (the words the engine, the runners and the store share):
 *
 * - **plan**: a validated, compiled workflow version. Immutable; shared by all its runs.
 * - **run**: one execution of a plan with an input. Its {@link RunState} is a pure function of the
 *   plan and the run's events.
 * - **step**: one node within one run. It has up to `retry.maxAttempts` **attempts**.
 * - **event**: a fact that happened ({@link RunEvent}): a step started, succeeded, failed, a timer
 *   fired, a cancel was requested. Events carry the time (`at`) — the core never reads a clock.
 * - **command**: what the core asks its runner to do next ({@link Command}): start an attempt,
 *   abort one, start or cancel a timer, report the run finished.
 * - **settled**: a step is settled when it will not change any more (succeeded, failed, skipped,
 *   cancelled). An edge is settled when its source is; it is **active** when its source took the
 *   edge's handle.
 */
import type { ErrorInfo } from '../errors.js';

export type StepStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'cancelled' | 'waiting';
/** Every run status (for parsing untrusted input). */
export const RUN_STATUSES = ['pending', 'running', 'waiting', 'paused', 'succeeded', 'failed', 'cancelled'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** Terminal run statuses. */
export const FINISHED_RUN_STATUSES: ReadonlySet<RunStatus> = new Set(['succeeded', 'failed', 'cancelled']);

/** The recorded state of one step. */
export interface StepState {
  status: StepStatus;
  /** Attempts started so far (the current attempt's number while running). */
  attempts: number;
  /** True between `startStep` and the attempt's result: the attempt holds a concurrency slot. */
  dispatched: boolean;
  output?: unknown;
  error?: ErrorInfo;
  /** Handles the step took when it settled. */
  handles?: readonly string[];
  /** Upstream node ids whose edges into this step were active when it was dispatched. */
  inputs?: readonly string[];
  /** First attempt's start and the final settle time, from event `at` values (ms since epoch). */
  startedAt?: number;
  finishedAt?: number;
  /** While waiting for a retry: when the next attempt is due. */
  retryAt?: number;
  /** While waiting after `step.waiting`: when the step succeeds. */
  wakeAt?: number;
}

/** The state of one run. Owned by one runner; the core updates it in place (see `applyEvent`). */
export interface RunState {
  runId: string;
  status: RunStatus;
  input: unknown;
  /** Steps by node index in the plan. */
  steps: StepState[];
  output?: unknown;
  error?: ErrorInfo & { nodeId?: string };
  startedAt?: number;
  finishedAt?: number;
  /**
   * Indices of steps changed by events since the owner last cleared it: a durable runner writes
   * just those rows. Not part of the run's logical state (replay comparisons ignore it).
   */
  touched: Set<number>;
  /** Scheduling bookkeeping: derived from the events, rebuilt identically by replay. */
  scheduling: SchedulingState;
}

/** Counters that make every scheduling decision O(edges touched). */
export interface SchedulingState {
  /** Per node: incoming edges not yet settled. */
  unsettledInputs: number[];
  /** Per node: sources of active incoming edges, in the order they settled. */
  activeSources: number[][];
  /** Steps ready to start, in the order they became ready. */
  ready: number[];
  readyHead: number;
  /** Steps in `ready` not yet dispatched (so an edge settling later cannot queue them twice). */
  queued: Set<number>;
  /** Steps dispatched and not yet settled. */
  inFlight: Set<number>;
  /** Paused: no step is dispatched until resumed. */
  paused: boolean;
  /** Timers pending, by timer id. */
  timers: Map<string, PendingTimer>;
  /** Steps not yet settled; the run finishes when this reaches 0. */
  unsettledSteps: number;
  /** The first failure nobody handled; it fails the run. */
  unhandledFailure?: { nodeId: string; error: ErrorInfo };
}

/** Why a timer is pending: the run's timeout, a retry's backoff, or a step waiting to wake up. */
export type PendingTimer =
  | { kind: 'run-timeout'; dueAt: number }
  | { kind: 'retry'; node: number; dueAt: number }
  | { kind: 'wake'; node: number; dueAt: number };

/** Events: facts, in the order they happened. The same list replays to the same state. */
export type RunEvent =
  | { type: 'run.started'; at: number; input: unknown }
  | { type: 'step.started'; at: number; nodeId: string; attempt: number }
  | { type: 'step.succeeded'; at: number; nodeId: string; attempt: number; output: unknown; handles?: readonly string[] }
  | { type: 'step.failed'; at: number; nodeId: string; attempt: number; error: ErrorInfo }
  /** The attempt finished but its step waits until `wakeAt` (a durable timer), then succeeds with `output`. */
  | { type: 'step.waiting'; at: number; nodeId: string; attempt: number; wakeAt: number; output: unknown }
  | { type: 'timer.fired'; at: number; timerId: string }
  | { type: 'run.cancelled'; at: number; reason?: string }
  /** Retry a failed or cancelled run from its failed and cancelled steps. */
  | { type: 'run.retried'; at: number }
  /** Start no new steps until `run.resumed` (in-flight steps finish). */
  | { type: 'run.paused'; at: number }
  | { type: 'run.resumed'; at: number }
  /** A log line a node wrote during an attempt; recorded for the history, ignored by the state. */
  | { type: 'step.log'; at: number; nodeId: string; attempt: number; level: 'debug' | 'info' | 'warn' | 'error'; message: string; fields?: Record<string, unknown> };

/** Commands: what the runner must do after an event. */
export type Command =
  | { type: 'startStep'; nodeId: string; attempt: number; inputs: readonly string[] }
  | { type: 'abortStep'; nodeId: string; attempt: number; reason: string }
  | { type: 'startTimer'; timerId: string; dueAt: number }
  | { type: 'cancelTimer'; timerId: string }
  | { type: 'completeRun'; status: 'succeeded' | 'failed' | 'cancelled'; output?: unknown; error?: ErrorInfo & { nodeId?: string } };

/** Timer id of the run-level timeout (`settings.timeoutMs`). */
export const RUN_TIMEOUT_TIMER = 'run-timeout';
/** Timer id for the retry of `nodeId` before `attempt`. */
export function retryTimerId(nodeId: string, attempt: number): string {
  return `retry:${nodeId}:${attempt}`;
}
/** Timer id for waking `nodeId` after its `attempt` asked to wait. */
export function wakeTimerId(nodeId: string, attempt: number): string {
  return `wake:${nodeId}:${attempt}`;
}
