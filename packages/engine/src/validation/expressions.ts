/** Compiles a node's templates and checks that every name they read is in scope. */
import { compileValue, collectValueRootNames, expressionsOf, type CompiledValue, type TemplateProblem } from '../expressions/template.js';
import type { DeferredParam } from '../node-type.js';
import type { DraftGraph, DraftNode, JsonPath } from './graph.js';
import { RESERVED_NAMES } from './graph.js';
import { formatPath, type IssueCollector } from './issues.js';

/** A node's compiled templates. Deferred graphs are returned raw for the caller to recurse into. */
export interface CompiledNode {
  readonly params: CompiledValue;
  readonly expressions: Map<string, { value: CompiledValue; scope: readonly string[] }>;
  readonly graphs: Map<string, { raw: unknown; scope: readonly string[] }>;
  /** Names read by the non-deferred params (what the scope built before `execute` must hold). */
  readonly rootNames: Set<string>;
  /** Every name read, with where it was first read, for the reference check. */
  readonly reads: Map<string, JsonPath>;
}

// Shared by every template-free node; never mutated.
const NO_NAMES: Set<string> = new Set();
const NO_READS: Map<string, JsonPath> = new Map();
const NO_EXPRESSIONS: CompiledNode['expressions'] = new Map();
const NO_GRAPHS: CompiledNode['graphs'] = new Map();

/** Does any string inside `value` hold a template? */
function containsTemplate(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('{{');
  if (value === null || typeof value !== 'object') return false;
  for (const item of Array.isArray(value) ? value : Object.values(value)) if (containsTemplate(item)) return true;
  return false;
}

export function compileNode(draft: DraftNode, issues: IssueCollector): CompiledNode {
  // Most nodes of large workflows hold no template: skip the compile machinery for them.
  if (draft.nodeType?.deferredParams === undefined && !containsTemplate(draft.node.data)) {
    return { params: { kind: 'literal', value: draft.node.data }, expressions: NO_EXPRESSIONS, graphs: NO_GRAPHS, rootNames: NO_NAMES, reads: NO_READS };
  }
  const deferred: Readonly<Record<string, DeferredParam>> = draft.nodeType?.deferredParams ?? {};
  const eager: Record<string, unknown> = {};
  const compiled: CompiledNode = { params: { kind: 'literal', value: {} }, expressions: new Map(), graphs: new Map(), rootNames: new Set(), reads: new Map() };
  const dataPath = [...draft.path, 'data'];
  const problems: TemplateProblem[] = [];
  for (const [key, value] of Object.entries(draft.node.data)) {
    const kind = deferred[key];
    if (kind?.kind === 'graph') {
      compiled.graphs.set(key, { raw: value, scope: kind.scope ?? [] });
    } else if (kind?.kind === 'expression') {
      const compiledValue = compileValue(value, problems, [key]);
      compiled.expressions.set(key, { value: compiledValue, scope: kind.scope });
      const extra = new Set(kind.scope);
      for (const name of collectValueRootNames(compiledValue)) if (!extra.has(name) && !compiled.reads.has(name)) compiled.reads.set(name, [...dataPath, key]);
    } else {
      eager[key] = value;
    }
  }
  const params = compileValue(eager, problems, []);
  collectValueRootNames(params, compiled.rootNames);
  for (const { path, expression } of expressionsOf(params)) {
    for (const name of expression.rootNames) if (!compiled.reads.has(name)) compiled.reads.set(name, [...dataPath, ...path]);
  }
  for (const problem of problems) {
    issues.error({
      code: 'INVALID_EXPRESSION',
      message: `node "${draft.node.id}": ${formatPath(problem.path)}: ${problem.message}`,
      nodeId: draft.node.id,
      path: formatPath([...dataPath, ...problem.path]),
    });
  }
  return { ...compiled, params };
}

/**
 * Reports names a node reads that are neither run-level names, names of an enclosing graph, nor
 * nodes upstream of it. The upstream search walks incoming edges and stops once every name is found.
 */
export function checkReferences(
  graph: DraftGraph,
  draft: DraftNode,
  reads: ReadonlyMap<string, JsonPath>,
  outerNames: ReadonlySet<string>,
  incoming: ReadonlyArray<readonly number[]>,
  issues: IssueCollector,
): void {
  const wanted = new Set<string>();
  for (const name of reads.keys()) if (!RESERVED_NAMES.has(name) && !outerNames.has(name)) wanted.add(name);
  if (wanted.size === 0) return;
  const found = upstreamNames(graph, draft.index, wanted, incoming);
  for (const name of wanted) {
    if (found.has(name)) continue;
    const target = graph.byId.get(name);
    const why = target === undefined ? 'no node or variable has that name' : target === draft ? 'a node cannot read its own output' : `node "${name}" is not upstream of it`;
    issues.error({
      code: 'UNKNOWN_REFERENCE',
      message: `node "${draft.node.id}" reads "${name}", but ${why}`,
      nodeId: draft.node.id,
      path: formatPath(reads.get(name) ?? draft.path),
    });
  }
}

function upstreamNames(graph: DraftGraph, start: number, wanted: ReadonlySet<string>, incoming: ReadonlyArray<readonly number[]>): Set<string> {
  const found = new Set<string>();
  const visited = new Uint8Array(graph.nodes.length);
  const stack = [...incoming[start]!];
  while (stack.length > 0 && found.size < wanted.size) {
    const node = stack.pop()!;
    if (visited[node] === 1) continue;
    visited[node] = 1;
    const id = graph.nodes[node]!.node.id;
    if (wanted.has(id)) found.add(id);
    for (const source of incoming[node]!) if (visited[source] === 0) stack.push(source);
  }
  return found;
}

/** Every node upstream of `start`, by id: what a sub-graph of `start` may read from outside. */
export function allUpstreamIds(graph: DraftGraph, start: number, incoming: ReadonlyArray<readonly number[]>): Set<string> {
  const ids = new Set<string>();
  const visited = new Uint8Array(graph.nodes.length);
  const stack = [...incoming[start]!];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (visited[node] === 1) continue;
    visited[node] = 1;
    ids.add(graph.nodes[node]!.node.id);
    for (const source of incoming[node]!) if (visited[source] === 0) stack.push(source);
  }
  return ids;
}
