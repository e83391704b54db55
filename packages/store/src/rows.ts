/** Row → record mapping shared by both backends (the columns are the same in both schemas). */
import type { RunStatus, StepStatus } from '@flowpilot/engine';
import { fromJson, type StoredError } from './codec.js';
import type { ApiKeyRecord, ScheduleRecord, WebhookRoute } from './catalog-types.js';
import type { RunRecord, StepRecord, WorkflowRecord } from './types.js';

export type Row = Record<string, unknown>;

/** `output` is the run's output already resolved (inline column or payload row). */
export function toRunRecord(row: Row, output: unknown): RunRecord {
  const run: RunRecord = {
    workspaceId: row.workspace_id as string,
    id: row.id as string,
    workflowId: row.workflow_id as string,
    version: row.version as number,
    status: row.status as RunStatus,
    priority: row.priority as number,
    input: fromJson(row.input as string | null),
    createdAt: row.created_at as number,
    lastSeq: row.last_seq as number,
  };
  if (output !== undefined) run.output = output;
  const error = fromJson<StoredError>(row.error as string | null);
  if (error !== undefined) run.error = error;
  if (row.started_at !== null && row.started_at !== undefined) run.startedAt = row.started_at as number;
  if (row.finished_at !== null && row.finished_at !== undefined) run.finishedAt = row.finished_at as number;
  return run;
}

/** `output` is the step's output already resolved (inline column or payload row). */
export function toStepRecord(runId: string, row: Row, output: unknown): StepRecord {
  const step: StepRecord = { runId, nodeId: row.node_id as string, status: row.status as StepStatus, attempts: row.attempts as number };
  if (output !== undefined) step.output = output;
  const error = fromJson<StoredError>(row.error as string | null);
  if (error !== undefined) step.error = error;
  if (row.started_at !== null && row.started_at !== undefined) step.startedAt = row.started_at as number;
  if (row.finished_at !== null && row.finished_at !== undefined) step.finishedAt = row.finished_at as number;
  return step;
}

export function toWorkflowRecord(row: Row): WorkflowRecord {
  return {
    workspaceId: row.workspace_id as string,
    id: row.id as string,
    name: row.name as string,
    latestVersion: row.latest_version as number,
    maxConcurrentRuns: (row.max_concurrent_runs as number | null) ?? null,
    active: row.active === 1 || row.active === true,
    createdAt: row.created_at as number,
    updatedAt: row.updated_at as number,
  };
}

/** A `schedules` row (both backends). */
export function toScheduleRecord(row: Row): ScheduleRecord {
  const schedule: ScheduleRecord = {
    workspaceId: row.workspace_id as string,
    workflowId: row.workflow_id as string,
    nodeId: row.node_id as string,
    cron: row.cron as string,
    catchUp: row.catch_up as 'one' | 'none',
    nextFireAt: (row.next_fire_at as number | null) ?? null,
  };
  if (row.timezone !== null) schedule.timezone = row.timezone as string;
  return schedule;
}

/** An `api_keys` row (both backends). */
export function toApiKeyRecord(row: Row): ApiKeyRecord {
  const key: ApiKeyRecord = {
    workspaceId: row.workspace_id as string,
    id: row.id as string,
    name: row.name as string,
    prefix: row.prefix as string,
    hash: row.hash as string,
    scopes: JSON.parse(row.scopes as string) as string[],
    createdAt: row.created_at as number,
  };
  if (row.user_id !== null && row.user_id !== undefined) key.userId = row.user_id as string;
  if (row.last_used_at !== null) key.lastUsedAt = row.last_used_at as number;
  if (row.revoked_at !== null) key.revokedAt = row.revoked_at as number;
  return key;
}

/** A `webhooks` row (both backends). */
export function toWebhookRoute(row: Row): WebhookRoute {
  const route: WebhookRoute = {
    workspaceId: row.workspace_id as string,
    workflowId: row.workflow_id as string,
    nodeId: row.node_id as string,
    method: row.method as string,
    path: row.path as string,
    mode: row.mode as 'async' | 'sync',
    timeoutMs: row.timeout_ms as number,
  };
  if (row.secret !== null) route.secret = row.secret as string;
  if (typeof row.credential_id === 'string') route.credentialId = row.credential_id;
  if (typeof row.latest_version === 'number') route.latestVersion = row.latest_version;
  return route;
}
