/**
 * What a claimed attempt reads: the run input and the outputs of the nodes it refers to, fetched
 * by node id (never the whole run), or taken from this process's cached state when it has them.
 */
import { collectValueRootNames, deepFreeze, stateScopeSource, type Plan, type PlannedNode, type ScopeSource } from '@flowpilot/engine';
import type { Store } from '@flowpilot/store';
import type { RunStateCache } from './state-cache.js';

const neededByNode = new WeakMap<PlannedNode, readonly string[]>();

/** Node ids whose outputs an attempt of `node` may read: its templates' names and its inputs. */
export function neededOutputs(plan: Plan, node: PlannedNode, inputs: readonly string[]): string[] {
  let names = neededByNode.get(node);
  if (names === undefined) {
    const all = new Set(node.rootNames);
    for (const deferred of node.deferred.values()) {
      if (deferred.kind === 'graph') for (const name of deferred.plan.externalNames) all.add(name);
      else collectValueRootNames(deferred.value, all);
    }
    names = [...all].filter((name) => plan.byId.has(name));
    neededByNode.set(node, names);
  }
  return [...new Set([...names, ...inputs])];
}


/** Loads the scope source of an attempt. */
export async function loadScopeSource(
  store: Store,
  states: RunStateCache,
  inputs: Map<string, unknown>,
  step: { workspaceId: string; runId: string; inputs: readonly string[]; input?: unknown },
  plan: Plan,
  node: PlannedNode,
): Promise<ScopeSource> {
  const needed = neededOutputs(plan, node, step.inputs);
  const cached = states.peek(step.runId);
  // Outputs never change once a step succeeded, so a cached state that has them all is good enough.
  if (cached !== undefined && needed.every((id) => cached.steps[plan.byId.get(id)!.index]?.status === 'succeeded')) {
    return stateScopeSource(cached);
  }
  let input = inputs.get(step.runId);
  if (input === undefined) {
    // A claim brings the run's input along; an eager lease's run is usually cached.
    input = deepFreeze(step.input !== undefined ? step.input : ((await store.getRun(step.workspaceId, step.runId))?.input ?? {}));
    inputs.set(step.runId, input);
    if (inputs.size > 1000) inputs.delete(inputs.keys().next().value!);
  }
  const outputs = needed.length === 0 ? new Map<string, unknown>() : await store.readOutputs(step.workspaceId, step.runId, needed);
  for (const value of outputs.values()) deepFreeze(value);
  return { input, outputOf: (index) => outputs.get(plan.nodes[index]!.id) };
}
