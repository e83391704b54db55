/**
 * The SQLite store: the embedded default. better-sqlite3 is synchronous, so every operation runs
 * under one async mutex (no statement of one caller can land inside another's transaction), and
 * transactions use BEGIN IMMEDIATE so several processes on one file serialise their writes.
 */
import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { AsyncMutex, DEFAULT_PAYLOAD_THRESHOLD, loadMigrations } from '../codec.js';
import type { ClaimedStep, ClaimOptions, DueTimer, Store, StoreTransaction, WorkflowVersionRecord } from '../types.js';
import { SqliteQueries, type Row } from './queries.js';
import { prepareStatements } from './statements.js';

export interface SqliteStoreOptions {
  /** File path, or `:memory:`. */
  filename: string;
  payloadThreshold?: number;
  /** How long to wait for another process's write lock (ms). */
  busyTimeoutMs?: number;
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly #db: Database.Database;
  readonly #mutex = new AsyncMutex();
  readonly #events = new EventEmitter();
  #queries: SqliteQueries | undefined;

  constructor(options: SqliteStoreOptions) {
    if (options.filename !== ':memory:') mkdirSync(dirname(options.filename), { recursive: true });
    this.#db = new Database(options.filename);
    this.#db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode: a commit survives a process crash; only an OS crash can lose the last ones.
    this.#db.pragma('synchronous = NORMAL');
    this.#db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 10_000}`);
    this.#db.pragma('foreign_keys = ON');
    this.payloadThreshold = options.payloadThreshold ?? DEFAULT_PAYLOAD_THRESHOLD;
  }

  readonly payloadThreshold: number;

  get #q(): SqliteQueries {
    if (this.#queries === undefined) {
      this.#queries = new SqliteQueries(prepareStatements(this.#db), this.payloadThreshold, () => this.#events.emit('work'));
    }
    return this.#queries;
  }

  async migrate(): Promise<number[]> {
    return this.#mutex.run(() => {
      this.#db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
      const applied = new Set((this.#db.prepare('SELECT version FROM schema_migrations').all() as Array<{ version: number }>).map((row) => row.version));
      const done: number[] = [];
      for (const migration of loadMigrations('sqlite')) {
        if (applied.has(migration.version)) continue;
        this.#db.transaction(() => {
          this.#db.exec(migration.sql);
          this.#db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(migration.version, migration.name, Date.now());
        }).immediate();
        done.push(migration.version);
      }
      return done;
    });
  }

  async close(): Promise<void> {
    await this.#mutex.run(() => this.#db.close());
  }

  /** Raw access for schema checks in tests. */
  get database(): Database.Database {
    return this.#db;
  }

  transaction<T>(fn: (tx: StoreTransaction) => Promise<T>): Promise<T> {
    return this.#mutex.run(async () => {
      this.#db.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(this.#q.transaction());
        this.#db.exec('COMMIT');
        this.#q.flushNotifications();
        return result;
      } catch (error) {
        if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
        this.#q.dropNotifications();
        throw error;
      }
    });
  }

  saveWorkflowVersion(input: { workspaceId: string; workflowId: string; name: string; definition: unknown; now: number }): Promise<WorkflowVersionRecord> {
    return this.#mutex.run(() => this.#db.transaction(() => this.#q.saveWorkflowVersion(input)).immediate());
  }

  getWorkflow(workspaceId: string, workflowId: string) {
    return this.#mutex.run(() => this.#q.getWorkflow(workspaceId, workflowId));
  }

  getWorkflowVersion(workspaceId: string, workflowId: string, version?: number) {
    return this.#mutex.run(() => this.#q.getWorkflowVersion(workspaceId, workflowId, version));
  }

  setWorkflowConcurrency(workspaceId: string, workflowId: string, maxConcurrentRuns: number | null): Promise<void> {
    return this.#mutex.run(() => this.#q.setWorkflowConcurrency(workspaceId, workflowId, maxConcurrentRuns));
  }

  getRun(workspaceId: string, runId: string) {
    return this.#mutex.run(() => this.#q.getRun(workspaceId, runId));
  }

  getSteps(workspaceId: string, runId: string) {
    return this.#mutex.run(() => this.#q.getSteps(workspaceId, runId));
  }

  readOutputs(workspaceId: string, runId: string, nodeIds: readonly string[]) {
    return this.#mutex.run(() => this.#q.readOutputs(workspaceId, runId, nodeIds));
  }

  readEvents(workspaceId: string, runId: string, afterSeq = 0) {
    return this.#mutex.run(() => this.#q.readEvents(workspaceId, runId, afterSeq));
  }

  claimSteps(options: ClaimOptions): Promise<ClaimedStep[]> {
    return this.#mutex.run(() => this.#db.transaction(() => this.#q.claimSteps(options)).immediate());
  }

  extendLeases(owner: string, tokens: readonly string[], expiresAt: number): Promise<string[]> {
    return this.#mutex.run(() => this.#db.transaction(() => this.#q.extendLeases(owner, tokens, expiresAt)).immediate());
  }

  claimDueTimers(options: ClaimOptions): Promise<DueTimer[]> {
    return this.#mutex.run(() => this.#db.transaction(() => this.#q.claimDueTimers(options)).immediate());
  }

  nextTimerDue(): Promise<number | undefined> {
    return this.#mutex.run(() => this.#q.nextTimerDue());
  }

  queueDepth(now: number): Promise<number> {
    return this.#mutex.run(() => this.#q.queueDepth(now));
  }

  pruneRuns(before: number, limit = 1000): Promise<number> {
    return this.#mutex.run(() => this.#db.transaction(() => this.#q.pruneRuns(before, limit)).immediate());
  }

  onWork(listener: () => void): () => void {
    this.#events.on('work', listener);
    return () => this.#events.off('work', listener);
  }
}

export type { Row };
