/** Graph-level validation: cycles, expressions, references, orphans, sub-graph bodies, examples. */
import { describe, expect, test } from 'vitest';
import { errorsWith, exampleFiles, expectValid, onlyError, validate, wf, type RawEdge, type RawNode } from './helpers.js';

const noop = (id: string): RawNode => ({ id, type: 'noop' });
const edge = (source: string, target: string): RawEdge => ({ source, target });
const set = (id: string, value: string): RawNode => ({ id, type: 'set', data: { values: { v: value } } });

describe('CYCLE', () => {
  test('names the cycle in order', () => {
    const result = validate(wf([noop('a'), noop('b'), noop('c')], [edge('a', 'b'), edge('b', 'c'), edge('c', 'a')]));
    const issue = onlyError(result);
    expect(issue).toEqual({ code: 'CYCLE', message: 'cycle: a → b → c → a', nodeId: 'a', nodeIds: ['a', 'b', 'c'], path: 'edges' });
  });

  test('starts at the first node by definition order and ignores nodes outside the cycle', () => {
    const nodes = [noop('entry'), noop('z'), noop('y'), noop('x'), noop('after')];
    const edges = [edge('entry', 'x'), edge('x', 'y'), edge('y', 'z'), edge('z', 'x'), edge('y', 'after')];
    const issue = onlyError(validate(wf(nodes, edges)));
    expect(issue.message).toBe('cycle: z → x → y → z');
    expect(issue.nodeIds).toEqual(['z', 'x', 'y']);
  });

  test('self-loop', () => {
    const issue = onlyError(validate(wf([noop('a'), noop('b')], [edge('a', 'b'), edge('b', 'b')])));
    expect(issue).toMatchObject({ code: 'CYCLE', message: 'cycle: b → b', nodeId: 'b', nodeIds: ['b'] });
  });

  test('two disjoint cycles are reported separately', () => {
    const nodes = [noop('a'), noop('b'), noop('c'), noop('d'), noop('e')];
    const edges = [edge('a', 'b'), edge('b', 'a'), edge('b', 'c'), edge('c', 'd'), edge('d', 'e'), edge('e', 'c')];
    const cycles = errorsWith(validate(wf(nodes, edges)), 'CYCLE');
    expect(cycles.map((issue) => issue.message)).toEqual(['cycle: a → b → a', 'cycle: c → d → e → c']);
    expect(cycles.map((issue) => issue.nodeIds)).toEqual([['a', 'b'], ['c', 'd', 'e']]);
  });

  test('a diamond is not a cycle', () => {
    expectValid(validate(wf([noop('a'), noop('b'), noop('c'), noop('d')], [edge('a', 'b'), edge('a', 'c'), edge('b', 'd'), edge('c', 'd')])));
  });
});

describe('INVALID_EXPRESSION', () => {
  test.each([
    ['{{ (( }}', /^node "a": values\.v: /],
    ['hello {{ name', /unclosed \{\{/],
    ['{{ }}', /empty expression/],
    ['{{}}', /empty expression/],
  ])('%j', (template, message) => {
    const issue = onlyError(validate(wf([set('a', template)])));
    expect(issue).toMatchObject({ code: 'INVALID_EXPRESSION', nodeId: 'a', path: 'nodes[0].data.values.v' });
    expect(issue.message).toMatch(message);
  });

  test('the path reaches into arrays and odd keys', () => {
    const data = { values: { list: ['ok', { 'odd key': '{{ 1 + }}' }] } };
    const issue = onlyError(validate(wf([{ id: 'a', type: 'set', data }])));
    expect(issue.path).toBe('nodes[0].data.values.list[1]["odd key"]');
  });

  test('a bad deferred expression (if condition) is located at the param', () => {
    const issue = onlyError(validate(wf([{ id: 'c', type: 'if', data: { condition: '{{ 1 = }}' } }])));
    expect(issue).toMatchObject({ code: 'INVALID_EXPRESSION', nodeId: 'c', path: 'nodes[0].data.condition' });
  });
});

describe('UNKNOWN_REFERENCE', () => {
  const refIssue = (nodes: RawNode[], edges: RawEdge[], reader: string): ReturnType<typeof onlyError> => {
    const issue = onlyError(validate(wf(nodes, edges)));
    expect(issue).toMatchObject({ code: 'UNKNOWN_REFERENCE', nodeId: reader });
    return issue;
  };

  test('reading a downstream node', () => {
    const issue = refIssue([set('a', '{{ b.v }}'), noop('b')], [edge('a', 'b')], 'a');
    expect(issue.message).toBe('node "a" reads "b", but node "b" is not upstream of it');
    expect(issue.path).toBe('nodes[0].data.values.v');
  });

  test('reading a sibling branch', () => {
    const nodes = [noop('root'), noop('left'), set('right', '{{ left }}')];
    const issue = refIssue(nodes, [edge('root', 'left'), edge('root', 'right')], 'right');
    expect(issue.message).toContain('node "left" is not upstream');
    expect(issue.path).toBe('nodes[2].data.values.v');
  });

  test('reading itself', () => {
    const issue = refIssue([set('a', '{{ a.v }}')], [], 'a');
    expect(issue.message).toContain('a node cannot read its own output');
  });

  test('reading a name that does not exist', () => {
    const issue = refIssue([noop('a'), set('b', 'x = {{ nothing.here }}')], [edge('a', 'b')], 'b');
    expect(issue.message).toBe('node "b" reads "nothing", but no node or variable has that name');
  });

  test('a deferred param is located at the param', () => {
    const issue = refIssue([{ id: 'c', type: 'if', data: { condition: '{{ later }}' } }, noop('later')], [{ source: 'c', target: 'later', sourceHandle: 'true' }], 'c');
    expect(issue.path).toBe('nodes[0].data.condition');
  });

  test.each([
    ['input', '{{ input.a }}'],
    ['vars', '{{ vars.greeting }}'],
    ['a direct upstream node', '{{ start.items }}'],
    ['an upstream node two hops away', '{{ root.x }}'],
    ['names inside a predicate', '{{ start.items[price > 5].name }}'],
    ['$$ to the root', '{{ $$.start.x }}'],
    ['lambda params', '{{ $map(start.items, function($item) { $item.price * 2 }) }}'],
    ['local variables', '{{ ($k := 2; $k * start.n) }}'],
    ['fields after a path step', '{{ $sum(start.items.price) }}'],
    ['interpolated text', 'total {{ start.n }} of {{ root.m }}'],
  ])('not reported for %s', (_what, template) => {
    const nodes = [noop('root'), noop('start'), set('reader', template)];
    expectValid(validate(wf(nodes, [edge('root', 'start'), edge('start', 'reader')], { vars: { greeting: 'hi' } })));
  });

  test('$$ to a name that is not upstream is reported', () => {
    const issue = refIssue([noop('start'), set('reader', '{{ start.items[$$.ghost > 1] }}')], [edge('start', 'reader')], 'reader');
    expect(issue.message).toContain('"ghost"');
  });
});

describe('ORPHAN_NODE', () => {
  test('a node without edges in a multi-node graph is a warning, not an error', () => {
    const result = validate(wf([noop('a'), noop('b'), noop('lonely')], [edge('a', 'b')]));
    expectValid(result);
    expect(result.warnings).toEqual([
      { code: 'ORPHAN_NODE', message: expect.stringContaining('"lonely"') as unknown as string, nodeId: 'lonely', path: 'nodes[2]' },
    ]);
  });

  test('a single node is not an orphan', () => {
    const result = validate(wf([noop('only')]));
    expectValid(result);
    expect(result.warnings).toEqual([]);
  });
});

test('all problems are reported at once', () => {
  const nodes: RawNode[] = [
    { id: '1bad', type: 'noop' },
    { id: 'mystery', type: 'teleport' },
    { id: 'wait', type: 'delay', data: { ms: -1 } },
    set('reader', '{{ ghost.v }}'),
    noop('p'),
    noop('q'),
  ];
  const edges = [edge('mystery', 'nowhere'), edge('p', 'q'), edge('q', 'p'), edge('wait', 'reader')];
  const result = validate(wf(nodes, edges));
  expect(result.valid).toBe(false);
  expect(result.plan).toBeUndefined();
  expect(new Set(result.errors.map((issue) => issue.code))).toEqual(
    new Set(['INVALID_NODE_ID', 'UNKNOWN_NODE_TYPE', 'INVALID_PARAMS', 'UNKNOWN_REFERENCE', 'DANGLING_EDGE', 'CYCLE']),
  );
  expect(result.errors).toHaveLength(6);
});

describe('sub-graph bodies', () => {
  const forEach = (body: unknown): RawNode => ({ id: 'each', type: 'forEach', data: { items: '{{ start.items }}', body } });
  const outer = (body: unknown, extraNodes: RawNode[] = [], extraEdges: RawEdge[] = []): Record<string, unknown> =>
    wf([noop('start'), forEach(body), noop('after'), ...extraNodes], [edge('start', 'each'), edge('each', 'after'), ...extraEdges]);

  test('issues inside a forEach body carry the full path', () => {
    const body = { nodes: [{ id: 'w', type: 'delay', data: { ms: -5 } }, set('x', '{{ (( }}')], edges: [edge('w', 'x')] };
    const result = validate(outer(body));
    expect(result.errors.map((issue) => [issue.code, issue.path])).toEqual([
      ['INVALID_PARAMS', 'nodes[1].data.body.nodes[0].data.ms'],
      ['INVALID_EXPRESSION', 'nodes[1].data.body.nodes[1].data.values.v'],
    ]);
  });

  test('structural issues inside a body', () => {
    const body = { nodes: [noop('a'), noop('a'), noop('b')], edges: [edge('a', 'ghost'), edge('a', 'b'), edge('b', 'a')] };
    const result = validate(outer(body));
    expect(result.errors.map((issue) => [issue.code, issue.path])).toEqual([
      ['DUPLICATE_NODE_ID', 'nodes[1].data.body.nodes[1].id'],
      ['DANGLING_EDGE', 'nodes[1].data.body.edges[0].target'],
      ['CYCLE', 'nodes[1].data.body.edges'],
    ]);
  });

  test('a body whose nodes is not an array', () => {
    const result = validate(outer({ nodes: 'nope' }));
    expect(result.valid).toBe(false);
    // Reported both by the forEach params schema and by the body's structure check, at the same place.
    expect(result.errors.map((issue) => [issue.code, issue.path])).toEqual([
      ['INVALID_PARAMS', 'nodes[1].data.body.nodes'],
      ['INVALID_SCHEMA', 'nodes[1].data.body.nodes'],
    ]);
  });

  test('a body may read input, vars and outer upstream nodes', () => {
    expectValid(validate(outer({ nodes: [set('x', '{{ [input.item, input.index, vars, start] }}')], edges: [] })));
  });

  test('a body may not read the outer node itself or outer downstream nodes', () => {
    for (const name of ['after', 'each']) {
      const issue = onlyError(validate(outer({ nodes: [set('x', `{{ ${name} }}`)], edges: [] })));
      expect(issue).toMatchObject({ code: 'UNKNOWN_REFERENCE', nodeId: 'x', path: 'nodes[1].data.body.nodes[0].data.values.v' });
      expect(issue.message).toContain(`"${name}"`);
    }
  });

  test('body nodes read their own upstream nodes but not downstream ones', () => {
    expectValid(validate(outer({ nodes: [noop('a'), set('b', '{{ a }}')], edges: [edge('a', 'b')] })));
    const issue = onlyError(validate(outer({ nodes: [set('a', '{{ b }}'), noop('b')], edges: [edge('a', 'b')] })));
    expect(issue).toMatchObject({ code: 'UNKNOWN_REFERENCE', nodeId: 'a', path: 'nodes[1].data.body.nodes[0].data.values.v' });
  });

  test('an outer node cannot read a body node', () => {
    const issue = onlyError(validate(outer({ nodes: [noop('inner')], edges: [] }, [set('late', '{{ inner }}')], [edge('after', 'late')])));
    expect(issue).toMatchObject({ code: 'UNKNOWN_REFERENCE', nodeId: 'late' });
  });

  const loop = (until: string, body: unknown): Record<string, unknown> =>
    wf([noop('start'), { id: 'lp', type: 'loop', data: { maxIterations: 3, until, body } }], [edge('start', 'lp')]);

  test('loop.until may read last and iteration', () => {
    expectValid(validate(loop('{{ last.done or iteration >= 2 or start.stop }}', { nodes: [set('x', '{{ input.iteration }}')], edges: [] })));
  });

  test('loop.until may not read other unknown names; a loop body may not read last', () => {
    const issue = onlyError(validate(loop('{{ result > 1 }}', { nodes: [noop('x')], edges: [] })));
    expect(issue).toMatchObject({ code: 'UNKNOWN_REFERENCE', nodeId: 'lp', path: 'nodes[1].data.until' });
    const inBody = onlyError(validate(loop('{{ true }}', { nodes: [set('x', '{{ last }}')], edges: [] })));
    expect(inBody).toMatchObject({ code: 'UNKNOWN_REFERENCE', nodeId: 'x', path: 'nodes[1].data.body.nodes[0].data.values.v' });
  });

  test('nested bodies see every enclosing upstream name', () => {
    const inner = { nodes: [set('deep', '{{ [start, mid, input.item] }}')], edges: [] };
    const body = { nodes: [noop('mid'), { id: 'inner', type: 'forEach', data: { items: '{{ [1] }}', body: inner } }], edges: [edge('mid', 'inner')] };
    expectValid(validate(outer(body)));
    const badInner = { nodes: [set('deep', '{{ after }}')], edges: [] };
    const badBody = { nodes: [noop('mid'), { id: 'inner', type: 'forEach', data: { items: '{{ [1] }}', body: badInner } }], edges: [edge('mid', 'inner')] };
    const issue = onlyError(validate(outer(badBody)));
    expect(issue.path).toBe('nodes[1].data.body.nodes[1].data.body.nodes[0].data.values.v');
  });
});

describe('examples', () => {
  const files = exampleFiles();

  test('there are examples, including the subworkflow ones', () => {
    expect(files.map(([name]) => name)).toEqual(expect.arrayContaining(['greeting.json', 'subworkflow/parent.json', 'subworkflow/tax.json']));
  });

  test.each(files)('%s validates with no errors', (_name, json) => {
    const result = validate(json);
    expectValid(result);
    expect(result.workflow?.name).toBe((json as { name: string }).name);
  });
});
