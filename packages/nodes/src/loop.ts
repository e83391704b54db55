import { conditionParam, defineNodeType, isTruthy, NonRetryableError, subgraphParam } from '@flowpilot/engine';
import { z } from 'zod';

/**
 * `loop`: runs the body (input `{iteration, previous}`) until `until` holds — evaluated after each
 * iteration with `last` and `iteration` in scope — or `maxIterations` is reached. Covers "improve
 * until quality ≥ threshold, at most 3 rounds". Outputs `{iterations, last}`.
 */
export const loopNode = defineNodeType({
  type: 'loop',
  title: 'Loop',
  description: 'Repeats the body until a condition holds or maxIterations is reached; outputs {iterations, last}.',
  category: 'flow',
  params: z.object({
    maxIterations: z.number().int().min(1).max(100_000),
    until: conditionParam().describe('{{ }} expression with `last` (the iteration output) and `iteration` in scope.'),
    onExhausted: z.enum(['fail', 'succeed']).default('fail').describe('What happens when maxIterations is reached.'),
    body: subgraphParam(),
  }),
  deferredParams: { until: { kind: 'expression', scope: ['last', 'iteration'] }, body: { kind: 'graph' } },
  async execute(ctx) {
    const { maxIterations, onExhausted } = ctx.params;
    let previous: unknown = null;
    for (let iteration = 1; iteration <= maxIterations; iteration += 1) {
      const last = await ctx.runSubgraph('body', { iteration, previous }, { key: String(iteration) });
      if (isTruthy(await ctx.evaluate('until', { last, iteration }))) return { iterations: iteration, last };
      if (iteration === maxIterations) {
        if (onExhausted === 'succeed') return { iterations: iteration, last };
        throw new NonRetryableError('LOOP_LIMIT', `loop "${ctx.nodeId}" reached maxIterations (${maxIterations}) before its until condition held`, {
          details: { iterations: iteration, last },
        });
      }
      previous = last;
    }
    throw new NonRetryableError('LOOP_LIMIT', `loop "${ctx.nodeId}" ran no iteration`);
  },
});
