/**
 * Cycle detection on graphs of up to hundreds of thousands of nodes: iterative (no recursion that
 * could overflow the stack) and linear when the graph is acyclic.
 */

/** Kahn's algorithm: a topological order, and the nodes left over when the graph has cycles. */
export function topologicalOrder(count: number, successors: ReadonlyArray<readonly number[]>): {
  order: number[];
  remaining: number[];
} {
  const indegree = new Int32Array(count);
  for (const targets of successors) for (const target of targets) indegree[target]! += 1;
  const order: number[] = [];
  for (let node = 0; node < count; node += 1) if (indegree[node] === 0) order.push(node);
  for (let head = 0; head < order.length; head += 1) {
    for (const target of successors[order[head]!]!) {
      indegree[target]! -= 1;
      if (indegree[target] === 0) order.push(target);
    }
  }
  const remaining: number[] = [];
  if (order.length < count) for (let node = 0; node < count; node += 1) if (indegree[node]! > 0) remaining.push(node);
  return { order, remaining };
}

/**
 * Finds cycles among `candidates` (the nodes Kahn's algorithm could not order). Each returned
 * cycle lists its nodes in edge order, starting from its lowest index; cycles found share no node.
 */
export function findCycles(candidates: readonly number[], successors: ReadonlyArray<readonly number[]>): number[][] {
  const alive = new Set(candidates);
  const cycles: number[][] = [];
  prune(alive, successors);
  while (alive.size > 0) {
    const start = minOf(alive);
    // Every alive node has an alive successor after pruning, so this walk must revisit a node.
    const seenAt = new Map<number, number>();
    const walk: number[] = [];
    let current = start;
    while (!seenAt.has(current)) {
      seenAt.set(current, walk.length);
      walk.push(current);
      const next = successors[current]!.filter((target) => alive.has(target));
      current = minOf(next);
    }
    const cycle = walk.slice(seenAt.get(current));
    const lowest = cycle.indexOf(minOf(cycle));
    cycles.push([...cycle.slice(lowest), ...cycle.slice(0, lowest)]);
    for (const node of cycle) alive.delete(node);
    prune(alive, successors);
  }
  return cycles;
}

/** Removes nodes that cannot be on a cycle among `alive`: those without alive successors or predecessors. */
function prune(alive: Set<number>, successors: ReadonlyArray<readonly number[]>): void {
  let changed = true;
  while (changed) {
    changed = false;
    const hasPredecessor = new Set<number>();
    for (const node of alive) for (const target of successors[node]!) if (alive.has(target)) hasPredecessor.add(target);
    for (const node of [...alive]) {
      const hasSuccessor = successors[node]!.some((target) => alive.has(target));
      if (!hasSuccessor || !hasPredecessor.has(node)) {
        alive.delete(node);
        changed = true;
      }
    }
  }
}

/** Math.min without spreading: safe for sets of any size. */
function minOf(values: Iterable<number>): number {
  let lowest = Number.POSITIVE_INFINITY;
  for (const value of values) if (value < lowest) lowest = value;
  return lowest;
}
