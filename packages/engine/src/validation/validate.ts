/**
 * Validation: every problem of a workflow at once, and — when there are none — its plan. Never
 * throws, whatever JSON value it is given.
 */
import { FlowPilotError, NonRetryableError } from '../errors.js';
import { deepFreeze } from '../core/scope.js';
import type { NodeRegistry } from '../node-type.js';
import type { Plan, PlannedDeferred, PlannedEdge, PlannedNode } from '../plan/types.js';
import { retryPolicySchema, workflowSchema, type Workflow } from '../workflow/schema.js';
import { findCycles, topologicalOrder } from './cycles.js';
import { allUpstreamIds, checkReferences, compileNode } from './expressions.js';
import { checkStructure, RESERVED_NAMES, type DraftGraph, type JsonPath } from './graph.js';
import { formatPath, IssueCollector, type ValidationReport } from './issues.js';

/** The report, plus the parsed workflow and its plan when valid. */
export interface ValidationResult extends ValidationReport {
  workflow?: Workflow;
  plan?: Plan;
}

const DEFAULT_RETRY = retryPolicySchema.parse({});
const NO_DEFERRED: Map<string, PlannedDeferred> = new Map();
const headerSchema = workflowSchema.omit({ nodes: true, edges: true });

/** Validates a workflow given as a JSON string or an already parsed value. */
export function validateWorkflow(value: unknown, registry: NodeRegistry): ValidationResult {
  const issues = new IssueCollector();
  try {
    return validateUnsafe(value, registry, issues);
  } catch (error) {
    // A defect in a node type's hooks must not turn validation into a crash.
    issues.error({ code: 'INVALID_SCHEMA', message: `validation failed unexpectedly: ${error instanceof Error ? error.message : String(error)}` });
    return { valid: false, errors: issues.errors, warnings: issues.warnings };
  }
}

/** Validates and plans, throwing `WORKFLOW_INVALID` (with every issue in `details.errors`) when invalid. */
export function planWorkflow(value: unknown, registry: NodeRegistry): Plan {
  const result = validateWorkflow(value, registry);
  if (result.plan === undefined) {
    const first = result.errors[0];
    const more = result.errors.length > 1 ? ` (and ${result.errors.length - 1} more)` : '';
    throw new NonRetryableError('WORKFLOW_INVALID', `invalid workflow: ${first?.message ?? 'unknown problem'}${more}`, {
      details: { errors: result.errors },
    });
  }
  return result.plan;
}

function validateUnsafe(value: unknown, registry: NodeRegistry, issues: IssueCollector): ValidationResult {
  let json = value;
  if (typeof value === 'string') {
    try {
      json = JSON.parse(value);
    } catch (error) {
      issues.error({ code: 'INVALID_JSON', message: `not valid JSON: ${error instanceof Error ? error.message : String(error)}` });
      return { valid: false, errors: issues.errors, warnings: issues.warnings };
    }
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    issues.error({ code: 'INVALID_SCHEMA', message: 'a workflow must be a JSON object with "name", "nodes" and "edges"' });
    return { valid: false, errors: issues.errors, warnings: issues.warnings };
  }
  const { nodes, edges, ...rest } = json as Record<string, unknown>;
  const header = headerSchema.safeParse(rest);
  if (!header.success) {
    for (const issue of header.error.issues) {
      const at = issue.path.length > 0 ? formatPath(issue.path) : '(workflow)';
      issues.error({ code: 'INVALID_SCHEMA', message: `${at}: ${issue.message}`, path: issue.path.length > 0 ? at : undefined });
    }
  }
  const draft = checkStructure(nodes, edges ?? [], [], registry, issues);
  const workflow: Workflow | undefined = header.success
    ? { ...header.data, vars: deepFreeze(header.data.vars), nodes: draft.nodes.map((node) => node.node), edges: draft.edges.map((edge) => edge.edge) }
    : undefined;
  const plan = checkGraph(draft, workflow, new Set(), [], registry, issues);
  const valid = issues.errors.length === 0 && plan !== undefined && workflow !== undefined;
  const result: ValidationResult = { valid, errors: issues.errors, warnings: issues.warnings };
  if (valid) {
    result.workflow = workflow;
    result.plan = plan;
  }
  return result;
}

/** Checks cycles, templates and references of a structurally checked graph and plans it. */
function checkGraph(
  graph: DraftGraph,
  workflow: Workflow | undefined,
  outerNames: ReadonlySet<string>,
  path: JsonPath,
  registry: NodeRegistry,
  issues: IssueCollector,
): Plan | undefined {
  const errorsBefore = issues.errors.length;
  const count = graph.nodes.length;
  const successors: number[][] = Array.from({ length: count }, () => []);
  const incoming: number[][] = Array.from({ length: count }, () => []);
  for (const edge of graph.edges) {
    successors[edge.source]!.push(edge.target);
    incoming[edge.target]!.push(edge.source);
  }
  const { remaining } = topologicalOrder(count, successors);
  const plannedEdges: PlannedEdge[] = graph.edges.map(({ index, id, source, target, handle }) => ({ index, id, source, target, handle }));
  for (const cycle of remaining.length > 0 ? findCycles(remaining, successors) : []) {
    const ids = cycle.map((index) => graph.nodes[index]!.node.id);
    issues.error({ code: 'CYCLE', message: `cycle: ${[...ids, ids[0]].join(' → ')}`, nodeId: ids[0], nodeIds: ids, path: formatPath([...path, 'edges']) });
  }

  const planned: PlannedNode[] = [];
  const plannedIncoming: PlannedEdge[][] = Array.from({ length: count }, () => []);
  const plannedOutgoing: PlannedEdge[][] = Array.from({ length: count }, () => []);
  for (const edge of plannedEdges) {
    plannedIncoming[edge.target]!.push(edge);
    plannedOutgoing[edge.source]!.push(edge);
  }
  const external = new Set<string>();
  const lend = (name: string): void => {
    if (!graph.byId.has(name) && !RESERVED_NAMES.has(name)) external.add(name);
  };
  for (const draft of graph.nodes) {
    const compiled = compileNode(draft, issues);
    checkReferences(graph, draft, compiled.reads, outerNames, incoming, issues);
    for (const name of compiled.reads.keys()) lend(name);
    const deferred = compiled.expressions.size + compiled.graphs.size === 0 ? NO_DEFERRED : new Map<string, PlannedDeferred>();
    for (const [key, expression] of compiled.expressions) deferred.set(key, { kind: 'expression', value: expression.value, scope: expression.scope });
    for (const [key, { raw, scope }] of compiled.graphs) {
      const graphPath = [...draft.path, 'data', key];
      const body = raw as { nodes?: unknown; edges?: unknown } | null;
      const inner = checkStructure(body?.nodes, body?.edges ?? [], graphPath, registry, issues);
      const visible = new Set([...outerNames, ...allUpstreamIds(graph, draft.index, incoming), ...scope]);
      const subplan = checkGraph(inner, workflow, visible, graphPath, registry, issues);
      if (subplan === undefined) continue;
      deferred.set(key, { kind: 'graph', plan: subplan });
      for (const name of subplan.externalNames) if (!scope.includes(name)) lend(name);
    }
    if (draft.nodeType === undefined) continue;
    planned.push({
      index: draft.index,
      id: draft.node.id,
      node: draft.node,
      nodeType: draft.nodeType,
      incoming: plannedIncoming[draft.index]!,
      outgoing: plannedOutgoing[draft.index]!,
      join: draft.join,
      retry: draft.node.retry ?? DEFAULT_RETRY,
      timeoutMs: draft.node.timeoutMs,
      onError: draft.node.onError ?? 'fail',
      params: compiled.params,
      staticParams: compiled.params.kind === 'literal' ? draft.parsedParams : undefined,
      deferred,
      rootNames: compiled.rootNames,
    });
  }
  if (count > 1) {
    for (const draft of graph.nodes) {
      if (successors[draft.index]!.length === 0 && incoming[draft.index]!.length === 0) {
        issues.warn({ code: 'ORPHAN_NODE', message: `node "${draft.node.id}" has no edges: it runs on its own and nothing reads it`, nodeId: draft.node.id, path: formatPath(draft.path) });
      }
    }
  }
  if (issues.errors.length > errorsBefore || workflow === undefined || planned.length !== count) return undefined;
  return assemblePlan(workflow, planned, plannedEdges, external);
}

function assemblePlan(workflow: Workflow, nodes: PlannedNode[], edges: PlannedEdge[], externalNames: Set<string>): Plan {
  const byId = new Map(nodes.map((node) => [node.id, node]));
  if (byId.size !== nodes.length) throw new FlowPilotError('INTERNAL', 'plan has duplicate node ids');
  const roots: number[] = [];
  const outputNodes: number[] = [];
  const sinks: number[] = [];
  for (const node of nodes) {
    if (node.incoming.length === 0) roots.push(node.index);
    if (node.outgoing.length === 0) sinks.push(node.index);
    if (node.nodeType.providesRunOutput === true) outputNodes.push(node.index);
  }
  return { workflow, nodes, byId, edges, roots, outputNodes, sinks, externalNames };
}
