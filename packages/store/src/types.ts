/**
 * The one narrow interface between FlowPilot and its database. Two implementations: SQLite
 * (better-sqlite3, the embedded default) and PostgreSQL (many server and worker processes on one
 * database). One conformance suite runs against both.
 *
 * Glossary:
 * - **workspace**: the tenant every row belongs to (`default` in embedded mode).
 * - **version**: an immutable snapshot of a workflow's definition; runs are pinned to one.
 * - **event**: a fact of a run's history (the engine core's `RunEvent`), numbered by `seq` from 1.
 *   A run's state is a pure function of its plan and events. Outputs are stored once, on the
 *   step row (or in the payload table when large), and joined back into events when read.
 * - **queue item**: a step attempt ready to run. Workers **claim** items with a **lease**
 *   (owner, token, expiry) and extend it by heartbeats; an expired lease makes the item claimable
 *   again (the same attempt, so its idempotency key is stable).
 * - **timer**: a durable `due_at` row (retry backoff, `delay`, run timeout).
 * - **write**: everything one transition changes for one run, committed atomically with the
 *   run's `last_seq` bump.
 */
import type { ErrorInfo, RunEvent, RunStatus, StepStatus } from '@flowpilot/engine';

/** The workspace of embedded mode and of the bootstrap API key. */
export const DEFAULT_WORKSPACE_ID = 'default';

/** A workflow; its definitions live in immutable versions. */
export interface WorkflowRecord {
  workspaceId: string;
  id: string;
  name: string;
  latestVersion: number;
  /** Max runs of this workflow running at once; extra runs wait in `pending`. Null: no limit. */
  maxConcurrentRuns: number | null;
  /** Its triggers (webhooks, schedules) are on. */
  active?: boolean;
  createdAt: number;
  updatedAt: number;
}

export interface WorkflowVersionRecord {
  workspaceId: string;
  workflowId: string;
  version: number;
  definition: unknown;
  createdAt: number;
}

export interface RunRecord {
  workspaceId: string;
  id: string;
  workflowId: string;
  version: number;
  status: RunStatus;
  /** Higher runs first. */
  priority: number;
  input: unknown;
  output?: unknown;
  error?: ErrorInfo & { nodeId?: string };
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  /** Seq of the run's last event (0 before any). */
  lastSeq: number;
}

export interface StepRecord {
  runId: string;
  nodeId: string;
  status: StepStatus;
  attempts: number;
  output?: unknown;
  error?: ErrorInfo;
  startedAt?: number;
  finishedAt?: number;
}

export interface StoredEvent {
  seq: number;
  event: RunEvent;
}

/** A lease on a queue item held by a worker. */
export interface Lease {
  owner: string;
  token: string;
  expiresAt: number;
}

/** A claimed step attempt. */
export interface ClaimedStep {
  workspaceId: string;
  runId: string;
  workflowId: string;
  version: number;
  nodeId: string;
  attempt: number;
  inputs: string[];
  lease: Lease;
  /** How many times this attempt has been claimed (more than 1: a worker died holding it). */
  claims: number;
  /** When this claim was made (the attempt's `step.started` time). */
  claimedAt: number;
  /** The run's input (the claim reads the run row anyway: the attempt need not read it again). */
  input?: unknown;
}

/** A queue item to create: a ready step attempt, optionally leased at once to the committer. */
export interface QueueWrite {
  nodeId: string;
  attempt: number;
  inputs: readonly string[];
  /**
   * Leased at once to the committer (eager dispatch). Its `expiresAt` counts from the write: when
   * the transaction commits later (it went on to wait for locks), the store moves the expiry on by
   * that delay, so the committer holds the lease for its full length from the commit.
   */
  lease?: Lease;
}

/** A step row as a transition leaves it. */
export interface StepWrite {
  nodeId: string;
  status: StepStatus;
  attempts: number;
  /** Present when the step has an output to store (succeeded, waiting, handled failure). */
  output?: unknown;
  error?: ErrorInfo;
  startedAt?: number;
  finishedAt?: number;
}

/** Run columns a transition may change. */
export interface RunUpdate {
  status: RunStatus;
  output?: unknown;
  error?: ErrorInfo & { nodeId?: string };
  startedAt?: number;
  finishedAt?: number;
}

/** Everything one transition of one run writes; the store commits it with `last_seq` += events. */
export interface RunWrite {
  workspaceId: string;
  runId: string;
  /** `last_seq` the writer saw under its lock; the store refuses a write that does not match. */
  expectedSeq: number;
  /** The run's priority, copied onto its queue items. */
  priority: number;
  /** The run's workflow, for event notices (looked up when absent). */
  workflowId?: string;
  events: readonly RunEvent[];
  steps: readonly StepWrite[];
  run?: RunUpdate;
  enqueue: readonly QueueWrite[];
  /** Queue items to remove, by node id (a finished attempt, an aborted one). */
  dequeue: readonly string[];
  timersSet: ReadonlyArray<{ timerId: string; dueAt: number }>;
  timersDeleted: readonly string[];
}

/** A timer that is due, leased to the worker that will fire it. */
export interface DueTimer {
  workspaceId: string;
  runId: string;
  timerId: string;
  dueAt: number;
  /** The lease of this claim: fire the timer only if `StoreTransaction.releaseTimer` with it returns true. */
  token: string;
}

/** A new run row. */
export interface NewRun {
  workspaceId: string;
  id: string;
  workflowId: string;
  version: number;
  priority: number;
  input: unknown;
  createdAt: number;
}

/** Operations inside one transaction. Run rows are locked by `lockRuns` until commit. */
export interface StoreTransaction {
  /** Locks the runs (in id order, so concurrent transactions cannot deadlock) and returns them. */
  lockRuns(workspaceId: string, runIds: readonly string[]): Promise<Map<string, RunRecord>>;
  /** Locks the workflow row: serialises admission of its runs against its concurrency limit. */
  lockWorkflow(workspaceId: string, workflowId: string): Promise<WorkflowRecord | undefined>;
  countRunning(workspaceId: string, workflowId: string): Promise<number>;
  /** The next `pending` run of a workflow by priority then age, if any. */
  nextPendingRun(workspaceId: string, workflowId: string): Promise<RunRecord | undefined>;
  insertRun(run: NewRun): Promise<void>;
  /** Events after `afterSeq`, with step outputs and the run input joined back in. */
  readEvents(workspaceId: string, runId: string, afterSeq: number): Promise<StoredEvent[]>;
  /**
   * `readEvents` for several runs at once (one round trip on PostgreSQL), keyed by
   * `runEventsKey(workspaceId, runId)`; a run without new events may be absent.
   */
  readEventsOfRuns(requests: ReadonlyArray<{ workspaceId: string; runId: string; afterSeq: number }>): Promise<Map<string, StoredEvent[]>>;
  /** Removes the queue item if `token` still holds its lease; false when the lease was lost. */
  releaseLease(workspaceId: string, runId: string, nodeId: string, token: string): Promise<boolean>;
  /**
   * `releaseLease` for a batch, by lease token (tokens are unique): removes the items whose lease
   * the token still holds, in one statement; returns the tokens that held.
   */
  releaseLeases(tokens: readonly string[]): Promise<Set<string>>;
  /**
   * Removes a claimed timer if `token` (from `claimDueTimers`) still holds its lease; false when the
   * lease was lost: it expired and another worker claimed the timer, or the timer was re-armed or
   * deleted meanwhile. Firing only on true makes a timer fire once even when a firing transaction
   * outlasts the lease.
   */
  releaseTimer(workspaceId: string, runId: string, timerId: string, token: string): Promise<boolean>;
  write(write: RunWrite): Promise<void>;
}

/** Options of a claim. */
export interface ClaimOptions {
  owner: string;
  limit: number;
  leaseMs: number;
  now: number;
}

/** The store. Every method is atomic on its own; `transaction` groups the rest. */
export interface Store {
  /** `sqlite` or `postgres`. */
  readonly kind: 'sqlite' | 'postgres';
  /** Applies pending numbered migrations; returns the versions applied. */
  migrate(): Promise<number[]>;
  close(): Promise<void>;
  /** Runs `fn` in one transaction; rolls back if it throws. */
  transaction<T>(fn: (tx: StoreTransaction) => Promise<T>): Promise<T>;

  // Workflows
  /**
   * Saves a definition as a new version (or returns the latest if identical). Creates the workflow;
   * with `createOnly`, fails with `WORKFLOW_EXISTS` when it already exists (atomic under concurrency).
   */
  saveWorkflowVersion(input: {
    workspaceId: string;
    workflowId: string;
    name: string;
    definition: unknown;
    now: number;
    createOnly?: boolean;
  }): Promise<WorkflowVersionRecord>;
  getWorkflow(workspaceId: string, workflowId: string): Promise<WorkflowRecord | undefined>;
  getWorkflowVersion(workspaceId: string, workflowId: string, version?: number): Promise<WorkflowVersionRecord | undefined>;
  setWorkflowConcurrency(workspaceId: string, workflowId: string, maxConcurrentRuns: number | null): Promise<void>;

  // Runs
  getRun(workspaceId: string, runId: string): Promise<RunRecord | undefined>;
  getSteps(workspaceId: string, runId: string): Promise<StepRecord[]>;
  /** Outputs of the given steps (what a node's scope needs), by node id. */
  readOutputs(workspaceId: string, runId: string, nodeIds: readonly string[]): Promise<Map<string, unknown>>;
  readEvents(workspaceId: string, runId: string, afterSeq?: number): Promise<StoredEvent[]>;

  // Work
  /** Leases up to `limit` ready items (or items whose lease expired), highest run priority first. */
  claimSteps(options: ClaimOptions): Promise<ClaimedStep[]>;
  /** Extends leases still held; returns the tokens that were lost (aborted or taken over). */
  extendLeases(owner: string, tokens: readonly string[], expiresAt: number): Promise<string[]>;
  /** Leases due timers for `leaseMs` so one worker fires each (see `StoreTransaction.releaseTimer`). */
  claimDueTimers(options: ClaimOptions): Promise<DueTimer[]>;
  /** The earliest timer due time, for sleeping until then. */
  nextTimerDue(): Promise<number | undefined>;
  /** Number of ready, unleased queue items (the queue depth). */
  queueDepth(now: number): Promise<number>;

  /** Deletes finished runs finished before `before` with everything they own; returns how many. */
  pruneRuns(before: number, limit?: number): Promise<number>;

  /** Wakes `listener` when work may be available (NOTIFY on PostgreSQL, in-process on SQLite). */
  onWork(listener: () => void): () => void;
}

/** The key of a run in `StoreTransaction.readEventsOfRuns`' answer. */
export function runEventsKey(workspaceId: string, runId: string): string {
  return `${workspaceId}\u0000${runId}`;
}
