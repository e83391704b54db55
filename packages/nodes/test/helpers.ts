/** Shared helpers for the node/runtime behaviour tests: workflows, probes and clock-driven runs. */
import { defineNodeType, FlowPilotError, NonRetryableError, planWorkflow, type NodeContext, type NodeRegistry, type NodeType } from '@flowpilot/engine';
import { createBuiltinRegistry } from '@flowpilot/nodes';
import { ManualClock, MemoryRun, type MemoryRunOptions, type RunResult } from '@flowpilot/runtime';
import { z } from 'zod';

export type Json = Record<string, unknown>;

/** A workflow with a name and sensible defaults. */
export function workflow(nodes: Json[], edges: Json[] = [], extra: Json = {}): Json {
  return { name: 'test', nodes, edges, ...extra };
}

/** `source → target` edges; `a:true` names a source handle. */
export function edges(...pairs: string[]): Json[] {
  return pairs.map((pair) => {
    const [from = '', target = ''] = pair.split('->').map((part) => part.trim());
    const [source = '', sourceHandle] = from.split(':');
    return sourceHandle === undefined ? { source, target } : { source, sourceHandle, target };
  });
}

/** Concurrency probe shared by the `probe` nodes of one registry. */
export class Probe {
  running = 0;
  maxRunning = 0;
  readonly starts: Array<{ id: string; at: number; key: unknown }> = [];
  readonly ends: Array<{ id: string; at: number; key: unknown }> = [];
  readonly aborted: string[] = [];
  readonly calls = new Map<string, number>();
  readonly attemptTimes = new Map<string, number[]>();

  callCount(id: string): number {
    return this.calls.get(id) ?? 0;
  }
}

/**
 * The built-in registry plus test node types sharing one {@link Probe}:
 * - `probe {ms, key?, value?, failKey?, failCode?}`: counts concurrent runs, sleeps `ms`, outputs `value` (or `{id}`);
 *   fails with `failCode` (non-retryable) when `key === failKey`; records signal aborts.
 * - `flaky {failures, code?, retryable?, kind?}`: fails `failures` times (FlowPilotError, NonRetryableError or plain Error), then outputs `{attempt}`; records `ctx.now()`.
 * - `hang {}`: awaits `ctx.sleep(10_000)` on attempt 1 only (returns `{attempt}` later), records signal aborts.
 * Plus any `extra` node types (see {@link fnNode}).
 */
export function testRegistry(...extra: NodeType[]): { registry: NodeRegistry; probe: Probe } {
  const probe = new Probe();
  const registry = createBuiltinRegistry();
  const count = (id: string, now: number): void => {
    probe.calls.set(id, probe.callCount(id) + 1);
    probe.attemptTimes.set(id, [...(probe.attemptTimes.get(id) ?? []), now]);
  };
  registry.register(
    defineNodeType({
      type: 'probe',
      title: 'Probe',
      description: 'test',
      category: 'test',
      params: z.object({ ms: z.number().default(0), key: z.unknown().optional(), value: z.unknown().optional(), failKey: z.unknown().optional(), failCode: z.string().default('PROBE_FAILED') }),
      async execute(ctx) {
        const { ms, key, value, failKey, failCode } = ctx.params;
        count(ctx.nodeId, ctx.now());
        probe.starts.push({ id: ctx.nodeId, at: ctx.now(), key });
        probe.running += 1;
        probe.maxRunning = Math.max(probe.maxRunning, probe.running);
        const onAbort = (): void => void probe.aborted.push(`${ctx.nodeId}:${String(key)}`);
        ctx.signal.addEventListener('abort', onAbort, { once: true });
        try {
          if (failKey !== undefined && key === failKey) throw new FlowPilotError(failCode, `item ${String(key)} is bad`, { retryable: false });
          await ctx.sleep(ms);
          return value ?? { id: ctx.nodeId };
        } finally {
          probe.running -= 1;
          probe.ends.push({ id: ctx.nodeId, at: ctx.now(), key });
        }
      },
    }),
  );
  registry.register(
    defineNodeType({
      type: 'flaky',
      title: 'Flaky',
      description: 'test',
      category: 'test',
      params: z.object({ failures: z.number(), code: z.string().default('FLAKY'), retryable: z.boolean().default(true), kind: z.enum(['flowpilot', 'nonretryable', 'plain']).default('flowpilot') }),
      execute(ctx) {
        count(ctx.nodeId, ctx.now());
        if (ctx.attempt <= ctx.params.failures) {
          if (ctx.params.kind === 'plain') throw new Error(`attempt ${ctx.attempt} failed`);
          if (ctx.params.kind === 'nonretryable') throw new NonRetryableError(ctx.params.code, `attempt ${ctx.attempt} failed`);
          throw new FlowPilotError(ctx.params.code, `attempt ${ctx.attempt} failed`, { retryable: ctx.params.retryable });
        }
        return { attempt: ctx.attempt };
      },
    }),
  );
  registry.register(
    defineNodeType({
      type: 'hang',
      title: 'Hang',
      description: 'test',
      category: 'test',
      params: z.object({ hangAttempts: z.number().default(1) }),
      async execute(ctx) {
        count(ctx.nodeId, ctx.now());
        const signal = ctx.signal;
        signal.addEventListener('abort', () => void probe.aborted.push(`${ctx.nodeId}#${ctx.attempt}`), { once: true });
        if (ctx.attempt <= ctx.params.hangAttempts) await ctx.sleep(10_000);
        return { attempt: ctx.attempt };
      },
    }),
  );
  for (const type of extra) registry.register(type);
  return { registry, probe };
}

/** A one-off node type (any params) running `execute`. */
export function fnNode(type: string, execute: (ctx: NodeContext<Record<string, unknown>>) => unknown): NodeType {
  return { type, title: type, description: 'test', category: 'test', params: z.object({}).loose(), execute };
}

/** Starts a run on a fresh ManualClock, fires every timer, and returns the result and the clock. */
export async function runManual(wf: unknown, options: Omit<MemoryRunOptions, 'clock'>): Promise<{ result: RunResult; clock: ManualClock; t0: number }> {
  const clock = new ManualClock();
  const t0 = clock.now();
  const run = new MemoryRun(planWorkflow(wf, options.registry), { ...options, clock });
  await clock.runAll();
  const result = await settledWithin(run.result);
  return { result, clock, t0 };
}

/** Fails fast (instead of hanging to the test timeout) when a run did not finish after its clock ran out. */
export async function settledWithin<T>(promise: Promise<T>, ms = 2_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`run did not finish within ${ms} ms of real time`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The step summary, failing the test when it is missing. */
export function step(result: RunResult, id: string): NonNullable<RunResult['steps'][string]> {
  const summary = result.steps[id];
  if (summary === undefined) throw new Error(`no step "${id}" in result (steps: ${Object.keys(result.steps).join(', ')})`);
  return summary;
}

/** ms since epoch of a step's start and finish. */
export function times(result: RunResult, id: string): { start: number; end: number } {
  const summary = step(result, id);
  return { start: Date.parse(summary.startedAt ?? 'NaN'), end: Date.parse(summary.finishedAt ?? 'NaN') };
}
