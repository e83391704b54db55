/** validateWorkflow never throws, and never hides an internal crash behind an issue, on any JSON value. */
import { ValidationCode, type ValidationResult } from '@flowpilot/engine';
import { describe, expect, test } from 'vitest';
import { readExample, Rng, validate } from './helpers.js';

const CODES: ReadonlySet<string> = new Set(Object.values(ValidationCode));

/** Checks the report's shape; returns it for further assertions. */
function checkReport(value: unknown, label: string): ValidationResult {
  let result: ValidationResult | undefined;
  expect(() => {
    result = validate(value);
  }, label).not.toThrow();
  const report = result!;
  expect(typeof report.valid, label).toBe('boolean');
  expect(Array.isArray(report.errors), label).toBe(true);
  expect(Array.isArray(report.warnings), label).toBe(true);
  for (const issue of [...report.errors, ...report.warnings]) {
    expect(typeof issue.code, label).toBe('string');
    expect(CODES.has(issue.code), `${label}: code ${issue.code}`).toBe(true);
    expect(typeof issue.message, label).toBe('string');
    expect(issue.message.length, label).toBeGreaterThan(0);
    if (issue.path !== undefined) expect(typeof issue.path, label).toBe('string');
    // The catch-all in validateWorkflow turns a crash into this message: it must never be needed.
    expect(issue.message, label).not.toMatch(/validation failed unexpectedly/);
  }
  if (report.valid) {
    expect(report.errors, label).toEqual([]);
    expect(report.plan, label).toBeDefined();
  } else {
    expect(report.errors.length, label).toBeGreaterThan(0);
    expect(report.plan, label).toBeUndefined();
  }
  return report;
}

function expectInvalid(value: unknown, label = JSON.stringify(value)?.slice(0, 200) ?? String(value)): ValidationResult {
  const report = checkReport(value, label);
  expect(report.valid, label).toBe(false);
  return report;
}

describe('fixed garbage', () => {
  test.each<[string, unknown]>([
    ['null', null],
    ['undefined', undefined],
    ['a number', 42],
    ['NaN', Number.NaN],
    ['a boolean', false],
    ['an array', [1, 2, 3]],
    ['an empty object', {}],
    ['a non-JSON string', 'not json'],
    ['an empty string', ''],
    ['a JSON string of null', 'null'],
    ['a JSON string of an array', '[{"name":"x"}]'],
    ['nodes as a string', { name: 'x', nodes: 'abc' }],
    ['nodes as null', { name: 'x', nodes: null }],
    ['nodes of primitives', { name: 'x', nodes: [1, 'a', null, true, []] }],
    ['node data as an array', { name: 'x', nodes: [{ id: 'a', type: 'noop', data: [] }] }],
    ['node data as null', { name: 'x', nodes: [{ id: 'a', type: 'noop', data: null }] }],
    ['node id as a number', { name: 'x', nodes: [{ id: 7, type: 'noop' }] }],
    ['edges as an object', { name: 'x', nodes: [{ id: 'a', type: 'noop' }], edges: { source: 'a', target: 'a' } }],
    ['edges of primitives', { name: 'x', nodes: [{ id: 'a', type: 'noop' }], edges: [null, 1, 'a', []] }],
    ['settings garbage', { name: 'x', nodes: [], settings: { concurrency: -1, timeoutMs: 'soon' } }],
    ['vars as an array', { name: 'x', nodes: [], vars: [1] }],
    ['switch with garbage cases', { name: 'x', nodes: [{ id: 's', type: 'switch', data: { cases: [null, 1, { handle: 3 }] } }] }],
    ['switch with cases as an object', { name: 'x', nodes: [{ id: 's', type: 'switch', data: { cases: { handle: 'a' } } }] }],
    ['merge with a bad mode', { name: 'x', nodes: [{ id: 'm', type: 'merge', data: { mode: 7 } }] }],
    ['forEach body null', { name: 'x', nodes: [{ id: 'f', type: 'forEach', data: { items: [], body: null } }] }],
    ['forEach body a string', { name: 'x', nodes: [{ id: 'f', type: 'forEach', data: { items: [], body: 'x' } }] }],
    ['forEach body of garbage nodes', { name: 'x', nodes: [{ id: 'f', type: 'forEach', data: { items: [], body: { nodes: [null, { id: 1 }], edges: 5 } } }] }],
    ['loop without anything', { name: 'x', nodes: [{ id: 'l', type: 'loop', data: {} }] }],
    ['templates everywhere', { name: '{{', nodes: [{ id: 'a', type: 'set', data: { values: { '{{': '{{ {{ }} }}', b: ['{{ $$ }}', '}}{{'] } } }] }],
    ['prototype-ish keys', JSON.parse('{"name":"x","nodes":[{"id":"constructor","type":"noop","data":{"__proto__":{"a":"{{ 1 }}"}}}],"__proto__":{"x":1}}')],
  ])('%s', (_label, value) => {
    expectInvalid(value);
  });

  test('deeply nested arrays and objects at the top level', () => {
    let array: unknown = 0;
    let object: unknown = 'leaf';
    for (let depth = 0; depth < 100_000; depth += 1) {
      array = [array];
      object = { a: object };
    }
    expectInvalid(array, 'deep array');
    expectInvalid(object, 'deep object');
  });

  test('deeply nested (but reasonable) node data with templates validates', () => {
    let data: unknown = '{{ input.x }}';
    for (let depth = 0; depth < 500; depth += 1) data = depth % 2 === 0 ? { k: data } : [data];
    const report = checkReport({ name: 'x', nodes: [{ id: 'a', type: 'set', data: { values: { v: data } } }] }, 'deep data');
    expect(report.valid).toBe(true);
  });
});

const KEYS = ['name', 'nodes', 'edges', 'id', 'type', 'data', 'source', 'target', 'sourceHandle', 'retry', 'onError', 'settings', 'vars', 'body', 'items', 'values', 'ms', 'condition', 'cases', 'handle', 'mode', 'constructor', 'toString', '__proto__', 'x'];
const STRINGS = ['', 'a', 'b', 'start', 'noop', 'if', 'set', 'merge', 'forEach', 'loop', 'switch', 'delay', 'true', 'error', 'route', 'input', 'vars', '1x', '{{ a }}', '{{', '}}', '{{ (( }}', '{{ }}', '{{ $$.a }}', 'x {{ b.c }} y', '{{ {"a": {"b": 1}} }}'];

function randomJson(rng: Rng, depth: number): unknown {
  const kind = rng.int(depth <= 0 ? 4 : 7);
  switch (kind) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick([0, -1, 1, 1.5, 1e21, -0, 2_147_483_648, Number.MAX_SAFE_INTEGER]);
    case 3:
      return rng.pick(STRINGS);
    case 4:
    case 5: {
      const object: Record<string, unknown> = {};
      for (let count = rng.int(5); count > 0; count -= 1) {
        Object.defineProperty(object, rng.pick(KEYS), { value: randomJson(rng, depth - 1), enumerable: true, writable: true, configurable: true });
      }
      return object;
    }
    default:
      return Array.from({ length: rng.int(5) }, () => randomJson(rng, depth - 1));
  }
}

/** A value shaped roughly like a workflow, so the random input reaches the deeper checks. */
function randomWorkflowish(rng: Rng): unknown {
  const ids = ['a', 'b', 'c', 'd', 'start'];
  const types = ['noop', 'if', 'set', 'merge', 'forEach', 'loop', 'switch', 'delay', 'output', 'nope'];
  const nodes = Array.from({ length: rng.int(6) }, () => {
    if (rng.chance(0.1)) return randomJson(rng, 2);
    const node: Record<string, unknown> = { id: rng.pick(ids), type: rng.pick(types), data: rng.chance(0.8) ? randomJson(rng, 3) : { values: { v: rng.pick(STRINGS) } } };
    if (rng.chance(0.2)) node.onError = rng.pick(['fail', 'continue', 'route', 'nope']);
    if (rng.chance(0.2)) node.retry = randomJson(rng, 1);
    return node;
  });
  const edges = Array.from({ length: rng.int(7) }, () =>
    rng.chance(0.1) ? randomJson(rng, 2) : { source: rng.pick(ids), target: rng.pick(ids), ...(rng.chance(0.3) ? { sourceHandle: rng.pick(['true', 'false', 'error', 'main', 'x', null]) } : {}) },
  );
  return { name: rng.pick(['w', '', 5]), nodes, edges };
}

test('a few thousand random JSON values (seeded) are reported on, never thrown on', () => {
  const rng = new Rng(0xc0ffee);
  let invalid = 0;
  for (let round = 0; round < 3000; round += 1) {
    const value = round % 3 === 0 ? randomWorkflowish(rng) : randomJson(rng, 5);
    const label = `round ${round}: ${JSON.stringify(value)?.slice(0, 300)}`;
    const report = checkReport(round % 7 === 0 ? JSON.stringify(value) ?? 'undefined' : value, label);
    if (!report.valid) invalid += 1;
  }
  // Random values are almost never workflows.
  expect(invalid).toBeGreaterThan(2900);
});

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Every container in a JSON tree, with a way to reach it. */
function containers(value: Json, into: Array<Json[] | { [key: string]: Json }> = []): Array<Json[] | { [key: string]: Json }> {
  if (value !== null && typeof value === 'object') {
    into.push(value);
    for (const child of Array.isArray(value) ? value : Object.values(value)) containers(child, into);
  }
  return into;
}

function mutate(rng: Rng, root: Json): void {
  const target = rng.pick(containers(root));
  const keys: ReadonlyArray<number | string> = Array.isArray(target) ? target.map((_, index) => index) : Object.keys(target);
  const replacement = randomJson(rng, 2) as Json;
  const op = rng.int(4);
  if (Array.isArray(target)) {
    const index = keys.length === 0 ? 0 : rng.int(keys.length);
    if (op === 0) target.splice(index, 1);
    else if (op === 1 && target[index] !== undefined) target.push(structuredClone(target[index]!));
    else target[index] = replacement;
    return;
  }
  const key = keys.length === 0 || op === 3 ? rng.pick(KEYS) : String(rng.pick(keys));
  if (op === 0) delete target[key];
  else if (op === 1 && typeof target[key] === 'string') target[key] = rng.pick(STRINGS);
  else Object.defineProperty(target, key, { value: replacement, enumerable: true, writable: true, configurable: true });
}

test('random mutations of examples/greeting.json (seeded) are reported on, never thrown on', () => {
  const greeting = readExample('greeting.json') as Json;
  expect(validate(greeting).valid).toBe(true);
  const rng = new Rng(20_240_601);
  let valid = 0;
  let invalid = 0;
  for (let round = 0; round < 2000; round += 1) {
    const copy = structuredClone(greeting);
    for (let count = 1 + rng.int(3); count > 0; count -= 1) mutate(rng, copy);
    const report = checkReport(copy, `mutation ${round}: ${JSON.stringify(copy)}`);
    if (report.valid) valid += 1;
    else invalid += 1;
  }
  // The mutations exercise both outcomes.
  expect(valid).toBeGreaterThan(0);
  expect(invalid).toBeGreaterThan(0);
});
