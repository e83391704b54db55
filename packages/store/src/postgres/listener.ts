/**
 * The LISTEN connection of a PostgreSQL store: one dedicated client (outside the pool, which would
 * hand it to other work) listening on `flowpilot_work`. It reconnects by itself with backoff when
 * the connection drops, and checks a quiet connection is still alive with a periodic ping.
 */
import pg from 'pg';
import { WORK_CHANNEL } from './sql.js';

export interface WorkListenerOptions {
  config: pg.ClientConfig;
  /** A notification arrived on the channel. */
  onNotify(payload: string | undefined): void;
  /** LISTEN is back after a drop: notifications sent meanwhile were missed. */
  onReconnect(): void;
  onError(error: unknown): void;
  /** Ping interval of an idle connection (ms). */
  pingMs?: number;
}

const MIN_BACKOFF_MS = 50;
const MAX_BACKOFF_MS = 5_000;

export class WorkListener {
  #client: pg.Client | undefined;
  #started = false;
  #stopped = false;
  #connectedOnce = false;
  #failures = 0;
  #retry: NodeJS.Timeout | undefined;
  #ping: NodeJS.Timeout | undefined;
  #ready = deferred();

  constructor(private readonly options: WorkListenerOptions) {}

  /** Connects and listens (once; later calls do nothing). */
  start(): void {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    void this.#connect();
  }

  /** Resolves once LISTEN is active (now, or after the reconnect in progress); rejects once stopped. */
  listening(): Promise<void> {
    this.start();
    return this.#ready.promise;
  }

  get connected(): boolean {
    return this.#client !== undefined && this.#ready.settled;
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#retry);
    clearInterval(this.#ping);
    if (!this.#ready.settled) this.#ready.reject(new Error('the store is closed'));
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => undefined);
  }

  async #connect(): Promise<void> {
    if (this.#stopped) return;
    const client = new pg.Client(this.options.config);
    this.#client = client;
    let dropped = false;
    const drop = (error: unknown): void => {
      if (dropped) return;
      dropped = true;
      if (this.#client !== client) return; // stopped, or already replaced
      this.#client = undefined;
      clearInterval(this.#ping);
      if (this.#ready.settled) this.#ready = deferred();
      client.end().catch(() => undefined);
      if (this.#stopped) return;
      this.options.onError(error);
      this.#scheduleReconnect();
    };
    client.on('error', drop);
    client.on('end', () => drop(new Error('the LISTEN connection ended')));
    client.on('notification', (message) => {
      if (message.channel === WORK_CHANNEL) this.options.onNotify(message.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${WORK_CHANNEL}`);
    } catch (error) {
      drop(error);
      return;
    }
    if (dropped || this.#client !== client) {
      await client.end().catch(() => undefined);
      return;
    }
    this.#failures = 0;
    const pingMs = this.options.pingMs ?? 30_000;
    this.#ping = setInterval(() => {
      client.query('SELECT 1').catch(drop);
    }, pingMs);
    this.#ping.unref();
    const reconnected = this.#connectedOnce;
    this.#connectedOnce = true;
    if (reconnected) this.options.onReconnect();
    this.#ready.resolve();
  }

  #scheduleReconnect(): void {
    const backoff = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** this.#failures);
    this.#failures += 1;
    this.#retry = setTimeout(() => void this.#connect(), backoff / 2 + Math.random() * (backoff / 2));
    this.#retry.unref();
  }
}

interface Deferred {
  promise: Promise<void>;
  settled: boolean;
  resolve(): void;
  reject(error: Error): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined); // a rejection nobody awaits is not an unhandled one
  const result: Deferred = {
    promise,
    settled: false,
    resolve: () => {
      result.settled = true;
      resolve();
    },
    reject: (error) => {
      result.settled = true;
      reject(error);
    },
  };
  return result;
}
