/**
 * The durable engine: the operations that change runs (start, complete attempts, fire timers,
 * cancel, retry), each one store transaction. Workers, the CLI and (later) the API server call it;
 * any number of processes may, concurrently, on one database.
 */
import { v7 as timeOrderedUuid } from 'uuid';
import { FINISHED_RUN_STATUSES, FlowPilotError, planWorkflow, type NodeRegistry, type Plan, type RunEvent } from '@flowpilot/engine';
import { outcomeEvent, systemClock, TurnBatcher, type AttemptOutcome, type Clock } from '@flowpilot/runtime';
import { DEFAULT_WORKSPACE_ID, type DueTimer, type RunRecord, type ScheduleRecord, type ScheduleTransaction, type Store, type StoreTransaction, type WorkflowVersionRecord } from '@flowpilot/store';
import { PlanCache } from './plans.js';
import { RunStateCache } from './state-cache.js';
import { WorkflowLimits } from './limits.js';
import { RunLimitsCache, StepBudgets, type RunLimitsSource } from './run-limits.js';
import { RunTransitions, type LeaseAllocator, type LeasedStep, type TransitionNotice } from './transitions.js';

export interface DurableEngineOptions {
  store: Store;
  registry: NodeRegistry;
  clock?: Clock;
  /** Runs whose state a process keeps cached (default 1000). */
  stateCacheSize?: number;
  /** Called after each commit with what its transitions changed (live events, metrics). */
  onCommitted?: (notices: readonly TransitionNotice[]) => void;
  /** The workspace limits runs are held to (max duration, max steps); none without it. */
  runLimits?: RunLimitsSource;
}

export interface StartRunOptions {
  workspaceId?: string;
  workflowId: string;
  /** Defaults to the latest version; the run is pinned to it. */
  version?: number;
  input?: unknown;
  /** Higher runs first (default 0). */
  priority?: number;
  runId?: string;
}

/** A worker in this process that takes the first steps of runs started here, without a claim. */
export interface LocalWorker {
  /** Runs `fn` with an allocator of this worker's free slots. */
  withLeases<T>(fn: (lease: LeaseAllocator) => Promise<T>): Promise<T>;
  /** Runs steps leased to it (after the commit that leased them). */
  launch(steps: readonly LeasedStep[]): void;
}

type PreparedStart = StartRunOptions & { workspaceId: string; version: number; runId: string };

/** A finished attempt to record: which lease ran it and what came out. */
export interface CompletedAttempt {
  step: Pick<LeasedStep, 'workspaceId' | 'runId' | 'workflowId' | 'version' | 'nodeId' | 'attempt' | 'claimedAt'> & { lease: { token: string } };
  outcome: AttemptOutcome;
  finishedAt: number;
  /** Log lines the node wrote, recorded as `step.log` events before the outcome. */
  logs?: ReadonlyArray<Extract<RunEvent, { type: 'step.log' }>>;
}

export class DurableEngine {
  readonly store: Store;
  readonly registry: NodeRegistry;
  readonly plans: PlanCache;
  readonly states: RunStateCache;
  readonly #transitions: RunTransitions;
  readonly #clock: Clock;
  readonly #onCommitted: DurableEngineOptions['onCommitted'];
  readonly #limits: WorkflowLimits;
  /** Workspace limits (cached a second): transitions apply the duration, workers the steps. */
  readonly runLimits: RunLimitsCache;
  readonly stepBudgets = new StepBudgets();
  readonly #starts = new TurnBatcher<PreparedStart, RunRecord>((batch) => this.#startBatch(batch));
  #local: LocalWorker | undefined;
  readonly #timerWatchers = new Set<(dueAt: number) => void>();

  constructor(options: DurableEngineOptions) {
    this.#onCommitted = options.onCommitted;
    this.#limits = new WorkflowLimits(options.store);
    this.runLimits = new RunLimitsCache(options.runLimits);
    this.store = options.store;
    this.registry = options.registry;
    this.#clock = options.clock ?? systemClock;
    this.plans = new PlanCache(options.store, options.registry);
    this.states = new RunStateCache(options.stateCacheSize);
    this.#transitions = new RunTransitions(this.plans, this.states, this.runLimits);
  }

  /** Validates and saves a definition as the workflow's next version (unchanged → same version). */
  async saveWorkflow(workflowId: string, definition: unknown, workspaceId = DEFAULT_WORKSPACE_ID, options: { createOnly?: boolean } = {}): Promise<WorkflowVersionRecord> {
    const plan = planWorkflow(definition, this.registry);
    const version = await this.store.saveWorkflowVersion({ workspaceId, workflowId, name: plan.workflow.name, definition, now: this.#clock.now(), createOnly: options.createOnly });
    // The limit is a property of the workflow (admission reads it), kept in step with its latest version.
    await this.store.setWorkflowConcurrency(workspaceId, workflowId, plan.workflow.settings.maxConcurrentRuns ?? null);
    this.#limits.forget(workspaceId, workflowId);
    return version;
  }

  /** Creates a run pinned to a version; starts it now unless the workflow's concurrency limit is reached. */
  async startRun(options: StartRunOptions): Promise<RunRecord> {
    const workspaceId = options.workspaceId ?? DEFAULT_WORKSPACE_ID;
    const version = options.version ?? (await this.store.getWorkflow(workspaceId, options.workflowId))?.latestVersion;
    if (version === undefined) throw new FlowPilotError('WORKFLOW_NOT_FOUND', `workflow "${options.workflowId}" not found`, { retryable: false });
    await this.plans.get(workspaceId, options.workflowId, version); // fails early on a missing version
    await this.#limits.load(workspaceId, options.workflowId);
    await this.runLimits.load(workspaceId);
    return this.#starts.add({ ...options, workspaceId, version, runId: options.runId ?? this.#newRunId() });
  }

  /**
   * A new run id: a UUIDv7, so runs created together sort together. Their rows (runs, steps,
   * events, queue: all keyed by run id) then land on the same B-tree pages, and a commit of many
   * new runs dirties — and writes to the WAL — a few pages instead of one per run per index.
   */
  #newRunId(): string {
    return timeOrderedUuid({ msecs: this.#clock.now() });
  }

  /** Calls `watcher` after each commit of this process that set timers, with the earliest due time. */
  watchTimers(watcher: (dueAt: number) => void): () => void {
    this.#timerWatchers.add(watcher);
    return () => {
      this.#timerWatchers.delete(watcher);
    };
  }

  /**
   * Lets `worker` take the ready steps of runs started in this process (the first one attached
   * wins); returns the detach function.
   */
  attachLocalWorker(worker: LocalWorker): () => void {
    this.#local ??= worker;
    return () => {
      if (this.#local === worker) this.#local = undefined;
    };
  }

  /** Starts a batch of runs in one transaction, their ready steps leased to the local worker. */
  async #startBatch(batch: readonly PreparedStart[]): Promise<RunRecord[]> {
    const start = (lease?: LeaseAllocator) =>
      this.#transaction(async (tx, notices) => {
        const now = this.#clock.now();
        const records: RunRecord[] = [];
        const leased: LeasedStep[] = [];
        for (const options of batch) {
          const created = await this.#createRun(tx, notices, options, now, lease);
          leased.push(...created.leased);
          records.push(created.run);
        }
        return { records, leased };
      });
    const local = this.#local;
    if (local === undefined) return (await start()).records;
    return local.withLeases(async (lease) => {
      const { records, leased } = await start(lease);
      local.launch(leased);
      return records;
    });
  }

  /**
   * Fires the schedules due at `now`, each in the transaction that moves it to its next tick, so
   * with any number of processes each tick starts exactly one run. `decide` applies catch-up.
   * Returns the runs started, each with the schedule that started it.
   */
  async fireDueSchedules(now: number, decide: (schedule: ScheduleRecord) => { fire: boolean; next: number | undefined }, limit = 50): Promise<Array<{ runId: string; schedule: ScheduleRecord }>> {
    return this.#transaction(async (tx, notices) => {
      const schedules = tx as StoreTransaction & ScheduleTransaction;
      const started: Array<{ runId: string; schedule: ScheduleRecord }> = [];
      for (const schedule of await schedules.takeDueSchedules(now, limit)) {
        const { fire, next } = decide(schedule);
        await schedules.setScheduleNext(schedule, next ?? null, now);
        if (!fire) continue;
        const workflow = await this.store.getWorkflow(schedule.workspaceId, schedule.workflowId);
        if (workflow === undefined) continue;
        await this.runLimits.load(schedule.workspaceId);
        const runId = this.#newRunId();
        const input = { scheduledFor: new Date(schedule.nextFireAt ?? now).toISOString(), firedAt: new Date(now).toISOString() };
        await this.#createRun(tx, notices, { workspaceId: schedule.workspaceId, workflowId: schedule.workflowId, version: workflow.latestVersion, runId, input }, now);
        started.push({ runId, schedule });
      }
      return started;
    });
  }

  async #createRun(
    tx: StoreTransaction,
    notices: TransitionNotice[],
    options: PreparedStart,
    now: number,
    lease?: LeaseAllocator,
  ): Promise<{ run: RunRecord; leased: LeasedStep[] }> {
    const { workspaceId, workflowId, version, runId } = options;
    const run: RunRecord = { workspaceId, id: runId, workflowId, version, status: 'pending', priority: options.priority ?? 0, input: options.input ?? {}, createdAt: now, lastSeq: 0 };
    await tx.insertRun({ workspaceId, id: runId, workflowId, version, priority: run.priority, input: run.input, createdAt: now });
    // A row this transaction inserted is invisible to others until commit: it is ours alone, no
    // lock to take (locks go run first, workflow second, everywhere).
    const limit = this.#limits.cached(workspaceId, workflowId);
    if (limit !== null) {
      const workflow = await tx.lockWorkflow(workspaceId, workflowId);
      const locked = workflow?.maxConcurrentRuns ?? null;
      if (locked !== null && (await tx.countRunning(workspaceId, workflowId)) >= locked) return { run, leased: [] };
    }
    const result = await this.#transitions.apply(tx, run, startEvents(await this.plans.get(workspaceId, workflowId, version), run, now), { now, lease, notices });
    const { state } = result;
    const started: RunRecord = { ...run, status: state.status, ...(state.startedAt === undefined ? {} : { startedAt: state.startedAt }) };
    if (state.finishedAt !== undefined) Object.assign(started, { finishedAt: state.finishedAt, output: state.output, error: state.error });
    return { run: started, leased: result.leased };
  }

  /** Records finished attempts (one transaction for the batch); returns steps leased to the caller. */
  async completeAttempts(attempts: readonly CompletedAttempt[], lease?: LeaseAllocator): Promise<LeasedStep[]> {
    if (attempts.length === 0) return [];
    const byRun = groupBy(attempts, (item) => `${item.step.workspaceId}\u0000${item.step.runId}`);
    // Plans are loaded before the transaction: no reads of the store while it holds run locks.
    await Promise.all(attempts.map(({ step }) => this.plans.get(step.workspaceId, step.workflowId, step.version)));
    await Promise.all(attempts.map(({ step }) => this.#limits.load(step.workspaceId, step.workflowId)));
    await Promise.all([...new Set(attempts.map(({ step }) => step.workspaceId))].map((workspaceId) => this.runLimits.load(workspaceId)));
    const now = this.#clock.now();
    return this.#transaction(async (tx, notices) => {
      const leased: LeasedStep[] = [];
      const runs = await lockAll(tx, [...byRun.values()].map((group) => group[0]!.step));
      // Only the lease holder may record: a worker that lost its lease (it stalled, another took
      // over) is ignored, so no success is ever recorded twice. Releasing deletes the queue item.
      const held = await tx.releaseLeases(attempts.map(({ step }) => step.lease.token));
      await this.#transitions.catchUp(tx, [...runs.values()]);
      for (const group of byRun.values()) {
        const { workspaceId, runId } = group[0]!.step;
        const run = runs.get(`${workspaceId}\u0000${runId}`);
        const events: RunEvent[] = [];
        for (const { step, outcome, finishedAt, logs } of group) {
          if (!held.has(step.lease.token)) continue;
          if (run === undefined || FINISHED_RUN_STATUSES.has(run.status)) continue;
          events.push({ type: 'step.started', at: step.claimedAt, nodeId: step.nodeId, attempt: step.attempt });
          if (logs !== undefined) events.push(...logs);
          events.push(outcomeEvent(outcome, step.nodeId, step.attempt, finishedAt));
        }
        if (run === undefined || events.length === 0) continue;
        const result = await this.#transitions.apply(tx, run, events, { now, lease, notices });
        leased.push(...result.leased);
        if (result.finished) leased.push(...(await this.#admitNext(tx, run, now, lease, notices)));
      }
      return leased;
    });
  }

  /** Fires due timers (retries, delays, run timeouts). */
  async fireTimers(timers: readonly DueTimer[], lease?: LeaseAllocator): Promise<LeasedStep[]> {
    if (timers.length === 0) return [];
    await this.#prefetchPlans(timers.map((timer) => [timer.workspaceId, timer.runId] as const));
    const now = this.#clock.now();
    return this.#transaction(async (tx, notices) => {
      const leased: LeasedStep[] = [];
      for (const group of groupBy(timers, (timer) => `${timer.workspaceId}\u0000${timer.runId}`).values()) {
        const { workspaceId, runId } = group[0]!;
        const run = (await tx.lockRuns(workspaceId, [runId])).get(runId);
        if (run === undefined) continue;
        // Fire only timers whose claim still holds: one that outlived its lease was taken by another.
        const timerIds: string[] = [];
        for (const timer of group) if (await tx.releaseTimer(workspaceId, runId, timer.timerId, timer.token)) timerIds.push(timer.timerId);
        if (timerIds.length === 0) continue;
        const events: RunEvent[] = FINISHED_RUN_STATUSES.has(run.status) ? [] : timerIds.map((timerId) => ({ type: 'timer.fired', at: now, timerId }));
        const result = await this.#transitions.apply(tx, run, events, { now, lease, notices });
        leased.push(...result.leased);
        if (result.finished) leased.push(...(await this.#admitNext(tx, run, now, lease, notices)));
      }
      return leased;
    });
  }

  /** Cancels a run: in-flight attempts lose their leases (their workers abort), the run ends `cancelled`. */
  async cancelRun(runId: string, reason = 'run cancelled', workspaceId = DEFAULT_WORKSPACE_ID): Promise<RunRecord> {
    return this.#control(workspaceId, runId, { type: 'run.cancelled', at: this.#clock.now(), reason }, (run) => !FINISHED_RUN_STATUSES.has(run.status));
  }

  /** Retries a failed or cancelled run from its failed steps; succeeded outputs are kept, same version. */
  async retryRun(runId: string, workspaceId = DEFAULT_WORKSPACE_ID): Promise<RunRecord> {
    return this.#control(workspaceId, runId, { type: 'run.retried', at: this.#clock.now() }, (run) => run.status === 'failed' || run.status === 'cancelled');
  }

  /** Pauses a run: in-flight steps finish, nothing new starts until `resumeRun`. */
  async pauseRun(runId: string, workspaceId = DEFAULT_WORKSPACE_ID): Promise<RunRecord> {
    return this.#control(workspaceId, runId, { type: 'run.paused', at: this.#clock.now() }, (run) => run.status === 'running' || run.status === 'waiting');
  }

  async resumeRun(runId: string, workspaceId = DEFAULT_WORKSPACE_ID): Promise<RunRecord> {
    return this.#control(workspaceId, runId, { type: 'run.resumed', at: this.#clock.now() }, (run) => run.status === 'paused');
  }

  async #control(workspaceId: string, runId: string, event: RunEvent, allowed: (run: RunRecord) => boolean): Promise<RunRecord> {
    await this.#prefetchPlans([[workspaceId, runId]]);
    await this.#transaction(async (tx, notices) => {
      const run = (await tx.lockRuns(workspaceId, [runId])).get(runId);
      if (run === undefined) throw new FlowPilotError('RUN_NOT_FOUND', `run "${runId}" not found`, { retryable: false });
      if (!allowed(run)) throw new FlowPilotError('INVALID_RUN_STATE', `run "${runId}" is ${run.status}: cannot apply ${event.type}`, { retryable: false });
      const heldSlot = run.status !== 'pending';
      const result = await this.#transitions.apply(tx, run, [event], { now: event.at, notices });
      if (result.finished && heldSlot) await this.#admitNext(tx, run, event.at, undefined, notices);
    });
    return (await this.store.getRun(workspaceId, runId))!;
  }

  /** Loads the plans of runs before a transaction, so it does not read the store while holding locks. */
  async #prefetchPlans(runs: ReadonlyArray<readonly [string, string]>): Promise<void> {
    const seen = new Set<string>();
    await Promise.all(
      runs.map(async ([workspaceId, runId]) => {
        if (seen.has(runId)) return;
        seen.add(runId);
        const run = await this.store.getRun(workspaceId, runId);
        if (run === undefined) return;
        await this.plans.get(workspaceId, run.workflowId, run.version).catch(() => undefined);
        await this.#limits.load(workspaceId, run.workflowId);
        await this.runLimits.load(workspaceId);
      }),
    );
  }

  /** Starts a locked pending run. */
  async #startLocked(tx: StoreTransaction, workspaceId: string, runId: string, now: number, notices: TransitionNotice[], lease?: LeaseAllocator): Promise<LeasedStep[]> {
    const run = (await tx.lockRuns(workspaceId, [runId])).get(runId)!;
    const result = await this.#transitions.apply(tx, run, [{ type: 'run.started', at: now, input: run.input }], { now, lease, notices });
    return result.leased;
  }

  /** A run of a limited workflow finished: start the next pending one, by priority then age. */
  async #admitNext(tx: StoreTransaction, finished: RunRecord, now: number, lease: LeaseAllocator | undefined, notices: TransitionNotice[]): Promise<LeasedStep[]> {
    // Without a limit there is nothing to admit: skip the workflow lock every completion would contend on.
    if (this.#limits.cached(finished.workspaceId, finished.workflowId) === null) return [];
    const workflow = await tx.lockWorkflow(finished.workspaceId, finished.workflowId);
    if (workflow?.maxConcurrentRuns == null) return [];
    if ((await tx.countRunning(finished.workspaceId, finished.workflowId)) >= workflow.maxConcurrentRuns) return [];
    const next = await tx.nextPendingRun(finished.workspaceId, finished.workflowId);
    return next === undefined ? [] : this.#startLocked(tx, next.workspaceId, next.id, now, notices, lease);
  }

  /**
   * A transaction whose failure also drops cached states: a rolled-back transition may have changed
   * them (rare: a lost connection, a conflict with a process that does not lock).
   */
  async #transaction<T>(fn: (tx: StoreTransaction, notices: TransitionNotice[]) => Promise<T>): Promise<T> {
    const notices: TransitionNotice[] = [];
    let result: T;
    try {
      result = await this.store.transaction((tx) => fn(tx, notices));
    } catch (error) {
      this.states.clear();
      throw error;
    }
    if (notices.length > 0) {
      this.#onCommitted?.(notices);
      let dueAt = Infinity;
      for (const notice of notices) if (notice.timerDueAt !== undefined && notice.timerDueAt < dueAt) dueAt = notice.timerDueAt;
      if (dueAt !== Infinity) for (const watcher of this.#timerWatchers) watcher(dueAt);
    }
    return result;
  }
}

/**
 * The events that start a run: `run.started`, and for each root trigger node (its output is the
 * run input) its attempt at once, so the trigger costs no queue item and no claim.
 */
function startEvents(plan: Plan, run: RunRecord, now: number): RunEvent[] {
  const events: RunEvent[] = [{ type: 'run.started', at: now, input: run.input }];
  for (const index of plan.roots) {
    const node = plan.nodes[index]!;
    if (node.nodeType.outputsRunInput !== true) continue;
    events.push({ type: 'step.started', at: now, nodeId: node.id, attempt: 1 }, { type: 'step.succeeded', at: now, nodeId: node.id, attempt: 1, output: run.input });
  }
  return events;
}

/** Locks the runs of a batch with one statement per workspace (in id order, like every lock here). */
async function lockAll(tx: StoreTransaction, steps: ReadonlyArray<{ workspaceId: string; runId: string }>): Promise<Map<string, RunRecord>> {
  const byWorkspace = groupBy(steps, (step) => step.workspaceId);
  const runs = new Map<string, RunRecord>();
  for (const [workspaceId, group] of byWorkspace) {
    const ids = [...new Set(group.map((step) => step.runId))].sort();
    for (const [runId, run] of await tx.lockRuns(workspaceId, ids)) runs.set(`${workspaceId}\u0000${runId}`, run);
  }
  return runs;
}

/**
 * Groups by run, in key order: every transaction locks its runs in one global order (workspace,
 * run id), so two batches touching the same runs cannot deadlock.
 */
function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const id = key(item);
    const group = groups.get(id);
    if (group === undefined) groups.set(id, [item]);
    else group.push(item);
  }
  return new Map([...groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
