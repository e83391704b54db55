/** Stored runs in the JSON shape the CLI and API print (the same as in-memory results). */
import { resultTimes, type RunResult, type StepSummary, type WorkflowLoader } from '@flowpilot/runtime';
import { DEFAULT_WORKSPACE_ID, type RunRecord, type StepRecord, type Store } from '@flowpilot/store';
import { FlowPilotError } from '@flowpilot/engine';

/** A stored run and its steps as a `RunResult`; steps in definition order when `nodeOrder` is given. */
export function summarizeStoredRun(run: RunRecord, steps: readonly StepRecord[], nodeOrder?: readonly string[]): RunResult {
  const byNode = new Map(steps.map((step) => [step.nodeId, step]));
  const order = nodeOrder ?? steps.map((step) => step.nodeId);
  const summaries: Record<string, StepSummary> = {};
  for (const nodeId of order) {
    const step = byNode.get(nodeId);
    if (step === undefined) {
      summaries[nodeId] = { status: run.status === 'cancelled' ? 'cancelled' : 'pending', attempts: 0 };
      continue;
    }
    const summary: StepSummary = { status: step.status, attempts: step.attempts };
    if (step.output !== undefined) summary.output = step.output;
    if (step.error !== undefined) summary.error = { code: step.error.code, message: step.error.message };
    Object.assign(summary, resultTimes(step.startedAt, step.finishedAt));
    summaries[nodeId] = summary;
  }
  const result: RunResult = { runId: run.id, status: run.status, steps: summaries, ...resultTimes(run.startedAt, run.finishedAt) };
  if (run.output !== undefined) result.output = run.output;
  if (run.error !== undefined) result.error = run.error;
  return result;
}

/** Loads `subworkflow` references by workflow id (and version) from the store; files via `files`. */
export function storeWorkflowLoader(store: Store, files?: WorkflowLoader, workspaceId = DEFAULT_WORKSPACE_ID): WorkflowLoader {
  return async (ref, from) => {
    if (ref.workflowId === undefined) {
      if (files !== undefined) return files(ref, from);
      throw new FlowPilotError('WORKFLOW_NOT_FOUND', `sub-workflow file "${ref.file ?? '?'}": durable workers load sub-workflows by workflowId`, { retryable: false });
    }
    const record = await store.getWorkflowVersion(workspaceId, ref.workflowId, ref.version);
    if (record === undefined) {
      throw new FlowPilotError('WORKFLOW_NOT_FOUND', `sub-workflow "${ref.workflowId}"${ref.version === undefined ? '' : ` version ${ref.version}`} not found`, { retryable: false });
    }
    return { workflow: record.definition, source: `${ref.workflowId}@${record.version}` };
  };
}
