import { defineNodeType } from '@flowpilot/engine';
import { z } from 'zod';

/** `delay`: waits `ms` milliseconds (abortable by timeout and cancel). */
export const delayNode = defineNodeType({
  type: 'delay',
  title: 'Delay',
  description: 'Waits the given number of milliseconds, then outputs {ms}.',
  category: 'flow',
  params: z.object({ ms: z.number().int().min(0).max(2_147_483_647).describe('How long to wait.') }),
  async execute(ctx) {
    await ctx.sleep(ctx.params.ms);
    return { ms: ctx.params.ms };
  },
});
