import { defineNodeType } from '@flowpilot/engine';
import { z } from 'zod';

/** `output`: its value is the run's output. */
export const outputNode = defineNodeType({
  type: 'output',
  title: 'Output',
  description: "Sets the run's output to its value.",
  category: 'flow',
  params: z.object({ value: z.unknown().describe('The run output; may use {{ }}.') }),
  providesRunOutput: true,
  execute: (ctx) => ctx.params.value ?? null,
});
