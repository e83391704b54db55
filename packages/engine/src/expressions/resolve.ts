/**
 * Evaluates compiled templates against a scope. Evaluation is pure computation; the only
 * non-deterministic JSONata functions (`$now`, `$millis`) are bound to the clock the caller passes.
 */
import { NonRetryableError } from '../errors.js';
import type { CompiledExpression, CompiledValue } from './template.js';
import { describeJsonataError } from './template.js';

/** Names visible to expressions: `input`, `vars`, upstream node outputs by id, and extras. */
export type Scope = Readonly<Record<string, unknown>>;

/** Functions bound into every evaluation so expressions see the injected clock. */
export interface EvaluationBindings {
  now(): number;
}

function bindingsFor(clock: EvaluationBindings): Record<string, unknown> {
  return {
    now: () => new Date(clock.now()).toISOString(),
    millis: () => clock.now(),
  };
}

/** Evaluates one expression; a runtime failure is a non-retryable `EXPRESSION_ERROR`. */
export async function evaluateExpression(
  expression: CompiledExpression,
  scope: Scope,
  clock: EvaluationBindings,
): Promise<unknown> {
  try {
    return await expression.evaluator.evaluate(scope, bindingsFor(clock));
  } catch (error) {
    throw new NonRetryableError('EXPRESSION_ERROR', `{{ ${expression.source} }}: ${describeJsonataError(error)}`, {
      cause: error,
    });
  }
}

/** Resolves a compiled value tree to plain JSON. */
export async function resolveValue(compiled: CompiledValue, scope: Scope, clock: EvaluationBindings): Promise<unknown> {
  switch (compiled.kind) {
    case 'literal':
      return compiled.value;
    case 'expression':
      return evaluateExpression(compiled.expression, scope, clock);
    case 'interpolation': {
      let text = '';
      for (const part of compiled.parts) {
        text += typeof part === 'string' ? part : stringify(await evaluateExpression(part, scope, clock));
      }
      return text;
    }
    case 'object': {
      const result: Record<string, unknown> = {};
      for (const [key, item] of compiled.entries) {
        const value = await resolveValue(item, scope, clock);
        // A plain assignment to "__proto__" would set the prototype instead of a key.
        if (key === '__proto__') Object.defineProperty(result, key, { value, enumerable: true, writable: true, configurable: true });
        else result[key] = value;
      }
      return result;
    }
    case 'array': {
      const result: unknown[] = [];
      for (const item of compiled.items) result.push(await resolveValue(item, scope, clock));
      return result;
    }
  }
}

function stringify(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/** JSONata truthiness for conditions: false, null, undefined, 0, "", [] and {} are false. */
export function isTruthy(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === 0 || value === '') return false;
  if (Array.isArray(value)) return value.some(isTruthy);
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}
