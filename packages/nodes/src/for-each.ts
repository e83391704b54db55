import { defineNodeType, FlowPilotError, subgraphParam } from '@flowpilot/engine';
import { z } from 'zod';

/**
 * `forEach`: runs the body once per item (body input `{item, index}`), at most `concurrency` at a
 * time; outputs the body outputs in item order. The first failing item fails the node and aborts
 * the items still running.
 */
export const forEachNode = defineNodeType({
  type: 'forEach',
  title: 'For each',
  description: 'Runs the body sub-graph once per item with input {item, index}; outputs the results in item order.',
  category: 'flow',
  params: z.object({
    items: z.array(z.unknown()).describe('The items; usually a {{ }} expression.'),
    concurrency: z.number().int().min(1).max(1000).default(1).describe('Items run at the same time.'),
    body: subgraphParam(),
  }),
  deferredParams: { body: { kind: 'graph' } },
  async execute(ctx) {
    const { items, concurrency } = ctx.params;
    const results: unknown[] = new Array<unknown>(items.length);
    const controller = new AbortController();
    const abort = (): void => controller.abort(ctx.signal.reason);
    ctx.signal.addEventListener('abort', abort, { once: true });
    let next = 0;
    let failure: unknown;
    const worker = async (): Promise<void> => {
      while (failure === undefined && next < items.length && !controller.signal.aborted) {
        const index = next;
        next += 1;
        try {
          results[index] = await ctx.runSubgraph('body', { item: items[index], index }, { key: String(index), signal: controller.signal });
        } catch (error) {
          if (failure === undefined) {
            failure = error;
            controller.abort(error);
          }
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
    } finally {
      ctx.signal.removeEventListener('abort', abort);
    }
    if (failure !== undefined) throw failure instanceof FlowPilotError || failure instanceof Error ? failure : new FlowPilotError('FOREACH_ITEM_FAILED', String(failure));
    return results;
  },
});
