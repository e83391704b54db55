/** Workflows of the limit suites. */
import type { Json } from './helpers.js';

/** `start → s1 → … → s<n-1>`: a workflow of `n` nodes. */
export function chain(n: number): Json {
  const nodes: Json[] = [{ id: 'start', type: 'manual' }];
  const edges: Json[] = [];
  for (let index = 1; index < n; index += 1) {
    nodes.push({ id: `s${index}`, type: 'set', data: { values: { step: index } } });
    edges.push({ source: index === 1 ? 'start' : `s${index - 1}`, target: `s${index}` });
  }
  return { name: `Chain of ${n}`, nodes, edges };
}
