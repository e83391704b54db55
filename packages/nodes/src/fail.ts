import { defineNodeType, FlowPilotError } from '@flowpilot/engine';
import { z } from 'zod';

/** `fail`: always fails. For tests, demos and explicit error paths. */
export const failNode = defineNodeType({
  type: 'fail',
  title: 'Fail',
  description: 'Fails with the given message (and code), retryable or not.',
  category: 'flow',
  params: z.object({
    message: z.string().min(1),
    code: z.string().regex(/^[A-Z][A-Z0-9_]*$/).default('FAIL_NODE'),
    retryable: z.boolean().default(false),
  }),
  execute(ctx): never {
    throw new FlowPilotError(ctx.params.code, ctx.params.message, { retryable: ctx.params.retryable });
  },
});
