/**
 * Time for runners, passed in so tests can drive it. The engine core never reads a clock; runners
 * stamp events with `now()` and implement timers with `setTimer`.
 */

/** A cancellable timer handle. */
export interface TimerHandle {
  cancel(): void;
}

/** The clock a runner uses. */
export interface Clock {
  now(): number;
  setTimer(ms: number, callback: () => void): TimerHandle;
}

/** Wall-clock time and real timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(ms, callback) {
    const handle = setTimeout(callback, Math.max(0, ms));
    return { cancel: () => clearTimeout(handle) };
  },
};

/** Waits `ms` on `clock`, rejecting with the signal's reason when it aborts first. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(abortReason(signal));
      return;
    }
    const onAbort = (): void => {
      timer.cancel();
      reject(abortReason(signal!));
    };
    const timer = clock.setTimer(ms, () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('aborted', 'AbortError');
}

/**
 * A clock that only moves when told to: retries, backoff and timeouts become instant and exact in
 * tests. `advance` runs due timers in time order and lets promise callbacks settle between them.
 */
export class ManualClock implements Clock {
  #now: number;
  #sequence = 0;
  readonly #timers = new Map<number, { at: number; callback: () => void }>();

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimer(ms: number, callback: () => void): TimerHandle {
    const id = (this.#sequence += 1);
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), callback });
    return { cancel: () => this.#timers.delete(id) };
  }

  /** Number of timers not yet fired. */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `ms`, firing due timers in order. */
  async advance(ms: number): Promise<void> {
    const until = this.#now + ms;
    await settle();
    for (let next = this.#nextDue(until); next !== undefined; next = this.#nextDue(until)) {
      const [id, timer] = next;
      this.#timers.delete(id);
      this.#now = Math.max(this.#now, timer.at);
      timer.callback();
      await settle();
    }
    this.#now = until;
    await settle();
  }

  /** Fires timers until none is left (or `limit` have fired). */
  async runAll(limit = 10_000): Promise<void> {
    await settle();
    for (let fired = 0; this.#timers.size > 0 && fired < limit; fired += 1) {
      const next = this.#nextDue(Number.POSITIVE_INFINITY)!;
      await this.advance(next[1].at - this.#now);
    }
  }

  #nextDue(until: number): [number, { at: number; callback: () => void }] | undefined {
    let best: [number, { at: number; callback: () => void }] | undefined;
    for (const entry of this.#timers) if (entry[1].at <= until && (best === undefined || entry[1].at < best[1].at)) best = entry;
    return best;
  }
}

/** Lets pending promise callbacks (several hops deep) run. */
async function settle(): Promise<void> {
  for (let round = 0; round < 20; round += 1) await new Promise<void>((resolve) => setImmediate(resolve));
}
