import { validateWorkflow, type NodeRegistry } from '@flowpilot/engine';
import { ExitCode, type CliIo } from '../io.js';
import { formatValidation } from '../output.js';
import { readWorkflowText } from '../workflow-file.js';

/** `flowpilot validate FILE [--json]`: exit 0 when valid, 2 when not. */
export async function validateCommand(file: string, options: { json?: boolean }, registry: NodeRegistry, io: CliIo): Promise<number> {
  let text: string;
  try {
    text = await readWorkflowText(file);
  } catch (error) {
    if (options.json !== true) throw error;
    const message = error instanceof Error ? error.message : String(error);
    io.stdout.write(`${JSON.stringify({ valid: false, errors: [{ code: 'FILE_UNREADABLE', message }], warnings: [] }, null, 2)}\n`);
    return ExitCode.INVALID;
  }
  const { valid, errors, warnings, workflow } = validateWorkflow(text, registry);
  if (options.json === true) io.stdout.write(`${JSON.stringify({ valid, errors, warnings }, null, 2)}\n`);
  else {
    const counts = workflow === undefined ? undefined : { nodes: workflow.nodes.length, edges: workflow.edges.length };
    (valid ? io.stdout : io.stderr).write(formatValidation(file, { valid, errors, warnings }, counts));
  }
  return valid ? ExitCode.OK : ExitCode.INVALID;
}
