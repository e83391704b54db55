/** Store records in the API's JSON shapes (times as ISO-8601). */
import type { RunRecord, StepRecord, WorkflowRecord, WorkflowVersionRecord } from '@flowpilot/store';
import { summarizeStoredRun } from '@flowpilot/worker';
import type { z } from 'zod';
import type { runSchema, versionSchema, workflowSchema } from './schemas.js';

export const iso = (ms: number): string => new Date(ms).toISOString();

export function presentWorkflow(workflow: WorkflowRecord & { active?: boolean }, version?: WorkflowVersionRecord): z.infer<typeof workflowSchema> {
  const out: z.infer<typeof workflowSchema> = {
    id: workflow.id,
    name: workflow.name,
    version: workflow.latestVersion,
    active: workflow.active ?? false,
    createdAt: iso(workflow.createdAt),
    updatedAt: iso(workflow.updatedAt),
  };
  if (version !== undefined) {
    // The version this answer is about, not whatever is latest by now (a concurrent PUT may have won).
    out.version = version.version;
    const name = (version.definition as { name?: unknown } | null)?.name;
    if (typeof name === 'string') out.name = name;
    out.definition = version.definition;
  }
  return out;
}

export function presentVersion(version: Omit<WorkflowVersionRecord, 'definition'> & { definition?: unknown }): z.infer<typeof versionSchema> {
  const out: z.infer<typeof versionSchema> = { id: version.workflowId, version: version.version, createdAt: iso(version.createdAt) };
  if (version.definition !== undefined) out.definition = version.definition;
  return out;
}

export function presentRun(run: RunRecord, steps?: readonly StepRecord[], nodeOrder?: readonly string[]): z.infer<typeof runSchema> {
  const out: z.infer<typeof runSchema> = {
    id: run.id,
    workflowId: run.workflowId,
    version: run.version,
    status: run.status,
    priority: run.priority,
    input: run.input,
    createdAt: iso(run.createdAt),
  };
  if (run.output !== undefined) out.output = run.output;
  if (run.error !== undefined) out.error = { ...run.error };
  if (run.startedAt !== undefined) out.startedAt = iso(run.startedAt);
  if (run.finishedAt !== undefined) out.finishedAt = iso(run.finishedAt);
  if (steps !== undefined) out.steps = summarizeStoredRun(run, steps, nodeOrder).steps;
  return out;
}
