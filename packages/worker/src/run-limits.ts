/**
 * Workspace limits a running run is held to (docs/security.md, Limits):
 *
 * - **duration**: the core's run timeout (`settings.timeoutMs`) is reused. Transitions see the plan
 *   with the smaller of the workflow's timeout and the workspace's `maxRunDurationMs`; when the
 *   workspace's is the smaller, the failure says `LIMIT_RUN_DURATION` instead of `RUN_TIMEOUT`.
 * - **steps**: a run's nodes, plus every step its forEach/loop bodies and sub-workflows start,
 *   may not exceed `maxStepsPerRun` (see {@link StepBudgets}).
 *
 * Limits are read outside transactions and cached for a second per workspace, like workflow
 * concurrency limits: a step costs no store round trip for them.
 */
import { FlowPilotError, type ErrorInfo, type Plan } from '@flowpilot/engine';
import { TtlCache } from '@flowpilot/runtime';

/** The limits the worker enforces (the server resolves defaults and workspace overrides). */
export interface RunLimits {
  maxRunDurationMs?: number;
  maxStepsPerRun?: number;
}

/** Where the limits of a workspace come from. */
export type RunLimitsSource = (workspaceId: string) => Promise<RunLimits>;

const TTL_MS = 1000;

export class RunLimitsCache {
  readonly #limits = new TtlCache<RunLimits>(TTL_MS);

  constructor(private readonly source: RunLimitsSource | undefined) {}

  /** Refreshes the workspace's limits when older than a second (a failed read keeps the last known). */
  async load(workspaceId: string): Promise<void> {
    const source = this.source;
    if (source === undefined) return;
    await this.#limits.get(workspaceId, (previous) => source(workspaceId).catch(() => previous ?? {}));
  }

  /** The last known limits of the workspace (none before the first `load`). */
  cached(workspaceId: string): RunLimits {
    return this.#limits.peek(workspaceId) ?? {};
  }
}

const limitedPlans = new WeakMap<Plan, Map<number, Plan>>();

/**
 * The plan transitions use: `plan` itself, or a copy whose run timeout is the workspace's
 * `maxRunDurationMs` when that is shorter than the workflow's own (`limited` is then true).
 */
export function durationLimitedPlan(plan: Plan, limits: RunLimits): { plan: Plan; limited: boolean } {
  const max = limits.maxRunDurationMs;
  const own = plan.workflow.settings.timeoutMs;
  if (max === undefined || (own !== undefined && own <= max)) return { plan, limited: false };
  let byMax = limitedPlans.get(plan);
  if (byMax === undefined) limitedPlans.set(plan, (byMax = new Map()));
  let limited = byMax.get(max);
  if (limited === undefined) {
    limited = { ...plan, workflow: { ...plan.workflow, settings: { ...plan.workflow.settings, timeoutMs: max } } };
    byMax.set(max, limited);
  }
  return { plan: limited, limited: true };
}

/** The error of a run stopped by the workspace's duration limit. */
export function runDurationError(max: number): ErrorInfo {
  return { code: 'LIMIT_RUN_DURATION', message: `run exceeded the workspace's maximum duration of ${max} ms (maxRunDurationMs)`, retryable: false, details: { limit: 'maxRunDurationMs', max } };
}

/**
 * Steps started by the children (forEach/loop bodies, sub-workflows) of each run's attempts in this
 * process. A run's budget is `maxStepsPerRun` less its own nodes; children of all its attempts run
 * here draw on one budget. Counts live in this process's memory (the most recent 10,000 runs): a
 * run whose attempts spread over several worker processes is held to the limit in each.
 */
export class StepBudgets {
  readonly #used = new Map<string, number>();

  /** Counts one child step of the run; returns the number used so far. */
  take(runId: string): number {
    const used = (this.#used.get(runId) ?? 0) + 1;
    this.#used.delete(runId);
    this.#used.set(runId, used);
    if (this.#used.size > 10_000) this.#used.delete(this.#used.keys().next().value!);
    return used;
  }
}

/** The error of a run over its step limit. */
export function stepLimitError(max: number, detail: string): FlowPilotError {
  return new FlowPilotError('LIMIT_STEPS_PER_RUN', `${detail}: a run of this workspace may execute at most ${max} steps (maxStepsPerRun)`, {
    retryable: false,
    details: { limit: 'maxStepsPerRun', max },
  });
}
