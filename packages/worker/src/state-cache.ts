/**
 * Run states by run id, each at a known event `seq`. A cache, never the truth: the events in the
 * store are. A transition under the run's lock catches the cached state up by reading only the
 * events it missed (another worker's), so a worker keeps no run it is not touching and no history.
 */
import { applyEvent, createRunState, type Plan, type RunState } from '@flowpilot/engine';
import { runEventsKey, type RunRecord, type StoreTransaction } from '@flowpilot/store';

interface Entry {
  state: RunState;
  seq: number;
}

export class RunStateCache {
  readonly #entries = new Map<string, Entry>();

  constructor(private readonly capacity = 1000) {}

  /** The state of `run` at `run.lastSeq`, with `touched` cleared, read under its lock. */
  async load(tx: StoreTransaction, run: RunRecord, plan: Plan): Promise<RunState> {
    let entry = this.#entries.get(run.id);
    this.#entries.delete(run.id);
    if (entry === undefined || entry.seq > run.lastSeq) entry = { state: createRunState(plan, run.id), seq: 0 };
    if (entry.seq < run.lastSeq) {
      for (const stored of await tx.readEvents(run.workspaceId, run.id, entry.seq)) applyEvent(plan, entry.state, stored.event);
      entry.seq = run.lastSeq;
    }
    entry.state.touched.clear();
    this.#remember(run.id, entry);
    return entry.state;
  }

  /**
   * Brings the states of several locked runs up to their `last_seq` with one read for all (on
   * PostgreSQL one round trip instead of one per run: a worker's commit covers many runs it never
   * saw before). `load` then finds them current.
   */
  async prefetch(tx: StoreTransaction, items: ReadonlyArray<{ run: RunRecord; plan: Plan }>): Promise<void> {
    const behind: Array<{ run: RunRecord; plan: Plan; entry: Entry }> = [];
    for (const { run, plan } of items) {
      let entry = this.#entries.get(run.id);
      if (entry === undefined || entry.seq > run.lastSeq) {
        entry = { state: createRunState(plan, run.id), seq: 0 };
        this.#remember(run.id, entry);
      }
      if (entry.seq < run.lastSeq) behind.push({ run, plan, entry });
    }
    if (behind.length < 2) return;
    const events = await tx.readEventsOfRuns(behind.map(({ run, entry }) => ({ workspaceId: run.workspaceId, runId: run.id, afterSeq: entry.seq })));
    for (const { run, plan, entry } of behind) {
      for (const stored of events.get(runEventsKey(run.workspaceId, run.id)) ?? []) applyEvent(plan, entry.state, stored.event);
      entry.seq = run.lastSeq;
    }
  }

  /** Records that the cached state of `runId` now reflects `seq` (after a committed write). */
  advance(runId: string, seq: number): void {
    const entry = this.#entries.get(runId);
    if (entry !== undefined) entry.seq = seq;
  }

  /** A state read without a lock (may be behind): for outputs, which never change once written. */
  peek(runId: string): RunState | undefined {
    return this.#entries.get(runId)?.state;
  }

  /** Forgets everything: a failed transaction may have left uncommitted changes in cached states. */
  clear(): void {
    this.#entries.clear();
  }

  #remember(runId: string, entry: Entry): void {
    this.#entries.set(runId, entry);
    // Map iteration order is insertion order: the first key is the least recently used.
    while (this.#entries.size > this.capacity) this.#entries.delete(this.#entries.keys().next().value!);
  }
}
