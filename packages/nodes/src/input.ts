import { defineNodeType, NonRetryableError } from '@flowpilot/engine';
import { Ajv, type ValidateFunction } from 'ajv';
import { z } from 'zod';

const ajv = new Ajv({ allErrors: true, strict: false });
/** Compiled validators by schema object: a plan's static params are the same object every run. */
const compiled = new WeakMap<object, ValidateFunction>();

/** Validates `value` against a JSON Schema; throws `INVALID_INPUT` listing every problem. */
export function checkAgainstSchema(schema: Record<string, unknown>, value: unknown, what: string): void {
  let validate = compiled.get(schema);
  if (validate === undefined) {
    try {
      validate = ajv.compile(schema);
    } catch (error) {
      throw new NonRetryableError('INVALID_PARAMS', `${what} schema is not a valid JSON Schema: ${(error as Error).message}`);
    }
    compiled.set(schema, validate);
  }
  if (validate(value)) return;
  const problems = (validate.errors ?? []).map((issue) => `${issue.instancePath === '' ? what : `${what}${issue.instancePath}`} ${issue.message ?? 'is invalid'}`);
  throw new NonRetryableError('INVALID_INPUT', problems.join('; '), { details: { errors: validate.errors } });
}

/** `input`: outputs the run's input after checking it against an optional JSON Schema. */
export const inputNode = defineNodeType({
  type: 'input',
  title: 'Input',
  description: "Outputs the run's input, validated against an optional JSON Schema.",
  category: 'trigger',
  params: z.object({ schema: z.record(z.string(), z.unknown()).optional().describe('JSON Schema the input must match.') }),
  execute(ctx) {
    if (ctx.params.schema !== undefined) checkAgainstSchema(ctx.params.schema, ctx.input ?? {}, 'input');
    return ctx.input ?? {};
  },
});
