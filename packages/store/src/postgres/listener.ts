/**
 * The LISTEN connection of a PostgreSQL store: one dedicated client (outside the pool, which would
 * hand it to other work) listening on `flowpilot_work`, and on further channels once asked to
 * (`listen`: `flowpilot_events` when the store has event listeners). It reconnects by itself with
 * backoff when the connection drops (listening on every channel again), and checks a quiet
 * connection is still alive with a periodic ping.
 */
import pg from 'pg';
import { WORK_CHANNEL } from './sql.js';

export interface WorkListenerOptions {
  config: pg.ClientConfig;
  /** A notification arrived on one of the channels. */
  onNotify(channel: string, payload: string | undefined): void;
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
  /** The channels to listen on (on every connection). */
  readonly #channels = new Set<string>([WORK_CHANNEL]);
  /** LISTENs sent on the current connection after it was ready (`listen`); `listening` waits for them. */
  #added: Promise<void> = Promise.resolve();
  /** Drops the current connection (and reconnects). */
  #drop: ((error: unknown) => void) | undefined;
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

  /** Listens on `channel` too, from now on (starting the connection if needed). */
  listen(channel: string): void {
    if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`invalid channel name "${channel}"`);
    if (!this.#channels.has(channel)) {
      this.#channels.add(channel);
      const client = this.#client;
      const drop = this.#drop;
      // Connected: LISTEN now. Connecting: #connect listens on every channel before it is ready.
      if (client !== undefined && drop !== undefined && this.#ready.settled) {
        const done = client.query(`LISTEN ${channel}`).then(() => undefined, drop);
        this.#added = Promise.all([this.#added, done]).then(() => undefined);
      }
    }
    this.start();
  }

  /** Resolves once LISTEN is active on every channel (now, or after the reconnect in progress); rejects once stopped. */
  async listening(): Promise<void> {
    this.start();
    for (;;) {
      await this.#ready.promise;
      const added = this.#added;
      await added;
      // A drop meanwhile replaced #ready (and the LISTENs): wait for the new connection.
      if (this.#ready.settled && this.#client !== undefined && added === this.#added) return;
    }
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
      if (this.#channels.has(message.channel)) this.options.onNotify(message.channel, message.payload);
    });
    this.#drop = drop;
    this.#added = Promise.resolve();
    try {
      await client.connect();
      // Until every channel is listened on: `listen` may add one while a LISTEN is under way.
      const listened = new Set<string>();
      for (let missing = [...this.#channels]; missing.length > 0; missing = [...this.#channels].filter((channel) => !listened.has(channel))) {
        await client.query(missing.map((channel) => `LISTEN ${channel}`).join('; '));
        for (const channel of missing) listened.add(channel);
      }
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
