import { defineNodeType } from '@flowpilot/engine';
import { z } from 'zod';

/**
 * `merge`: joins branches. `all` waits for every input that was not skipped and outputs their
 * outputs by node id; `any` starts on the first input to finish and passes its output on.
 */
export const mergeNode = defineNodeType({
  type: 'merge',
  title: 'Merge',
  description: 'all: waits for every non-skipped input, outputs {<nodeId>: output}. any: passes on the first input to finish.',
  category: 'flow',
  params: z.object({ mode: z.enum(['all', 'any']).default('all') }),
  join: (params) => (params.mode === 'any' ? 'any' : 'all'),
  execute(ctx) {
    if (ctx.params.mode === 'any') return ctx.inputs[0]?.output ?? null;
    return Object.fromEntries(ctx.inputs.map((input) => [input.nodeId, input.output]));
  },
});
