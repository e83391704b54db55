/**
 * Live events: fans out "run X has new events" notices (from this process or, on PostgreSQL, from
 * any process via LISTEN/NOTIFY) to subscribers, who then read the events themselves from the
 * store. The store is the single source, so a subscriber never misses or duplicates an event.
 */
import { FINISHED_RUN_STATUSES } from '@flowpilot/engine';
import type { EventsNotice, RunRecord } from '@flowpilot/store';
import type { ServerStore } from './server-store.js';

type Listener = (notice: EventsNotice) => void;

export class EventHub {
  readonly #byRun = new Map<string, Set<Listener>>();
  readonly #byWorkflow = new Map<string, Set<Listener>>();
  #unsubscribe: (() => void) | undefined;

  constructor(private readonly store: ServerStore) {}

  start(): void {
    this.#unsubscribe ??= this.store.onEvents((notice) => {
      for (const listener of this.#byRun.get(notice.runId) ?? []) listener(notice);
      for (const listener of this.#byWorkflow.get(`${notice.workspaceId}\u0000${notice.workflowId}`) ?? []) listener(notice);
    });
  }

  stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  onRun(runId: string, listener: Listener): () => void {
    return add(this.#byRun, runId, listener);
  }

  onWorkflow(workspaceId: string, workflowId: string, listener: Listener): () => void {
    return add(this.#byWorkflow, `${workspaceId}\u0000${workflowId}`, listener);
  }

  /**
   * Resolves with the finished run, or undefined after `timeoutMs`. `known` is the run as its
   * starter just saw it (saves a read when it is not finished yet).
   */
  async waitForFinish(workspaceId: string, runId: string, timeoutMs: number, known?: RunRecord): Promise<RunRecord | undefined> {
    let wake: () => void = () => undefined;
    // Only a commit that finished the run is worth a read; the others carry a non-final status or none.
    const off = this.onRun(runId, (notice) => {
      if (notice.status !== undefined && FINISHED_RUN_STATUSES.has(notice.status)) wake();
    });
    const deadline = Date.now() + timeoutMs;
    try {
      for (;;) {
        const signalled = new Promise<void>((resolve) => (wake = resolve));
        const run = known ?? (await this.store.getRun(workspaceId, runId));
        known = undefined;
        if (run === undefined || FINISHED_RUN_STATUSES.has(run.status)) return run;
        const left = deadline - Date.now();
        if (left <= 0) return undefined;
        // A notice may come from another process; poll now and then in case one is lost.
        await Promise.race([signalled, new Promise((resolve) => setTimeout(resolve, Math.min(left, 1000)))]);
      }
    } finally {
      off();
    }
  }
}

function add(map: Map<string, Set<Listener>>, key: string, listener: Listener): () => void {
  let set = map.get(key);
  if (set === undefined) map.set(key, (set = new Set()));
  set.add(listener);
  return () => {
    set.delete(listener);
    if (set.size === 0) map.delete(key);
  };
}
