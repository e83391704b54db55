/**
 * Helpers of the durable-execution suite (durable-suite.ts and durable/*.ts), shared by both backends:
 * the backend interface a test file implements (one database per test file), a per-test harness of
 * simulated processes (a store connection, a `DurableEngine`, in-process `Worker`s), the test node
 * types (durable/nodes.ts) and polling with timeouts (real timers throughout).
 */
import { FINISHED_RUN_STATUSES, type RunEvent, type RunStatus } from '@flowpilot/engine';
import { DEFAULT_WORKSPACE_ID, type RunRecord, type StepRecord, type Store } from '@flowpilot/store';
import { DurableEngine, Worker, type StartRunOptions, type WorkerOptions } from '@flowpilot/worker';
import { registry } from './durable/nodes.js';

export const WS = DEFAULT_WORKSPACE_ID;

/** Tables holding rows of a run (`runs` by `id`, the others by `run_id`). */
export const RUN_TABLES = ['runs', 'steps', 'events', 'queue', 'timers', 'payloads'] as const;
export type RunTable = (typeof RUN_TABLES)[number];

/** One database for one test file; every store opened on it is a "process". */
export interface DurableBackend {
  readonly kind: 'sqlite' | 'postgres';
  /** A migrated store on this file's database (SQLite file, PostgreSQL schema). */
  open(options?: { payloadThreshold?: number }): Promise<Store>;
  /** Rows of `table` belonging to the run, read with raw SQL (SQLite: through `store.database`). */
  countRows(store: Store, table: RunTable, runId: string): Promise<number>;
  /** Closes `store` without waiting for what it is doing (the process died). */
  kill(store: Store): Promise<void>;
  /** Removes the database. */
  dispose(): Promise<void>;
}

export type BackendFactory = () => Promise<DurableBackend>;

/** A topic of the suite (durable/*.ts): registers its tests; `harness()` is the current test's harness. */
export type DurableSuite = (harness: () => Harness) => void;

// ---------------------------------------------------------------------------------------------
// Time

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Rejects when `promise` takes longer than `ms` (a hang becomes a diagnosable failure). */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Polls `probe` until it returns something other than undefined/false. */
export async function waitFor<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs = 5000, intervalMs = 10): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

export { bigValue, executions, probes, registry, type SlowCall, type StallCall } from './durable/nodes.js';

// ---------------------------------------------------------------------------------------------
// Workflows

type NodeSpec = Record<string, unknown> & { id: string; type: string };

/** A workflow whose nodes run one after another (or with the given edges). */
export function workflow(name: string, nodes: NodeSpec[], edges?: Array<Record<string, unknown>>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const chain = nodes.slice(1).map((node, index) => ({ source: nodes[index]!.id, target: node.id }));
  return { name, ...extra, nodes, edges: edges ?? chain };
}

/** Events of one node (and/or type). */
export function eventsOf(events: readonly RunEvent[], filter: { type?: RunEvent['type']; nodeId?: string }): RunEvent[] {
  return events.filter((event) => (filter.type === undefined || event.type === filter.type) && (filter.nodeId === undefined || ('nodeId' in event && event.nodeId === filter.nodeId)));
}

/** A worker error as `CODE: message` (errors from pg carry their SQLSTATE as `code`). */
export function describeError(error: unknown): string {
  const { code, message } = error as { code?: unknown; message?: unknown };
  return `${String(code ?? 'ERROR')}: ${String(message ?? error)}`;
}

export const isFinished = (status: RunStatus): boolean => FINISHED_RUN_STATUSES.has(status);

// ---------------------------------------------------------------------------------------------
// The harness of one test

/** A simulated process: a store connection, an engine (plan and state caches) and its workers. */
export interface Process {
  store: Store;
  engine: DurableEngine;
  worker(options?: Partial<WorkerOptions>): Worker;
}

export class Harness {
  /** Errors the workers survived (reported through `onError`). */
  readonly errors: unknown[] = [];
  /** The test's main process: saves workflows, starts runs, and its workers run them. */
  readonly engine: DurableEngine;
  readonly #workers: Worker[] = [];
  readonly #stores: Store[] = [];
  readonly #runs = new Set<string>();

  constructor(
    readonly backend: DurableBackend,
    readonly store: Store,
  ) {
    this.engine = new DurableEngine({ store, registry });
  }

  /** A started worker of the main process (or of `options.engine`), stopped after the test. */
  worker(options: Partial<WorkerOptions> = {}): Worker {
    const worker = new Worker({ engine: this.engine, pollMs: 20, leaseMs: 5000, onError: (error) => this.errors.push(error), ...options });
    worker.start();
    this.#workers.push(worker);
    return worker;
  }

  /**
   * Another process on the same database: a new store connection (or the main store with
   * `sameStore`), a new engine with empty caches. Its store is killed after the test.
   */
  async process(options: { sameStore?: boolean; payloadThreshold?: number; stateCacheSize?: number } = {}): Promise<Process> {
    let store = this.store;
    if (options.sameStore !== true) {
      store = await this.backend.open({ payloadThreshold: options.payloadThreshold });
      this.#stores.push(store);
    }
    const engine = new DurableEngine({ store, registry, stateCacheSize: options.stateCacheSize });
    return { store, engine, worker: (workerOptions = {}) => this.worker({ engine, ...workerOptions }) };
  }

  async save(workflowId: string, definition: unknown, engine = this.engine): Promise<number> {
    return (await engine.saveWorkflow(workflowId, definition)).version;
  }

  /** Starts a run (cancelled after the test if it has not finished). */
  async start(options: StartRunOptions, engine = this.engine): Promise<RunRecord> {
    const run = await engine.startRun(options);
    this.#runs.add(run.id);
    return run;
  }

  async run(runId: string, store = this.store): Promise<RunRecord> {
    const run = await store.getRun(WS, runId);
    if (run === undefined) throw new Error(`run ${runId} not found`);
    return run;
  }

  /** Polls the run until it finished (or `until` holds). */
  async waitForRun(runId: string, options: { until?: (run: RunRecord) => boolean; timeoutMs?: number; store?: Store } = {}): Promise<RunRecord> {
    const until = options.until ?? ((run: RunRecord) => isFinished(run.status));
    let last: RunRecord | undefined;
    try {
      return await waitFor(async () => {
        last = await this.run(runId, options.store);
        return until(last) ? last : undefined;
      }, `run ${runId}`, options.timeoutMs ?? 10_000);
    } catch (error) {
      const steps = await this.steps(runId, options.store).catch(() => new Map<string, StepRecord>());
      const summary = [...steps.values()].map((step) => `${step.nodeId}=${step.status}/${step.attempts}`).join(' ');
      throw new Error(`${(error as Error).message} (status ${last?.status}; steps ${summary}; worker errors: ${this.errors.map(describeError).join('; ') || 'none'})`);
    }
  }

  async steps(runId: string, store = this.store): Promise<Map<string, StepRecord>> {
    return new Map((await store.getSteps(WS, runId)).map((step) => [step.nodeId, step]));
  }

  async step(runId: string, nodeId: string, store = this.store): Promise<StepRecord> {
    const step = (await this.steps(runId, store)).get(nodeId);
    if (step === undefined) throw new Error(`run ${runId} has no step ${nodeId}`);
    return step;
  }

  async events(runId: string, store = this.store): Promise<RunEvent[]> {
    return (await store.readEvents(WS, runId)).map((stored) => stored.event);
  }

  /** Stops workers, kills extra stores (a stuck one would block the database), cancels unfinished runs. */
  async cleanup(): Promise<void> {
    const problems: string[] = [];
    await Promise.all(this.#workers.map((worker) => withTimeout(worker.stop(100), 3000, 'worker.stop').catch((error: Error) => problems.push(error.message))));
    for (const store of this.#stores) await this.backend.kill(store).catch((error: Error) => problems.push(`kill: ${error.message}`));
    await Promise.all(
      [...this.#runs].map(async (runId) => {
        try {
          const run = await withTimeout(this.store.getRun(WS, runId), 3000, 'getRun');
          if (run === undefined || isFinished(run.status)) return; // pruned, or finished
          // Plan loaded outside the transaction: cleanup must not depend on loading it inside one (a
          // SqliteStore without re-entrant transactions deadlocked there; timers.ts tests that case).
          await this.engine.plans.get(WS, run.workflowId, run.version);
          await withTimeout(this.engine.cancelRun(runId, 'test cleanup'), 3000, `cancel ${runId}`);
        } catch (error) {
          problems.push((error as Error).message);
        }
      }),
    );
    if (problems.length > 0) console.warn(`durable test cleanup: ${problems.join('; ')}`);
  }
}
