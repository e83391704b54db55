/** The SQLite store's catalog operations (synchronous; `SqliteStore` serialises them). */
import type Database from 'better-sqlite3';
import type { RunRecord, StoreTransaction, WorkflowRecord } from '../types.js';
import type { ApiKeyRecord, EventsNotice, ListRunsQuery, ListWorkflowsQuery, Page, ScheduleRecord, ScheduleTransaction, WebhookRoute } from '../catalog-types.js';
import { decodeCursor, encodeCursor, isIdKey, isTimeIdKey, likePattern } from '../cursor.js';
import { toApiKeyRecord, toScheduleRecord, toWebhookRoute } from '../rows.js';
import type { Statement } from './statements.js';

type Row = Record<string, unknown>;

export class SqliteCatalog {
  readonly #s: Record<string, Statement>;

  constructor(
    db: Database.Database,
    private readonly toWorkflow: (row: Row) => WorkflowRecord,
    private readonly toRun: (row: Row) => RunRecord,
    private readonly notifyEvents: (notice: EventsNotice) => void = () => undefined,
  ) {
    const p = (sql: string): Statement => db.prepare(sql);
    this.#s = {
      listWorkflows: p(
        `SELECT * FROM workflows WHERE workspace_id = @ws AND (@q IS NULL OR lower(name) LIKE @q ESCAPE '\\' OR lower(id) LIKE @q ESCAPE '\\')
         AND (@after IS NULL OR id > @after) ORDER BY id LIMIT @limit`,
      ),
      listVersions: p('SELECT workflow_id, version, created_at FROM workflow_versions WHERE workspace_id = ? AND workflow_id = ? ORDER BY version'),
      deleteWorkflow: p('DELETE FROM workflows WHERE workspace_id = ? AND id = ?'),
      deleteWebhooks: p('DELETE FROM webhooks WHERE workspace_id = ? AND workflow_id = ?'),
      deleteSchedules: p('DELETE FROM schedules WHERE workspace_id = ? AND workflow_id = ?'),
      setActive: p('UPDATE workflows SET active = ? WHERE workspace_id = ? AND id = ?'),
      insertWebhook: p('INSERT INTO webhooks (workspace_id, workflow_id, node_id, method, path, mode, secret, credential_id, timeout_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'),
      findWebhook: p('SELECT h.*, w.latest_version FROM webhooks h LEFT JOIN workflows w ON w.workspace_id = h.workspace_id AND w.id = h.workflow_id WHERE h.method = ? AND h.path = ?'),
      insertSchedule: p('INSERT INTO schedules (workspace_id, workflow_id, node_id, cron, timezone, catch_up, next_fire_at) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      listSchedules: p('SELECT * FROM schedules WHERE workspace_id = ? AND workflow_id = ? ORDER BY node_id'),
      dueSchedules: p('SELECT * FROM schedules WHERE next_fire_at IS NOT NULL AND next_fire_at <= ? ORDER BY next_fire_at LIMIT ?'),
      setScheduleNext: p('UPDATE schedules SET next_fire_at = ?, last_fired_at = ? WHERE workspace_id = ? AND workflow_id = ? AND node_id = ?'),
      listRuns: p(
        `SELECT * FROM runs WHERE workspace_id = @ws AND (@workflow IS NULL OR workflow_id = @workflow) AND (@status IS NULL OR status = @status)
         AND (@since IS NULL OR created_at >= @since)
         AND (@afterTime IS NULL OR created_at < @afterTime OR (created_at = @afterTime AND id < @afterId))
         ORDER BY created_at DESC, id DESC LIMIT @limit`,
      ),
      countActive: p(
        `SELECT count(*) AS n FROM (SELECT 1 FROM runs INDEXED BY runs_active WHERE workspace_id = ? AND status IN ('pending', 'running', 'waiting', 'paused') LIMIT ?)`,
      ),
      insertKey: p('INSERT INTO api_keys (workspace_id, id, name, user_id, prefix, hash, scopes, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
      findKey: p('SELECT * FROM api_keys WHERE hash = ?'),
      touchKey: p('UPDATE api_keys SET last_used_at = ? WHERE id = ?'),
    };
  }

  listWorkflows(ws: string, query: ListWorkflowsQuery): Page<WorkflowRecord> {
    const after = decodeCursor(query.cursor, isIdKey)?.[0] ?? null;
    const rows = this.#s.listWorkflows!.all({ ws, q: query.q === undefined || query.q === '' ? null : likePattern(query.q), after, limit: query.limit + 1 }) as Row[];
    const items = rows.slice(0, query.limit).map(this.toWorkflow);
    return rows.length > query.limit ? { items, nextCursor: encodeCursor([items.at(-1)!.id]) } : { items };
  }

  listWorkflowVersions(ws: string, workflowId: string): Array<{ workspaceId: string; workflowId: string; version: number; createdAt: number }> {
    return (this.#s.listVersions!.all(ws, workflowId) as Row[]).map((row) => ({ workspaceId: ws, workflowId, version: row.version as number, createdAt: row.created_at as number }));
  }

  deleteWorkflow(ws: string, workflowId: string): boolean {
    this.#s.deleteWebhooks!.run(ws, workflowId);
    this.#s.deleteSchedules!.run(ws, workflowId);
    return this.#s.deleteWorkflow!.run(ws, workflowId).changes === 1;
  }

  setWorkflowTriggers(ws: string, workflowId: string, active: boolean, webhooks: readonly WebhookRoute[], schedules: readonly ScheduleRecord[]): void {
    this.#s.deleteWebhooks!.run(ws, workflowId);
    this.#s.deleteSchedules!.run(ws, workflowId);
    for (const hook of webhooks) this.#s.insertWebhook!.run(ws, workflowId, hook.nodeId, hook.method, hook.path, hook.mode, hook.secret ?? null, hook.credentialId ?? null, hook.timeoutMs);
    for (const schedule of schedules) this.#s.insertSchedule!.run(ws, workflowId, schedule.nodeId, schedule.cron, schedule.timezone ?? null, schedule.catchUp, schedule.nextFireAt);
    this.#s.setActive!.run(active ? 1 : 0, ws, workflowId);
  }

  findWebhook(method: string, path: string): WebhookRoute | undefined {
    const row = this.#s.findWebhook!.get(method, path) as Row | undefined;
    if (row === undefined) return undefined;
    return toWebhookRoute(row);
  }

  listSchedules(ws: string, workflowId: string): ScheduleRecord[] {
    return (this.#s.listSchedules!.all(ws, workflowId) as Row[]).map(toScheduleRecord);
  }

  /** Schedule operations for a transaction (SQLite's single writer makes "locking" a plain read). */
  scheduleTransaction(): ScheduleTransaction {
    return {
      takeDueSchedules: async (now, limit) => (this.#s.dueSchedules!.all(now, limit) as Row[]).map(toScheduleRecord),
      setScheduleNext: async (schedule, next, firedAt) => {
        this.#s.setScheduleNext!.run(next, firedAt, schedule.workspaceId, schedule.workflowId, schedule.nodeId);
      },
    };
  }

  listRuns(ws: string, query: ListRunsQuery): Page<RunRecord> {
    const after = decodeCursor(query.cursor, isTimeIdKey);
    const rows = this.#s.listRuns!.all({
      ws,
      workflow: query.workflowId ?? null,
      status: query.status ?? null,
      since: query.since ?? null,
      afterTime: after?.[0] ?? null,
      afterId: after?.[1] ?? null,
      limit: query.limit + 1,
    }) as Row[];
    const items = rows.slice(0, query.limit).map(this.toRun);
    const last = items.at(-1);
    return rows.length > query.limit && last !== undefined ? { items, nextCursor: encodeCursor([last.createdAt, last.id]) } : { items };
  }

  countActiveRuns(ws: string, atMost: number): number {
    return (this.#s.countActive!.get(ws, atMost) as { n: number }).n;
  }

  createApiKey(key: ApiKeyRecord): void {
    this.#s.insertKey!.run(key.workspaceId, key.id, key.name, key.userId ?? null, key.prefix, key.hash, JSON.stringify(key.scopes), key.createdAt);
  }

  findApiKeyByHash(hash: string): ApiKeyRecord | undefined {
    const row = this.#s.findKey!.get(hash) as Row | undefined;
    if (row === undefined) return undefined;
    return toApiKeyRecord(row);
  }

  touchApiKey(id: string, at: number): void {
    this.#s.touchKey!.run(at, id);
  }
}


/** The transaction type a catalog-aware SQLite store hands out. */
export type SqliteTransaction = StoreTransaction & ScheduleTransaction;
