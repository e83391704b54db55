/**
 * The PostgreSQL store's catalog operations (the API's part, see catalog-types.ts) over an `Exec`,
 * mirroring the SQLite store's (sqlite/catalog.ts). Text keys sort and compare with `COLLATE "C"`
 * (byte order, as SQLite's), so both backends list in the same order whatever the database's
 * collation, and a cursor's `>`/`<` agrees with the `ORDER BY`.
 */
import type { ApiKeyRecord, ListRunsQuery, ListWorkflowsQuery, Page, ScheduleRecord, WebhookRoute } from '../catalog-types.js';
import { decodeCursor, encodeCursor, isIdKey, isTimeIdKey, likePattern } from '../cursor.js';
import { toApiKeyRecord, toScheduleRecord, toWebhookRoute, toWorkflowRecord } from '../rows.js';
import type { RunRecord, WorkflowRecord, WorkflowVersionRecord } from '../types.js';
import { toRun, type Exec } from './queries.js';
import { RUN_COLUMNS, sql } from './sql.js';

export const CATALOG_SQL = {
  listWorkflows: sql(
    'list_workflows',
    `SELECT * FROM workflows WHERE workspace_id = @ws
       AND (@q::text IS NULL OR lower(name) LIKE @q ESCAPE '\\' OR lower(id) LIKE @q ESCAPE '\\')
       AND (@after::text IS NULL OR id COLLATE "C" > @after)
     ORDER BY id COLLATE "C" LIMIT @limit::int`,
  ),
  listVersions: sql('list_versions', 'SELECT version, created_at FROM workflow_versions WHERE workspace_id = @ws AND workflow_id = @id ORDER BY version'),
  /** Locks the workflow row (serialising against setWorkflowTriggers) and deletes it. */
  deleteWorkflow: sql('delete_workflow', 'DELETE FROM workflows WHERE workspace_id = @ws AND id = @id RETURNING 1'),
  /** A statement after the lock: its snapshot sees triggers a concurrent setWorkflowTriggers committed. */
  deleteTriggers: sql(
    'delete_triggers',
    `WITH hooks AS (DELETE FROM webhooks WHERE workspace_id = @ws AND workflow_id = @id)
     DELETE FROM schedules WHERE workspace_id = @ws AND workflow_id = @id`,
  ),
  /** setWorkflowTriggers, first: the flag, and the workflow row's lock (two replacements take turns). */
  setActive: sql('set_active', 'UPDATE workflows SET active = @active::boolean WHERE workspace_id = @ws AND id = @id'),
  insertTriggers: sql(
    'insert_triggers',
    `WITH hooks AS (
       INSERT INTO webhooks (workspace_id, workflow_id, node_id, method, path, mode, secret, credential_id, timeout_ms)
       SELECT @ws::text, @id::text, h.* FROM unnest(@hook_node::text[], @hook_method::text[], @hook_path::text[], @hook_mode::text[],
         @hook_secret::text[], @hook_credential::text[], @hook_timeout::int[]) AS h
     )
     INSERT INTO schedules (workspace_id, workflow_id, node_id, cron, timezone, catch_up, next_fire_at)
     SELECT @ws, @id, s.* FROM unnest(@schedule_node::text[], @schedule_cron::text[], @schedule_timezone::text[],
       @schedule_catch_up::text[], @schedule_next::bigint[]) AS s`,
  ),
  findWebhook: sql(
    'find_webhook',
    'SELECT h.*, w.latest_version FROM webhooks h LEFT JOIN workflows w ON w.workspace_id = h.workspace_id AND w.id = h.workflow_id WHERE h.method = @method AND h.path = @path',
  ),
  listSchedules: sql('list_schedules', 'SELECT * FROM schedules WHERE workspace_id = @ws AND workflow_id = @id ORDER BY node_id COLLATE "C"'),
  /** Due schedules, locked until commit; SKIP LOCKED: another process's firing transaction keeps its own. */
  takeDueSchedules: sql(
    'take_due_schedules',
    `SELECT * FROM schedules WHERE next_fire_at IS NOT NULL AND next_fire_at <= @now::bigint
     ORDER BY next_fire_at LIMIT @limit::int FOR UPDATE SKIP LOCKED`,
  ),
  setScheduleNext: sql(
    'set_schedule_next',
    'UPDATE schedules SET next_fire_at = @next::bigint, last_fired_at = @fired::bigint WHERE workspace_id = @ws AND workflow_id = @id AND node_id = @node',
  ),
  /** Newest first; the cursor is the last row's (created_at, id). The `<=` conjunct bounds the index scan. */
  listRuns: sql(
    'list_runs',
    `SELECT ${RUN_COLUMNS} WHERE r.workspace_id = @ws
       AND (@workflow::text IS NULL OR r.workflow_id = @workflow)
       AND (@status::text IS NULL OR r.status = @status)
       AND (@since::bigint IS NULL OR r.created_at >= @since)
       AND (@after_time::bigint IS NULL OR r.created_at <= @after_time)
       AND (@after_time IS NULL OR r.created_at < @after_time OR r.id COLLATE "C" < @after_id::text)
     ORDER BY r.created_at DESC, r.id COLLATE "C" DESC LIMIT @limit::int`,
  ),
  countActive: sql(
    'count_active_runs',
    `SELECT count(*)::int AS n FROM (SELECT 1 FROM runs WHERE workspace_id = @ws AND status IN ('pending', 'running', 'waiting', 'paused') LIMIT @limit::int) AS active`,
  ),
  insertKey: sql(
    'insert_key',
    `INSERT INTO api_keys (workspace_id, id, name, user_id, prefix, hash, scopes, created_at)
     VALUES (@ws, @id, @name, @user, @prefix, @hash, @scopes, @created::bigint)`,
  ),
  findKey: sql('find_key', 'SELECT * FROM api_keys WHERE hash = @hash'),
  touchKey: sql('touch_key', 'UPDATE api_keys SET last_used_at = @at::bigint WHERE id = @id'),
} as const;

export async function listWorkflows(exec: Exec, ws: string, query: ListWorkflowsQuery): Promise<Page<WorkflowRecord>> {
  const after = decodeCursor(query.cursor, isIdKey)?.[0];
  const q = query.q === undefined || query.q === '' ? undefined : likePattern(query.q);
  const { rows } = await exec(CATALOG_SQL.listWorkflows, { ws, q, after, limit: query.limit + 1 });
  const items = rows.slice(0, query.limit).map(toWorkflowRecord);
  const last = items.at(-1);
  return rows.length > query.limit && last !== undefined ? { items, nextCursor: encodeCursor([last.id]) } : { items };
}

export async function listWorkflowVersions(exec: Exec, ws: string, id: string): Promise<Array<Omit<WorkflowVersionRecord, 'definition'>>> {
  const { rows } = await exec(CATALOG_SQL.listVersions, { ws, id });
  return rows.map((row) => ({ workspaceId: ws, workflowId: id, version: row.version as number, createdAt: row.created_at as number }));
}

/** Inside a transaction. */
export async function deleteWorkflow(exec: Exec, ws: string, id: string): Promise<boolean> {
  const deleted = (await exec(CATALOG_SQL.deleteWorkflow, { ws, id })).rowCount === 1;
  await exec(CATALOG_SQL.deleteTriggers, { ws, id });
  return deleted;
}

/** Inside a transaction. Like SQLite's, replaces the rows even when the workflow does not exist. */
export async function setWorkflowTriggers(
  exec: Exec,
  ws: string,
  id: string,
  active: boolean,
  webhooks: readonly WebhookRoute[],
  schedules: readonly ScheduleRecord[],
): Promise<void> {
  await exec(CATALOG_SQL.setActive, { ws, id, active });
  await exec(CATALOG_SQL.deleteTriggers, { ws, id });
  if (webhooks.length === 0 && schedules.length === 0) return;
  await exec(CATALOG_SQL.insertTriggers, {
    ws,
    id,
    hook_node: webhooks.map((hook) => hook.nodeId),
    hook_method: webhooks.map((hook) => hook.method),
    hook_path: webhooks.map((hook) => hook.path),
    hook_mode: webhooks.map((hook) => hook.mode),
    hook_secret: webhooks.map((hook) => hook.secret ?? null),
    hook_credential: webhooks.map((hook) => hook.credentialId ?? null),
    hook_timeout: webhooks.map((hook) => hook.timeoutMs),
    schedule_node: schedules.map((schedule) => schedule.nodeId),
    schedule_cron: schedules.map((schedule) => schedule.cron),
    schedule_timezone: schedules.map((schedule) => schedule.timezone ?? null),
    schedule_catch_up: schedules.map((schedule) => schedule.catchUp),
    schedule_next: schedules.map((schedule) => schedule.nextFireAt),
  });
}

export async function findWebhook(exec: Exec, method: string, path: string): Promise<WebhookRoute | undefined> {
  const row = (await exec(CATALOG_SQL.findWebhook, { method, path })).rows[0];
  if (row === undefined) return undefined;
  return toWebhookRoute(row);
}

export async function listSchedules(exec: Exec, ws: string, id: string): Promise<ScheduleRecord[]> {
  return (await exec(CATALOG_SQL.listSchedules, { ws, id })).rows.map(toScheduleRecord);
}

export async function takeDueSchedules(exec: Exec, now: number, limit: number): Promise<ScheduleRecord[]> {
  if (limit <= 0) return [];
  return (await exec(CATALOG_SQL.takeDueSchedules, { now, limit })).rows.map(toScheduleRecord);
}

export async function setScheduleNext(exec: Exec, schedule: Pick<ScheduleRecord, 'workspaceId' | 'workflowId' | 'nodeId'>, next: number | null, fired: number): Promise<void> {
  await exec(CATALOG_SQL.setScheduleNext, { ws: schedule.workspaceId, id: schedule.workflowId, node: schedule.nodeId, next, fired });
}

export async function listRuns(exec: Exec, ws: string, query: ListRunsQuery): Promise<Page<RunRecord>> {
  const after = decodeCursor(query.cursor, isTimeIdKey);
  const { rows } = await exec(CATALOG_SQL.listRuns, {
    ws,
    workflow: query.workflowId,
    status: query.status,
    since: query.since,
    after_time: after?.[0],
    after_id: after?.[1],
    limit: query.limit + 1,
  });
  const items = rows.slice(0, query.limit).map(toRun);
  const last = items.at(-1);
  return rows.length > query.limit && last !== undefined ? { items, nextCursor: encodeCursor([last.createdAt, last.id]) } : { items };
}

export async function countActiveRuns(exec: Exec, ws: string, atMost: number): Promise<number> {
  const { rows } = await exec(CATALOG_SQL.countActive, { ws, limit: atMost });
  return (rows[0] as { n: number }).n;
}

export async function createApiKey(exec: Exec, key: ApiKeyRecord): Promise<void> {
  await exec(CATALOG_SQL.insertKey, {
    ws: key.workspaceId,
    id: key.id,
    name: key.name,
    user: key.userId,
    prefix: key.prefix,
    hash: key.hash,
    scopes: JSON.stringify(key.scopes),
    created: key.createdAt,
  });
}

export async function findApiKeyByHash(exec: Exec, hash: string): Promise<ApiKeyRecord | undefined> {
  const row = (await exec(CATALOG_SQL.findKey, { hash })).rows[0];
  if (row === undefined) return undefined;
  return toApiKeyRecord(row);
}

export async function touchApiKey(exec: Exec, id: string, at: number): Promise<void> {
  await exec(CATALOG_SQL.touchKey, { id, at });
}

