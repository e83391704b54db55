/** The JSON shape of a finished run, as the CLI prints it with `--json` and the API returns it. */
import type { ErrorInfo, Plan, RunState, RunStatus, StepStatus } from '@flowpilot/engine';

/** One step of a run result. Times are ISO-8601 strings. */
export interface StepSummary {
  status: StepStatus;
  output?: unknown;
  error?: { code: string; message: string };
  attempts: number;
  startedAt?: string;
  finishedAt?: string;
  durationMs?: number;
}

/** A run result: `{runId, status, output, steps: {<nodeId>: …}}`. */
export interface RunResult {
  runId: string;
  status: RunStatus;
  output?: unknown;
  error?: ErrorInfo & { nodeId?: string };
  steps: Record<string, StepSummary>;
  startedAt?: string;
  finishedAt?: string;
  durationMs?: number;
}

/** Summarises a run state for output. */
export function summarizeRun(plan: Plan, state: RunState): RunResult {
  const steps: Record<string, StepSummary> = {};
  for (const node of plan.nodes) {
    const step = state.steps[node.index]!;
    const summary: StepSummary = { status: step.status, attempts: step.attempts };
    if (step.output !== undefined) summary.output = step.output;
    if (step.error !== undefined) summary.error = { code: step.error.code, message: step.error.message };
    Object.assign(summary, resultTimes(step.startedAt, step.finishedAt));
    steps[node.id] = summary;
  }
  const result: RunResult = { runId: state.runId, status: state.status, steps, ...resultTimes(state.startedAt, state.finishedAt) };
  if (state.output !== undefined) result.output = state.output;
  if (state.error !== undefined) result.error = state.error;
  return result;
}

/** ISO start/finish times and the duration between them, as results show them. */
export function resultTimes(startedAt: number | undefined, finishedAt: number | undefined): Pick<StepSummary, 'startedAt' | 'finishedAt' | 'durationMs'> {
  const out: Pick<StepSummary, 'startedAt' | 'finishedAt' | 'durationMs'> = {};
  if (startedAt !== undefined) out.startedAt = new Date(startedAt).toISOString();
  if (finishedAt !== undefined) out.finishedAt = new Date(finishedAt).toISOString();
  if (startedAt !== undefined && finishedAt !== undefined) out.durationMs = finishedAt - startedAt;
  return out;
}
