/**
 * The PostgreSQL store: many server and worker processes on one database. A `pg.Pool` runs the
 * statements (each method one round trip where it can; `write` and `claimSteps` are one statement
 * each, see scripts.ts); transactions hold one pooled client from BEGIN to COMMIT; a dedicated
 * LISTEN connection hears other processes' work notifications.
 *
 * Connection loss: the pool drops a dead client (its 'error' events are handled, so nothing
 * crashes) and opens a new one on demand. A call that hits a dead connection runs again on another
 * when running it twice is harmless (reads, lease extensions, claims: a lost claim's leases just
 * expire), and so does a transaction whose BEGIN failed (nothing of it ran). A transaction body is
 * never run twice: a transaction cut after BEGIN fails, rolled back by the server.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { DEFAULT_PAYLOAD_THRESHOLD, WorkSignal } from '../codec.js';
import type { Row } from '../rows.js';
import type { ClaimedStep, ClaimOptions, DueTimer, RunRecord, StepRecord, StoredEvent, Store, StoreTransaction, WorkflowRecord, WorkflowVersionRecord } from '../types.js';
import { isConnectionError, migrate, validSchema } from './connection.js';
import { WorkListener } from './listener.js';
import * as q from './queries.js';
import { bind } from './sql.js';
import { PgTransaction } from './transaction.js';

export interface PostgresStoreOptions {
  connectionString: string;
  payloadThreshold?: number | undefined;
  /**
   * Schema of the tables (created by `migrate`): every connection starts with `search_path` set to
   * it (the startup `options`; a URL that sets `options` itself would override it).
   */
  schema?: string;
  /** Pool size (default 10). */
  poolSize?: number;
  /** `application_name` of the store's connections (default `flowpilot`; one in the URL takes precedence). */
  applicationName?: string;
  /** Timeout of opening a connection (ms, default 10 000). */
  connectTimeoutMs?: number;
  /** Reports connection errors the store survived (dropped idle clients, LISTEN reconnects). */
  onError?: (error: unknown) => void;
}

/** Parses BIGINT (ms times, counts) to numbers: every value the store keeps fits in 2^53. */
const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === 20 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format))) as pg.CustomTypesConfig['getTypeParser'],
};

export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  readonly payloadThreshold: number;
  readonly schema: string | undefined;
  readonly #pool: pg.Pool;
  readonly #listener: WorkListener;
  readonly #work: WorkSignal;
  readonly #onError: (error: unknown) => void;
  /** The NOTIFY payload: `<schema>/<instance>`. This instance wakes its own listeners directly. */
  readonly #wake: string;
  /** Retries on dead pooled connections: one per pooled client. */
  readonly #retries: number;
  #closed: Promise<void> | undefined;

  constructor(options: PostgresStoreOptions) {
    this.payloadThreshold = options.payloadThreshold ?? DEFAULT_PAYLOAD_THRESHOLD;
    this.schema = options.schema === undefined ? undefined : validSchema(options.schema);
    this.#onError = options.onError ?? (() => undefined);
    this.#work = new WorkSignal(this.#onError);
    this.#wake = `${this.schema ?? ''}/${randomUUID()}`;
    const config: pg.ClientConfig = {
      connectionString: options.connectionString,
      application_name: options.applicationName ?? 'flowpilot',
      types: TYPES,
      keepAlive: true,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
      ...(this.schema === undefined ? {} : { options: `-c search_path=${this.schema}` }),
    };
    this.#retries = options.poolSize ?? 10;
    this.#pool = new pg.Pool({ ...config, max: this.#retries });
    // An idle client whose connection died: the pool has already dropped it.
    this.#pool.on('error', (error) => this.#onError(error));
    this.#listener = new WorkListener({
      config,
      onNotify: (payload) => this.#notified(payload),
      onReconnect: () => this.#work.emit(),
      onError: this.#onError,
    });
  }

  /** Creates the schema if missing and applies pending migrations, each in a transaction under an advisory lock. */
  async migrate(): Promise<number[]> {
    const client = await this.#pool.connect();
    client.on('error', this.#onError);
    try {
      return await migrate(client, this.schema);
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.off('error', this.#onError);
      client.release();
    }
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.#listener.stop();
      await this.#pool.end();
    })();
    return this.#closed;
  }

  /** Resolves once this store's LISTEN connection is active (starting it if needed). */
  listening(): Promise<void> {
    return this.#listener.listening();
  }

  /** Raw pool access for schema checks in tests. */
  get pool(): pg.Pool {
    return this.#pool;
  }

  async transaction<T>(fn: (tx: StoreTransaction) => Promise<T>): Promise<T> {
    const { result, woke } = await this.#transaction((exec) => {
      const tx = new PgTransaction(exec, this.payloadThreshold, this.#wake);
      return Promise.resolve()
        .then(async () => {
          const value = await fn(tx);
          await tx.beforeCommit();
          return { value, woke: tx.woke };
        })
        .finally(() => tx.close());
    }, false);
    if (woke) this.#work.emit();
    return result;
  }

  saveWorkflowVersion(input: { workspaceId: string; workflowId: string; name: string; definition: unknown; now: number }): Promise<WorkflowVersionRecord> {
    return this.#transaction((exec) => q.saveWorkflowVersion(exec, input).then((value) => ({ value, woke: false })), true).then(({ result }) => result);
  }

  getWorkflow(workspaceId: string, workflowId: string): Promise<WorkflowRecord | undefined> {
    return this.#read((exec) => q.getWorkflow(exec, workspaceId, workflowId));
  }

  getWorkflowVersion(workspaceId: string, workflowId: string, version?: number): Promise<WorkflowVersionRecord | undefined> {
    return this.#read((exec) => q.getWorkflowVersion(exec, workspaceId, workflowId, version));
  }

  setWorkflowConcurrency(workspaceId: string, workflowId: string, maxConcurrentRuns: number | null): Promise<void> {
    return this.#read((exec) => q.setWorkflowConcurrency(exec, workspaceId, workflowId, maxConcurrentRuns));
  }

  getRun(workspaceId: string, runId: string): Promise<RunRecord | undefined> {
    return this.#read((exec) => q.getRun(exec, workspaceId, runId));
  }

  getSteps(workspaceId: string, runId: string): Promise<StepRecord[]> {
    return this.#read((exec) => q.getSteps(exec, workspaceId, runId));
  }

  readOutputs(workspaceId: string, runId: string, nodeIds: readonly string[]): Promise<Map<string, unknown>> {
    return this.#read((exec) => q.readOutputs(exec, workspaceId, runId, nodeIds));
  }

  readEvents(workspaceId: string, runId: string, afterSeq = 0): Promise<StoredEvent[]> {
    return this.#read((exec) => q.readEvents(exec, workspaceId, runId, afterSeq));
  }

  claimSteps(options: ClaimOptions): Promise<ClaimedStep[]> {
    // Retried like a read: a claim lost with its connection (committed or not) only leaves leases
    // that expire, after which the items are claimed again.
    return this.#read((exec) => q.claimSteps(exec, options));
  }

  extendLeases(owner: string, tokens: readonly string[], expiresAt: number): Promise<string[]> {
    // Idempotent: setting the same expiry twice is the same as once.
    return this.#read((exec) => q.extendLeases(exec, owner, tokens, expiresAt));
  }

  claimDueTimers(options: ClaimOptions): Promise<DueTimer[]> {
    return this.#read((exec) => q.claimDueTimers(exec, options));
  }

  nextTimerDue(): Promise<number | undefined> {
    return this.#read((exec) => q.nextTimerDue(exec));
  }

  queueDepth(now: number): Promise<number> {
    return this.#read((exec) => q.queueDepth(exec, now));
  }

  pruneRuns(before: number, limit = 1000): Promise<number> {
    if (limit <= 0) return Promise.resolve(0);
    return this.#read((exec) => q.pruneRuns(exec, before, limit));
  }

  onWork(listener: () => void): () => void {
    const remove = this.#work.add(listener);
    this.#listener.start();
    return remove;
  }

  /**
   * An operation that may run twice (a read, or a write whose repeat is harmless) on one pooled client. When that client's connection turns out to be
   * dead (the server restarted, an admin terminated it), the client is destroyed and the operation
   * runs again on another: at most once per pooled client, so a pool full of dead connections
   * drains. Failing to open a new connection is final.
   */
  async #read<T>(fn: (exec: q.Exec) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt += 1) {
      const client = await this.#pool.connect();
      client.on('error', this.#onError);
      try {
        const result = await fn(execOn(client));
        client.off('error', this.#onError);
        client.release();
        return result;
      } catch (error) {
        const lost = isConnectionError(error);
        client.off('error', this.#onError);
        client.release(lost ? (error as Error) : undefined);
        if (lost && attempt < this.#retries && this.#closed === undefined) continue;
        throw error;
      }
    }
  }

  /**
   * BEGIN … COMMIT on one pooled client. Run again on another client when the connection turns out
   * dead before anything of it can have run: BEGIN failed, or `rerun` (the body is the store's own,
   * all of it inside this transaction) and COMMIT was not sent. A failed COMMIT is never retried:
   * its outcome is unknown.
   */
  async #transaction<T>(body: (exec: q.Exec) => Promise<{ value: T; woke: boolean }>, rerun: boolean): Promise<{ result: T; woke: boolean }> {
    for (let attempt = 0; ; attempt += 1) {
      const client = await this.#pool.connect();
      // A connection that dies between statements emits 'error' on the client: handled, the next statement fails.
      client.on('error', this.#onError);
      let stage: 'begin' | 'body' | 'commit' = 'begin';
      try {
        await client.query('BEGIN');
        stage = 'body';
        const { value, woke } = await body(execOn(client));
        stage = 'commit';
        await client.query('COMMIT');
        client.off('error', this.#onError);
        client.release();
        return { result: value, woke };
      } catch (error) {
        const lost = isConnectionError(error);
        const rollback = stage === 'begin' || lost ? undefined : await client.query('ROLLBACK').then(() => undefined, (failure: unknown) => failure);
        client.off('error', this.#onError);
        // A client whose connection failed is destroyed, not returned to the pool.
        client.release(lost ? (error as Error) : (rollback as Error | undefined));
        const nothingRan = stage === 'begin' || (rerun && stage === 'body');
        if (lost && nothingRan && attempt < this.#retries && this.#closed === undefined) continue;
        throw error;
      }
    }
  }

  #notified(payload: string | undefined): void {
    if (payload === this.#wake) return; // this instance's own write: its listeners were woken at commit
    const slash = payload?.lastIndexOf('/') ?? -1;
    const schema = payload === undefined || slash === -1 ? '' : payload.slice(0, slash);
    // Another schema's store on the same database: not our work.
    if (schema !== '' && this.schema !== undefined && schema !== this.schema) return;
    this.#work.emit();
  }
}

/** Runs compiled statements on one client. */
function execOn(client: pg.PoolClient): q.Exec {
  return async (statement, values) => {
    const result = await client.query(bind(statement, values));
    return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 };
  };
}
