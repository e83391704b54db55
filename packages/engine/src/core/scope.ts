/**
 * What a node sees: a frozen view of the run input, vars, its upstream outputs and (inside a
 * sub-graph) the names its enclosing graph lends it. Built from the names its templates read, so a
 * node in a 10,000-node run does not copy 10,000 outputs.
 */
import { NonRetryableError } from '../errors.js';
import type { EvaluationBindings, Scope } from '../expressions/resolve.js';
import { resolveValue } from '../expressions/resolve.js';
import type { Plan, PlannedNode } from '../plan/types.js';
import { describeParamIssues } from '../validation/params.js';
import type { RunState } from './types.js';

/** Where a scope's values come from: the run state in memory, or a store later. */
export interface ScopeSource {
  readonly input: unknown;
  outputOf(nodeIndex: number): unknown;
}

/** A scope source over an in-memory run state. */
export function stateScopeSource(state: RunState): ScopeSource {
  return { input: state.input, outputOf: (index) => state.steps[index]?.output };
}

/** Builds the scope holding `names` (plus `input` and `vars`) for a step. */
export function buildScope(
  plan: Plan,
  source: ScopeSource,
  names: Iterable<string>,
  outer: Scope | undefined,
  extra?: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const scope: Record<string, unknown> = { input: source.input, vars: plan.workflow.vars };
  for (const name of names) {
    if (Object.hasOwn(scope, name)) continue;
    const node = plan.byId.get(name);
    if (node !== undefined) scope[name] = source.outputOf(node.index);
    else if (outer !== undefined && Object.hasOwn(outer, name)) scope[name] = outer[name];
  }
  if (extra !== undefined) Object.assign(scope, extra);
  return scope;
}

/**
 * Resolves a node's templates and validates the result against its params schema. Deferred params
 * are passed through raw (the node evaluates them itself).
 */
export async function resolveNodeParams(node: PlannedNode, scope: Scope, clock: EvaluationBindings): Promise<unknown> {
  if (node.staticParams !== undefined) return node.staticParams.value;
  const resolved = (await resolveValue(node.params, scope, clock)) as Record<string, unknown>;
  for (const key of node.deferred.keys()) resolved[key] = node.node.data[key];
  const parsed = node.nodeType.params.safeParse(resolved);
  if (!parsed.success) {
    throw new NonRetryableError('INVALID_PARAMS', `node "${node.id}" (${node.nodeType.type}): ${describeParamIssues(parsed.error)}`);
  }
  return parsed.data;
}

/** Freezes a value and everything inside it, so no node can change another node's output. */
export function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return value;
  Object.freeze(value);
  for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  return value;
}
