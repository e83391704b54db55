/** One PostgreSQL transaction's view of the store (its statements run on the transaction's client). */
import type { EventsNotice, ScheduleRecord, ScheduleTransaction } from '../catalog-types.js';
import { EagerLeases, SequenceConflictError } from '../codec.js';
import type { NewRun, RunRecord, RunWrite, StoredEvent, StoreTransaction, WorkflowRecord } from '../types.js';
import * as catalog from './catalog.js';
import * as q from './queries.js';
import { writeMany } from './write-many.js';

export class PgTransaction implements StoreTransaction, ScheduleTransaction {
  /** A write enqueued unleased work (other processes are told after commit). */
  woke = false;
  /** One per write that appended events, in write order: published to this store's listeners after COMMIT. */
  readonly notices: EventsNotice[] = [];
  #open = true;
  readonly #eager = new EagerLeases();
  /**
   * Writes not sent yet: they go together in one statement (`WRITE_MANY`) before the next other
   * statement of the transaction (so its reads see them) or before COMMIT.
   */
  #pending: RunWrite[] = [];

  constructor(
    private readonly execInTx: q.Exec,
    private readonly payloadThreshold: number,
  ) {}

  /** After COMMIT or ROLLBACK the client is back in the pool: a late call must not run on it. */
  close(): void {
    this.#open = false;
  }

  readonly #exec: q.Exec = async (statement, values) => {
    if (!this.#open) throw new Error('the transaction is over: its statements can no longer run');
    await this.#flush();
    return this.execInTx(statement, values);
  };

  /**
   * Sends the pending writes: one `WRITE` alone, several in one `WRITE_MANY`. A single write keeps
   * its own statement: measured, `WRITE_MANY` with one entry cost a sequential chain ≈ 0.8 ms more
   * per step (its joins over unnested arrays plan worse than `WRITE`'s direct keys).
   */
  async #flush(): Promise<void> {
    if (this.#pending.length === 0) return;
    const writes = this.#pending;
    this.#pending = [];
    if (writes.length === 1) {
      await q.write(this.execInTx, writes[0]!, this.payloadThreshold);
      return;
    }
    const refused = await writeMany(this.execInTx, writes, this.payloadThreshold);
    if (refused.length > 0) throw new SequenceConflictError(refused[0]!.runId, refused[0]!.expectedSeq);
  }

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

  readEventsOfRuns(requests: ReadonlyArray<{ workspaceId: string; runId: string; afterSeq: number }>): Promise<Map<string, StoredEvent[]>> {
    return q.readEventsOfRuns(this.#exec, requests);
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

  /** Buffers the write (sent with the transaction's next statement or before COMMIT). */
  async write(write: RunWrite): Promise<void> {
    if (!this.#open) throw new Error('the transaction is over: its statements can no longer run');
    if (write.workflowId === undefined) {
      // The notice needs the run's workflow: this write's own statement returns it.
      await this.#flush();
      const { wakes, notice } = await q.write(this.#exec, write, this.payloadThreshold);
      if (wakes) this.woke = true;
      if (notice !== undefined) this.notices.push(notice);
      this.#eager.record(write, Date.now());
      return;
    }
    // A statement changes a row once: a second write of a run goes in the next statement.
    if (this.#pending.some((pending) => pending.runId === write.runId && pending.workspaceId === write.workspaceId)) await this.#flush();
    this.#pending.push(write);
    if (write.enqueue.some((item) => item.lease === undefined)) this.woke = true;
    if (write.events.length > 0) {
      const notice: EventsNotice = { workspaceId: write.workspaceId, runId: write.runId, workflowId: write.workflowId, seq: write.expectedSeq + write.events.length };
      if (write.run !== undefined) notice.status = write.run.status;
      this.notices.push(notice);
    }
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
    await this.#flush();
    const shifts = this.#eager.shifts(Date.now());
    if (shifts.length > 0) await q.shiftLeases(this.#exec, shifts);
  }
}
