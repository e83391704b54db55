/**
 * `npm run bench:engine`: in-memory engine overhead.
 *
 * - per-node overhead of a 10,000-node chain of `noop` nodes and of a 10,000-wide fan-out/fan-in;
 * - validate + plan time for 10,000 and 100,000 nodes (it should grow linearly).
 *
 * Targets (issue #2): ≤ 10 µs per no-op node; validate+plan of 100,000 nodes under 1 s.
 * Each figure is the median of several repetitions after a warm-up.
 */
import { cpus } from 'node:os';
import { planWorkflow, validateWorkflow } from '@flowpilot/engine';
import { createBuiltinRegistry } from '@flowpilot/nodes';
import { runWorkflow } from '@flowpilot/runtime';

const registry = createBuiltinRegistry();

function chain(size: number): unknown {
  const nodes = Array.from({ length: size }, (_, index) => ({ id: `n${index}`, type: 'noop', data: {} }));
  const edges = Array.from({ length: size - 1 }, (_, index) => ({ source: `n${index}`, target: `n${index + 1}` }));
  return { name: `chain-${size}`, settings: { concurrency: 8 }, nodes, edges };
}

function fanOutIn(width: number): unknown {
  const middle = Array.from({ length: width }, (_, index) => ({ id: `m${index}`, type: 'noop', data: {} }));
  const nodes = [{ id: 'start', type: 'noop', data: {} }, ...middle, { id: 'join', type: 'merge', data: { mode: 'all' } }];
  const edges = middle.flatMap((node) => [
    { source: 'start', target: node.id },
    { source: node.id, target: 'join' },
  ]);
  return { name: `fan-${width}`, settings: { concurrency: 64 }, nodes, edges };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function measure(repetitions: number, body: () => Promise<void> | void): Promise<number> {
  await body(); // warm-up: JIT, caches
  const times: number[] = [];
  for (let index = 0; index < repetitions; index += 1) {
    const start = process.hrtime.bigint();
    await body();
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return median(times);
}

async function runOverhead(label: string, workflow: unknown, nodeCount: number): Promise<number> {
  const plan = planWorkflow(workflow, registry);
  const ms = await measure(5, async () => {
    const result = await runWorkflow(plan, { registry, input: {} });
    if (result.status !== 'succeeded') throw new Error(`${label}: run ${result.status}`);
  });
  const perNode = (ms * 1000) / nodeCount;
  console.log(`${label.padEnd(38)} ${ms.toFixed(1).padStart(9)} ms  ${perNode.toFixed(2).padStart(7)} µs/node`);
  return perNode;
}

async function planTime(size: number): Promise<number> {
  const workflow = chain(size);
  const ms = await measure(3, () => {
    const result = validateWorkflow(workflow, registry);
    if (!result.valid) throw new Error('benchmark workflow is invalid');
  });
  console.log(`${`validate + plan, ${size.toLocaleString('en')} nodes`.padEnd(38)} ${ms.toFixed(1).padStart(9)} ms  ${((ms * 1000) / size).toFixed(2).padStart(7)} µs/node`);
  return ms;
}

console.log(`node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}`);
const chainOverhead = await runOverhead('run: 10,000-node noop chain', chain(10_000), 10_000);
const fanOverhead = await runOverhead('run: 10,000-wide fan-out/fan-in', fanOutIn(10_000), 10_002);
const plan10k = await planTime(10_000);
const plan100k = await planTime(100_000);
console.log(`growth 10k → 100k nodes: ×${(plan100k / plan10k).toFixed(1)} (linear = ×10)`);
const verdict = (ok: boolean): string => (ok ? 'met' : 'MISSED');
console.log(`targets: ≤ 10 µs/node chain ${verdict(chainOverhead <= 10)}, fan ${verdict(fanOverhead <= 10)}; 100k plan < 1 s ${verdict(plan100k < 1000)}`);
