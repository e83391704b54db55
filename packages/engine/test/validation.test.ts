/** One test (or a few) per structural validation code, asserting the code and its location. */
import { describe, expect, test } from 'vitest';
import { errorsWith, expectValid, onlyError, validate, wf } from './helpers.js';

describe('INVALID_JSON', () => {
  test('a string that is not JSON', () => {
    const result = validate('{"name": "x", nodes: [}');
    const issue = onlyError(result);
    expect(issue.code).toBe('INVALID_JSON');
    expect(issue.message).toMatch(/^not valid JSON: /);
    expect(issue.path).toBeUndefined();
    expect(issue.nodeId).toBeUndefined();
    expect(result.plan).toBeUndefined();
  });

  test('a JSON string is parsed and validated like the object', () => {
    expectValid(validate(JSON.stringify(wf([{ id: 'a', type: 'noop' }]))));
  });
});

describe('INVALID_SCHEMA', () => {
  test('missing name', () => {
    const issue = onlyError(validate({ nodes: [] }));
    expect(issue).toMatchObject({ code: 'INVALID_SCHEMA', path: 'name' });
    expect(issue.message).toMatch(/^name: /);
  });

  test('an unknown top-level key (the header is strict)', () => {
    const issue = onlyError(validate(wf([], [], { bogus: 1 })));
    expect(issue.code).toBe('INVALID_SCHEMA');
    expect(issue.message).toContain('bogus');
  });

  test('nodes not an array', () => {
    const issue = onlyError(validate({ name: 'x', nodes: { a: 1 } }));
    expect(issue).toMatchObject({ code: 'INVALID_SCHEMA', path: 'nodes', message: 'nodes must be an array of nodes' });
  });

  test('edges not an array', () => {
    const issue = onlyError(validate({ name: 'x', nodes: [], edges: { source: 'a' } }));
    expect(issue).toMatchObject({ code: 'INVALID_SCHEMA', path: 'edges' });
  });

  test('node missing type, located at nodes[1].type with the node id', () => {
    const issue = onlyError(validate(wf([{ id: 'a', type: 'noop' }, { id: 'b' }])));
    expect(issue).toMatchObject({ code: 'INVALID_SCHEMA', path: 'nodes[1].type', nodeId: 'b' });
    expect(issue.message).toMatch(/^nodes\[1\]\.type: /);
  });

  test('node data that is not an object', () => {
    const issue = onlyError(validate(wf([{ id: 'a', type: 'noop', data: [1, 2] }])));
    expect(issue).toMatchObject({ code: 'INVALID_SCHEMA', path: 'nodes[0].data', nodeId: 'a' });
  });

  test('bad retry policy is located inside the node', () => {
    const issue = onlyError(validate(wf([{ id: 'a', type: 'noop', retry: { maxAttempts: 0 } }])));
    expect(issue).toMatchObject({ code: 'INVALID_SCHEMA', path: 'nodes[0].retry.maxAttempts', nodeId: 'a' });
  });

  test('edge missing target', () => {
    const result = validate(wf([{ id: 'a', type: 'noop' }, { id: 'b', type: 'noop' }], [{ source: 'a', target: 'b' }, { source: 'a' }]));
    const issue = onlyError(result);
    expect(issue).toMatchObject({ code: 'INVALID_SCHEMA', path: 'edges[1].target' });
  });

  test('a non-object edge', () => {
    const issue = onlyError(validate(wf([{ id: 'a', type: 'noop' }], [5 as unknown as Record<string, unknown>])));
    expect(issue).toMatchObject({ code: 'INVALID_SCHEMA', path: 'edges[0]' });
  });

  test('a workflow that is not an object', () => {
    for (const value of [null, 3, [], 'null', '[1]', true]) {
      const issue = onlyError(validate(value));
      expect(issue.code).toBe('INVALID_SCHEMA');
    }
  });
});

describe('INVALID_NODE_ID', () => {
  test.each(['1abc', 'a-b', 'a b', 'ä'])('id %j does not match the identifier pattern', (id) => {
    const issue = onlyError(validate(wf([{ id, type: 'noop' }])));
    expect(issue).toMatchObject({ code: 'INVALID_NODE_ID', nodeId: id, path: 'nodes[0].id' });
    expect(issue.message).toContain('must match');
  });

  test.each(['input', 'vars'])('reserved id %j', (id) => {
    const issue = onlyError(validate(wf([{ id: 'ok', type: 'noop' }, { id, type: 'noop' }], [{ source: 'ok', target: id }])));
    expect(issue).toMatchObject({ code: 'INVALID_NODE_ID', nodeId: id, path: 'nodes[1].id' });
    expect(issue.message).toContain('reserved');
  });

  test('valid identifiers are accepted', () => {
    expectValid(validate(wf([{ id: '_a1', type: 'noop' }, { id: 'B_2', type: 'noop' }], [{ source: '_a1', target: 'B_2' }])));
  });
});

describe('DUPLICATE_NODE_ID / DUPLICATE_EDGE_ID', () => {
  test('second use of a node id is reported at its own index', () => {
    const result = validate(wf([{ id: 'a', type: 'noop' }, { id: 'b', type: 'noop' }, { id: 'a', type: 'noop' }], [{ source: 'a', target: 'b' }]));
    const issue = onlyError(result);
    expect(issue).toMatchObject({ code: 'DUPLICATE_NODE_ID', nodeId: 'a', path: 'nodes[2].id' });
  });

  test('second use of an edge id', () => {
    const nodes = [{ id: 'a', type: 'noop' }, { id: 'b', type: 'noop' }, { id: 'c', type: 'noop' }];
    const result = validate(wf(nodes, [{ id: 'e', source: 'a', target: 'b' }, { id: 'e', source: 'b', target: 'c' }]));
    const issue = onlyError(result);
    expect(issue).toMatchObject({ code: 'DUPLICATE_EDGE_ID', edgeId: 'e', path: 'edges[1].id' });
  });

  test('edges without ids never collide', () => {
    const nodes = [{ id: 'a', type: 'noop' }, { id: 'b', type: 'noop' }, { id: 'c', type: 'noop' }];
    expectValid(validate(wf(nodes, [{ source: 'a', target: 'b' }, { source: 'b', target: 'c' }])));
  });
});

describe('DANGLING_EDGE', () => {
  const nodes = [{ id: 'a', type: 'noop' }, { id: 'b', type: 'noop' }];

  test('unknown source', () => {
    const issue = onlyError(validate(wf(nodes, [{ source: 'a', target: 'b' }, { id: 'e2', source: 'ghost', target: 'b' }])));
    expect(issue).toMatchObject({ code: 'DANGLING_EDGE', edgeId: 'e2', path: 'edges[1].source' });
    expect(issue.message).toContain('"ghost"');
  });

  test('unknown target', () => {
    const issue = onlyError(validate(wf(nodes, [{ source: 'a', target: 'b' }, { source: 'b', target: 'ghost' }])));
    expect(issue).toMatchObject({ code: 'DANGLING_EDGE', path: 'edges[1].target' });
    expect(issue.edgeId).toBeUndefined();
  });

  test('both ends unknown gives two issues', () => {
    const result = validate(wf(nodes, [{ source: 'a', target: 'b' }, { source: 'x', target: 'y' }]));
    expect(errorsWith(result, 'DANGLING_EDGE').map((issue) => issue.path)).toEqual(['edges[1].source', 'edges[1].target']);
    expect(result.errors).toHaveLength(2);
  });
});

describe('UNKNOWN_NODE_TYPE', () => {
  test('type not in the registry', () => {
    const issue = onlyError(validate(wf([{ id: 'a', type: 'teleport' }])));
    expect(issue).toMatchObject({ code: 'UNKNOWN_NODE_TYPE', nodeId: 'a', path: 'nodes[0].type' });
    expect(issue.message).toContain('"teleport"');
  });
});

describe('INVALID_PARAMS', () => {
  test('a delay with ms -1 is located at the field', () => {
    const issue = onlyError(validate(wf([{ id: 'wait', type: 'delay', data: { ms: -1 } }])));
    expect(issue).toMatchObject({ code: 'INVALID_PARAMS', nodeId: 'wait', path: 'nodes[0].data.ms' });
    expect(issue.message).toMatch(/^node "wait" \(delay\): ms: /);
  });

  test('a missing required param', () => {
    const issue = onlyError(validate(wf([{ id: 'a', type: 'noop' }, { id: 'wait', type: 'delay' }], [{ source: 'a', target: 'wait' }])));
    expect(issue).toMatchObject({ code: 'INVALID_PARAMS', nodeId: 'wait', path: 'nodes[1].data.ms' });
  });

  test('a nested param path', () => {
    const data = { cases: [{ handle: 'ok', condition: '{{ true }}' }, { handle: 'default', condition: true }] };
    const result = validate(wf([{ id: 's', type: 'switch', data }]));
    const issue = onlyError(result);
    expect(issue).toMatchObject({ code: 'INVALID_PARAMS', nodeId: 's', path: 'nodes[0].data.cases[1].handle' });
  });

  test('a {{ }} template standing in for a number is not an error at validation time', () => {
    const nodes = [{ id: 'start', type: 'input' }, { id: 'wait', type: 'delay', data: { ms: '{{ start.wait }}' } }];
    const result = validate(wf(nodes, [{ source: 'start', target: 'wait' }]));
    expectValid(result);
    // The params are checked again per attempt, so no static params are cached for the node.
    expect(result.plan?.byId.get('wait')?.staticParams).toBeUndefined();
  });

  test('a plain string for a number is still an error', () => {
    const issue = onlyError(validate(wf([{ id: 'wait', type: 'delay', data: { ms: 'soon' } }])));
    expect(issue).toMatchObject({ code: 'INVALID_PARAMS', path: 'nodes[0].data.ms' });
  });
});

describe('UNKNOWN_HANDLE', () => {
  const ifNodes = [
    { id: 'check', type: 'if', data: { condition: '{{ input.ok }}' } },
    { id: 'yes', type: 'noop' },
  ];

  test('edge from an if node with handle "maybe"', () => {
    const issue = onlyError(validate(wf(ifNodes, [{ id: 'e1', source: 'check', target: 'yes', sourceHandle: 'maybe' }])));
    expect(issue).toMatchObject({ code: 'UNKNOWN_HANDLE', nodeId: 'check', edgeId: 'e1', path: 'edges[0].sourceHandle' });
    expect(issue.message).toContain('"maybe"');
    expect(issue.message).toContain('true, false');
  });

  test('edge from an if node with no sourceHandle', () => {
    const issue = onlyError(validate(wf(ifNodes, [{ source: 'check', target: 'yes' }])));
    expect(issue).toMatchObject({ code: 'UNKNOWN_HANDLE', nodeId: 'check', path: 'edges[0].sourceHandle' });
    expect(issue.message).toContain('names no sourceHandle');
  });

  test('edge from an if node with null sourceHandle is treated as none', () => {
    const issue = onlyError(validate(wf(ifNodes, [{ source: 'check', target: 'yes', sourceHandle: null }])));
    expect(issue).toMatchObject({ code: 'UNKNOWN_HANDLE', path: 'edges[0].sourceHandle' });
  });

  test('the true and false handles are valid', () => {
    const nodes = [...ifNodes, { id: 'no', type: 'noop' }];
    expectValid(validate(wf(nodes, [{ source: 'check', target: 'yes', sourceHandle: 'true' }, { source: 'check', target: 'no', sourceHandle: 'false' }])));
  });

  test('an "error" edge from a node without onError route', () => {
    const nodes = [{ id: 'a', type: 'noop' }, { id: 'b', type: 'noop' }];
    for (const onError of [undefined, 'fail', 'continue']) {
      const node = onError === undefined ? nodes[0]! : { ...nodes[0]!, onError };
      const issue = onlyError(validate(wf([node, nodes[1]!], [{ source: 'a', target: 'b', sourceHandle: 'error' }])));
      expect(issue).toMatchObject({ code: 'UNKNOWN_HANDLE', nodeId: 'a', path: 'edges[0].sourceHandle' });
    }
  });

  test('an "error" edge from a node with onError route is valid, as is its main edge', () => {
    const nodes = [{ id: 'a', type: 'noop', onError: 'route' }, { id: 'b', type: 'noop' }, { id: 'c', type: 'noop' }];
    expectValid(validate(wf(nodes, [{ source: 'a', target: 'b', sourceHandle: 'error' }, { source: 'a', target: 'c' }])));
  });

  test('switch handles come from its cases plus default', () => {
    const nodes = [
      { id: 's', type: 'switch', data: { cases: [{ handle: 'eu', condition: true }] } },
      { id: 'x', type: 'noop' },
      { id: 'y', type: 'noop' },
    ];
    expectValid(validate(wf(nodes, [{ source: 's', target: 'x', sourceHandle: 'eu' }, { source: 's', target: 'y', sourceHandle: 'default' }])));
    const issue = onlyError(validate(wf(nodes, [{ source: 's', target: 'x', sourceHandle: 'us' }, { source: 's', target: 'y', sourceHandle: 'default' }])));
    expect(issue).toMatchObject({ code: 'UNKNOWN_HANDLE', path: 'edges[0].sourceHandle' });
  });
});
