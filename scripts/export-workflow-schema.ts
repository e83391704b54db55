/**
 * Writes docs/workflow.schema.json from the zod schema of the workflow format.
 * `npm run schema:export`; a test fails when the committed file is stale.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { workflowJsonSchema } from '@flowpilot/engine';

export const SCHEMA_FILE = fileURLToPath(new URL('../docs/workflow.schema.json', import.meta.url));

/** The file's exact expected contents. */
export function renderWorkflowSchema(): string {
  const schema = { $id: 'https://flowpilot.dev/schemas/workflow.v1.json', title: 'FlowPilot workflow (format v1)', ...workflowJsonSchema() };
  return `${JSON.stringify(schema, null, 2)}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(SCHEMA_FILE, renderWorkflowSchema());
  console.log(`wrote ${SCHEMA_FILE}`);
}
