import { defineNodeType, waitUntil } from '@flowpilot/engine';
import { z } from 'zod';

/**
 * `delay`: succeeds `ms` milliseconds later with `{ms}`. The wait is a timer kept by the runner (a
 * durable timer row when runs are durable), not a sleeping worker.
 */
export const delayNode = defineNodeType({
  type: 'delay',
  title: 'Delay',
  description: 'Waits the given number of milliseconds, then outputs {ms}. Holds no worker while waiting.',
  category: 'flow',
  params: z.object({ ms: z.number().int().min(0).max(2_147_483_647).describe('How long to wait.') }),
  execute: (ctx) => waitUntil(ctx.now() + ctx.params.ms, { ms: ctx.params.ms }),
});
