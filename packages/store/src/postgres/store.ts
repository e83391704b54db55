/**
 * The PostgreSQL store: many server and worker processes on one database. A `pg.Pool` runs the
 * statements (each method one round trip where it can; `write` and `claimSteps` are one statement
 * each, see scripts.ts); transactions hold one pooled client from BEGIN to COMMIT; a dedicated
 * LISTEN connection hears other processes' work and events notifications.
 *
 * Connection loss: the pool drops a dead client (its 'error' events are handled, so nothing
 * crashes) and opens a new one on demand. A call that hits a dead connection runs again on another
 * when running it twice is harmless (reads, lease extensions, claims: a lost claim's leases just
 * expire), and so does a transaction whose BEGIN failed (nothing of it ran). A transaction body is
 * never run twice: a transaction cut after BEGIN fails, rolled back by the server.
 */
import pg from 'pg';
import type { ApiKeyRecord, CatalogStore, EventsNotice, ListRunsQuery, ListWorkflowsQuery, Page, ScheduleRecord, WebhookRoute } from '../catalog-types.js';
import { DEFAULT_PAYLOAD_THRESHOLD, WorkSignal } from '../codec.js';
import type { ClaimedStep, ClaimOptions, DueTimer, RunRecord, StepRecord, StoredEvent, Store, StoreTransaction, WorkflowRecord, WorkflowVersionRecord } from '../types.js';
import { PgAccessStore } from './access.js';
import * as catalog from './catalog.js';
import { migrate, validSchema } from './connection.js';
import { WorkListener } from './listener.js';
import { PeerNotifier } from './peer-notifier.js';
import { EventsSignal, fromPeer, newSource, parseEventsPayload } from './notices.js';
import * as q from './queries.js';
import { PoolRunner } from './runner.js';
import { EVENTS_CHANNEL, WORK_CHANNEL } from './sql.js';
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

/** Also an `AccessStore`: its access-control methods are inherited from `PgAccessStore` (access.ts). */
export class PostgresStore extends PgAccessStore implements Store, CatalogStore {
  readonly kind = 'postgres' as const;
  readonly payloadThreshold: number;
  readonly schema: string | undefined;
  readonly #pool: pg.Pool;
  readonly #listener: WorkListener;
  readonly #work: WorkSignal;
  readonly #events: EventsSignal;
  readonly #onError: (error: unknown) => void;
  /** This instance's source id, `<schema>/<instance>` (notices.ts): it tells its own listeners directly at commit. */
  readonly #wake: string;
  readonly #run: PoolRunner;
  readonly #peers: PeerNotifier;
  #closed: Promise<void> | undefined;

  constructor(options: PostgresStoreOptions) {
    super();
    this.payloadThreshold = options.payloadThreshold ?? DEFAULT_PAYLOAD_THRESHOLD;
    this.schema = options.schema === undefined ? undefined : validSchema(options.schema);
    this.#onError = options.onError ?? (() => undefined);
    this.#work = new WorkSignal(this.#onError);
    this.#events = new EventsSignal(this.#onError);
    this.#wake = newSource(this.schema);
    const config: pg.ClientConfig = {
      connectionString: options.connectionString,
      application_name: options.applicationName ?? 'flowpilot',
      types: TYPES,
      keepAlive: true,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
      ...(this.schema === undefined ? {} : { options: `-c search_path=${this.schema}` }),
    };
    const poolSize = options.poolSize ?? 10;
    this.#pool = new pg.Pool({ ...config, max: poolSize });
    // An idle client whose connection died: the pool has already dropped it.
    this.#pool.on('error', (error) => this.#onError(error));
    this.#run = new PoolRunner(this.#pool, poolSize, this.#onError, () => this.#closed !== undefined);
    this.#peers = new PeerNotifier((fn) => this.#run.read(fn), this.#wake, this.#onError);
    this.#listener = new WorkListener({
      config,
      onNotify: (channel, payload) => this.#notified(channel, payload),
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
      await this.#peers.flushed();
      await this.#listener.stop();
      await this.#pool.end();
    })();
    return this.#closed;
  }

  /** Resolves once this store's LISTEN connection is active (starting it if needed). */
  listening(): Promise<void> {
    return this.#listener.listening();
  }

  protected override get accessRunner(): PoolRunner {
    return this.#run;
  }

  /** Raw pool access for schema checks in tests. */
  get pool(): pg.Pool {
    return this.#pool;
  }

  /** The transaction also offers `ScheduleTransaction`. Event notices go to `onEvents` listeners after COMMIT. */
  async transaction<T>(fn: (tx: StoreTransaction) => Promise<T>): Promise<T> {
    let notices: EventsNotice[] = [];
    const { result, woke } = await this.#run.transaction((exec) => {
      const tx = new PgTransaction(exec, this.payloadThreshold);
      return Promise.resolve()
        .then(async () => {
          const value = await fn(tx);
          await tx.beforeCommit();
          notices = tx.notices;
          return { value, woke: tx.woke };
        })
        .finally(() => tx.close());
    }, false);
    if (woke) this.#work.emit();
    this.#events.emit(notices);
    this.#peers.committed(woke, notices);
    return result;
  }

  saveWorkflowVersion(input: { workspaceId: string; workflowId: string; name: string; definition: unknown; now: number; createOnly?: boolean }): Promise<WorkflowVersionRecord> {
    return this.#run.write((exec) => q.saveWorkflowVersion(exec, input));
  }

  getWorkflow(workspaceId: string, workflowId: string): Promise<WorkflowRecord | undefined> {
    return this.#run.read((exec) => q.getWorkflow(exec, workspaceId, workflowId));
  }

  getWorkflowVersion(workspaceId: string, workflowId: string, version?: number): Promise<WorkflowVersionRecord | undefined> {
    return this.#run.read((exec) => q.getWorkflowVersion(exec, workspaceId, workflowId, version));
  }

  setWorkflowConcurrency(workspaceId: string, workflowId: string, maxConcurrentRuns: number | null): Promise<void> {
    return this.#run.read((exec) => q.setWorkflowConcurrency(exec, workspaceId, workflowId, maxConcurrentRuns));
  }

  getRun(workspaceId: string, runId: string): Promise<RunRecord | undefined> {
    return this.#run.read((exec) => q.getRun(exec, workspaceId, runId));
  }

  getSteps(workspaceId: string, runId: string): Promise<StepRecord[]> {
    return this.#run.read((exec) => q.getSteps(exec, workspaceId, runId));
  }

  readOutputs(workspaceId: string, runId: string, nodeIds: readonly string[]): Promise<Map<string, unknown>> {
    return this.#run.read((exec) => q.readOutputs(exec, workspaceId, runId, nodeIds));
  }

  readEvents(workspaceId: string, runId: string, afterSeq = 0): Promise<StoredEvent[]> {
    return this.#run.read((exec) => q.readEvents(exec, workspaceId, runId, afterSeq));
  }

  claimSteps(options: ClaimOptions): Promise<ClaimedStep[]> {
    // Retried like a read: a claim lost with its connection (committed or not) only leaves leases
    // that expire, after which the items are claimed again.
    return this.#run.read((exec) => q.claimSteps(exec, options));
  }

  extendLeases(owner: string, tokens: readonly string[], expiresAt: number): Promise<string[]> {
    // Idempotent: setting the same expiry twice is the same as once.
    return this.#run.read((exec) => q.extendLeases(exec, owner, tokens, expiresAt));
  }

  claimDueTimers(options: ClaimOptions): Promise<DueTimer[]> {
    return this.#run.read((exec) => q.claimDueTimers(exec, options));
  }

  nextTimerDue(): Promise<number | undefined> {
    return this.#run.read((exec) => q.nextTimerDue(exec));
  }

  queueDepth(now: number): Promise<number> {
    return this.#run.read((exec) => q.queueDepth(exec, now));
  }

  pruneRuns(before: number, limit = 1000): Promise<number> {
    if (limit <= 0) return Promise.resolve(0);
    return this.#run.read((exec) => q.pruneRuns(exec, before, limit));
  }

  onWork(listener: () => void): () => void {
    const remove = this.#work.add(listener);
    this.#listener.start();
    return remove;
  }

  // Catalog (the API's part of the store, catalog.ts).

  listWorkflows(workspaceId: string, query: ListWorkflowsQuery): Promise<Page<WorkflowRecord>> {
    return this.#run.read((exec) => catalog.listWorkflows(exec, workspaceId, query));
  }

  listWorkflowVersions(workspaceId: string, workflowId: string): Promise<Array<Omit<WorkflowVersionRecord, 'definition'>>> {
    return this.#run.read((exec) => catalog.listWorkflowVersions(exec, workspaceId, workflowId));
  }

  deleteWorkflow(workspaceId: string, workflowId: string): Promise<boolean> {
    return this.#run.write((exec) => catalog.deleteWorkflow(exec, workspaceId, workflowId));
  }

  setWorkflowTriggers(workspaceId: string, workflowId: string, active: boolean, webhooks: readonly WebhookRoute[], schedules: readonly ScheduleRecord[]): Promise<void> {
    return this.#run.write((exec) => catalog.setWorkflowTriggers(exec, workspaceId, workflowId, active, webhooks, schedules));
  }

  findWebhook(method: string, path: string): Promise<WebhookRoute | undefined> {
    return this.#run.read((exec) => catalog.findWebhook(exec, method, path));
  }

  listSchedules(workspaceId: string, workflowId: string): Promise<ScheduleRecord[]> {
    return this.#run.read((exec) => catalog.listSchedules(exec, workspaceId, workflowId));
  }

  listRuns(workspaceId: string, query: ListRunsQuery): Promise<Page<RunRecord>> {
    return this.#run.read((exec) => catalog.listRuns(exec, workspaceId, query));
  }

  countActiveRuns(workspaceId: string, atMost: number): Promise<number> {
    return this.#run.read((exec) => catalog.countActiveRuns(exec, workspaceId, atMost));
  }

  createApiKey(key: ApiKeyRecord): Promise<void> {
    // Not retried like a read: a lost connection may have committed it, and again would be a duplicate.
    return this.#run.write((exec) => catalog.createApiKey(exec, key));
  }

  findApiKeyByHash(hash: string): Promise<ApiKeyRecord | undefined> {
    return this.#run.read((exec) => catalog.findApiKeyByHash(exec, hash));
  }

  touchApiKey(id: string, at: number): Promise<void> {
    return this.#run.read((exec) => catalog.touchApiKey(exec, id, at));
  }

  /** This store's committed events at once (after COMMIT); other stores' (processes') through LISTEN. */
  onEvents(listener: (notice: EventsNotice) => void): () => void {
    const remove = this.#events.add(listener);
    this.#listener.listen(EVENTS_CHANNEL);
    return remove;
  }

  /** Another store's notification (this instance's own were handled at commit; another schema's are not ours). */
  #notified(channel: string, payload: string | undefined): void {
    if (channel === WORK_CHANNEL) {
      if (fromPeer(payload, this.#wake, this.schema)) this.#work.emit();
    } else if (channel === EVENTS_CHANNEL) {
      const parsed = parseEventsPayload(payload);
      if (parsed !== undefined && fromPeer(parsed.source, this.#wake, this.schema)) this.#events.emit([parsed.notice]);
    }
  }
}
