/** Types and helpers shared by the conformance suite's modules. */
import { randomUUID } from 'node:crypto';
import type { RunEvent } from '@flowpilot/engine';
import { DEFAULT_PAYLOAD_THRESHOLD, DEFAULT_WORKSPACE_ID, type AccessStore, type CatalogStore, type RunRecord, type RunWrite, type Store, type UserRecord } from '@flowpilot/store';

export interface ConformanceHarness {
  store: Store;
  /** Closes everything the harness opened and removes the database (file, schema). */
  cleanup(): Promise<void>;
  /** Empties every table but `workspaces` and `schema_migrations` (between tests). */
  reset(): Promise<void>;
  /** Another store on the same database: another process. */
  peer(): Promise<Store>;
  /** Rows of `table` whose `column` equals `value`. */
  countRows(table: string, column: string, value: string): Promise<number>;
  /** Runs one SQL statement on the database directly, bypassing the store (schema guarantees). */
  raw(sql: string): Promise<void>;
  /** Column names by table, for every table of the database. */
  columns(): Promise<Map<string, string[]>>;
  /** Resolves once `store.onWork` can hear other processes (PostgreSQL: LISTEN is active). */
  listening?(store: Store): Promise<void>;
  /** Does `onWork` hear writes of other processes? (PostgreSQL: NOTIFY; SQLite: `PRAGMA data_version`.) */
  crossProcessWake: boolean;
  /** Do `onEvents` listeners hear other processes' events? (PostgreSQL yes; SQLite: in-process only.) */
  crossProcessEvents: boolean;
}

export type StoreFactory = () => Promise<ConformanceHarness>;

/** What the test modules share: the harness of the current file and small builders. */
export interface Suite {
  harness(): ConformanceHarness;
  store(): Store;
  /** The versions the first `migrate` applied. */
  migrated(): number[];
}

export const WS = DEFAULT_WORKSPACE_ID;

/** Both backends implement the catalog. */
export const catalogOf = (store: Store): Store & CatalogStore => store as Store & CatalogStore;
/** Both backends implement the access part too. */
export const accessOf = (store: Store): Store & CatalogStore & AccessStore => store as Store & CatalogStore & AccessStore;
export const RUN_TABLES = ['steps', 'events', 'queue', 'timers', 'payloads'] as const;

/** A value that is larger than the default payload threshold. */
export function largeValue(): { blob: string; list: number[] } {
  return { blob: 'é☃'.repeat(Math.ceil(DEFAULT_PAYLOAD_THRESHOLD / 2) + 10), list: [1, 2, 3] };
}

/** Waits until `condition` holds (polling), or fails after `timeoutMs`. */
export async function eventually(condition: () => boolean | Promise<boolean>, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Inserts a pending run (workflow `wf` version 1 unless told). */
export async function createRun(
  store: Store,
  id: string,
  options: { priority?: number; input?: unknown; workflowId?: string; createdAt?: number; workspaceId?: string } = {},
): Promise<void> {
  await store.transaction((tx) =>
    tx.insertRun({
      workspaceId: options.workspaceId ?? WS,
      id,
      workflowId: options.workflowId ?? 'wf',
      version: 1,
      priority: options.priority ?? 0,
      input: options.input ?? { id },
      createdAt: options.createdAt ?? 1,
    }),
  );
}

/** The parts of a write a test gives; the rest is empty. */
export type WritePart = Partial<Omit<RunWrite, 'workspaceId' | 'runId' | 'expectedSeq'>> & { expectedSeq?: number };

export function runWrite(run: RunRecord, part: WritePart): RunWrite {
  return {
    workspaceId: run.workspaceId,
    runId: run.id,
    expectedSeq: part.expectedSeq ?? run.lastSeq,
    priority: part.priority ?? run.priority,
    events: part.events ?? [],
    steps: part.steps ?? [],
    run: part.run,
    enqueue: part.enqueue ?? [],
    dequeue: part.dequeue ?? [],
    timersSet: part.timersSet ?? [],
    timersDeleted: part.timersDeleted ?? [],
  };
}

/** Locks the run and commits one write at its current `last_seq`; returns the run after it. */
export async function commit(store: Store, runId: string, part: WritePart, workspaceId = WS): Promise<RunRecord> {
  await store.transaction(async (tx) => {
    const run = (await tx.lockRuns(workspaceId, [runId])).get(runId);
    if (run === undefined) throw new Error(`no run ${runId}`);
    await tx.write(runWrite(run, part));
  });
  return (await store.getRun(workspaceId, runId))!;
}

/** Enqueues unleased attempts of `nodes` on a (new) run. */
export async function enqueue(store: Store, runId: string, nodes: readonly string[], options: { priority?: number; createdAt?: number } = {}): Promise<void> {
  await createRun(store, runId, options);
  await commit(store, runId, { enqueue: nodes.map((nodeId) => ({ nodeId, attempt: 1, inputs: [] })) });
}

export const started = (at: number, input: unknown = {}): RunEvent => ({ type: 'run.started', at, input });
export const stepStarted = (at: number, nodeId: string, attempt = 1): RunEvent => ({ type: 'step.started', at, nodeId, attempt });
export const stepSucceeded = (at: number, nodeId: string, output: unknown, attempt = 1): RunEvent => ({ type: 'step.succeeded', at, nodeId, attempt, output });

/** What the API maps to 409: PostgreSQL unique_violation, SQLite's unique and primary key constraints. */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** A workspace id no other test uses (workspaces are not emptied between tests). */
export const freshId = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;

export const user = (id: string, extra: Partial<UserRecord> = {}): UserRecord => ({ id, email: `${id}@example.com`, name: `User ${id}`, createdAt: 1, ...extra });
