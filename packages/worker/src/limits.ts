/**
 * Workflow concurrency limits, read outside transactions and cached for a second. Most workflows
 * have none; knowing that lets a finishing run skip locking its workflow row, which every
 * completion of that workflow would otherwise queue on.
 */
import type { Store } from '@flowpilot/store';
import { TtlCache } from '@flowpilot/runtime';

const TTL_MS = 1000;

export class WorkflowLimits {
  readonly #limits = new TtlCache<number | null>(TTL_MS);

  constructor(private readonly store: Store) {}

  /** Refreshes the cached limit when older than a second. */
  async load(workspaceId: string, workflowId: string): Promise<void> {
    await this.#limits.get(key(workspaceId, workflowId), async () => {
      const workflow = await this.store.getWorkflow(workspaceId, workflowId).catch(() => undefined);
      return workflow?.maxConcurrentRuns ?? null;
    });
  }

  /** The cached limit: null = none; undefined = unknown (treat as limited and look under lock). */
  cached(workspaceId: string, workflowId: string): number | null | undefined {
    return this.#limits.peek(key(workspaceId, workflowId));
  }

  forget(workspaceId: string, workflowId: string): void {
    this.#limits.delete(key(workspaceId, workflowId));
  }
}

function key(workspaceId: string, workflowId: string): string {
  return `${workspaceId}\u0000${workflowId}`;
}
