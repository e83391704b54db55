/**
 * The SQLite store: the embedded default. better-sqlite3 is synchronous, so every operation runs
 * under one async mutex (no statement of one caller can land inside another's transaction), and
 * transactions use BEGIN IMMEDIATE so several processes on one file serialise their writes.
 *
 * Waiting for another connection's write lock never blocks the event loop: BEGIN IMMEDIATE does not
 * wait inside SQLite but is retried on timers (up to `busyTimeoutMs`), so the holder (another
 * process, or another store on the same file in this process) can finish. Store methods called
 * inside `transaction(fn)` (by fn, in its async context) run in that transaction instead of
 * waiting for the mutex it holds; a nested `transaction` is a savepoint.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { AsyncMutex, DEFAULT_PAYLOAD_THRESHOLD, loadMigrations, WorkSignal } from '../codec.js';
import type { ApiKeyRecord, CatalogStore, EventsNotice, ListRunsQuery, ListWorkflowsQuery, Page, ScheduleRecord, WebhookRoute } from '../catalog-types.js';
import { toWorkflowRecord } from '../rows.js';
import type { ClaimedStep, ClaimOptions, DueTimer, RunRecord, Store, StoreTransaction, WorkflowRecord, WorkflowVersionRecord } from '../types.js';
import { SqliteAccessStore } from './access.js';
import { SqliteCatalog } from './catalog.js';
import { SqliteQueries, type Row } from './queries.js';
import { prepareStatements } from './statements.js';

export interface SqliteStoreOptions {
  /** File path, or `:memory:`. */
  filename: string;
  payloadThreshold?: number;
  /** How long to wait for another connection's write lock (ms). */
  busyTimeoutMs?: number;
  /**
   * How often (ms) a store with work listeners checks whether another process committed (default 5;
   * 0 turns it off). SQLite has no notifications between processes: `PRAGMA data_version` changes
   * when another connection commits, and reading it only looks at shared memory.
   */
  peerCheckMs?: number;
}

/** Also an `AccessStore`: its access-control methods are inherited from `SqliteAccessStore` (access.ts). */
export class SqliteStore extends SqliteAccessStore implements Store, CatalogStore {
  readonly kind = 'sqlite' as const;
  readonly #db: Database.Database;
  readonly #mutex = new AsyncMutex();
  readonly #work = new WorkSignal();
  readonly #peerCheckMs: number;
  #peerCheck: NodeJS.Timeout | undefined;
  readonly #busyTimeoutMs: number;
  /** The transaction whose async context a call comes from, if any. */
  readonly #context = new AsyncLocalStorage<symbol>();
  /** The open transaction (its token), if any. */
  #open: symbol | undefined;
  #savepoints = 0;
  #queries: SqliteQueries | undefined;
  /** Prepared once: `db.pragma()` prepares a statement on every call, twice per transaction here. */
  #noWaitStatement: Database.Statement | undefined;
  #waitStatement: Database.Statement | undefined;
  #catalog: SqliteCatalog | undefined;
  readonly #eventListeners = new Set<(notice: EventsNotice) => void>();
  /** Event notices of the open transaction, published after it commits. */
  #pendingNotices: EventsNotice[] = [];

  constructor(options: SqliteStoreOptions) {
    super();
    if (options.filename !== ':memory:') mkdirSync(dirname(options.filename), { recursive: true });
    this.#db = new Database(options.filename);
    this.#busyTimeoutMs = options.busyTimeoutMs ?? 10_000;
    this.#peerCheckMs = options.peerCheckMs ?? 5;
    this.#db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode: a commit survives a process crash; only an OS crash can lose the last ones.
    this.#db.pragma('synchronous = NORMAL');
    this.#db.pragma(`busy_timeout = ${this.#busyTimeoutMs}`);
    this.#db.pragma('foreign_keys = ON');
    this.payloadThreshold = options.payloadThreshold ?? DEFAULT_PAYLOAD_THRESHOLD;
  }

  readonly payloadThreshold: number;

  get #q(): SqliteQueries {
    if (this.#queries === undefined) {
      this.#queries = new SqliteQueries(prepareStatements(this.#db), this.payloadThreshold, () => this.#work.emit(), (notice) => this.#pendingNotices.push(notice));
    }
    return this.#queries;
  }

  get #c(): SqliteCatalog {
    this.#catalog ??= new SqliteCatalog(this.#db, toWorkflowRecord, (row) => this.#q.runFromRow(row));
    return this.#catalog;
  }

  #publishEvents(): void {
    const notices = this.#pendingNotices;
    this.#pendingNotices = [];
    for (const notice of notices) {
      for (const listener of this.#eventListeners) {
        try {
          listener(notice);
        } catch {
          // A listener's failure is its own; the transaction is committed.
        }
      }
    }
  }

  /** Is the caller running inside this store's open transaction? */
  get #inside(): boolean {
    return this.#open !== undefined && this.#context.getStore() === this.#open;
  }

  /** Runs `fn` alone on the connection (or at once inside the caller's own transaction). */
  #serial<T>(fn: () => T | Promise<T>): Promise<T> {
    return this.#inside ? Promise.resolve().then(fn) : this.#mutex.run(fn);
  }

  get #noWait(): Database.Statement {
    this.#noWaitStatement ??= this.#db.prepare('PRAGMA busy_timeout = 0');
    return this.#noWaitStatement;
  }

  get #wait(): Database.Statement {
    this.#waitStatement ??= this.#db.prepare(`PRAGMA busy_timeout = ${this.#busyTimeoutMs}`);
    return this.#waitStatement;
  }

  /** BEGIN IMMEDIATE, retried on timers while another connection holds the write lock. */
  async #begin(): Promise<void> {
    const deadline = Date.now() + this.#busyTimeoutMs;
    for (let wait = 1; ; wait = Math.min(wait * 2, 25)) {
      this.#noWait.run();
      try {
        this.#db.exec('BEGIN IMMEDIATE');
        return;
      } catch (error) {
        if ((error as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() >= deadline) throw error;
      } finally {
        this.#wait.run();
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  /** A synchronous write in its own immediate transaction (or in the caller's open one). */
  #write<T>(fn: () => T): Promise<T> {
    if (this.#inside) return Promise.resolve().then(fn);
    return this.#mutex.run(async () => {
      await this.#begin();
      try {
        const result = fn();
        this.#db.exec('COMMIT');
        return result;
      } catch (error) {
        if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
        throw error;
      }
    });
  }

  async migrate(): Promise<number[]> {
    return this.#mutex.run(async () => {
      const done: number[] = [];
      for (const migration of loadMigrations('sqlite')) {
        // Every write under BEGIN IMMEDIATE (whose wait does not block the event loop).
        await this.#begin();
        try {
          this.#db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
          // Read under the write lock: another process may have applied it meanwhile.
          if (this.#db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?').get(migration.version) === undefined) {
            this.#db.exec(migration.sql);
            this.#db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(migration.version, migration.name, Date.now());
            done.push(migration.version);
          }
          this.#db.exec('COMMIT');
        } catch (error) {
          if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
          throw error;
        }
      }
      return done;
    });
  }

  async close(): Promise<void> {
    clearInterval(this.#peerCheck);
    this.#peerCheck = undefined;
    await this.#mutex.run(() => this.#db.close());
  }

  protected override get accessDatabase(): Database.Database {
    return this.#db;
  }

  protected override accessRead<T>(fn: () => T): Promise<T> {
    return this.#serial(fn);
  }

  protected override accessWrite<T>(fn: () => T): Promise<T> {
    return this.#write(fn);
  }

  /** Raw access for schema checks in tests. */
  get database(): Database.Database {
    return this.#db;
  }

  transaction<T>(fn: (tx: StoreTransaction) => Promise<T>): Promise<T> {
    if (this.#inside) return this.#savepoint(fn);
    return this.#mutex.run(async () => {
      await this.#begin();
      const token = Symbol('transaction');
      this.#open = token;
      this.#q.beginTransaction();
      try {
        const result = await this.#context.run(token, () => fn({ ...this.#q.transaction(), ...this.#c.scheduleTransaction() }));
        this.#open = undefined;
        this.#q.shiftEagerLeases(Date.now());
        this.#db.exec('COMMIT');
        this.#q.flushNotifications();
        this.#publishEvents();
        return result;
      } catch (error) {
        this.#open = undefined;
        if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
        this.#q.dropNotifications();
        this.#pendingNotices = [];
        throw error;
      }
    });
  }

  /** A transaction inside the caller's: a savepoint, rolled back alone if `fn` throws. */
  async #savepoint<T>(fn: (tx: StoreTransaction) => Promise<T>): Promise<T> {
    const name = `nested_${(this.#savepoints += 1)}`;
    this.#db.exec(`SAVEPOINT ${name}`);
    try {
      const result = await fn({ ...this.#q.transaction(), ...this.#c.scheduleTransaction() });
      this.#db.exec(`RELEASE ${name}`);
      return result;
    } catch (error) {
      this.#db.exec(`ROLLBACK TO ${name}`);
      this.#db.exec(`RELEASE ${name}`);
      throw error;
    }
  }

  saveWorkflowVersion(input: { workspaceId: string; workflowId: string; name: string; definition: unknown; now: number; createOnly?: boolean }): Promise<WorkflowVersionRecord> {
    return this.#write(() => this.#q.saveWorkflowVersion(input));
  }

  getWorkflow(workspaceId: string, workflowId: string) {
    return this.#serial(() => this.#q.getWorkflow(workspaceId, workflowId));
  }

  getWorkflowVersion(workspaceId: string, workflowId: string, version?: number) {
    return this.#serial(() => this.#q.getWorkflowVersion(workspaceId, workflowId, version));
  }

  setWorkflowConcurrency(workspaceId: string, workflowId: string, maxConcurrentRuns: number | null): Promise<void> {
    return this.#serial(() => this.#q.setWorkflowConcurrency(workspaceId, workflowId, maxConcurrentRuns));
  }

  getRun(workspaceId: string, runId: string) {
    return this.#serial(() => this.#q.getRun(workspaceId, runId));
  }

  getSteps(workspaceId: string, runId: string) {
    return this.#serial(() => this.#q.getSteps(workspaceId, runId));
  }

  readOutputs(workspaceId: string, runId: string, nodeIds: readonly string[]) {
    return this.#serial(() => this.#q.readOutputs(workspaceId, runId, nodeIds));
  }

  readEvents(workspaceId: string, runId: string, afterSeq = 0) {
    return this.#serial(() => this.#q.readEvents(workspaceId, runId, afterSeq));
  }

  claimSteps(options: ClaimOptions): Promise<ClaimedStep[]> {
    if (options.limit <= 0) return Promise.resolve([]);
    // Look first (a read): a claim is a write transaction, and most wake-ups of a busy store's
    // other workers find nothing to claim.
    if (!this.#inside && !this.#q.hasClaimable(options.now)) return Promise.resolve([]);
    return this.#write(() => this.#q.claimSteps(options));
  }

  extendLeases(owner: string, tokens: readonly string[], expiresAt: number): Promise<string[]> {
    return this.#write(() => this.#q.extendLeases(owner, tokens, expiresAt));
  }

  claimDueTimers(options: ClaimOptions): Promise<DueTimer[]> {
    if (options.limit <= 0) return Promise.resolve([]);
    return this.#write(() => this.#q.claimDueTimers(options));
  }

  nextTimerDue(): Promise<number | undefined> {
    return this.#serial(() => this.#q.nextTimerDue());
  }

  queueDepth(now: number): Promise<number> {
    return this.#serial(() => this.#q.queueDepth(now));
  }

  pruneRuns(before: number, limit = 1000): Promise<number> {
    if (limit <= 0) return Promise.resolve(0);
    return this.#write(() => this.#q.pruneRuns(before, limit));
  }

  /** In-process commits notify at once; other processes' commits within `peerCheckMs`. */
  onWork(listener: () => void): () => void {
    const remove = this.#work.add(listener);
    this.#watchPeers();
    return () => {
      remove();
      if (this.#work.size === 0) {
        clearInterval(this.#peerCheck);
        this.#peerCheck = undefined;
      }
    };
  }

  /** Wakes work listeners when another connection (process) committed: it may have queued work. */
  #watchPeers(): void {
    if (this.#peerCheck !== undefined || this.#peerCheckMs <= 0 || !this.#db.open) return;
    const version = this.#db.prepare('PRAGMA data_version').pluck();
    let last = version.get() as number;
    this.#peerCheck = setInterval(() => {
      if (!this.#db.open) return;
      const now = version.get() as number;
      if (now === last) return;
      last = now;
      this.#work.emit();
    }, this.#peerCheckMs);
    this.#peerCheck.unref();
  }

  // Catalog (the API's part of the store).

  listWorkflows(workspaceId: string, query: ListWorkflowsQuery): Promise<Page<WorkflowRecord>> {
    return this.#serial(() => this.#c.listWorkflows(workspaceId, query));
  }

  listWorkflowVersions(workspaceId: string, workflowId: string) {
    return this.#serial(() => this.#c.listWorkflowVersions(workspaceId, workflowId));
  }

  deleteWorkflow(workspaceId: string, workflowId: string): Promise<boolean> {
    return this.#write(() => this.#c.deleteWorkflow(workspaceId, workflowId));
  }

  setWorkflowTriggers(workspaceId: string, workflowId: string, active: boolean, webhooks: readonly WebhookRoute[], schedules: readonly ScheduleRecord[]): Promise<void> {
    return this.#write(() => this.#c.setWorkflowTriggers(workspaceId, workflowId, active, webhooks, schedules));
  }

  findWebhook(method: string, path: string): Promise<WebhookRoute | undefined> {
    return this.#serial(() => this.#c.findWebhook(method, path));
  }

  listSchedules(workspaceId: string, workflowId: string): Promise<ScheduleRecord[]> {
    return this.#serial(() => this.#c.listSchedules(workspaceId, workflowId));
  }

  listRuns(workspaceId: string, query: ListRunsQuery): Promise<Page<RunRecord>> {
    return this.#serial(() => this.#c.listRuns(workspaceId, query));
  }

  countActiveRuns(workspaceId: string, atMost: number): Promise<number> {
    return this.#serial(() => this.#c.countActiveRuns(workspaceId, atMost));
  }

  createApiKey(key: ApiKeyRecord): Promise<void> {
    return this.#write(() => this.#c.createApiKey(key));
  }

  findApiKeyByHash(hash: string): Promise<ApiKeyRecord | undefined> {
    return this.#serial(() => this.#c.findApiKeyByHash(hash));
  }

  touchApiKey(id: string, at: number): Promise<void> {
    return this.#write(() => this.#c.touchApiKey(id, at));
  }

  onEvents(listener: (notice: EventsNotice) => void): () => void {
    this.#eventListeners.add(listener);
    return () => this.#eventListeners.delete(listener);
  }
}

export type { Row };
