/** Human-readable output of the CLI: validation reports, live progress and run summaries. */
import type { RunEvent, ValidationIssue, ValidationReport } from '@flowpilot/engine';
import type { RunResult } from '@flowpilot/runtime';

const ICONS: Record<string, string> = {
  succeeded: '✔',
  failed: '✖',
  skipped: '⏭',
  cancelled: '⊘',
  waiting: '⏸',
  running: '▶',
  pending: '·',
};

/** The lines printed by `validate` without `--json`. */
export function formatValidation(file: string, report: ValidationReport, counts?: { nodes: number; edges: number }): string {
  const lines: string[] = [];
  if (report.valid) lines.push(`✔ ${file} is valid${counts === undefined ? '' : ` (${plural(counts.nodes, 'node')}, ${plural(counts.edges, 'edge')})`}`);
  else lines.push(`✖ ${file} is invalid: ${report.errors.length} error${report.errors.length === 1 ? '' : 's'}`);
  for (const issue of report.errors) lines.push(`  error   ${describeIssue(issue)}`);
  for (const issue of report.warnings) lines.push(`  warning ${describeIssue(issue)}`);
  return `${lines.join('\n')}\n`;
}

function describeIssue(issue: ValidationIssue): string {
  // Schema messages already start with their path.
  const at = issue.path === undefined || issue.message.startsWith(issue.path) ? '' : ` at ${issue.path}`;
  return `${issue.code}${at}: ${issue.message}`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** One progress line for a top-level run event, or undefined for events not worth a line. */
export function formatProgress(event: RunEvent, startedAt: number): string | undefined {
  const clock = `+${String(event.at - startedAt).padStart(5)} ms`;
  switch (event.type) {
    case 'step.started':
      return `${clock} ▶ ${event.nodeId}${event.attempt > 1 ? ` (attempt ${event.attempt})` : ''}`;
    case 'step.succeeded':
      return `${clock} ✔ ${event.nodeId}${event.handles === undefined ? '' : ` → ${event.handles.join(', ')}`}`;
    case 'step.failed':
      return `${clock} ✖ ${event.nodeId} attempt ${event.attempt}: ${event.error.code}: ${event.error.message}`;
    case 'run.cancelled':
      return `${clock} ⊘ cancelling: ${event.reason ?? 'cancelled'}`;
    default:
      return undefined;
  }
}

/** The summary printed by `run` without `--json`. */
export function formatRunSummary(result: RunResult): string {
  const lines = [`${ICONS[result.status] ?? ''} run ${result.runId} ${result.status}${result.durationMs === undefined ? '' : ` in ${result.durationMs} ms`}`];
  const width = Math.max(4, ...Object.keys(result.steps).map((id) => id.length));
  for (const [id, step] of Object.entries(result.steps)) {
    const duration = step.durationMs === undefined ? '' : `${step.durationMs} ms`;
    const attempts = step.attempts > 1 ? ` (${step.attempts} attempts)` : '';
    const error = step.error === undefined ? '' : `  ${step.error.code}: ${step.error.message}`;
    lines.push(`  ${ICONS[step.status] ?? ' '} ${id.padEnd(width)}  ${step.status.padEnd(9)} ${duration.padStart(8)}${attempts}${error}`);
  }
  if (result.error !== undefined) {
    lines.push(`error: ${result.error.code}${result.error.nodeId === undefined ? '' : ` at node "${result.error.nodeId}"`}: ${result.error.message}`);
  }
  if (result.status === 'succeeded') lines.push('output:', JSON.stringify(result.output ?? null, null, 2));
  return `${lines.join('\n')}\n`;
}
