/**
 * Templates: `{{ … }}` inside any string param is a JSONata expression. Each workflow's templates
 * are compiled once (at plan time); resolving a param then only evaluates. A string that is exactly
 * one template keeps the value's type; otherwise results are interpolated into the string.
 * JSONata is an expression language with no access to JavaScript: there is no eval anywhere.
 */
import jsonata from 'jsonata';
import { collectRootNames } from './references.js';

const OPEN = '{{';
const CLOSE = '}}';

/** A compiled value tree mirroring the param's JSON shape. */
export type CompiledValue =
  | { readonly kind: 'literal'; readonly value: unknown }
  | { readonly kind: 'expression'; readonly expression: CompiledExpression }
  | { readonly kind: 'interpolation'; readonly parts: ReadonlyArray<string | CompiledExpression> }
  | { readonly kind: 'object'; readonly entries: ReadonlyArray<readonly [string, CompiledValue]> }
  | { readonly kind: 'array'; readonly items: readonly CompiledValue[] };

/** One parsed expression and the root names it reads. */
export interface CompiledExpression {
  readonly source: string;
  readonly evaluator: jsonata.Expression;
  readonly rootNames: ReadonlySet<string>;
}

/** A problem found while compiling, located by its JSON path inside the compiled value. */
export interface TemplateProblem {
  readonly path: ReadonlyArray<string | number>;
  readonly source: string;
  readonly message: string;
}

/** Does this string contain a template at all? Cheap pre-check used on hot paths. */
export function hasTemplate(value: string): boolean {
  return value.includes(OPEN);
}

/** Compiles one expression (without braces). Throws jsonata's error on bad syntax. */
export function compileExpression(source: string): CompiledExpression {
  const evaluator = jsonata(source);
  return { source, evaluator, rootNames: collectRootNames(evaluator.ast(), new Set()) };
}

/**
 * Compiles every template inside `value`. Problems are collected, never thrown: the validator
 * reports them all at once. A literal sub-tree compiles to one `literal` node.
 */
export function compileValue(
  value: unknown,
  problems: TemplateProblem[] = [],
  path: ReadonlyArray<string | number> = [],
): CompiledValue {
  if (typeof value === 'string') return compileString(value, problems, path);
  if (Array.isArray(value)) {
    const items = value.map((item, index) => compileValue(item, problems, [...path, index]));
    return items.every((item) => item.kind === 'literal') ? { kind: 'literal', value } : { kind: 'array', items };
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).map(
      ([key, item]) => [key, compileValue(item, problems, [...path, key])] as const,
    );
    return entries.every(([, item]) => item.kind === 'literal')
      ? { kind: 'literal', value }
      : { kind: 'object', entries };
  }
  return { kind: 'literal', value };
}

function compileString(value: string, problems: TemplateProblem[], path: ReadonlyArray<string | number>): CompiledValue {
  if (!hasTemplate(value)) return { kind: 'literal', value };
  const parts: Array<string | CompiledExpression> = [];
  let cursor = 0;
  while (cursor < value.length) {
    const open = value.indexOf(OPEN, cursor);
    if (open < 0) break;
    if (open > cursor) parts.push(value.slice(cursor, open));
    const found = findClosing(value, open + OPEN.length);
    if ('message' in found) {
      problems.push({ path, source: value.slice(open), message: found.message });
      return { kind: 'literal', value };
    }
    parts.push(found.expression);
    cursor = found.end + CLOSE.length;
  }
  if (cursor < value.length) parts.push(value.slice(cursor));
  // One template with only whitespace around it keeps the value's type: " {{ false }} " is false.
  const expressions = parts.filter((part): part is CompiledExpression => typeof part !== 'string');
  const [only] = expressions;
  if (expressions.length === 1 && only !== undefined && parts.every((part) => typeof part !== 'string' || part.trim() === '')) {
    return { kind: 'expression', expression: only };
  }
  return { kind: 'interpolation', parts };
}

/**
 * JSONata object constructors may contain `}}` themselves, so the closing braces are the first
 * `}}` after which the inner text parses.
 */
function findClosing(
  value: string,
  start: number,
): { expression: CompiledExpression; end: number } | { message: string } {
  let firstError: string | undefined;
  for (let end = value.indexOf(CLOSE, start); end >= 0; end = value.indexOf(CLOSE, end + 1)) {
    const source = value.slice(start, end).trim();
    if (source === '') return { message: 'empty expression {{ }}' };
    try {
      return { expression: compileExpression(source), end };
    } catch (error) {
      firstError ??= describeJsonataError(error);
    }
  }
  return { message: firstError ?? 'unclosed {{ (missing }})' };
}

/** jsonata errors are plain objects with `message` and `position`; make them one readable line. */
export function describeJsonataError(error: unknown): string {
  if (error !== null && typeof error === 'object') {
    const { message, position, token } = error as { message?: unknown; position?: unknown; token?: unknown };
    const where = typeof position === 'number' ? ` at position ${position}` : '';
    const near = typeof token === 'string' && token !== '' ? ` near "${token}"` : '';
    return `${typeof message === 'string' ? message : String(error)}${where}${near}`;
  }
  return String(error);
}

/** Every root name the compiled value reads. */
export function collectValueRootNames(compiled: CompiledValue, into: Set<string> = new Set()): Set<string> {
  switch (compiled.kind) {
    case 'literal':
      return into;
    case 'expression':
      for (const name of compiled.expression.rootNames) into.add(name);
      return into;
    case 'interpolation':
      for (const part of compiled.parts) if (typeof part !== 'string') for (const name of part.rootNames) into.add(name);
      return into;
    case 'object':
      for (const [, item] of compiled.entries) collectValueRootNames(item, into);
      return into;
    case 'array':
      for (const item of compiled.items) collectValueRootNames(item, into);
      return into;
  }
}

/** Every expression inside the compiled value with its path (for reporting). */
export function* expressionsOf(
  compiled: CompiledValue,
  path: ReadonlyArray<string | number> = [],
): Generator<{ path: ReadonlyArray<string | number>; expression: CompiledExpression }> {
  switch (compiled.kind) {
    case 'literal':
      return;
    case 'expression':
      yield { path, expression: compiled.expression };
      return;
    case 'interpolation':
      for (const part of compiled.parts) if (typeof part !== 'string') yield { path, expression: part };
      return;
    case 'object':
      for (const [key, item] of compiled.entries) yield* expressionsOf(item, [...path, key]);
      return;
    case 'array':
      for (const [index, item] of compiled.items.entries()) yield* expressionsOf(item, [...path, index]);
  }
}
