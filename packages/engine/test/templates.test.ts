/** compileValue / resolveValue: `{{ }}` templates, their types, interpolation and the clock. */
import {
  collectValueRootNames,
  compileValue,
  conditionParam,
  FlowPilotError,
  isTruthy,
  resolveValue,
  type CompiledValue,
  type Scope,
  type TemplateProblem,
} from '@flowpilot/engine';
import { describe, expect, test } from 'vitest';

const clock = { now: (): number => Date.UTC(2024, 0, 2, 3, 4, 5, 678) };

function compileOk(value: unknown): CompiledValue {
  const problems: TemplateProblem[] = [];
  const compiled = compileValue(value, problems);
  expect(problems).toEqual([]);
  return compiled;
}

async function render(value: unknown, scope: Scope = {}): Promise<unknown> {
  return resolveValue(compileOk(value), scope, clock);
}

describe('a string that is exactly one template keeps its type', () => {
  test.each<[string, Scope, unknown]>([
    ['{{ input.n }}', { input: { n: 5 } }, 5],
    ['{{ input.flag }}', { input: { flag: false } }, false],
    ['{{ input.obj }}', { input: { obj: { a: [1, 2] } } }, { a: [1, 2] }],
    ['{{ input.list }}', { input: { list: [1, 'x', null] } }, [1, 'x', null]],
    ['{{ input.nothing }}', { input: {} }, undefined],
    ['{{ null }}', {}, null],
    ['{{ 1 + 2 }}', {}, 3],
    ['{{input.n}}', { input: { n: 7 } }, 7],
  ])('%j', async (template, scope, expected) => {
    expect(await render(template, scope)).toEqual(expected);
  });

  test('a single template compiles to an expression node', () => {
    const compiled = compileOk('{{ input.n }}');
    expect(compiled.kind).toBe('expression');
  });
});

describe('interpolation', () => {
  test('stringifies numbers, booleans, objects (as JSON), null and undefined', async () => {
    const scope = { x: 42, t: true, o: { a: 1 }, l: [1, 2], n: null, s: 'str' };
    expect(await render('a {{ x }} b', scope)).toBe('a 42 b');
    expect(await render('[{{ t }}]', scope)).toBe('[true]');
    expect(await render('o={{ o }}', scope)).toBe('o={"a":1}');
    expect(await render('l={{ l }}', scope)).toBe('l=[1,2]');
    expect(await render('n=<{{ n }}>', scope)).toBe('n=<>');
    expect(await render('u=<{{ missing }}>', scope)).toBe('u=<>');
    expect(await render('{{ s }}!', scope)).toBe('str!');
  });

  test('several templates in one string', async () => {
    expect(await render('{{ a }}-{{ b }}-{{ a + b }}', { a: 1, b: 2 })).toBe('1-2-3');
    expect(await render('{{ a }}{{ b }}', { a: 1, b: 2 })).toBe('12');
    const compiled = compileOk('x {{ a }} y {{ b }} z');
    expect(compiled.kind).toBe('interpolation');
    if (compiled.kind === 'interpolation') expect(compiled.parts.filter((part) => typeof part === 'string')).toEqual(['x ', ' y ', ' z']);
  });

  test('text around a single template makes it an interpolation (a string); whitespace alone does not', async () => {
    expect(await render('{{ 5 }}.', {})).toBe('5.');
    expect(await render('n={{ 5 }}', {})).toBe('n=5');
    expect(await render(' {{ 5 }}', {})).toBe(5);
  });

  test('a condition the condition schema accepts with padding keeps its boolean meaning', async () => {
    // conditionParam() accepts whitespace around the template, so `if` nodes may hold " {{ false }} ".
    const padded = ' {{ input.ok }} ';
    expect(conditionParam().safeParse(padded).success).toBe(true);
    const value = await render(padded, { input: { ok: false } });
    expect(isTruthy(value)).toBe(false);
  });
});

describe('closing braces', () => {
  test('}} inside a JSONata object constructor', async () => {
    expect(await render("{{ {'a': {'b': 1}} }}")).toEqual({ a: { b: 1 } });
    expect(await render("{{ {'a': {'b': 1}}}}")).toEqual({ a: { b: 1 } });
    expect(await render("v={{ {'a': {'b': 1}} }}")).toBe('v={"a":{"b":1}}');
  });

  test('}} inside a string literal', async () => {
    expect(await render("{{ 'x}}y' }}")).toBe('x}}y');
  });

  test('a lone }} outside a template is literal text', async () => {
    expect(await render('a }} b')).toBe('a }} b');
    expect(compileOk('a }} b')).toEqual({ kind: 'literal', value: 'a }} b' });
  });
});

describe('compile problems are collected with their path, not thrown', () => {
  test.each([
    ['{{ (( }}', /Expected/],
    ['text {{ a', /unclosed/],
    ['{{ }}', /empty expression/],
    ['{{ a }} and {{ }}', /empty expression/],
  ])('%j', (template, message) => {
    const problems: TemplateProblem[] = [];
    const compiled = compileValue({ outer: [template] }, problems);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.path).toEqual(['outer', 0]);
    expect(problems[0]!.message).toMatch(message);
    // The bad string stays a literal so the rest of the value still compiles.
    expect(compiled).toEqual({ kind: 'literal', value: { outer: [template] } });
  });
});

describe('literals and nesting', () => {
  test('a value with no template compiles to one literal node holding the same value', () => {
    const value = { a: 1, b: ['x', { c: null, d: true }], e: 'plain }} text' };
    const compiled = compileOk(value);
    expect(compiled).toEqual({ kind: 'literal', value });
    if (compiled.kind === 'literal') expect(compiled.value).toBe(value);
    expect(compileOk(7)).toEqual({ kind: 'literal', value: 7 });
    expect(compileOk(null)).toEqual({ kind: 'literal', value: null });
  });

  test('nested objects and arrays are resolved in place; literal parts are kept', async () => {
    const value = { a: 1, list: ['lit', '{{ x }}', { deep: '{{ x * 2 }}', keep: [1, 2] }], s: 'n={{ x }}', plain: { k: 'v' } };
    const compiled = compileOk(value);
    expect(compiled.kind).toBe('object');
    expect(await resolveValue(compiled, { x: 3 }, clock)).toEqual({ a: 1, list: ['lit', 3, { deep: 6, keep: [1, 2] }], s: 'n=3', plain: { k: 'v' } });
  });

  test('resolving does not mutate the compiled value, and resolves again with a new scope', async () => {
    const compiled = compileOk({ v: ['{{ x }}'] });
    expect(await resolveValue(compiled, { x: 1 }, clock)).toEqual({ v: [1] });
    expect(await resolveValue(compiled, { x: 2 }, clock)).toEqual({ v: [2] });
  });

  test('root names read by a value', () => {
    const compiled = compileOk({ a: '{{ start.x + other }}', b: ['{{ items[price > 1] }}', '{{ $$.root }}'] });
    expect([...collectValueRootNames(compiled)].sort()).toEqual(['items', 'other', 'root', 'start']);
  });

  test('a JSON key named __proto__ stays an own data key when its value is a template', async () => {
    const value = JSON.parse('{"__proto__": "{{ 1 + 1 }}", "a": "{{ 1 }}"}') as Record<string, unknown>;
    const resolved = (await render(value)) as Record<string, unknown>;
    expect(Object.keys(resolved)).toEqual(['__proto__', 'a']);
    expect(Object.getOwnPropertyDescriptor(resolved, '__proto__')?.value).toBe(2);
    // An object value must not become the prototype of the resolved params.
    const sneaky = JSON.parse('{"__proto__": "{{ {\'polluted\': true} }}", "a": "{{ 1 }}"}') as Record<string, unknown>;
    const out = (await render(sneaky)) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(out.polluted).toBeUndefined();
  });
});

describe('clock functions', () => {
  test('$now() and $millis() use the passed clock', async () => {
    expect(await render('{{ $millis() }}')).toBe(clock.now());
    expect(await render('{{ $now() }}')).toBe('2024-01-02T03:04:05.678Z');
    expect(await render('at {{ $millis() }}')).toBe(`at ${clock.now()}`);
  });

  test('another clock gives another time, deterministically', async () => {
    const compiled = compileOk('{{ $millis() }}');
    expect(await resolveValue(compiled, {}, { now: () => 0 })).toBe(0);
    expect(await resolveValue(compiled, {}, { now: () => 0 })).toBe(0);
    expect(await resolveValue(compileOk('{{ $now() }}'), {}, { now: () => 0 })).toBe('1970-01-01T00:00:00.000Z');
  });
});

describe('evaluation errors', () => {
  test.each(["{{ 'a' + 1 }}", '{{ $notAFunction() }}', 'x {{ $error("boom") }}'])('%j is a non-retryable EXPRESSION_ERROR', async (template) => {
    const error: unknown = await render(template).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(FlowPilotError);
    const flow = error as FlowPilotError;
    expect(flow.code).toBe('EXPRESSION_ERROR');
    expect(flow.retryable).toBe(false);
    expect(flow.message).toMatch(/^\{\{ .+ \}\}: /);
  });

  test('the message names the failing source', async () => {
    await expect(render({ deep: ["{{ 'a' + 1 }}"] })).rejects.toThrow(/\{\{ 'a' \+ 1 \}\}/);
  });
});

describe('isTruthy', () => {
  test.each<[unknown, boolean]>([
    [undefined, false],
    [null, false],
    [false, false],
    [0, false],
    ['', false],
    [[], false],
    [{}, false],
    [[0, '', null], false],
    [[[]], false],
    [true, true],
    [1, true],
    [-1, true],
    ['false', true],
    ['0', true],
    [[0, 1], true],
    [{ a: 0 }, true],
  ])('%j → %s', (value, expected) => {
    expect(isTruthy(value)).toBe(expected);
  });
});
