import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { renderWorkflowSchema, SCHEMA_FILE } from '../../../scripts/export-workflow-schema.js';

test('docs/workflow.schema.json matches the zod schema (run `npm run schema:export` after changing it)', () => {
  expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(renderWorkflowSchema());
});

test('the exported schema describes nodes and edges in React Flow shape', () => {
  const schema = JSON.parse(renderWorkflowSchema()) as { properties: Record<string, { items?: { properties?: Record<string, unknown>; required?: string[] } }>; required: string[] };
  expect(schema.required).toEqual(expect.arrayContaining(['name', 'nodes']));
  expect(Object.keys(schema.properties.nodes?.items?.properties ?? {})).toEqual(expect.arrayContaining(['id', 'type', 'data', 'position', 'retry', 'timeoutMs', 'onError']));
  expect(schema.properties.edges?.items?.required).toEqual(['source', 'target']);
});
