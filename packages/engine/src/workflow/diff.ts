/** What changed between two versions of a workflow: nodes and edges added, removed or changed. */

interface Identified {
  id?: unknown;
  source?: unknown;
  target?: unknown;
  sourceHandle?: unknown;
}

/** The difference of one kind of item, by identity. */
export interface ItemDiff {
  added: string[];
  removed: string[];
  changed: string[];
}

export interface WorkflowDiff {
  nodes: ItemDiff;
  edges: ItemDiff;
  /** Top-level fields (name, description, vars, settings) whose value changed. */
  fields: string[];
}

/** Edges are identified by `id` when they have one, else by `source → target (handle)`. */
export function edgeKey(edge: Identified): string {
  if (typeof edge.id === 'string' && edge.id !== '') return edge.id;
  const handle = typeof edge.sourceHandle === 'string' ? ` (${edge.sourceHandle})` : '';
  return `${String(edge.source)} → ${String(edge.target)}${handle}`;
}

/** Compares two workflow definitions (parsed JSON). */
export function diffWorkflows(from: unknown, to: unknown): WorkflowDiff {
  const a = (from ?? {}) as Record<string, unknown>;
  const b = (to ?? {}) as Record<string, unknown>;
  const fields = ['name', 'description', 'vars', 'settings'].filter((field) => stable(a[field]) !== stable(b[field]));
  return {
    nodes: diffItems(asArray(a.nodes), asArray(b.nodes), (node) => String((node as Identified).id)),
    edges: diffItems(asArray(a.edges), asArray(b.edges), (edge) => edgeKey(edge as Identified)),
    fields,
  };
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function diffItems(before: unknown[], after: unknown[], key: (item: unknown) => string): ItemDiff {
  const old = new Map(before.map((item) => [key(item), stable(item)]));
  const now = new Map(after.map((item) => [key(item), stable(item)]));
  return {
    added: [...now.keys()].filter((id) => !old.has(id)),
    removed: [...old.keys()].filter((id) => !now.has(id)),
    changed: [...now.keys()].filter((id) => old.has(id) && old.get(id) !== now.get(id)),
  };
}

/** JSON with sorted keys, so key order never counts as a change. */
function stable(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    item !== null && typeof item === 'object' && !Array.isArray(item)
      ? Object.fromEntries(Object.entries(item as Record<string, unknown>).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))
      : item,
  ) ?? 'undefined';
}
