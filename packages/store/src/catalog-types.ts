/**
 * The API's part of the store: listing and searching, API keys, trigger routes and schedules, and
 * cross-process event notifications. Kept apart from the execution part (`types.ts`) so each stays
 * readable; `Store` is both.
 */
import type { RunStatus } from '@flowpilot/engine';
import type { RunRecord, WorkflowRecord, WorkflowVersionRecord } from './types.js';

/** One page of a listing; pass `nextCursor` back as `cursor` for the next page. */
export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

export interface ListWorkflowsQuery {
  /** Case-insensitive substring of the name or id. */
  q?: string;
  cursor?: string;
  limit: number;
}

export interface ListRunsQuery {
  workflowId?: string;
  status?: RunStatus;
  /** Runs created at or after this time (ms). */
  since?: number;
  cursor?: string;
  limit: number;
}

/** An API key: only a hash of the secret is stored. */
export interface ApiKeyRecord {
  workspaceId: string;
  id: string;
  name: string;
  /** The user the key acts for (its rights are at most that user's role); none for bootstrap keys. */
  userId?: string;
  /** The first characters of the key, to recognise it in listings. */
  prefix: string;
  /** SHA-256 of the key, hex. */
  hash: string;
  /** `read` | `run` | `write` | `admin`: each includes the ones before it. */
  scopes: string[];
  createdAt: number;
  lastUsedAt?: number;
  revokedAt?: number;
}

/** A webhook route of an active workflow. */
export interface WebhookRoute {
  workspaceId: string;
  workflowId: string;
  nodeId: string;
  method: string;
  path: string;
  mode: 'async' | 'sync';
  secret?: string;
  /** A `webhookSecret` credential holding the secret instead (decrypted when a request arrives). */
  credentialId?: string;
  timeoutMs: number;
  /** The workflow's latest version when the route was read (`findWebhook` joins it in). */
  latestVersion?: number;
}

/** A schedule of an active workflow, with the tick it fires next. */
export interface ScheduleRecord {
  workspaceId: string;
  workflowId: string;
  nodeId: string;
  cron: string;
  timezone?: string;
  catchUp: 'one' | 'none';
  /** Next tick (ms); null when the expression never fires again. */
  nextFireAt: number | null;
}

/** New events of a run were committed (by this or another process). */
export interface EventsNotice {
  workspaceId: string;
  runId: string;
  workflowId: string;
  /** The run's last event seq after the commit. */
  seq: number;
  /** The run's status when the commit changed it (so waiters for a finished run need not re-read it). */
  status?: RunStatus;
}

/** The catalog operations of a store. */
export interface CatalogStore {
  listWorkflows(workspaceId: string, query: ListWorkflowsQuery): Promise<Page<WorkflowRecord>>;
  listWorkflowVersions(workspaceId: string, workflowId: string): Promise<Array<Omit<WorkflowVersionRecord, 'definition'>>>;
  /** Deletes the workflow (its versions stay for the runs pinned to them; its triggers go). */
  deleteWorkflow(workspaceId: string, workflowId: string, now: number): Promise<boolean>;
  /** Replaces the workflow's trigger routes and schedules and sets it active or not. */
  setWorkflowTriggers(workspaceId: string, workflowId: string, active: boolean, webhooks: readonly WebhookRoute[], schedules: readonly ScheduleRecord[]): Promise<void>;
  findWebhook(method: string, path: string): Promise<WebhookRoute | undefined>;
  listSchedules(workspaceId: string, workflowId: string): Promise<ScheduleRecord[]>;
  listRuns(workspaceId: string, query: ListRunsQuery): Promise<Page<RunRecord>>;
  /**
   * Unfinished runs of the workspace (pending, running, waiting, paused), counted up to `atMost`
   * (the workspace's concurrency limit: the count never needs to go further).
   */
  countActiveRuns(workspaceId: string, atMost: number): Promise<number>;

  createApiKey(key: ApiKeyRecord): Promise<void>;
  findApiKeyByHash(hash: string): Promise<ApiKeyRecord | undefined>;
  touchApiKey(id: string, at: number): Promise<void>;

  /** Notifies `listener` of committed events of any run (NOTIFY on PostgreSQL, in-process on SQLite). */
  onEvents(listener: (notice: EventsNotice) => void): () => void;
}

/** Schedule operations inside a transaction: one process fires each tick. */
export interface ScheduleTransaction {
  /** Locks due schedules (`FOR UPDATE SKIP LOCKED`): another process skips them until commit. */
  takeDueSchedules(now: number, limit: number): Promise<ScheduleRecord[]>;
  setScheduleNext(schedule: Pick<ScheduleRecord, 'workspaceId' | 'workflowId' | 'nodeId'>, nextFireAt: number | null, firedAt: number): Promise<void>;
}
