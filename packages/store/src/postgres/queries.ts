/** The PostgreSQL store's operations over an `Exec` (the pool, or one transaction's client). */
import { randomUUID } from 'node:crypto';
import { FlowPilotError } from '@flowpilot/engine';
import type { EventsNotice } from '../catalog-types.js';
import { decodeEvent, fromJson, SequenceConflictError, toJson, type LeaseShift } from '../codec.js';
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
  WorkflowRecord,
  WorkflowVersionRecord,
} from '../types.js';
import { runEventsKey } from '../types.js';
import { CLAIM, WRITE } from './scripts.js';
import { SQL, type Sql } from './sql.js';
import { writeParams } from './write.js';

/** Runs one compiled statement. */
export type Exec = (statement: Sql, values: Record<string, unknown>) => Promise<{ rows: Row[]; rowCount: number }>;

/** A row's output: the inline column, or the joined payload row (`output_payload`). */
function output(row: Row): unknown {
  return row.output_payload_id === null ? fromJson(row.output as string | null) : fromJson(row.output_payload as string | null);
}

/** A run row (`RUN_COLUMNS`) as a record. */
export const toRun = (row: Row): RunRecord => toRunRecord(row, output(row));

export async function getWorkflow(exec: Exec, ws: string, id: string, lock = false): Promise<WorkflowRecord | undefined> {
  const { rows } = await exec(lock ? SQL.lockWorkflow : SQL.getWorkflow, { ws, id });
  return rows[0] === undefined ? undefined : toWorkflowRecord(rows[0]);
}

export async function getWorkflowVersion(exec: Exec, ws: string, id: string, version?: number): Promise<WorkflowVersionRecord | undefined> {
  const { rows } = await exec(SQL.getVersion, { ws, id, version });
  const row = rows[0];
  if (row === undefined) return undefined;
  return { workspaceId: ws, workflowId: id, version: row.version as number, definition: JSON.parse(row.definition as string), createdAt: row.created_at as number };
}

/** Inside a transaction: dedupes against the latest version under the workflow's row lock. */
export async function saveWorkflowVersion(
  exec: Exec,
  input: { workspaceId: string; workflowId: string; name: string; definition: unknown; now: number; createOnly?: boolean },
): Promise<WorkflowVersionRecord> {
  const { workspaceId: ws, workflowId: id, name, now } = input;
  const definition = JSON.stringify(input.definition);
  const latestVersion = (await exec(SQL.lockOrCreateWorkflow, { ws, id, name, now })).rows[0]!.latest_version as number;
  if (input.createOnly === true && latestVersion !== 0) {
    throw new FlowPilotError('WORKFLOW_EXISTS', `workflow "${id}" already exists`, { retryable: false });
  }
  const latest = latestVersion === 0 ? undefined : (await exec(SQL.latestDefinition, { ws, id, version: latestVersion })).rows[0];
  if (latest !== undefined && latest.definition === definition) {
    return { workspaceId: ws, workflowId: id, version: latestVersion, definition: JSON.parse(definition), createdAt: latest.created_at as number };
  }
  const version = latestVersion + 1;
  await exec(SQL.addVersion, { ws, id, version, definition, name, now });
  return { workspaceId: ws, workflowId: id, version, definition: JSON.parse(definition), createdAt: now };
}

export async function setWorkflowConcurrency(exec: Exec, ws: string, id: string, limit: number | null): Promise<void> {
  if ((await exec(SQL.setConcurrency, { ws, id, limit })).rowCount !== 1) {
    throw new FlowPilotError('WORKFLOW_NOT_FOUND', `workflow "${id}" not found`, { retryable: false });
  }
}

export async function getRun(exec: Exec, ws: string, id: string): Promise<RunRecord | undefined> {
  const { rows } = await exec(SQL.getRun, { ws, id });
  return rows[0] === undefined ? undefined : toRun(rows[0]);
}

export async function lockRuns(exec: Exec, ws: string, ids: readonly string[]): Promise<Map<string, RunRecord>> {
  const runs = new Map<string, RunRecord>();
  if (ids.length === 0) return runs;
  const { rows } = await exec(SQL.lockRuns, { ws, ids });
  const payloadIds = rows.map((row) => row.output_payload_id).filter((id) => id !== null);
  const payloads = new Map<unknown, unknown>();
  if (payloadIds.length > 0) for (const row of (await exec(SQL.payloads, { ws, ids: payloadIds })).rows) payloads.set(row.id, row.data);
  for (const row of rows) runs.set(row.id as string, toRun({ ...row, output_payload: payloads.get(row.output_payload_id) ?? null }));
  return runs;
}

export async function insertRun(exec: Exec, run: NewRun): Promise<void> {
  await exec(SQL.insertRun, {
    ws: run.workspaceId,
    id: run.id,
    workflow: run.workflowId,
    version: run.version,
    priority: run.priority,
    input: toJson(run.input),
    created: run.createdAt,
  });
}

export async function countRunning(exec: Exec, ws: string, id: string): Promise<number> {
  return (await exec(SQL.countRunning, { ws, id })).rows[0]!.n as number;
}

export async function nextPendingRun(exec: Exec, ws: string, id: string): Promise<RunRecord | undefined> {
  const { rows } = await exec(SQL.nextPending, { ws, id });
  return rows[0] === undefined ? undefined : toRun(rows[0]);
}

export async function getSteps(exec: Exec, ws: string, run: string): Promise<StepRecord[]> {
  return (await exec(SQL.getSteps, { ws, run })).rows.map((row) => toStepRecord(run, row, output(row)));
}

export async function readOutputs(exec: Exec, ws: string, run: string, nodes: readonly string[]): Promise<Map<string, unknown>> {
  const outputs = new Map<string, unknown>();
  if (nodes.length === 0) return outputs;
  for (const row of (await exec(SQL.readOutputs, { ws, run, nodes })).rows) outputs.set(row.node_id as string, output(row));
  return outputs;
}

export async function readEventsOfRuns(exec: Exec, requests: ReadonlyArray<{ workspaceId: string; runId: string; afterSeq: number }>): Promise<Map<string, StoredEvent[]>> {
  const result = new Map<string, StoredEvent[]>();
  if (requests.length === 0) return result;
  const runs = new Map<string, { events: Array<{ seq: number; data: string }>; outputs: Map<string, unknown>; input: unknown }>();
  const of = (key: string) => {
    let run = runs.get(key);
    if (run === undefined) runs.set(key, (run = { events: [], outputs: new Map(), input: undefined }));
    return run;
  };
  const values = { ws: requests.map((r) => r.workspaceId), run: requests.map((r) => r.runId), after: requests.map((r) => r.afterSeq) };
  for (const row of (await exec(SQL.readEventsOfRuns, values)).rows) {
    const run = of(runEventsKey(row.ws as string, row.run as string));
    if (row.kind === 'e') run.events.push({ seq: row.seq as number, data: row.data as string });
    else if (row.kind === 'o') run.outputs.set(row.node_id as string, row.payload === null ? fromJson(row.data as string | null) : fromJson(row.payload as string));
    else run.input = fromJson(row.data as string | null);
  }
  for (const [key, run] of runs) {
    run.events.sort((a, b) => a.seq - b.seq);
    result.set(key, run.events.map((event) => decodeEvent(event.seq, event.data, run.outputs, run.input)));
  }
  return result;
}

export async function readEvents(exec: Exec, ws: string, run: string, after: number): Promise<StoredEvent[]> {
  const events: Array<{ seq: number; data: string }> = [];
  const outputs = new Map<string, unknown>();
  let input: unknown;
  for (const row of (await exec(SQL.readEvents, { ws, run, after })).rows) {
    if (row.kind === 'e') events.push({ seq: row.seq as number, data: row.data as string });
    else if (row.kind === 'o') outputs.set(row.node_id as string, row.payload === null ? fromJson(row.data as string | null) : fromJson(row.payload as string));
    else input = fromJson(row.data as string | null);
  }
  events.sort((a, b) => a.seq - b.seq);
  return events.map((event) => decodeEvent(event.seq, event.data, outputs, input));
}

export async function releaseTimer(exec: Exec, ws: string, run: string, timer: string, token: string): Promise<boolean> {
  return (await exec(SQL.releaseTimer, { ws, run, timer, token })).rowCount === 1;
}

export async function releaseLeases(exec: Exec, tokens: readonly string[]): Promise<Set<string>> {
  if (tokens.length === 0) return new Set();
  return new Set((await exec(SQL.releaseLeases, { tokens: [...tokens].sort() })).rows.map((row) => row.lease_token as string));
}

export async function releaseLease(exec: Exec, ws: string, run: string, node: string, token: string): Promise<boolean> {
  return (await exec(SQL.releaseLease, { ws, run, node, token })).rowCount === 1;
}

/**
 * One statement (see `WRITE`); returns whether it enqueued unleased work, and the events notice
 * of a write that appended events (both told to other processes after commit: peer-notifier.ts).
 */
export async function write(exec: Exec, w: RunWrite, threshold: number): Promise<{ wakes: boolean; notice: EventsNotice | undefined }> {
  const { values, wakes } = writeParams(w, threshold);
  const { rows } = await exec(WRITE, values);
  const row = rows[0];
  if (row?.ok !== 1) throw new SequenceConflictError(w.runId, w.expectedSeq);
  if (w.events.length === 0) return { wakes, notice: undefined };
  const notice: EventsNotice = { workspaceId: w.workspaceId, runId: w.runId, workflowId: row.workflow_id as string, seq: w.expectedSeq + w.events.length, ...(w.run === undefined ? {} : { status: w.run.status }) };
  return { wakes, notice };
}

export async function shiftLeases(exec: Exec, shifts: readonly LeaseShift[]): Promise<void> {
  await exec(SQL.shiftLeases, { tokens: shifts.map((shift) => shift.token), from: shifts.map((shift) => shift.from), to: shifts.map((shift) => shift.to) });
}

export async function claimSteps(exec: Exec, options: ClaimOptions): Promise<ClaimedStep[]> {
  if (options.limit <= 0) return [];
  const { rows } = await exec(CLAIM, { owner: options.owner, limit: options.limit, now: options.now, expires: options.now + options.leaseMs });
  return rows.map((row) => ({
    workspaceId: row.workspace_id as string,
    runId: row.run_id as string,
    workflowId: row.workflow_id as string,
    version: row.version as number,
    nodeId: row.node_id as string,
    attempt: row.attempt as number,
    inputs: JSON.parse(row.inputs as string) as string[],
    lease: { owner: row.lease_owner as string, token: row.lease_token as string, expiresAt: row.lease_expires_at as number },
    claims: row.claims as number,
    claimedAt: row.claimed_at as number,
    input: fromJson(row.input as string | null) ?? {},
  }));
}

export async function extendLeases(exec: Exec, owner: string, tokens: readonly string[], expires: number): Promise<string[]> {
  if (tokens.length === 0) return [];
  const held = new Set((await exec(SQL.extendLeases, { owner, tokens, expires })).rows.map((row) => row.lease_token as string));
  const lost: string[] = [];
  for (const token of new Set(tokens)) {
    if (!held.has(token) && (await exec(SQL.extendLease, { owner, token, expires })).rowCount === 0) lost.push(token);
  }
  return tokens.filter((token) => lost.includes(token));
}

export async function claimDueTimers(exec: Exec, options: ClaimOptions): Promise<DueTimer[]> {
  if (options.limit <= 0) return [];
  const token = `${options.owner}:${randomUUID()}`;
  const { rows } = await exec(SQL.claimTimers, { now: options.now, limit: options.limit, expires: options.now + options.leaseMs, token });
  return rows
    .map((row) => ({ workspaceId: row.workspace_id as string, runId: row.run_id as string, timerId: row.timer_id as string, dueAt: row.due_at as number, token }))
    .sort((a, b) => a.dueAt - b.dueAt);
}

export async function nextTimerDue(exec: Exec): Promise<number | undefined> {
  return ((await exec(SQL.nextTimer, {})).rows[0]?.due as number | null | undefined) ?? undefined;
}

export async function queueDepth(exec: Exec, now: number): Promise<number> {
  return (await exec(SQL.queueDepth, { now })).rows[0]!.n as number;
}

export async function pruneRuns(exec: Exec, before: number, limit: number): Promise<number> {
  return (await exec(SQL.pruneRuns, { before, limit })).rows[0]!.n as number;
}
