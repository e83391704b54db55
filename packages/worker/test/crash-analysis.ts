/**
 * Probe log analysis of the crash-recovery tests: the probe executions (paired start/end lines, or
 * ended by their process's death), their invariants (no step ran concurrently with itself, attempts
 * and idempotency keys are reused across takeovers), and the counts and summaries for the report.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { ProbeLine } from './fixtures/crash-probe.js';
import type { WorkerCluster } from './crash-cluster.js';

// ---------------------------------------------------------------------------------------------
// Probe log analysis

/** One execution of a probe: [start, end] or, when its process was killed, [start, death]. */
export interface Execution {
  runId: string;
  nodeId: string;
  attempt: number;
  key: string;
  pid: number;
  start: number;
  end: number;
  outcome: 'ok' | 'fail' | 'aborted' | 'killed';
}

export function readProbeLog(file: string): { lines: ProbeLine[]; unparsable: string[] } {
  const lines: ProbeLine[] = [];
  const unparsable: string[] = [];
  if (!existsSync(file)) return { lines, unparsable };
  for (const text of readFileSync(file, 'utf8').split('\n')) {
    if (text === '') continue;
    try {
      lines.push(JSON.parse(text) as ProbeLine);
    } catch {
      unparsable.push(text);
    }
  }
  return { lines, unparsable };
}

/** Pids with a probe execution started and not ended (by the probe log). */
export function busyPids(file: string): Set<number> {
  const open = new Map<string, number>();
  for (const line of readProbeLog(file).lines) {
    const key = `${line.pid}\u0000${line.key}`;
    open.set(key, (open.get(key) ?? 0) + (line.ev === 'start' ? 1 : -1));
  }
  const pids = new Set<number>();
  for (const [key, count] of open) if (count > 0) pids.add(Number(key.split('\u0000')[0]));
  return pids;
}

/** Pairs start/end lines per process and idempotency key; an execution without an end ends at its process's death. */
export function buildExecutions(lines: readonly ProbeLine[], deaths: ReadonlyMap<number, number>): { executions: Execution[]; anomalies: string[] } {
  const anomalies: string[] = [];
  const executions: Execution[] = [];
  const open = new Map<string, Execution[]>();
  for (const line of lines) {
    const death = deaths.get(line.pid);
    if (death !== undefined && line.t > death) anomalies.push(`pid ${line.pid} logged ${line.ev} of ${line.key} at ${line.t}, after its death at ${death}`);
    const slot = `${line.pid}\u0000${line.key}`;
    if (line.ev === 'start') {
      const execution: Execution = { runId: line.runId, nodeId: line.nodeId, attempt: line.attempt, key: line.key, pid: line.pid, start: line.t, end: Number.POSITIVE_INFINITY, outcome: 'killed' };
      executions.push(execution);
      const list = open.get(slot) ?? [];
      if (list.length > 0) anomalies.push(`pid ${line.pid} started ${line.key} again at ${line.t} while its execution from ${list[0]!.start} had not ended (same process, same step, concurrently)`);
      list.push(execution);
      open.set(slot, list);
    } else {
      const execution = open.get(slot)?.shift();
      if (execution === undefined) {
        anomalies.push(`pid ${line.pid} ended ${line.key} at ${line.t} without a start`);
        continue;
      }
      execution.end = line.t;
      execution.outcome = line.outcome ?? 'ok';
    }
  }
  for (const list of open.values()) {
    for (const execution of list) {
      const death = deaths.get(execution.pid);
      if (death === undefined) anomalies.push(`pid ${execution.pid} (alive) never ended its execution of ${execution.key} started at ${execution.start}`);
      else execution.end = death;
    }
  }
  return { executions, anomalies };
}

/**
 * The execution invariants, per (run, node), executions ordered by start:
 * - no two overlap in time (no step ran concurrently with itself, across processes);
 * - the idempotency key is `${runId}:${nodeId}:${attempt}`;
 * - the first is attempt 1; the attempt number stays the same across a re-execution and grows by
 *   one only after a failed execution;
 * - the last one is the attempt that succeeded (from `probes`), and some execution of it ended ok.
 * A re-execution whose previous executor did not die (its lease was lost while it lived: a stall
 * longer than the lease) is allowed by the guarantees (at-least-once execution, same idempotency
 * key) but suspicious: it goes to `warnings` when given, else to the violations.
 * `runs` lists the runs whose probes must all have executed.
 */
export function checkExecutions(
  executions: readonly Execution[],
  runs: ReadonlyArray<{ id: string }>,
  probes: Readonly<Record<string, number>>,
  deaths: ReadonlyMap<number, number>,
  warnings?: string[],
): string[] {
  const violations: string[] = [];
  const groups = new Map<string, Execution[]>();
  for (const execution of executions) {
    const id = `${execution.runId}\u0000${execution.nodeId}`;
    const list = groups.get(id) ?? [];
    list.push(execution);
    groups.set(id, list);
  }
  const fmt = (e: Execution): string => `[pid ${e.pid} attempt ${e.attempt} ${e.start}→${Number.isFinite(e.end) ? e.end : '?'} ${e.outcome}]`;
  for (const run of runs) {
    for (const [nodeId, succeededAt] of Object.entries(probes)) {
      const list = (groups.get(`${run.id}\u0000${nodeId}`) ?? []).sort((x, y) => x.start - y.start || x.end - y.end);
      const where = `run ${run.id} step ${nodeId}`;
      if (list.length === 0) {
        violations.push(`${where}: never executed`);
        continue;
      }
      let latestEnd = Number.NEGATIVE_INFINITY;
      let latest: Execution | undefined;
      list.forEach((execution, index) => {
        if (execution.key !== `${run.id}:${nodeId}:${execution.attempt}`) violations.push(`${where}: idempotency key ${execution.key} for attempt ${execution.attempt}`);
        if (latest !== undefined && execution.start < latestEnd) violations.push(`${where}: ran concurrently with itself: ${fmt(latest)} and ${fmt(execution)}`);
        const previous = index === 0 ? undefined : list[index - 1]!;
        if (previous === undefined) {
          if (execution.attempt !== 1) violations.push(`${where}: first execution is attempt ${execution.attempt}`);
        } else if (execution.attempt === previous.attempt) {
          const died = deaths.get(previous.pid);
          if (died === undefined || died < previous.start) {
            (warnings ?? violations).push(`${where}: attempt ${execution.attempt} re-executed ${fmt(execution)} though its previous executor ${fmt(previous)} did not die (lease lost while alive)`);
          }
        } else if (execution.attempt === previous.attempt + 1) {
          if (previous.outcome !== 'fail') violations.push(`${where}: attempt ${execution.attempt} ${fmt(execution)} follows ${fmt(previous)}, which did not fail (a new attempt instead of a takeover of the same one)`);
        } else {
          violations.push(`${where}: attempt ${execution.attempt} ${fmt(execution)} follows attempt ${previous.attempt} ${fmt(previous)}`);
        }
        if (execution.end > latestEnd) {
          latestEnd = execution.end;
          latest = execution;
        }
      });
      const last = list.at(-1)!;
      if (last.attempt !== succeededAt) violations.push(`${where}: last execution is attempt ${last.attempt}, expected ${succeededAt}: ${list.map(fmt).join(' ')}`);
      if (!list.some((execution) => execution.attempt === succeededAt && execution.outcome === 'ok')) violations.push(`${where}: no execution of attempt ${succeededAt} ended ok: ${list.map(fmt).join(' ')}`);
    }
  }
  return violations;
}

/** Errors the workers survived (their `worker error` / `store error` stderr lines), by message. */
export function workerErrorCounts(cluster: WorkerCluster): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const incarnation of cluster.incarnations) {
    for (const match of incarnation.stderr.matchAll(/(?:worker|store) error(?: #\d+)?: (.*)/g)) {
      const message = (match[1] ?? '').replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '<id>').replace(/\d{3,}/g, 'N').slice(0, 80);
      counts[message] = (counts[message] ?? 0) + 1;
    }
  }
  return counts;
}

/** Counts for the report. */
export function executionStats(executions: readonly Execution[], cluster: WorkerCluster): Record<string, number> {
  const killedPids = new Set(cluster.kills.map((kill) => kill.pid));
  const killedMidStep = executions.filter((execution) => execution.outcome === 'killed' && killedPids.has(execution.pid));
  return {
    executions: executions.length,
    ok: executions.filter((execution) => execution.outcome === 'ok').length,
    failedOnPurpose: executions.filter((execution) => execution.outcome === 'fail').length,
    aborted: executions.filter((execution) => execution.outcome === 'aborted').length,
    killedMidStep: killedMidStep.length,
    killsMidStep: new Set(killedMidStep.map((execution) => execution.pid)).size,
    kills: cluster.kills.length,
    killsBeforeReady: cluster.kills.filter((kill) => !kill.ready).length,
    processes: cluster.incarnations.length,
  };
}

/** Formats violations for an assertion message: the count and the first few. */
export function summarize(title: string, violations: readonly string[], limit = 25, noun = 'violation'): string {
  if (violations.length === 0) return `${title}: ok`;
  return `${title}: ${violations.length} ${noun}(s)\n  ${violations.slice(0, limit).join('\n  ')}${violations.length > limit ? `\n  … ${violations.length - limit} more` : ''}`;
}
