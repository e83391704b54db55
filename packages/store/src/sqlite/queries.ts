/** The SQLite store's operations, synchronous; `SqliteStore` serialises and wraps them. */
import { randomUUID } from 'node:crypto';
import { FlowPilotError } from '@flowpilot/engine';
import { decodeEvent, EagerLeases, encodeEvent, fromJson, needsOutputs, placeOutput, SequenceConflictError, toJson } from '../codec.js';
import type { EventsNotice } from '../catalog-types.js';
import { toRunRecord, toStepRecord, toWorkflowRecord, type Row } from '../rows.js';
import type {
  ClaimedStep,
  ClaimOptions,
  DueTimer,
  NewRun,
  RunRecord,
  RunWrite,
  StepRecord,
  StoredEvent,
  StoreTransaction,
  WorkflowRecord,
  WorkflowVersionRecord,
} from '../types.js';
import { runEventsKey } from '../types.js';
import type { Statements } from './statements.js';

export type { Row };

/** Events per multi-row INSERT: most writes have 1–8; one prepared statement per row count. */
const EVENTS_PER_INSERT = 16;

export class SqliteQueries {
  #pendingWork = false;
  #eager = new EagerLeases();

  constructor(
    private readonly s: Statements,
    private readonly payloadThreshold: number,
    private readonly notify: () => void,
    private readonly notifyEvents: (notice: EventsNotice) => void = () => undefined,
  ) {}

  /** A run row as a record (for the catalog's listings). */
  runFromRow(row: Row): RunRecord {
    return this.#run(row);
  }

  /** A transaction view: async signatures over the synchronous statements. */
  transaction(): StoreTransaction {
    return {
      lockRuns: async (ws, ids) => {
        // BEGIN IMMEDIATE already holds the database write lock: reading is locking.
        const runs = new Map<string, RunRecord>();
        for (const id of ids) {
          const run = this.getRun(ws, id);
          if (run !== undefined) runs.set(id, run);
        }
        return runs;
      },
      lockWorkflow: async (ws, id) => this.getWorkflow(ws, id),
      countRunning: async (ws, id) => (this.s.countRunning.get(ws, id) as { n: number }).n,
      nextPendingRun: async (ws, id) => {
        const row = this.s.nextPending.get(ws, id) as Row | undefined;
        return row === undefined ? undefined : this.#run(row);
      },
      insertRun: async (run) => this.insertRun(run),
      readEvents: async (ws, runId, afterSeq) => this.readEvents(ws, runId, afterSeq),
      // No round trips to save here: one run after the other.
      readEventsOfRuns: async (requests) => new Map(requests.map((request) => [runEventsKey(request.workspaceId, request.runId), this.readEvents(request.workspaceId, request.runId, request.afterSeq)])),
      releaseLease: async (ws, runId, nodeId, token) => this.s.releaseLease.run(ws, runId, nodeId, token).changes === 1,
      releaseLeases: async (tokens) => new Set(tokens.filter((token) => this.s.releaseLeaseByToken.run(token).changes === 1)),
      releaseTimer: async (ws, runId, timerId, token) => this.s.releaseTimer.run(ws, runId, timerId, token).changes === 1,
      write: async (write) => this.write(write),
    };
  }

  /** A transaction begins: nothing written yet. */
  beginTransaction(): void {
    this.#eager = new EagerLeases();
  }

  /** Just before COMMIT: eager leases count from now, not from their write (see `QueueWrite.lease`). */
  shiftEagerLeases(now: number): void {
    for (const shift of this.#eager.shifts(now)) this.s.shiftLease.run(shift.to, shift.token, shift.from);
  }

  flushNotifications(): void {
    if (this.#pendingWork) {
      this.#pendingWork = false;
      this.notify();
    }
  }

  dropNotifications(): void {
    this.#pendingWork = false;
  }

  getWorkflow(ws: string, id: string): WorkflowRecord | undefined {
    const row = this.s.getWorkflow.get(ws, id) as Row | undefined;
    return row === undefined ? undefined : toWorkflowRecord(row);
  }

  getWorkflowVersion(ws: string, workflowId: string, version?: number): WorkflowVersionRecord | undefined {
    const wanted = version ?? this.getWorkflow(ws, workflowId)?.latestVersion;
    if (wanted === undefined) return undefined;
    const row = this.s.getVersion.get(ws, workflowId, wanted) as Row | undefined;
    if (row === undefined) return undefined;
    return { workspaceId: ws, workflowId, version: row.version as number, definition: JSON.parse(row.definition as string), createdAt: row.created_at as number };
  }

  saveWorkflowVersion(input: { workspaceId: string; workflowId: string; name: string; definition: unknown; now: number; createOnly?: boolean }): WorkflowVersionRecord {
    const { workspaceId: ws, workflowId, name, now } = input;
    const text = JSON.stringify(input.definition);
    const existing = this.getWorkflow(ws, workflowId);
    if (input.createOnly === true && existing !== undefined) {
      throw new FlowPilotError('WORKFLOW_EXISTS', `workflow "${workflowId}" already exists`, { retryable: false });
    }
    if (existing !== undefined) {
      const latest = this.s.getVersion.get(ws, workflowId, existing.latestVersion) as Row | undefined;
      if (latest !== undefined && latest.definition === text) return this.getWorkflowVersion(ws, workflowId, existing.latestVersion)!;
      const version = existing.latestVersion + 1;
      this.s.insertVersion.run(ws, workflowId, version, text, now);
      this.s.bumpWorkflow.run(version, name, now, ws, workflowId);
      return { workspaceId: ws, workflowId, version, definition: JSON.parse(text), createdAt: now };
    }
    this.s.insertWorkflow.run(ws, workflowId, name, now, now);
    this.s.insertVersion.run(ws, workflowId, 1, text, now);
    return { workspaceId: ws, workflowId, version: 1, definition: JSON.parse(text), createdAt: now };
  }

  setWorkflowConcurrency(ws: string, id: string, limit: number | null): void {
    if (this.s.setConcurrency.run(limit, ws, id).changes !== 1) {
      throw new FlowPilotError('WORKFLOW_NOT_FOUND', `workflow "${id}" not found`, { retryable: false });
    }
  }

  getRun(ws: string, id: string): RunRecord | undefined {
    const row = this.s.getRun.get(ws, id) as Row | undefined;
    return row === undefined ? undefined : this.#run(row);
  }

  #run(row: Row): RunRecord {
    const output = row.output_payload_id === null ? fromJson(row.output as string | null) : this.#payload(row.workspace_id as string, row.output_payload_id as string);
    return toRunRecord(row, output);
  }

  #payload(ws: string, id: string): unknown {
    const row = this.s.getPayload.get(ws, id) as { data: string } | undefined;
    return row === undefined ? undefined : JSON.parse(row.data);
  }

  insertRun(run: NewRun): void {
    this.s.insertRun.run(run.workspaceId, run.id, run.workflowId, run.version, run.priority, toJson(run.input), run.createdAt);
  }

  getSteps(ws: string, runId: string): StepRecord[] {
    return (this.s.getSteps.all(ws, runId) as Row[]).map((row) =>
      toStepRecord(runId, row, row.output_payload_id === null ? fromJson(row.output as string | null) : this.#payload(ws, row.output_payload_id as string)),
    );
  }

  readOutputs(ws: string, runId: string, nodeIds: readonly string[]): Map<string, unknown> {
    const wanted = new Set(nodeIds);
    const outputs = new Map<string, unknown>();
    for (const row of this.s.stepOutputs.all(ws, runId) as Row[]) {
      const nodeId = row.node_id as string;
      if (!wanted.has(nodeId)) continue;
      outputs.set(nodeId, row.output_payload_id === null ? fromJson(row.output as string) : this.#payload(ws, row.output_payload_id as string));
    }
    return outputs;
  }

  readEvents(ws: string, runId: string, afterSeq: number): StoredEvent[] {
    const rows = this.s.readEvents.all(ws, runId, afterSeq) as Array<{ seq: number; type: string; data: string }>;
    if (rows.length === 0) return [];
    const outputs = needsOutputs(rows) ? this.readOutputs(ws, runId, rows.filter((row) => row.type.startsWith('step.')).map((row) => (JSON.parse(row.data) as { nodeId: string }).nodeId)) : new Map<string, unknown>();
    const input = rows.some((row) => row.type === 'run.started') ? this.getRun(ws, runId)?.input : undefined;
    return rows.map((row) => decodeEvent(row.seq, row.data, outputs, input));
  }

  write(w: RunWrite): void {
    const { workspaceId: ws, runId } = w;
    // The guard, also for a write without events: it may only follow the state its writer read.
    // A write that changes the run's columns does both in one statement.
    const seq = w.expectedSeq + w.events.length;
    let guarded: number;
    if (w.run === undefined) {
      guarded = this.s.bumpSeq.run(seq, ws, runId, w.expectedSeq).changes;
    } else {
      const placed = placeOutput(w.run.output, this.payloadThreshold);
      const payloadId = placed.payload === null ? null : `run:${runId}`;
      if (placed.payload !== null) this.s.upsertPayload.run(ws, payloadId, runId, placed.payload);
      guarded = this.s.updateRun.run(seq, w.run.status, placed.inline, payloadId, toJson(w.run.error), w.run.startedAt ?? null, w.run.finishedAt ?? null, ws, runId, w.expectedSeq).changes;
    }
    if (guarded !== 1) throw new SequenceConflictError(runId, w.expectedSeq);
    this.#insertEvents(ws, runId, w.expectedSeq, w.events);
    if (w.events.length > 0) {
      const workflowId = w.workflowId ?? ((this.s.getRun.get(ws, runId) as Row | undefined)?.workflow_id as string | undefined) ?? '';
      this.notifyEvents({ workspaceId: ws, runId, workflowId, seq: w.expectedSeq + w.events.length, ...(w.run === undefined ? {} : { status: w.run.status }) });
    }
    for (const step of w.steps) {
      const placed = placeOutput(step.output, this.payloadThreshold);
      const payloadId = placed.payload === null ? null : `step:${runId}:${step.nodeId}`;
      if (placed.payload !== null) this.s.upsertPayload.run(ws, payloadId, runId, placed.payload);
      this.s.upsertStep.run({
        ws,
        run: runId,
        node: step.nodeId,
        status: step.status,
        attempts: step.attempts,
        output: placed.inline,
        payload: payloadId,
        keepOutput: step.output === undefined ? 1 : 0,
        error: toJson(step.error),
        startedAt: step.startedAt ?? null,
        finishedAt: step.finishedAt ?? null,
      });
    }
    for (const nodeId of w.dequeue) this.s.dequeue.run(ws, runId, nodeId);
    for (const item of w.enqueue) {
      this.s.enqueue.run({
        ws,
        run: runId,
        node: item.nodeId,
        attempt: item.attempt,
        inputs: JSON.stringify(item.inputs),
        priority: w.priority,
        owner: item.lease?.owner ?? null,
        token: item.lease?.token ?? null,
        expires: item.lease?.expiresAt ?? 0,
        claims: item.lease === undefined ? 0 : 1,
        claimedAt: item.lease === undefined ? null : w.events.at(-1)?.at ?? null,
      });
      if (item.lease === undefined) this.#pendingWork = true;
    }
    for (const timer of w.timersSet) this.s.upsertTimer.run(ws, runId, timer.timerId, timer.dueAt);
    for (const timerId of w.timersDeleted) this.s.deleteTimer.run(ws, runId, timerId);
    this.#eager.record(w, Date.now());
  }

  /** A write's events, up to {@link EVENTS_PER_INSERT} rows per statement. */
  #insertEvents(ws: string, runId: string, afterSeq: number, events: RunWrite['events']): void {
    for (let from = 0; from < events.length; from += EVENTS_PER_INSERT) {
      const chunk = events.slice(from, from + EVENTS_PER_INSERT);
      const values: unknown[] = [];
      chunk.forEach((event, index) => {
        const row = encodeEvent(event);
        values.push(ws, runId, afterSeq + from + index + 1, row.type, row.nodeId, row.at, row.data);
      });
      this.s.insertEvents(chunk.length).run(...values);
    }
  }

  /** Is any queue item claimable at `now`? */
  hasClaimable(now: number): boolean {
    return this.s.anyClaimable.get(now) !== undefined;
  }

  claimSteps(options: ClaimOptions): ClaimedStep[] {
    const rows = this.s.claim.all({ owner: options.owner, expires: options.now + options.leaseMs, now: options.now, limit: options.limit }) as Row[];
    // RETURNING order is unspecified: hand the items back in claim order.
    rows.sort((a, b) => (b.priority as number) - (a.priority as number) || compareText(a.run_id as string, b.run_id as string) || (a.id as number) - (b.id as number));
    return rows.map((row) => {
      const ws = row.workspace_id as string;
      const runId = row.run_id as string;
      const nodeId = row.node_id as string;
      this.s.markRunning.run(options.now, ws, runId, nodeId);
      const run = this.s.getRun.get(ws, runId) as Row;
      return {
        workspaceId: ws,
        runId,
        workflowId: run.workflow_id as string,
        version: run.version as number,
        nodeId,
        attempt: row.attempt as number,
        inputs: JSON.parse(row.inputs as string) as string[],
        lease: { owner: row.lease_owner as string, token: row.lease_token as string, expiresAt: row.lease_expires_at as number },
        claims: row.claims as number,
        claimedAt: row.claimed_at as number,
        input: fromJson(run.input as string | null) ?? {},
      };
    });
  }

  extendLeases(owner: string, tokens: readonly string[], expiresAt: number): string[] {
    return tokens.filter((token) => this.s.extendLease.run(expiresAt, token, owner).changes !== 1);
  }

  claimDueTimers(options: ClaimOptions): DueTimer[] {
    const token = `${options.owner}:${randomUUID()}`;
    const rows = this.s.claimTimers.all({ expires: options.now + options.leaseMs, now: options.now, limit: options.limit, token }) as Row[];
    return rows
      .map((row) => ({ workspaceId: row.workspace_id as string, runId: row.run_id as string, timerId: row.timer_id as string, dueAt: row.due_at as number, token }))
      .sort((a, b) => a.dueAt - b.dueAt);
  }

  nextTimerDue(): number | undefined {
    const row = this.s.nextTimer.get() as { due: number | null };
    return row.due ?? undefined;
  }

  queueDepth(now: number): number {
    return (this.s.queueDepth.get(now) as { n: number }).n;
  }

  pruneRuns(before: number, limit: number): number {
    const runs = this.s.prunable.all(before, limit) as Array<{ workspace_id: string; id: string }>;
    for (const run of runs) {
      for (const statement of this.s.deleteRunRows) statement.run(run.workspace_id, run.id);
      this.s.deleteRun.run(run.workspace_id, run.id);
    }
    return runs.length;
  }
}

/** Byte order, as SQLite's default collation compares TEXT. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
