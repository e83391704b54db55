import { defineNodeType } from '@flowpilot/engine';
import { z } from 'zod';

/** `noop`: does nothing; passes on its first input's output (or null). Useful as a junction. */
export const noopNode = defineNodeType({
  type: 'noop',
  title: 'No operation',
  description: "Does nothing. Outputs its first input's output, or null without inputs.",
  category: 'flow',
  params: z.object({}).loose(),
  execute: (ctx) => ctx.inputs[0]?.output ?? null,
});
