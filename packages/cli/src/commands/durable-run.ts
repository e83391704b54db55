/**
 * `flowpilot run FILE --durable`: saves the workflow as a version in the store, starts a run pinned
 * to it, and works on it with an embedded worker (other `flowpilot worker` processes may help)
 * until it finishes. Progress comes from the run's stored events, whichever process wrote them.
 */
import { resolve } from 'node:path';
import { FlowPilotError, type Plan, type NodeRegistry } from '@flowpilot/engine';
import { openStore, type Store } from '@flowpilot/store';
import { DurableEngine, storeCredentials, storeWorkflowLoader, summarizeStoredRun, Worker } from '@flowpilot/worker';
import type { RunResult } from '@flowpilot/runtime';
import { ExitCode, type CliIo } from '../io.js';
import { formatProgress, formatRunSummary } from '../output.js';
import { fileWorkflowLoader } from '../workflow-file.js';
import { workspaceRunLimits } from './run-limits.js';
import { loadStepSecretKey } from './secrets.js';

const FINISHED = new Set(['succeeded', 'failed', 'cancelled']);

export async function durableRunCommand(
  file: string,
  plan: Plan,
  definition: unknown,
  input: unknown,
  options: { json?: boolean; workflowId?: string; priority?: string },
  registry: NodeRegistry,
  io: CliIo,
): Promise<number> {
  const secretKey = loadStepSecretKey(io);
  const store = await openStore();
  const engine = new DurableEngine({ store, registry, runLimits: workspaceRunLimits(store) });
  const source = resolve(file);
  const worker = new Worker({
    engine,
    concurrency: plan.workflow.settings.concurrency,
    pollMs: 100,
    loadWorkflow: storeWorkflowLoader(store, (ref) => fileWorkflowLoader(ref, source)),
    credentials: storeCredentials(store, secretKey),
  });
  try {
    const workflowId = options.workflowId ?? slug(plan.workflow.name);
    const version = await engine.saveWorkflow(workflowId, definition);
    const priority = Number.parseInt(options.priority ?? '0', 10);
    if (!Number.isInteger(priority)) throw new FlowPilotError('INVALID_ARGUMENT', `--priority must be an integer, got "${options.priority}"`, { retryable: false });
    const run = await engine.startRun({ workflowId, version: version.version, input, priority });
    worker.start();
    const onSigint = (): void => void engine.cancelRun(run.id, 'interrupted (SIGINT)').catch(() => undefined);
    process.once('SIGINT', onSigint);
    const result = await follow(store, run.id, plan, io).finally(() => process.removeListener('SIGINT', onSigint));
    io.stdout.write(options.json === true ? `${JSON.stringify(result, null, 2)}\n` : formatRunSummary(result));
    if (result.status === 'succeeded') return ExitCode.OK;
    const failedNode = result.error?.nodeId === undefined ? undefined : plan.byId.get(result.error.nodeId);
    return result.error?.code === 'INVALID_INPUT' && failedNode?.nodeType.type === 'input' ? ExitCode.INVALID : ExitCode.FAILED;
  } finally {
    await worker.stop(5_000);
    await store.close();
  }
}

/** Waits for the run to finish, printing progress from its events on a terminal. */
async function follow(store: Store, runId: string, plan: Plan, io: CliIo): Promise<RunResult> {
  const live = io.stderr.isTTY === true;
  let seq = 0;
  let startedAt = 0;
  for (;;) {
    const run = await store.getRun('default', runId);
    if (run === undefined) throw new Error(`run ${runId} disappeared`);
    if (live) {
      for (const { seq: next, event } of await store.readEvents('default', runId, seq)) {
        seq = next;
        if (event.type === 'run.started') startedAt = event.at;
        const line = formatProgress(event, startedAt);
        if (line !== undefined) io.stderr.write(`${line}\n`);
      }
    }
    if (FINISHED.has(run.status)) return summarizeStoredRun(run, await store.getSteps('default', runId), plan.nodes.map((node) => node.id));
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function slug(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'workflow';
}
