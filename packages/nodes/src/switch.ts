import { conditionParam, defineNodeType, isTruthy, NODE_ID_PATTERN, routeTo } from '@flowpilot/engine';
import { z } from 'zod';

const caseSchema = z.object({
  handle: z.string().regex(NODE_ID_PATTERN, 'must be an identifier').refine((handle) => handle !== 'default', '"default" is taken by the fallback handle'),
  condition: conditionParam(),
});

/** `switch`: the first case whose condition holds wins; otherwise handle `default`. */
export const switchNode = defineNodeType({
  type: 'switch',
  title: 'Switch',
  description: 'Follows the handle of the first case whose condition is true, else "default". Outputs {handle}.',
  category: 'flow',
  params: z.object({
    cases: z
      .array(caseSchema)
      .min(1)
      .refine((cases) => new Set(cases.map((item) => item.handle)).size === cases.length, 'case handles must be unique'),
  }),
  deferredParams: { cases: { kind: 'expression', scope: [] } },
  handles: (params) => {
    const cases = Array.isArray(params.cases) ? (params.cases as Array<{ handle?: unknown }>) : [];
    return [...cases.map((item) => item.handle).filter((handle): handle is string => typeof handle === 'string'), 'default'];
  },
  async execute(ctx) {
    const evaluated = (await ctx.evaluate('cases', {})) as Array<{ handle: string; condition: unknown }>;
    const winner = evaluated.find((item) => isTruthy(item.condition));
    const handle = winner?.handle ?? 'default';
    return routeTo(handle, { handle });
  },
});
