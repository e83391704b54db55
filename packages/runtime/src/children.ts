/**
 * Child runs started by nodes: sub-graphs (`forEach`/`loop` bodies) and sub-workflows. They run in
 * memory, inside the attempt of the step that started them, on the same engine core; a durable
 * step that crashes re-runs its children with it (at-least-once, like any step).
 */
import { FlowPilotError, planWorkflow, type Plan } from '@flowpilot/engine';
import { childFailure, type ChildRunner } from './attempt.js';
import type { MemoryRunOptions } from './options.js';
import type { RunResult } from './result.js';

/** Starts a run and resolves to its result (`new MemoryRun(plan, options).result`). */
export type RunStarter = (plan: Plan, options: MemoryRunOptions) => Promise<RunResult>;

/** The child runner of a run `runId` at nesting `depth`, configured by the parent's options. */
export function createChildRunner(runId: string, depth: number, options: MemoryRunOptions, start: RunStarter): ChildRunner {
  const maxDepth = options.maxDepth ?? 16;
  const childDepth = depth + 1;
  const lineage = options.lineage ?? (options.source === undefined ? [] : [options.source]);
  const child = async (plan: Plan, input: unknown, extra: Partial<MemoryRunOptions>, label: string): Promise<unknown> => {
    if (childDepth > maxDepth) {
      throw new FlowPilotError('MAX_DEPTH', `${label}: nesting exceeds ${maxDepth} levels (${[...lineage, label].join(' → ')})`, { retryable: false });
    }
    const result = await start(plan, { ...options, runId: `${runId}/${label}`, input, depth: childDepth, lineage, outerScope: undefined, ...extra });
    if (result.status !== 'succeeded') throw childFailure(label, result.error ?? { code: 'CHILD_FAILED', message: result.status });
    return result.output;
  };
  return {
    runSubgraph: (plan, input, outerScope, signal, label) => child(plan, input, { outerScope, signal }, label),
    runWorkflow: async (ref, input, signal) => {
      const label = ref.file ?? `${ref.workflowId ?? '?'}${ref.version === undefined ? '' : `@${ref.version}`}`;
      if (options.loadWorkflow === undefined) {
        throw new FlowPilotError('NO_WORKFLOW_LOADER', `cannot load workflow "${label}": this runner has no workflow loader`, { retryable: false });
      }
      const loaded = await options.loadWorkflow(ref, options.source);
      let plan: Plan;
      try {
        plan = planWorkflow(loaded.workflow, options.registry);
      } catch (error) {
        const info = error as FlowPilotError;
        throw new FlowPilotError('SUBWORKFLOW_INVALID', `sub-workflow "${label}": ${info.message}`, { retryable: false, details: info.details });
      }
      const source = loaded.source ?? label;
      return child(plan, input, { signal, source, lineage: [...lineage, source] }, label);
    },
  };
}
