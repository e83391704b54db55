/**
 * Workflow concurrency limits, read outside transactions and cached for a second. Most workflows
 * have none; knowing that lets a finishing run skip locking its workflow row, which every
 * completion of that workflow would otherwise queue on.
 */
import type { Store } from '@flowpilot/store';

const TTL_MS = 1000;

export class WorkflowLimits {
  readonly #entries = new Map<string, { limit: number | null; at: number }>();

  constructor(private readonly store: Store) {}

  /** Refreshes the cached limit when older than a second. */
  async load(workspaceId: string, workflowId: string): Promise<void> {
    const key = `${workspaceId}\u0000${workflowId}`;
    const entry = this.#entries.get(key);
    if (entry !== undefined && Date.now() - entry.at < TTL_MS) return;
    const workflow = await this.store.getWorkflow(workspaceId, workflowId).catch(() => undefined);
    this.#entries.set(key, { limit: workflow?.maxConcurrentRuns ?? null, at: Date.now() });
    if (this.#entries.size > 10_000) this.#entries.delete(this.#entries.keys().next().value!);
  }

  /** The cached limit: null = none; undefined = unknown (treat as limited and look under lock). */
  cached(workspaceId: string, workflowId: string): number | null | undefined {
    return this.#entries.get(`${workspaceId}\u0000${workflowId}`)?.limit;
  }

  forget(workspaceId: string, workflowId: string): void {
    this.#entries.delete(`${workspaceId}\u0000${workflowId}`);
  }
}
