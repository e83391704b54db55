import { conditionParam, defineNodeType, isTruthy, routeTo } from '@flowpilot/engine';
import { z } from 'zod';

/** `if`: follows handle `true` or `false`. */
export const ifNode = defineNodeType({
  type: 'if',
  title: 'If',
  description: 'Evaluates a condition and follows the "true" or "false" handle. Outputs {result}.',
  category: 'flow',
  params: z.object({ condition: conditionParam().describe('A {{ expression }} or a boolean.') }),
  deferredParams: { condition: { kind: 'expression', scope: [] } },
  handles: () => ['true', 'false'],
  async execute(ctx) {
    const result = isTruthy(await ctx.evaluate('condition', {}));
    return routeTo(result ? 'true' : 'false', { result });
  },
});
