/**
 * Runs of the crash-recovery tests: starting them (retrying transient database errors), waiting for
 * them to finish, checking what the store recorded (through the Store API and straight from the
 * tables), and explaining what holds the runs that did not finish.
 */
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { Store } from '@flowpilot/store';
import type { DurableEngine } from '@flowpilot/worker';
import type { ProbeLine } from './fixtures/crash-probe.js';
import { sleep, type CrashBackend } from './crash-env.js';

// ---------------------------------------------------------------------------------------------
// Runs

/** Errors of `startRun` in the test process that were retried (a deadlock with the workers, …), by message. */
export const startRunErrors: Record<string, number> = {};

/**
 * Starts runs with inputs `{n}` for n in `ns`; returns their ids by n. A start that fails with a
 * transient database error (deadlock, serialization failure) is retried with the same run id and
 * recorded in `startRunErrors` (the scenario asserts there were none, after checking the rest).
 */
export async function startRuns(engine: DurableEngine, workflowId: string, ns: readonly number[]): Promise<Array<{ id: string; n: number }>> {
  const runs: Array<{ id: string; n: number }> = [];
  for (const n of ns) {
    const runId = randomUUID();
    for (let attempt = 1; ; attempt += 1) {
      try {
        await engine.startRun({ workflowId, input: { n }, runId });
        break;
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (attempt >= 5 || (code !== '40P01' && code !== '40001')) throw error;
        const key = `${String(code)} ${error instanceof Error ? error.message : String(error)}`;
        startRunErrors[key] = (startRunErrors[key] ?? 0) + 1;
        await sleep(20 * attempt);
      }
    }
    runs.push({ id: runId, n });
  }
  return runs;
}

/**
 * Polls until every run in `runs` is finished (any terminal status), `timeoutMs` passes, no run
 * finished for `stallMs` (a stall: waiting longer would only slow the failure down) or `giveUp()`;
 * returns the unfinished.
 */
export async function waitForRuns(
  store: Store,
  runs: () => ReadonlyArray<{ id: string }>,
  options: { timeoutMs: number; expectedCount: number; stallMs?: number; progress?: { unfinished: number }; giveUp?: () => boolean },
): Promise<string[]> {
  const deadline = Date.now() + options.timeoutMs;
  const finished = new Set<string>();
  let lastProgress = Date.now();
  for (;;) {
    const pending = runs().filter((run) => !finished.has(run.id));
    const records = await Promise.all(pending.map((run) => store.getRun('default', run.id)));
    records.forEach((record, index) => {
      if (record !== undefined && ['succeeded', 'failed', 'cancelled'].includes(record.status)) {
        finished.add(pending[index]!.id);
        lastProgress = Date.now();
      }
    });
    const unfinished = options.expectedCount - finished.size;
    if (options.progress !== undefined) options.progress.unfinished = unfinished;
    if (unfinished === 0) return [];
    const stalled = options.stallMs !== undefined && Date.now() - lastProgress > options.stallMs;
    if (Date.now() > deadline || stalled || options.giveUp?.() === true) return runs().filter((run) => !finished.has(run.id)).map((run) => run.id);
    await sleep(200);
  }
}

/**
 * What the store must hold for each run: status succeeded, the expected run output, every step
 * succeeded with its expected output, events numbered 1…lastSeq, and each outcome recorded exactly
 * once: per node one `step.started` per attempt (1…the attempt that succeeded), one `step.failed` per
 * planned failure, and one success — a `step.succeeded`, or for a waiting node (`delay`) one
 * `step.waiting` plus one `timer.fired` of its wake timer. No timer fires twice. Returns the violations.
 */
export async function checkStoredRuns(
  store: Store,
  runs: ReadonlyArray<{ id: string; n: number }>,
  expected: (n: number) => { steps: Record<string, unknown>; output: unknown },
  probes: Readonly<Record<string, number>>,
  waiting: readonly string[] = [],
): Promise<string[]> {
  const violations: string[] = [];
  const show = (value: unknown): string => JSON.stringify(value) ?? 'undefined';
  const push = <K, V>(map: Map<K, V[]>, key: K, value: V): void => {
    const list = map.get(key);
    if (list === undefined) map.set(key, [value]);
    else list.push(value);
  };
  for (const { id, n } of runs) {
    const want = expected(n);
    const where = `run ${id} (n=${n})`;
    const run = await store.getRun('default', id);
    if (run === undefined) {
      violations.push(`${where} is missing`);
      continue;
    }
    if (run.status !== 'succeeded') violations.push(`${where} is ${run.status}${run.error === undefined ? '' : `: ${show(run.error)}`}`);
    if (!isDeepStrictEqual(run.output, want.output)) violations.push(`${where} output ${show(run.output)}, expected ${show(want.output)}`);
    const steps = new Map((await store.getSteps('default', id)).map((step) => [step.nodeId, step]));
    for (const [nodeId, output] of Object.entries(want.steps)) {
      const step = steps.get(nodeId);
      if (step === undefined) violations.push(`${where} step ${nodeId} has no row`);
      else {
        if (step.status !== 'succeeded') violations.push(`${where} step ${nodeId} is ${step.status} (attempts ${step.attempts}${step.error === undefined ? '' : `, ${show(step.error)}`})`);
        if (!isDeepStrictEqual(step.output, output)) violations.push(`${where} step ${nodeId} output ${show(step.output)}, expected ${show(output)} (lost or wrong output)`);
        const attempts = probes[nodeId] ?? 1;
        if (step.attempts !== attempts) violations.push(`${where} step ${nodeId} has attempts ${step.attempts}, expected ${attempts}`);
      }
    }
    const events = await store.readEvents('default', id);
    events.forEach((stored, index) => {
      if (stored.seq !== index + 1) violations.push(`${where}: event #${index + 1} has seq ${stored.seq}`);
    });
    if (events.length !== run.lastSeq) violations.push(`${where}: ${events.length} events but last_seq ${run.lastSeq}`);
    const started = new Map<string, number[]>();
    const failed = new Map<string, number[]>();
    const succeeded = new Map<string, number[]>();
    const waited = new Map<string, number[]>();
    const fired = new Map<string, number[]>();
    for (const { event } of events) {
      switch (event.type) {
        case 'step.started':
          push(started, event.nodeId, event.attempt);
          break;
        case 'step.failed':
          push(failed, event.nodeId, event.attempt);
          break;
        case 'step.succeeded':
          push(succeeded, event.nodeId, event.attempt);
          if (!isDeepStrictEqual(event.output, want.steps[event.nodeId])) violations.push(`${where}: step.succeeded of ${event.nodeId} carries ${show(event.output)}`);
          break;
        case 'step.waiting':
          push(waited, event.nodeId, event.attempt);
          break;
        case 'timer.fired':
          push(fired, event.timerId, event.at);
          break;
        default:
          break;
      }
    }
    const list = (map: Map<string, number[]>, nodeId: string): string => (map.get(nodeId) ?? []).join(',');
    for (const nodeId of Object.keys(want.steps)) {
      const succeededAt = probes[nodeId] ?? 1;
      const upTo = (last: number): string => Array.from({ length: last }, (_, index) => index + 1).join(',');
      if (list(started, nodeId) !== upTo(succeededAt)) violations.push(`${where} step ${nodeId}: step.started attempts [${list(started, nodeId)}], expected [${upTo(succeededAt)}] (each attempt recorded exactly once)`);
      if (list(failed, nodeId) !== upTo(succeededAt - 1)) violations.push(`${where} step ${nodeId}: step.failed attempts [${list(failed, nodeId)}], expected [${upTo(succeededAt - 1)}]`);
      if (waiting.includes(nodeId)) {
        if (list(waited, nodeId) !== '1' || list(succeeded, nodeId) !== '') violations.push(`${where} step ${nodeId}: step.waiting [${list(waited, nodeId)}] step.succeeded [${list(succeeded, nodeId)}], expected one step.waiting and no step.succeeded`);
        if (!fired.has(`wake:${nodeId}:1`)) violations.push(`${where} step ${nodeId}: its wake timer never fired`);
      } else if (list(succeeded, nodeId) !== String(succeededAt)) {
        violations.push(`${where} step ${nodeId}: step.succeeded attempts [${list(succeeded, nodeId)}], expected exactly one, at attempt ${succeededAt}`);
      }
    }
    for (const nodeId of succeeded.keys()) if (!(nodeId in want.steps)) violations.push(`${where}: step.succeeded of unknown node ${nodeId}`);
    for (const [timerId, times] of fired) {
      if (times.length !== 1) violations.push(`${where}: timer ${timerId} fired ${times.length} times (timer.fired at ${times.join(', ')}), expected once: two workers fired the same timer`);
    }
  }
  return violations;
}

/** The same invariants straight from the tables, plus nothing left in the queue or the timers. */
export async function checkTables(backend: CrashBackend, runCount: number): Promise<string[]> {
  const violations: string[] = [];
  const duplicates = await backend.sql(
    `SELECT run_id, node_id, COUNT(*) AS n FROM events WHERE type = 'step.succeeded' GROUP BY run_id, node_id HAVING COUNT(*) <> 1`,
  );
  for (const row of duplicates) violations.push(`events: ${String(row.n)} step.succeeded rows for run ${String(row.run_id)} node ${String(row.node_id)}`);
  const statuses = await backend.sql('SELECT status, COUNT(*) AS n FROM runs GROUP BY status');
  const byStatus = Object.fromEntries(statuses.map((row) => [String(row.status), Number(row.n)]));
  if (byStatus.succeeded !== runCount) violations.push(`runs by status: ${JSON.stringify(byStatus)}, expected ${runCount} succeeded`);
  const queue = await backend.sql('SELECT run_id, node_id, attempt, lease_owner, lease_expires_at, claims FROM queue');
  if (queue.length > 0) violations.push(`${queue.length} queue item(s) left after every run finished, e.g. ${JSON.stringify(queue.slice(0, 3))}`);
  const timers = await backend.sql('SELECT run_id, timer_id, due_at FROM timers');
  if (timers.length > 0) violations.push(`${timers.length} timer(s) left after every run finished, e.g. ${JSON.stringify(timers.slice(0, 3))}`);
  return violations;
}

// ---------------------------------------------------------------------------------------------
// Stuck runs

/**
 * Why runs are stuck: their queue items (who holds the lease, until when) and timers, and for each
 * leased item whether its holder already finished executing it (then its outcome was never committed).
 */
export async function diagnoseStuck(backend: CrashBackend, runIds: readonly string[], lines: readonly ProbeLine[], deaths: ReadonlyMap<number, number>): Promise<string[]> {
  const out: string[] = [];
  const now = Date.now();
  const wanted = new Set(runIds);
  const ended = new Map<string, ProbeLine>();
  for (const line of lines) if (line.ev === 'end') ended.set(`${line.pid}\u0000${line.runId}\u0000${line.nodeId}\u0000${line.attempt}`, line);
  const queue = (await backend.sql('SELECT run_id, node_id, attempt, lease_owner, lease_token, lease_expires_at, claims, claimed_at FROM queue')).filter((row) => wanted.has(String(row.run_id)));
  const timers = (await backend.sql('SELECT run_id, timer_id, due_at, lease_expires_at FROM timers')).filter((row) => wanted.has(String(row.run_id)));
  for (const row of queue) {
    const owner = row.lease_owner === null ? undefined : String(row.lease_owner);
    const pid = owner === undefined ? undefined : Number(owner.replace(/^crash-/, ''));
    const expires = Number(row.lease_expires_at);
    const finished = pid === undefined ? undefined : ended.get(`${pid}\u0000${String(row.run_id)}\u0000${String(row.node_id)}\u0000${Number(row.attempt)}`);
    const holder = owner === undefined ? 'not leased' : `leased by ${owner}${pid !== undefined && deaths.has(pid) ? ' (dead)' : ' (alive)'} token ${String(row.lease_token)}, expires ${expires > now ? `in ${expires - now} ms (heartbeats still extend it)` : `${now - expires} ms ago`}, claims ${String(row.claims)}`;
    const execution = finished === undefined ? 'no finished execution by the holder' : `the holder FINISHED executing it ${now - finished.t} ms ago (${finished.outcome ?? 'ok'}) but never committed the outcome`;
    out.push(`run ${String(row.run_id)} step ${String(row.node_id)} attempt ${String(row.attempt)}: ${holder}; ${execution}`);
  }
  for (const row of timers) out.push(`run ${String(row.run_id)} timer ${String(row.timer_id)} due ${now - Number(row.due_at)} ms ago, lease ${Number(row.lease_expires_at) > now ? 'held' : 'free'}`);
  const covered = new Set([...queue, ...timers].map((row) => String(row.run_id)));
  for (const runId of runIds) if (!covered.has(runId)) out.push(`run ${runId}: no queue item and no timer (nothing can move it)`);
  return out;
}
