/**
 * The fan-out scenario of the crash-recovery tests: many runs go through worker child processes that
 * are killed with SIGKILL and restarted at random, then the store and the probe log are checked.
 * The pieces live in crash-env.ts (paths, worker command, backends), crash-cluster.ts (worker
 * processes, chaos), crash-checks.ts (runs, stored-run and table checks) and crash-analysis.ts
 * (probe log analysis).
 */
import { join } from 'node:path';
import { expect } from 'vitest';
import { DurableEngine } from '@flowpilot/worker';
import { crashRegistry, FAN_PROBES, fanExpected, fanWorkflow, type ProbeLine } from './fixtures/crash-probe.js';
import type { CrashStoreConfig } from './fixtures/crash-store.js';
import { buildExecutions, busyPids, checkExecutions, executionStats, readProbeLog, summarize, workerErrorCounts } from './crash-analysis.js';
import { checkStoredRuns, checkTables, diagnoseStuck, startRunErrors, startRuns, waitForRuns } from './crash-checks.js';
import { chaos, createCluster, type WorkerCluster } from './crash-cluster.js';
import { prng, sleep, workerCommand, type CrashBackend } from './crash-env.js';

// ---------------------------------------------------------------------------------------------
// The fan-out scenario: many runs, worker processes killed and restarted at random

export interface FanScenarioOptions {
  label: string;
  backend: CrashBackend;
  /** The store config of the worker processes (default: the backend's). */
  workerStore?: CrashStoreConfig;
  dir: string;
  workers: number;
  runs: number;
  /** Runs started before the workers; the rest are started in batches while the chaos goes on. */
  upfront: number;
  batchSize: number;
  batchIntervalMs: number;
  seed: number;
  maxKills: number;
  intervalMs: [number, number];
  downMs: [number, number];
  doubleKillChance?: number;
  startupKillChance?: number;
  probe: { sleepMs: number; jitterMs: number };
  workerEnv?: Record<string, string>;
  timeoutMs: number;
  /** Receives the cluster as soon as it exists (to print its diagnostics on failure). */
  onCluster?: (cluster: WorkerCluster) => void;
}

export interface FanScenarioResult {
  cluster: WorkerCluster;
  runs: Array<{ id: string; n: number }>;
  unfinished: string[];
  storeViolations: string[];
  tableViolations: string[];
  executionViolations: string[];
  /** Re-executions after a lease was lost by a live worker (allowed, reported). */
  executionWarnings: string[];
  /** For unfinished runs: what holds them (queue items, leases, executions that ended uncommitted). */
  stuck: string[];
  logAnomalies: string[];
  stats: Record<string, number>;
  /** Errors the workers survived, by message (deadlocks, lost connections, …): reported, not asserted. */
  workerErrors: Record<string, number>;
  /** Transient errors of startRun in the test process (retried): asserted empty. */
  startRunErrors: Record<string, number>;
  durationMs: number;
}

export async function runFanScenario(options: FanScenarioOptions): Promise<FanScenarioResult> {
  const began = Date.now();
  for (const key of Object.keys(startRunErrors)) delete startRunErrors[key];
  const logFile = join(options.dir, 'probe.log');
  const engine = new DurableEngine({ store: options.backend.store, registry: crashRegistry(undefined) });
  await engine.saveWorkflow('crash-fan', fanWorkflow(options.probe));
  const ns = Array.from({ length: options.runs }, (_, index) => index + 1);
  const runs = await startRuns(engine, 'crash-fan', ns.slice(0, options.upfront));

  const cluster = await createCluster(options.label, { store: options.workerStore ?? options.backend.config, logFile, env: options.workerEnv });
  options.onCluster?.(cluster);
  console.log(`${options.label}: workers run from ${(await workerCommand()).how}`);
  cluster.startAll(options.workers);

  const starting = (async () => {
    for (let from = options.upfront; from < ns.length; from += options.batchSize) {
      await sleep(options.batchIntervalMs);
      runs.push(...(await startRuns(engine, 'crash-fan', ns.slice(from, from + options.batchSize))));
    }
  })();
  const progress = { unfinished: options.runs };
  const rng = prng(options.seed);
  let chaosError: unknown;
  const chaosDone = chaos({
    cluster,
    rng,
    active: () => progress.unfinished > 0,
    maxKills: options.maxKills,
    intervalMs: options.intervalMs,
    downMs: options.downMs,
    doubleKillChance: options.doubleKillChance,
    startupKillChance: options.startupKillChance,
    busyPids: () => busyPids(logFile),
  }).catch((error: unknown) => {
    chaosError = error;
  });
  const unfinished = await waitForRuns(options.backend.store, () => runs, {
    timeoutMs: options.timeoutMs,
    expectedCount: options.runs,
    // Kills stall progress for a lease plus a boot (a few seconds); 30 s without any run finishing is stuck.
    stallMs: 30_000,
    progress,
    giveUp: () => chaosError !== undefined,
  });
  progress.unfinished = 0; // stops the chaos either way
  await starting;
  await chaosDone;
  // Executions still open in a process the chaos did not kill are anomalies: snapshot before cleanup.
  const deaths = new Map(cluster.deaths);
  await cluster.killAll();

  const storeViolations = await checkStoredRuns(options.backend.store, runs, fanExpected, FAN_PROBES, ['wait']);
  const tableViolations = await checkTables(options.backend, options.runs);
  const { lines, unparsable } = readProbeLog(logFile);
  const { executions, anomalies } = buildExecutions(lines, deaths);
  const executionWarnings: string[] = [];
  const executionViolations = checkExecutions(executions, runs, FAN_PROBES, deaths, executionWarnings);
  if (chaosError !== undefined) executionViolations.unshift(`the kill schedule broke off: ${chaosError instanceof Error ? chaosError.message : String(chaosError)}`);
  const stats = {
    ...executionStats(executions, cluster),
    reExecutedWhileAlive: executionWarnings.length,
    unparsableLines: unparsable.length,
    unexpectedExits: cluster.unexpectedExits().length,
  };
  const errors = workerErrorCounts(cluster);
  return {
    cluster,
    runs,
    unfinished,
    storeViolations,
    tableViolations,
    executionViolations,
    executionWarnings,
    stuck: unfinished.length === 0 ? [] : await diagnoseStuck(options.backend, unfinished, lines, deaths),
    logAnomalies: [...anomalies, ...unparsable.map((line) => `unparsable probe log line: ${line}`)],
    stats,
    workerErrors: errors,
    startRunErrors: { ...startRunErrors },
    durationMs: Date.now() - began,
  };
}

/** The fan-out scenario's assertions (soft: every category is reported); prints the counts either way. */
export function assertFanScenario(result: FanScenarioResult, minMidStepKills: number): void {
  console.log(`${result.cluster.label}: ${result.durationMs} ms, ${JSON.stringify(result.stats)}`);
  if (Object.keys(result.workerErrors).length > 0) console.log(`${result.cluster.label}: errors the workers survived: ${JSON.stringify(result.workerErrors)}`);
  if (process.env.CRASH_VERBOSE !== undefined) console.log(result.cluster.diagnostics());
  if (result.executionWarnings.length > 0) console.warn(summarize(`${result.cluster.label}: WARNING re-executions by live workers (lease lost)`, result.executionWarnings, 10, 'case'));
  expect.soft(result.unfinished.length, summarize(`${result.unfinished.length} run(s) unfinished at the timeout; what holds them`, result.stuck, 30, 'item')).toBe(0);
  expect.soft(result.storeViolations.length, summarize('stored runs', result.storeViolations)).toBe(0);
  expect.soft(result.tableViolations.length, summarize('tables', result.tableViolations)).toBe(0);
  expect.soft(result.executionViolations.length, summarize('probe executions', result.executionViolations)).toBe(0);
  expect.soft(result.logAnomalies.length, summarize('probe log', result.logAnomalies)).toBe(0);
  expect.soft(result.stats.unexpectedExits, 'worker processes exited without being killed (their stderr is printed above)').toBe(0);
  // The chaos must have hurt: processes were killed while running steps.
  expect.soft(result.stats.killsMidStep ?? 0, 'kills that caught a worker in the middle of a step').toBeGreaterThanOrEqual(minMidStepKills);
  expect.soft(result.startRunErrors, 'DurableEngine.startRun in the test process failed (retried) with').toEqual({});
}

/** Polls the probe log until `predicate` holds for its lines. */
export async function waitForLog(file: string, predicate: (lines: ProbeLine[]) => boolean, timeoutMs: number, what: string): Promise<ProbeLine[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { lines } = readProbeLog(file);
    if (predicate(lines)) return lines;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${lines.length} probe log lines)`);
    await sleep(10);
  }
}
