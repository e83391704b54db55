import { defineNodeType } from '@flowpilot/engine';
import { z } from 'zod';

/** `set`: outputs an object of resolved templates. */
export const setNode = defineNodeType({
  type: 'set',
  title: 'Set values',
  description: 'Outputs an object whose values are templates resolved against the inputs.',
  category: 'data',
  params: z.object({ values: z.record(z.string(), z.unknown()).describe('Keys to output; values may use {{ }}.') }),
  execute: (ctx) => ctx.params.values,
});
