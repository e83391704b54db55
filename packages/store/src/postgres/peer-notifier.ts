/**
 * Tells other processes, after commit, what this store's transactions did: `flowpilot_work` when
 * one enqueued unleased work, `flowpilot_events` per run that got new events.
 *
 * Why not NOTIFY inside the writing transaction: PostgreSQL serialises the commits of all
 * transactions that sent a NOTIFY (a database-wide lock held through the commit's WAL flush), so
 * notifying writers could not commit in parallel. Notices are hints (listeners re-read the store,
 * workers also poll), so they are sent after commit, coalesced — everything that piled up while
 * the previous send was in flight goes in one statement — and with `synchronous_commit = off`:
 * a notice lost to a server crash only delays a listener until its next poll.
 */
import type { EventsNotice } from '../catalog-types.js';
import type { Exec } from './queries.js';
import { EVENTS_CHANNEL, sql, WORK_CHANNEL } from './sql.js';

/** NOTIFY's payload limit is 8000 bytes: a longer notice (ids thousands of characters long) is dropped. */
const MAX_PAYLOAD = 7999;

const NOTIFY = sql(
  'notify_peers',
  `WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true))
   SELECT COUNT(pg_notify(n.channel, n.payload))::int AS sent
   FROM relaxed, unnest(@channels::text[], @payloads::text[]) AS n(channel, payload)`,
);

export class PeerNotifier {
  #work = false;
  #events: EventsNotice[] = [];
  #sending: Promise<void> | undefined;

  constructor(
    /** Runs one statement on a pooled connection. */
    private readonly run: (fn: (exec: Exec) => Promise<unknown>) => Promise<unknown>,
    /** This store's source id: the work payload and every events notice's `source`. */
    private readonly source: string,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** After a commit: `work` when it enqueued unleased items; its events notices. */
  committed(work: boolean, notices: readonly EventsNotice[]): void {
    if (!work && notices.length === 0) return;
    this.#work ||= work;
    this.#events.push(...notices);
    this.#sending ??= this.#send().finally(() => {
      this.#sending = undefined;
    });
  }

  /** Resolves once everything handed over so far was sent (tests, shutdown). */
  async flushed(): Promise<void> {
    while (this.#sending !== undefined) await this.#sending;
  }

  async #send(): Promise<void> {
    // One macrotask later: the commits of this turn go in the same statement.
    await new Promise((resolve) => setImmediate(resolve));
    while (this.#work || this.#events.length > 0) {
      const channels: string[] = [];
      const payloads: string[] = [];
      if (this.#work) {
        channels.push(WORK_CHANNEL);
        payloads.push(this.source);
      }
      for (const notice of this.#events) {
        const payload = JSON.stringify({ source: this.source, ...notice });
        if (Buffer.byteLength(payload) > MAX_PAYLOAD) continue;
        channels.push(EVENTS_CHANNEL);
        payloads.push(payload);
      }
      this.#work = false;
      this.#events = [];
      try {
        await this.run((exec) => exec(NOTIFY, { channels, payloads }));
      } catch (error) {
        this.onError(error);
      }
    }
  }
}
