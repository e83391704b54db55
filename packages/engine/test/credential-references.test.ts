/** Credential references: the credential param, the requirement a node type declares, and the pure reference check. */
import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { credentialParam, credentialReferences, credentialRequirement, defineNodeType, describeNodeType, validateCredentialReferences, validateWorkflow } from '@flowpilot/engine';
import { createBuiltinRegistry } from '@flowpilot/nodes';
import { wf } from './helpers.js';

const mailNode = defineNodeType({
  type: 'test_mail',
  title: 'Mail (test)',
  description: 'Needs an smtp credential.',
  category: 'test',
  params: z.object({ to: z.string(), credential: credentialParam(['smtp'], { required: true }) }),
  execute: () => ({}),
});

const registry = createBuiltinRegistry().register(mailNode);
const known = new Map([
  ['smtp1', 'smtp'],
  ['bearer1', 'httpBearer'],
  ['basic1', 'httpBasic'],
]);

describe('credential param and requirement', () => {
  test('a node type declares what it accepts through its params schema; others declare nothing', () => {
    expect(credentialRequirement(mailNode)).toEqual({ types: ['smtp'], required: true });
    expect(credentialRequirement(registry.get('http')!)).toEqual({ types: ['httpBearer', 'httpBasic', 'httpHeader'], required: false });
    expect(credentialRequirement(registry.get('set')!)).toBeUndefined();
  });

  test('data.credential passes the params schema; the JSON Schema shows the accepted types', () => {
    const result = validateWorkflow(wf([{ id: 'm', type: 'test_mail', data: { to: 'a@b.c', credential: 'smtp1' } }]), registry);
    expect(result.errors).toEqual([]);
    // Missing is not a params error: it is CREDENTIAL_REQUIRED where credentials are known.
    expect(validateWorkflow(wf([{ id: 'm', type: 'test_mail', data: { to: 'a@b.c' } }]), registry).errors).toEqual([]);
    expect(validateWorkflow(wf([{ id: 'm', type: 'test_mail', data: { to: 'a@b.c', credential: 42 } }]), registry).errors[0]).toMatchObject({ code: 'INVALID_PARAMS', path: 'nodes[0].data.credential' });
    const schema = describeNodeType(mailNode).paramsSchema as { properties: Record<string, Record<string, unknown>>; required: string[] };
    expect(schema.properties.credential).toMatchObject({ type: 'string', credential: { types: ['smtp'], required: true } });
    expect(schema.required).toEqual(['to']);
  });
});

describe('validateCredentialReferences', () => {
  test('valid references give no issues; nodes without a credential param are ignored', () => {
    const workflow = wf([
      { id: 'm', type: 'test_mail', data: { to: 'x', credential: 'smtp1' } },
      { id: 'h', type: 'http', data: { url: 'https://example.com', credential: 'basic1' } },
      { id: 'plain', type: 'http', data: { url: 'https://example.com' } },
      { id: 's', type: 'set', data: { values: { credential: 'nope' } } },
    ]) as { nodes: unknown[] };
    expect(validateCredentialReferences(workflow, registry, known)).toEqual([]);
  });

  test('missing, unknown and wrong-type references, with node id and path, in sub-graphs too', () => {
    const workflow = wf([
      { id: 'm', type: 'test_mail', data: { to: 'x' } },
      { id: 'h', type: 'http', data: { url: 'https://example.com', credential: 'gone' } },
      { id: 'w', type: 'http', data: { url: 'https://example.com', credential: 'smtp1' } },
      { id: 't', type: 'http', data: { url: 'https://example.com', credential: '{{ vars.cred }}' } },
      {
        id: 'each',
        type: 'forEach',
        data: { items: [1], body: { nodes: [{ id: 'inner', type: 'test_mail', data: { to: 'x', credential: 'bearer1' } }] } },
      },
    ]) as { nodes: unknown[] };
    expect(validateCredentialReferences(workflow, registry, known)).toEqual([
      { code: 'CREDENTIAL_REQUIRED', message: expect.stringContaining('"m" needs a credential (smtp)'), nodeId: 'm', path: 'nodes[0].data.credential' },
      { code: 'CREDENTIAL_NOT_FOUND', message: 'node "h": credential "gone" not found', nodeId: 'h', path: 'nodes[1].data.credential' },
      { code: 'CREDENTIAL_TYPE_MISMATCH', message: expect.stringContaining('is of type smtp; the node accepts httpBearer or httpBasic or httpHeader'), nodeId: 'w', path: 'nodes[2].data.credential' },
      // An expression is not a credential id: references are checked as written.
      { code: 'CREDENTIAL_NOT_FOUND', message: expect.stringContaining('{{ vars.cred }}'), nodeId: 't', path: 'nodes[3].data.credential' },
      { code: 'CREDENTIAL_TYPE_MISMATCH', message: expect.stringContaining('"bearer1" is of type httpBearer'), nodeId: 'inner', path: 'nodes[4].data.body.nodes[0].data.credential' },
    ]);
  });

  test('credentialReferences lists every reference; malformed graphs are skipped, not thrown on', () => {
    const refs = credentialReferences({ nodes: [null, 5, { id: 'h', type: 'http', data: { credential: 'c1' } }, { id: 'x', type: 'unknown' }, { id: 'f', type: 'forEach', data: { body: 'nope' } }] }, registry);
    expect(refs).toEqual([{ nodeId: 'h', path: 'nodes[2].data.credential', credentialId: 'c1', requirement: { types: ['httpBearer', 'httpBasic', 'httpHeader'], required: false } }]);
  });
});
