/**
 * Node types of the durable suite, registered with the built-ins in `registry`. They record what
 * they did in `probes` (module state: one copy per test file, reset before every test), so tests
 * can count executions, see idempotency keys and observe aborts.
 */
import { defineNodeType, FlowPilotError, NodeRegistry } from '@flowpilot/engine';
import { builtinNodeTypes } from '@flowpilot/nodes';
import { z } from 'zod';

export interface SlowCall {
  runId: string;
  nodeId: string;
  attempt: number;
  startedAt: number;
  abortedAt?: number;
  abortCode?: string;
}

export interface StallCall {
  key: string;
  attempt: number;
  invocation: number;
  startedAt: number;
  abortedAt?: number;
  abortCode?: string;
  settled: boolean;
}

export const probes = {
  /** Executions by `runId:nodeId`. */
  executions: new Map<string, number>(),
  /** Gates of `test.gate` nodes that are closed (the node fails). */
  closedGates: new Set<string>(),
  slow: [] as SlowCall[],
  stalls: [] as StallCall[],
  /** Releases of waiting `test.release` nodes, by run id. */
  releases: new Map<string, () => void>(),
  reset(): void {
    this.releases.clear();
    this.executions.clear();
    this.closedGates.clear();
    this.slow.length = 0;
    this.stalls.length = 0;
  },
};

export function executions(runId: string, nodeId: string): number {
  return probes.executions.get(`${runId}:${nodeId}`) ?? 0;
}

function executed(ctx: { runId: string; nodeId: string }): void {
  const key = `${ctx.runId}:${ctx.nodeId}`;
  probes.executions.set(key, (probes.executions.get(key) ?? 0) + 1);
}

function abortCode(reason: unknown): string {
  return reason instanceof FlowPilotError ? reason.code : String(reason);
}

/** Outputs `{value, attempt}`; counts executions. */
const countNode = defineNodeType({
  type: 'test.count',
  title: 'Count',
  description: 'Counts its executions.',
  category: 'test',
  params: z.object({ value: z.unknown().optional() }),
  execute(ctx) {
    executed(ctx);
    return { value: ctx.params.value ?? null, attempt: ctx.attempt };
  },
});

/** Fails (retryable) while `attempt <= failures`. */
const flakyNode = defineNodeType({
  type: 'test.flaky',
  title: 'Flaky',
  description: 'Fails its first attempts.',
  category: 'test',
  params: z.object({ failures: z.number().int().min(0) }),
  execute(ctx) {
    executed(ctx);
    if (ctx.attempt <= ctx.params.failures) throw new FlowPilotError('FLAKY', `attempt ${ctx.attempt} failed`, { retryable: true });
    return { attempt: ctx.attempt };
  },
});

/** Fails while its gate is in `probes.closedGates`. */
const gateNode = defineNodeType({
  type: 'test.gate',
  title: 'Gate',
  description: 'Fails while its gate is closed.',
  category: 'test',
  params: z.object({ gate: z.string(), retryable: z.boolean().default(true) }),
  execute(ctx) {
    executed(ctx);
    if (probes.closedGates.has(ctx.params.gate)) {
      throw new FlowPilotError('GATE_CLOSED', `gate ${ctx.params.gate} is closed`, { retryable: ctx.params.retryable });
    }
    return { gate: ctx.params.gate, attempt: ctx.attempt, key: ctx.idempotencyKey };
  },
});

/** Sleeps `ms` on `ctx.sleep`, recording when its signal aborts. */
const slowNode = defineNodeType({
  type: 'test.slow',
  title: 'Slow',
  description: 'Sleeps; records aborts.',
  category: 'test',
  params: z.object({ ms: z.number().int().min(0) }),
  async execute(ctx) {
    executed(ctx);
    const call: SlowCall = { runId: ctx.runId, nodeId: ctx.nodeId, attempt: ctx.attempt, startedAt: Date.now() };
    probes.slow.push(call);
    ctx.signal.addEventListener('abort', () => Object.assign(call, { abortedAt: Date.now(), abortCode: abortCode(ctx.signal.reason) }), { once: true });
    await ctx.sleep(ctx.params.ms);
    return { slept: ctx.params.ms };
  },
});

/** The first invocation per idempotency key stalls for `ms`; later ones return at once. */
const stallNode = defineNodeType({
  type: 'test.stall',
  title: 'Stall',
  description: 'Stalls its first invocation.',
  category: 'test',
  params: z.object({ ms: z.number().int().min(0) }),
  async execute(ctx) {
    executed(ctx);
    const first = !probes.stalls.some((call) => call.key === ctx.idempotencyKey);
    const call: StallCall = { key: ctx.idempotencyKey, attempt: ctx.attempt, invocation: probes.stalls.length + 1, startedAt: Date.now(), settled: false };
    probes.stalls.push(call);
    ctx.signal.addEventListener('abort', () => Object.assign(call, { abortedAt: Date.now(), abortCode: abortCode(ctx.signal.reason) }), { once: true });
    try {
      if (first) await ctx.sleep(ctx.params.ms);
      return { invocation: call.invocation };
    } finally {
      call.settled = true;
    }
  },
});

/** Waits until `probes.releases.get(runId)` is called, then `hops` more microtasks. */
const releaseNode = defineNodeType({
  type: 'test.release',
  title: 'Release',
  description: 'Waits to be released.',
  category: 'test',
  params: z.object({ hops: z.number().int().min(0) }),
  async execute(ctx) {
    executed(ctx);
    await new Promise<void>((resolve) => probes.releases.set(ctx.runId, resolve));
    for (let hop = 0; hop < ctx.params.hops; hop += 1) await null;
    return { hops: ctx.params.hops };
  },
});

/** A nested output of `items` entries (non-ASCII text included). */
const bigNode = defineNodeType({
  type: 'test.big',
  title: 'Big',
  description: 'Outputs a large value.',
  category: 'test',
  params: z.object({ items: z.number().int().min(0) }),
  execute: (ctx) => bigValue(ctx.params.items),
});

export function bigValue(items: number): { items: Array<{ index: number; label: string; tags: string[] }> } {
  return { items: Array.from({ length: items }, (_, index) => ({ index, label: `item ${index}: ünïcødé ✓ "quoted"`, tags: ['a', 'b'] })) };
}

/** Built-in node types plus the test ones. */
export const registry = new NodeRegistry([...builtinNodeTypes, countNode, flakyNode, gateNode, slowNode, stallNode, releaseNode, bigNode]);
