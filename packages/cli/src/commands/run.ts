import { resolve } from 'node:path';
import { validateWorkflow, type NodeRegistry } from '@flowpilot/engine';
import { MemoryRun } from '@flowpilot/runtime';
import { ExitCode, type CliIo } from '../io.js';
import { durableRunCommand } from './durable-run.js';
import { formatProgress, formatRunSummary, formatValidation } from '../output.js';
import { fileWorkflowLoader, parseInputOption, readWorkflowText } from '../workflow-file.js';


/**
 * `flowpilot run FILE [--input JSON|@file] [--json]`: runs in memory. Exit 0 succeeded, 1 failed or
 * cancelled, 2 invalid workflow or input. SIGINT cancels the run (in-flight nodes are aborted).
 */
export async function runCommand(
  file: string,
  options: { input?: string; json?: boolean; durable?: boolean; workflowId?: string; priority?: string },
  registry: NodeRegistry,
  io: CliIo,
): Promise<number> {
  const text = await readWorkflowText(file);
  const input = await parseInputOption(options.input);
  const report = validateWorkflow(text, registry);
  if (report.plan === undefined) {
    if (options.json === true) io.stdout.write(`${JSON.stringify({ status: 'invalid', errors: report.errors, warnings: report.warnings }, null, 2)}\n`);
    else io.stderr.write(formatValidation(file, report));
    return ExitCode.INVALID;
  }
  if (options.durable === true) return durableRunCommand(file, report.plan, JSON.parse(text), input, options, registry, io);
  const live = io.stderr.isTTY === true;
  let startedAt = 0;
  const run = new MemoryRun(report.plan, {
    registry,
    input,
    source: resolve(file),
    loadWorkflow: fileWorkflowLoader,
    onEvent: (event, at) => {
      if (event.type === 'run.started' && at.depth === 0) startedAt = event.at;
      if (!live || at.depth !== 0) return;
      const line = formatProgress(event, startedAt);
      if (line !== undefined) io.stderr.write(`${line}\n`);
    },
    onLog: live ? (entry) => io.stderr.write(`          ${entry.level} ${entry.nodeId}: ${entry.message}\n`) : undefined,
  });
  const onSigint = (): void => run.cancel('interrupted (SIGINT)');
  process.once('SIGINT', onSigint);
  const result = await run.result.finally(() => process.removeListener('SIGINT', onSigint));
  io.stdout.write(options.json === true ? `${JSON.stringify(result, null, 2)}\n` : formatRunSummary(result));
  if (result.status === 'succeeded') return ExitCode.OK;
  // Exit 2 only when the run's own input was rejected by a top-level `input` node; the same code
  // coming out of a sub-workflow means this workflow passed bad data on: the run failed (1).
  const failedNode = result.error?.nodeId === undefined ? undefined : report.plan.byId.get(result.error.nodeId);
  const inputRejected = result.error?.code === 'INVALID_INPUT' && failedNode?.nodeType.type === 'input';
  return inputRejected ? ExitCode.INVALID : ExitCode.FAILED;
}
