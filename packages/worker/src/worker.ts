/**
 * A worker: claims ready steps with leases, runs them, records outcomes in batches, fires due
 * timers, keeps its leases alive with heartbeats, and drains on stop. Any number of workers, in
 * any number of processes, may share one store.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { FlowPilotError, toErrorInfo, type RunEvent } from '@flowpilot/engine';
import { createChildRunner, LazyAbort, MemoryRun, runAttempt, systemClock, type AttemptOutcome, type Clock, type LogEntry, type WorkflowLoader } from '@flowpilot/runtime';
import type { ClaimedStep, Lease } from '@flowpilot/store';
import type { WorkspaceCredentialProvider } from './credentials.js';
import type { CompletedAttempt, DurableEngine } from './engine.js';
import { stepLimitError } from './run-limits.js';
import { loadScopeSource } from './scope.js';
import type { LeaseAllocator, LeasedStep } from './transitions.js';

export interface WorkerOptions {
  engine: DurableEngine;
  /** Attempts run at once (default 10). */
  concurrency?: number;
  /** Lease length (default 30 s); heartbeats extend it every third of it. */
  leaseMs?: number;
  /** Fallback poll interval when no wake-up arrives (default 1 s). */
  pollMs?: number;
  /** An attempt claimed more often than this (its workers keep dying) fails with WORKER_LOST. */
  maxClaims?: number;
  owner?: string;
  clock?: Clock;
  loadWorkflow?: WorkflowLoader;
  /** Resolves `ctx.credential()` in the step's workspace (see `storeCredentials`); without it, such steps fail. */
  credentials?: WorkspaceCredentialProvider;
  onLog?: (entry: LogEntry) => void;
  /** Called with errors the worker survived (store unreachable, …). */
  onError?: (error: unknown) => void;
  /** Called after each attempt (metrics). */
  onAttempt?: (info: { nodeType: string; durationMs: number; outcome: 'succeeded' | 'failed' | 'waiting' }) => void;
}

type RunningStep = (ClaimedStep | LeasedStep) & { claims?: number };

interface InFlight {
  step: RunningStep;
  abort: LazyAbort;
  lost: boolean;
  logs: Array<Extract<RunEvent, { type: 'step.log' }>>;
  nodeType?: string;
  /** The attempt is done and waits to be recorded. */
  finished?: boolean;
}

/** Per attempt, log lines kept for the history; more are counted, not stored. */
const MAX_LOG_LINES = 1000;
const MAX_LOG_MESSAGE = 8192;

export class Worker {
  readonly owner: string;
  readonly #engine: DurableEngine;
  readonly #clock: Clock;
  readonly #concurrency: number;
  readonly #leaseMs: number;
  readonly #pollMs: number;
  readonly #maxClaims: number;
  readonly #options: WorkerOptions;
  readonly #running = new Map<string, InFlight>();
  readonly #inputs = new Map<string, unknown>();
  #outcomes: CompletedAttempt[] = [];
  #reserved = 0;
  #committing: Promise<void> | undefined;
  #loop: Promise<void> | undefined;
  #stopping = false;
  #wake: (() => void) | undefined;
  /** A wake-up that arrived while the loop was busy: the next idle returns at once. */
  #wakePending = false;
  #heartbeat: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;
  #detach: (() => void) | undefined;
  #leaseSequence = 0;
  /**
   * Work notices (the store's `onWork`, poll timeouts) counted, and the count the last short claim
   * had seen: a claim is a write transaction, so the loop claims only when something may be there.
   */
  #workNotices = 1;
  #drainedAt = 0;
  /**
   * When the next timer is due, as last read (undefined: no timer; null: unknown, read it). Kept
   * between loop turns instead of read on each: this process's commits report the timers they set,
   * and a poll timeout forgets it (timers other processes set).
   */
  #timerDue: number | undefined | null = null;
  /** Timers this process's commits set while the due time was being read. */
  #timersSetDuringRead: number | undefined;
  #unwatchTimers: (() => void) | undefined;

  constructor(options: WorkerOptions) {
    this.#options = options;
    this.#engine = options.engine;
    this.#clock = options.clock ?? systemClock;
    this.#concurrency = options.concurrency ?? 10;
    this.#leaseMs = options.leaseMs ?? 30_000;
    this.#pollMs = options.pollMs ?? 1000;
    this.#maxClaims = options.maxClaims ?? 5;
    this.owner = options.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  }

  /** Attempts running or waiting to be recorded. */
  get inFlight(): number {
    return this.#running.size;
  }

  /**
   * Slots in use: attempts still running, plus finished ones waiting to be recorded beyond
   * `concurrency` of them. Up to that many, waiting outcomes hold no slot (their commit may lease
   * the steps they make ready); past it the committer is the bottleneck, and claiming more would
   * only grow its batches and the runs in flight.
   */
  #busy(): number {
    let running = 0;
    let recording = 0;
    for (const entry of this.#running.values()) {
      if (entry.finished === true) recording += 1;
      else running += 1;
    }
    return running + Math.max(0, recording - this.#concurrency);
  }

  start(): void {
    if (this.#loop !== undefined) return;
    this.#unsubscribe = this.#engine.store.onWork(() => {
      this.#workNotices += 1;
      this.#wakeUp();
    });
    this.#unwatchTimers = this.#engine.watchTimers((dueAt) => {
      this.#timersSetDuringRead = earliest(this.#timersSetDuringRead, dueAt);
      if (this.#timerDue !== null) this.#timerDue = earliest(this.#timerDue, dueAt);
      this.#wakeUp();
    });
    // Runs started in this process hand their first steps straight to this worker.
    this.#detach = this.#engine.attachLocalWorker({
      withLeases: (fn) => this.#withLeases(fn),
      launch: (steps) => {
        for (const step of steps) this.#launch(step);
      },
    });
    this.#heartbeat = setInterval(() => void this.#extendLeases(), Math.max(50, this.#leaseMs / 3));
    this.#heartbeat.unref();
    this.#loop = this.#run();
  }

  /**
   * Stops claiming, lets running attempts finish for up to `drainMs` and records them; attempts
   * still running then are aborted and their leases released so another worker takes them at once.
   */
  async stop(drainMs = 30_000): Promise<void> {
    this.#stopping = true;
    this.#detach?.();
    this.#wakeUp();
    await this.#loop;
    const deadline = Date.now() + drainMs;
    while (this.#running.size > 0 && Date.now() < deadline) await delay(20);
    const left = [...this.#running.values()];
    for (const entry of left) {
      entry.lost = true;
      entry.abort.abort(new FlowPilotError('WORKER_STOPPING', 'worker stopped before the attempt finished'));
    }
    if (left.length > 0) await this.#engine.store.extendLeases(this.owner, left.map((entry) => entry.step.lease.token), 0).catch(this.#reportError);
    this.#running.clear();
    await this.#committing;
    clearInterval(this.#heartbeat);
    this.#unsubscribe?.();
    this.#unwatchTimers?.();
  }

  async #run(): Promise<void> {
    while (!this.#stopping) {
      let busy = false;
      try {
        const now = this.#clock.now();
        const free = this.#concurrency - this.#busy() - this.#reserved;
        if (free > 0 && this.#workNotices > this.#drainedAt) {
          const seen = this.#workNotices;
          const claimed = await this.#engine.store.claimSteps({ owner: this.owner, limit: free, leaseMs: this.#leaseMs, now });
          for (const step of claimed) this.#launch(step);
          busy = claimed.length === free;
          // Fewer than asked for: the queue had no more; claim again after the next notice.
          if (!busy) this.#drainedAt = seen;
        }
        // Claiming timers is a write; look (a read, or the remembered due time) first whether any is due.
        const due = await this.#nextTimerDue();
        const timers = due !== undefined && due <= now ? await this.#engine.store.claimDueTimers({ owner: this.owner, limit: 100, leaseMs: this.#leaseMs, now }) : [];
        // Claimed or not (another worker may have taken them), the next due time has changed.
        if (due !== undefined && due <= now) this.#timerDue = null;
        if (timers.length > 0) {
          for (const step of await this.#withLeases((lease) => this.#engine.fireTimers(timers, lease))) this.#launch(step);
          busy = true;
        }
      } catch (error) {
        this.#reportError(error);
      }
      if (!busy && !this.#stopping) await this.#idle();
    }
  }

  /** Sleeps until woken (new work, a free slot) or the next timer is due, at most `pollMs`. */
  async #idle(): Promise<void> {
    if (this.#wakePending) {
      this.#wakePending = false;
      return;
    }
    let wait = this.#pollMs;
    try {
      const due = await this.#nextTimerDue();
      if (due !== undefined) wait = Math.max(0, Math.min(wait, due - this.#clock.now()));
    } catch (error) {
      this.#reportError(error);
    }
    if (wait === 0 || this.#wakePending) {
      this.#wakePending = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        // Work no notice announces (another SQLite process's, an expired lease, another process's
        // timers) is found by polling.
        this.#workNotices += 1;
        this.#timerDue = null;
        resolve();
      }, wait);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.#wake = undefined;
    this.#wakePending = false;
  }

  async #nextTimerDue(): Promise<number | undefined> {
    if (this.#timerDue === null) {
      this.#timersSetDuringRead = undefined;
      const read = await this.#engine.store.nextTimerDue();
      // A commit during the read may have set an earlier timer than the read saw.
      this.#timerDue = earliest(read, this.#timersSetDuringRead);
    }
    return this.#timerDue;
  }

  #wakeUp(): void {
    if (this.#wake === undefined) this.#wakePending = true;
    else this.#wake();
  }

  /** Runs `fn` with a lease allocator that hands new ready steps to this worker while it has room. */
  async #withLeases<T>(fn: (lease: LeaseAllocator) => Promise<T>): Promise<T> {
    let reserved = 0;
    const allocate: LeaseAllocator = () => {
      // Attempts waiting to be recorded hold no slot: the steps their commit makes ready may take them.
      if (this.#stopping || this.#busy() + this.#reserved >= this.#concurrency) return undefined;
      this.#reserved += 1;
      reserved += 1;
      this.#leaseSequence += 1;
      const lease: Lease = { owner: this.owner, token: `${this.owner}:e${this.#leaseSequence}`, expiresAt: this.#clock.now() + this.#leaseMs };
      return lease;
    };
    try {
      return await fn(allocate);
    } finally {
      this.#reserved -= reserved;
    }
  }

  #launch(step: RunningStep): void {
    const entry: InFlight = { step, abort: new LazyAbort(), lost: false, logs: [] };
    this.#running.set(step.lease.token, entry);
    const started = this.#clock.now();
    void this.#execute(entry).then((outcome) => {
      if (entry.nodeType !== undefined) {
        const result = !outcome.ok ? 'failed' : 'wakeAt' in outcome ? 'waiting' : 'succeeded';
        this.#options.onAttempt?.({ nodeType: entry.nodeType, durationMs: this.#clock.now() - started, outcome: result });
      }
      if (entry.lost) return;
      entry.finished = true;
      this.#outcomes.push({ step, outcome, finishedAt: this.#clock.now(), logs: entry.logs });
      this.#scheduleCommit();
    });
  }

  async #execute(entry: InFlight): Promise<AttemptOutcome> {
    const { step } = entry;
    try {
      if ((step.claims ?? 1) > this.#maxClaims) {
        return { ok: false, error: { code: 'WORKER_LOST', message: `attempt ${step.attempt} was claimed ${step.claims} times: its workers keep dying`, retryable: false } };
      }
      const engine = this.#engine;
      const plan = await engine.plans.get(step.workspaceId, step.workflowId, step.version);
      const node = plan.byId.get(step.nodeId);
      if (node === undefined) throw new FlowPilotError('UNKNOWN_NODE', `node "${step.nodeId}" is not in workflow ${step.workflowId} v${step.version}`, { retryable: false });
      entry.nodeType = node.nodeType.type;
      const onEvent = await this.#stepLimit(entry, plan.nodes.length);
      const source = await loadScopeSource(engine.store, engine.states, this.#inputs, step, plan, node);
      const provider = this.#options.credentials;
      const credentials = provider === undefined ? undefined : (credentialId: string) => provider(step.workspaceId, credentialId);
      const childOptions = { registry: engine.registry, clock: this.#clock, loadWorkflow: this.#options.loadWorkflow, onLog: this.#options.onLog, credentials, onEvent };
      return await runAttempt({
        plan,
        node,
        runId: step.runId,
        attempt: step.attempt,
        inputs: step.inputs,
        source,
        outerScope: undefined,
        depth: 0,
        clock: this.#clock,
        abort: entry.abort,
        children: createChildRunner(step.runId, 0, childOptions, (childPlan, options) => new MemoryRun(childPlan, options).result),
        credentials,
        log: (level, message, fields) => {
          const at = this.#clock.now();
          if (entry.logs.length < MAX_LOG_LINES) {
            const line: InFlight['logs'][number] = { type: 'step.log', at, nodeId: step.nodeId, attempt: step.attempt, level, message: message.slice(0, MAX_LOG_MESSAGE) };
            if (fields !== undefined) line.fields = fields;
            entry.logs.push(line);
          }
          this.#options.onLog?.({ runId: step.runId, nodeId: step.nodeId, attempt: step.attempt, level, message, fields, at });
        },
      });
    } catch (error) {
      return { ok: false, error: toErrorInfo(error) };
    }
  }

  /**
   * The workspace's step limit for this attempt: throws when the workflow alone is over it, else
   * returns the observer that counts the steps its children start (forEach/loop bodies,
   * sub-workflows, nested) and aborts the attempt with LIMIT_STEPS_PER_RUN past the run's budget.
   */
  async #stepLimit(entry: InFlight, nodes: number): Promise<((event: RunEvent) => void) | undefined> {
    const { workspaceId, runId } = entry.step;
    await this.#engine.runLimits.load(workspaceId);
    const max = this.#engine.runLimits.cached(workspaceId).maxStepsPerRun;
    if (max === undefined) return undefined;
    if (nodes > max) throw stepLimitError(max, `the workflow has ${nodes} nodes`);
    const budgets = this.#engine.stepBudgets;
    return (event) => {
      if (event.type !== 'step.started' || entry.abort.aborted) return;
      const used = budgets.take(runId);
      // Not from inside the child run's own event dispatch: abort once it has returned.
      if (nodes + used > max) queueMicrotask(() => entry.abort.abort(stepLimitError(max, `the run started ${nodes + used} steps`)));
    };
  }

  /** Starts the committer unless it runs; it restarts itself for outcomes that arrive as it ends. */
  #scheduleCommit(): void {
    if (this.#committing !== undefined) return;
    // One macrotask later: attempts finishing in the same tick are recorded in the same transaction.
    this.#committing = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#commit()).finally(() => {
      this.#committing = undefined;
      if (this.#outcomes.length > 0) this.#scheduleCommit();
    });
  }

  /** Records finished attempts in batches; a failed commit is retried (the leases stay held). */
  async #commit(): Promise<void> {
    while (this.#outcomes.length > 0) {
      const batch = this.#outcomes;
      this.#outcomes = [];
      try {
        const leased = await this.#withLeases((lease) => this.#engine.completeAttempts(batch, lease));
        for (const item of batch) this.#running.delete(item.step.lease.token);
        for (const step of leased) this.#launch(step);
        // Slots the commit did not refill with its own ready steps: claim work for them.
        if (leased.length < batch.length) this.#wakeUp();
      } catch (error) {
        this.#reportError(error);
        this.#outcomes = [...batch, ...this.#outcomes];
        await delay(250);
      }
    }
  }

  async #extendLeases(): Promise<void> {
    // Finished attempts are not extended: their queue rows are being deleted by the committer, and
    // touching the same rows from two transactions in different orders deadlocks on PostgreSQL.
    // Sorted, so concurrent heartbeats lock rows in one order.
    const tokens = [...this.#running.entries()].filter(([, entry]) => entry.finished !== true).map(([token]) => token).sort();
    if (tokens.length === 0) return;
    try {
      const lost = await this.#engine.store.extendLeases(this.owner, tokens, this.#clock.now() + this.#leaseMs);
      for (const token of lost) {
        const entry = this.#running.get(token);
        if (entry === undefined) continue;
        // Cancelled, or taken over after this worker stalled past its lease: stop, record nothing.
        entry.lost = true;
        entry.abort.abort(new FlowPilotError('LEASE_LOST', 'the step lease was lost (run cancelled or step taken over)', { retryable: false }));
        this.#running.delete(token);
      }
    } catch (error) {
      this.#reportError(error);
    }
  }

  #reportError = (error: unknown): void => {
    this.#options.onError?.(error);
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The earlier of two due times (undefined: none). */
function earliest(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}
