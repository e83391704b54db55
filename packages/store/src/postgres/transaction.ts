/** One PostgreSQL transaction's view of the store (its statements run on the transaction's client). */
import type { EventsNotice, ScheduleRecord, ScheduleTransaction } from '../catalog-types.js';
import { EagerLeases } from '../codec.js';
import type { NewRun, RunRecord, RunWrite, StoredEvent, StoreTransaction, WorkflowRecord } from '../types.js';
import * as catalog from './catalog.js';
import * as q from './queries.js';

export class PgTransaction implements StoreTransaction, ScheduleTransaction {
  /** A write enqueued unleased work (other processes are told after commit). */
  woke = false;
  /** One per write that appended events, in write order: published to this store's listeners after COMMIT. */
  readonly notices: EventsNotice[] = [];
  #open = true;
  readonly #eager = new EagerLeases();

  constructor(
    private readonly execInTx: q.Exec,
    private readonly payloadThreshold: number,
  ) {}

  /** After COMMIT or ROLLBACK the client is back in the pool: a late call must not run on it. */
  close(): void {
    this.#open = false;
  }

  readonly #exec: q.Exec = (statement, values) => {
    if (!this.#open) return Promise.reject(new Error('the transaction is over: its statements can no longer run'));
    return this.execInTx(statement, values);
  };

  lockRuns(workspaceId: string, runIds: readonly string[]): Promise<Map<string, RunRecord>> {
    return q.lockRuns(this.#exec, workspaceId, runIds);
  }

  lockWorkflow(workspaceId: string, workflowId: string): Promise<WorkflowRecord | undefined> {
    return q.getWorkflow(this.#exec, workspaceId, workflowId, true);
  }

  countRunning(workspaceId: string, workflowId: string): Promise<number> {
    return q.countRunning(this.#exec, workspaceId, workflowId);
  }

  nextPendingRun(workspaceId: string, workflowId: string): Promise<RunRecord | undefined> {
    return q.nextPendingRun(this.#exec, workspaceId, workflowId);
  }

  insertRun(run: NewRun): Promise<void> {
    return q.insertRun(this.#exec, run);
  }

  readEvents(workspaceId: string, runId: string, afterSeq: number): Promise<StoredEvent[]> {
    return q.readEvents(this.#exec, workspaceId, runId, afterSeq);
  }

  releaseLease(workspaceId: string, runId: string, nodeId: string, token: string): Promise<boolean> {
    return q.releaseLease(this.#exec, workspaceId, runId, nodeId, token);
  }

  releaseLeases(tokens: readonly string[]): Promise<Set<string>> {
    return q.releaseLeases(this.#exec, tokens);
  }

  releaseTimer(workspaceId: string, runId: string, timerId: string, token: string): Promise<boolean> {
    return q.releaseTimer(this.#exec, workspaceId, runId, timerId, token);
  }

  async write(write: RunWrite): Promise<void> {
    const { wakes, notice } = await q.write(this.#exec, write, this.payloadThreshold);
    if (wakes) this.woke = true;
    if (notice !== undefined) this.notices.push(notice);
    this.#eager.record(write, Date.now());
  }

  takeDueSchedules(now: number, limit: number): Promise<ScheduleRecord[]> {
    return catalog.takeDueSchedules(this.#exec, now, limit);
  }

  setScheduleNext(schedule: Pick<ScheduleRecord, 'workspaceId' | 'workflowId' | 'nodeId'>, nextFireAt: number | null, firedAt: number): Promise<void> {
    return catalog.setScheduleNext(this.#exec, schedule, nextFireAt, firedAt);
  }

  /** Just before COMMIT: eager leases count from now, not from their write (see `QueueWrite.lease`). */
  async beforeCommit(): Promise<void> {
    const shifts = this.#eager.shifts(Date.now());
    if (shifts.length > 0) await q.shiftLeases(this.#exec, shifts);
  }
}
