/** Plans by workflow version: built once per version and process, shared by every run of it. */
import { FlowPilotError, planWorkflow, type NodeRegistry, type Plan } from '@flowpilot/engine';
import type { Store } from '@flowpilot/store';

export class PlanCache {
  readonly #plans = new Map<string, Promise<Plan>>();

  constructor(
    private readonly store: Store,
    private readonly registry: NodeRegistry,
  ) {}

  /** The plan of a stored workflow version (versions are immutable, so this never goes stale). */
  get(workspaceId: string, workflowId: string, version: number): Promise<Plan> {
    const key = `${workspaceId}\u0000${workflowId}\u0000${version}`;
    let plan = this.#plans.get(key);
    if (plan === undefined) {
      plan = this.#load(workspaceId, workflowId, version);
      this.#plans.set(key, plan);
      plan.catch(() => this.#plans.delete(key));
    }
    return plan;
  }

  async #load(workspaceId: string, workflowId: string, version: number): Promise<Plan> {
    const record = await this.store.getWorkflowVersion(workspaceId, workflowId, version);
    if (record === undefined) {
      throw new FlowPilotError('WORKFLOW_NOT_FOUND', `workflow "${workflowId}" version ${version} not found`, { retryable: false });
    }
    return planWorkflow(record.definition, this.registry);
  }
}
