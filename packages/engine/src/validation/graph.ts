/** Structural checks of one graph: node shapes and ids, node types, params, edges and handles. */
import { ERROR_HANDLE, MAIN_HANDLE, type JoinMode, type NodeRegistry, type NodeType } from '../node-type.js';
import { NODE_ID_PATTERN, workflowEdgeSchema, workflowNodeSchema, type WorkflowEdge, type WorkflowNode } from '../workflow/schema.js';
import { formatPath, type IssueCollector } from './issues.js';
import { checkParams } from './params.js';

/** Names expressions use for the run itself; a node may not take them as its id. */
export const RESERVED_NAMES: ReadonlySet<string> = new Set(['input', 'vars']);

export type JsonPath = ReadonlyArray<string | number>;

/** A node that passed the shape check; `nodeType` is missing when the type is unknown. */
export interface DraftNode {
  readonly index: number;
  readonly node: WorkflowNode;
  readonly path: JsonPath;
  readonly nodeType: NodeType | undefined;
  readonly handles: ReadonlySet<string> | undefined;
  readonly join: JoinMode;
  /** The params parsed as written (valid without resolving any template). */
  readonly parsedParams: { value: unknown } | undefined;
}

export interface DraftEdge {
  readonly index: number;
  readonly id: string | undefined;
  readonly source: number;
  readonly target: number;
  readonly handle: string;
  readonly edge: WorkflowEdge;
}

export interface DraftGraph {
  readonly nodes: DraftNode[];
  readonly byId: Map<string, DraftNode>;
  readonly edges: DraftEdge[];
}

/** Checks nodes and edges of a graph located at `path`, keeping what is sound for later checks. */
export function checkStructure(
  rawNodes: unknown,
  rawEdges: unknown,
  path: JsonPath,
  registry: NodeRegistry,
  issues: IssueCollector,
): DraftGraph {
  const graph: DraftGraph = { nodes: [], byId: new Map(), edges: [] };
  if (!Array.isArray(rawNodes)) {
    issues.error({ code: 'INVALID_SCHEMA', message: `${formatPath([...path, 'nodes'])} must be an array of nodes`, path: formatPath([...path, 'nodes']) });
  } else {
    rawNodes.forEach((raw, position) => checkNode(raw, [...path, 'nodes', position], graph, registry, issues));
  }
  if (rawEdges !== undefined && !Array.isArray(rawEdges)) {
    issues.error({ code: 'INVALID_SCHEMA', message: `${formatPath([...path, 'edges'])} must be an array of edges`, path: formatPath([...path, 'edges']) });
  } else if (Array.isArray(rawEdges)) {
    const seenIds = new Set<string>();
    rawEdges.forEach((raw, position) => checkEdge(raw, [...path, 'edges', position], graph, seenIds, issues));
  }
  return graph;
}

function checkNode(raw: unknown, path: JsonPath, graph: DraftGraph, registry: NodeRegistry, issues: IssueCollector): void {
  const parsed = workflowNodeSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const at = formatPath([...path, ...issue.path]);
      const id = (raw as { id?: unknown } | null)?.id;
      issues.error({ code: 'INVALID_SCHEMA', message: `${at}: ${issue.message}`, path: at, nodeId: typeof id === 'string' ? id : undefined });
    }
    return;
  }
  const node = parsed.data;
  // Paths and labels are formatted only when there is something to report: this runs per node.
  const at = (): string => formatPath(path);
  if (!NODE_ID_PATTERN.test(node.id)) {
    issues.error({ code: 'INVALID_NODE_ID', message: `node id "${node.id}" must match ^[A-Za-z_][A-Za-z0-9_]*$ so expressions can name it`, nodeId: node.id, path: `${at()}.id` });
  } else if (RESERVED_NAMES.has(node.id)) {
    issues.error({ code: 'INVALID_NODE_ID', message: `node id "${node.id}" is reserved: expressions use it for the run's ${node.id}`, nodeId: node.id, path: `${at()}.id` });
  }
  if (graph.byId.has(node.id)) {
    issues.error({ code: 'DUPLICATE_NODE_ID', message: `node id "${node.id}" is used more than once`, nodeId: node.id, path: `${at()}.id` });
    return;
  }
  const nodeType = registry.get(node.type);
  let parsedParams: { value: unknown } | undefined;
  if (nodeType === undefined) {
    issues.error({ code: 'UNKNOWN_NODE_TYPE', message: `node "${node.id}" has unknown type "${node.type}"`, nodeId: node.id, path: `${at()}.type` });
  } else {
    parsedParams = checkParams(nodeType, node.data, node.id, [...path, 'data'], issues);
  }
  const draft: DraftNode = {
    index: graph.nodes.length,
    node,
    path,
    nodeType,
    handles: nodeType === undefined ? undefined : handlesOf(nodeType, node),
    join: joinOf(nodeType, node),
    parsedParams,
  };
  graph.nodes.push(draft);
  graph.byId.set(node.id, draft);
}

const MAIN_ONLY: ReadonlySet<string> = new Set([MAIN_HANDLE]);

/** A node type's handle function sees unvalidated data; a throw means "no extra handles". */
function handlesOf(nodeType: NodeType, node: WorkflowNode): ReadonlySet<string> {
  if (nodeType.handles === undefined && node.onError !== 'route') return MAIN_ONLY;
  let declared: readonly string[] = [MAIN_HANDLE];
  try {
    if (nodeType.handles !== undefined) declared = nodeType.handles(node.data);
  } catch {
    declared = [];
  }
  const handles = new Set(declared);
  if (node.onError === 'route') handles.add(ERROR_HANDLE);
  return handles;
}

function joinOf(nodeType: NodeType | undefined, node: WorkflowNode): JoinMode {
  try {
    return nodeType?.join?.(node.data) ?? 'all';
  } catch {
    return 'all';
  }
}

function checkEdge(raw: unknown, path: JsonPath, graph: DraftGraph, seenIds: Set<string>, issues: IssueCollector): void {
  const parsed = workflowEdgeSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const at = formatPath([...path, ...issue.path]);
      issues.error({ code: 'INVALID_SCHEMA', message: `${at}: ${issue.message}`, path: at });
    }
    return;
  }
  const edge = parsed.data;
  const at = (): string => formatPath(path);
  const label = (): string => (edge.id === undefined ? `edge ${edge.source} → ${edge.target}` : `edge "${edge.id}"`);
  if (edge.id !== undefined) {
    if (seenIds.has(edge.id)) issues.error({ code: 'DUPLICATE_EDGE_ID', message: `${label()}: edge id is used more than once`, edgeId: edge.id, path: `${at()}.id` });
    seenIds.add(edge.id);
  }
  const source = graph.byId.get(edge.source);
  const target = graph.byId.get(edge.target);
  for (const [end, found, id] of [['source', source, edge.source], ['target', target, edge.target]] as const) {
    if (found === undefined) {
      issues.error({ code: 'DANGLING_EDGE', message: `${label()}: ${end} "${id}" is not a node of this graph`, edgeId: edge.id, path: `${at()}.${end}` });
    }
  }
  if (source === undefined || target === undefined) return;
  const handle = edge.sourceHandle ?? MAIN_HANDLE;
  if (source.handles !== undefined && !source.handles.has(handle)) {
    const known = [...source.handles].join(', ') || 'none';
    const what = edge.sourceHandle == null ? 'names no sourceHandle' : `leaves from unknown handle "${handle}"`;
    issues.error({
      code: 'UNKNOWN_HANDLE',
      message: `${label()} ${what}; node "${source.node.id}" (${source.node.type}) has handles: ${known}`,
      edgeId: edge.id,
      nodeId: source.node.id,
      path: `${at()}.sourceHandle`,
    });
    return;
  }
  graph.edges.push({ index: graph.edges.length, id: edge.id, source: source.index, target: target.index, handle, edge });
}
