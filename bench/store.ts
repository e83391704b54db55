/**
 * `npm run bench:store`: the durable store + worker, end to end, on SQLite and on PostgreSQL, with
 * 1 and 2 worker processes (bench/store-worker.ts).
 *
 * - (a) sequential chain: one workflow of 40 `noop` nodes in a line (the shape of a well-known
 *   cross-engine benchmark), run 20 times one after another (after 2 warm-up runs). Per-step
 *   overhead = (run finished_at − run started_at) / 40 from the store's timestamps; also the
 *   wall-clock per run as the orchestrator sees it (startRun → finished status observed).
 * - (b) throughput: 10,000 runs of `noop` → `set` → `noop`, all started (DurableEngine.startRun, in
 *   parallel batches) BEFORE the workers start, so they face a full queue. Steps/s = 30,000 /
 *   (last step finished − first step started), from the steps table; queued→started per step =
 *   its `step.started` event time − the time it became ready (the `run.started` event for the first
 *   step, the previous step's `step.succeeded` event for the others), from `store.readEvents`.
 *
 * Targets: SQLite ≥ 10,000 steps/s and ≤ 0.5 ms per sequential step; PostgreSQL ≥ 3,000 steps/s
 * with 2 workers and ≤ 3 ms per sequential step.
 *
 * Every scenario gets a fresh database: a SQLite file in a temp directory, or a PostgreSQL schema
 * (dropped afterwards). The packages are imported from their builds (dist): run `npm run build`
 * after changing sources (the script warns when a dist is older than its sources).
 *
 * Environment (all optional): BENCH_BACKENDS=sqlite,postgres  BENCH_WORKERS=1,2
 * BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/test  BENCH_CONCURRENCY=32  BENCH_POLL_MS=1000 (the Worker's default: work arrives by notice — LISTEN, or SQLite's data_version — and polling is only the fallback)
 * BENCH_RUNS=10000  BENCH_CHAIN_RUNS=20  BENCH_SCENARIOS=chain,throughput
 * BENCH_CPU_PROF=<dir>: worker processes run with `--cpu-prof --cpu-prof-dir=<dir>`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem, type } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { FINISHED_RUN_STATUSES } from '@flowpilot/engine';
import { createBuiltinRegistry } from '@flowpilot/nodes';
import type { SqliteStore, StoredEvent, Store } from '@flowpilot/store';
import { DurableEngine } from '@flowpilot/worker';
import pg from 'pg';
import { openBenchStore, PostgresUnavailableError, type Backend } from './store-open.js';

const env = process.env;
const list = (value: string | undefined, fallback: string): string[] => (value ?? fallback).split(',').map((item) => item.trim()).filter(Boolean);
const BACKENDS = list(env.BENCH_BACKENDS, 'sqlite,postgres') as Backend[];
const WORKER_COUNTS = list(env.BENCH_WORKERS, '1,2').map(Number);
const SCENARIOS = new Set(list(env.BENCH_SCENARIOS, 'chain,throughput'));
const PG_URL = env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const CONCURRENCY = Number(env.BENCH_CONCURRENCY ?? 32);
const POLL_MS = Number(env.BENCH_POLL_MS ?? 1000);
const CHAIN_LENGTH = 40;
const CHAIN_RUNS = Number(env.BENCH_CHAIN_RUNS ?? 20);
const CHAIN_WARMUP = 2;
const RUNS = Number(env.BENCH_RUNS ?? 10_000);
const STEPS_PER_RUN = 3;
const INSERT_BATCH = 100;
const TIMEOUT_MS = 10 * 60_000;
const PROFILE_DIR = env.BENCH_CPU_PROF;
const WORKER_FILE = fileURLToPath(new URL('./store-worker.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));

const TARGETS = {
  sqlite: { msPerStep: 0.5, stepsPerSecond: 10_000, stepsWorkers: [1, 2] },
  postgres: { msPerStep: 3, stepsPerSecond: 3_000, stepsWorkers: [2] },
} as const;

// ---------------------------------------------------------------------------------------------
// Workflows

function chainWorkflow(size: number): unknown {
  const nodes = Array.from({ length: size }, (_, index) => ({ id: `n${index}`, type: 'noop', data: {} }));
  const edges = Array.from({ length: size - 1 }, (_, index) => ({ source: `n${index}`, target: `n${index + 1}` }));
  return { name: `chain-${size}`, nodes, edges };
}

const THREE_STEPS = ['a', 'b', 'c'] as const;
const threeStepWorkflow = {
  name: 'three-step',
  nodes: [
    { id: 'a', type: 'noop', data: {} },
    { id: 'b', type: 'set', data: { values: { n: '{{ input.n }}', tag: 'bench' } } },
    { id: 'c', type: 'noop', data: {} },
  ],
  edges: [
    { source: 'a', target: 'b' },
    { source: 'b', target: 'c' },
  ],
};

// ---------------------------------------------------------------------------------------------
// Small helpers

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

const mean = (values: readonly number[]): number => values.reduce((sum, value) => sum + value, 0) / values.length;
const fmt = (value: number, digits = 2): string => (Number.isFinite(value) ? value.toFixed(digits) : '—');
const int = (value: number): string => (Number.isFinite(value) ? Math.round(value).toLocaleString('en') : '—');
const verdict = (ok: boolean): string => (ok ? 'met' : 'MISSED');

/** Runs `fn` over `items` with at most `limit` in flight. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!);
    }
  });
  await Promise.all(lanes);
  return results;
}

/** Warns when a package's build is older than its sources (the benchmark imports the builds). */
function warnIfStale(): void {
  const newest = (dir: string): number => {
    let latest = 0;
    for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
      if (entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) {
        latest = Math.max(latest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
      }
    }
    return latest;
  };
  const stale: string[] = [];
  for (const name of ['engine', 'nodes', 'runtime', 'store', 'worker']) {
    const info = join(ROOT, 'packages', name, 'dist', '.tsbuildinfo');
    let built = 0;
    try {
      built = statSync(info).mtimeMs;
    } catch {
      built = 0;
    }
    if (newest(join(ROOT, 'packages', name, 'src')) > built) stale.push(name);
  }
  if (stale.length > 0) console.log(`warning: dist older than src for ${stale.join(', ')}: run \`npm run build\` first (the benchmark imports the builds)`);
}

// ---------------------------------------------------------------------------------------------
// Databases: a fresh one per scenario

/** Read-only SQL against the scenario's database, for aggregate figures (both schemas match). */
type Query = (sql: string) => Promise<Array<Record<string, unknown>>>;

interface Database {
  backend: Backend;
  /** SQLite file or postgres:// URL. */
  location: string;
  schema?: string;
  store: Store;
  query: Query;
  drop(): Promise<void>;
}

async function createDatabase(backend: Backend, label: string): Promise<Database> {
  if (backend === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'flowpilot-bench-'));
    const file = join(dir, 'flowpilot.db');
    const store = await openBenchStore('sqlite', file, undefined, true);
    const raw = (store as SqliteStore).database;
    return {
      backend,
      location: file,
      store,
      query: async (sql) => raw.prepare(sql).all() as Array<Record<string, unknown>>,
      drop: async () => {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const schema = `flowpilot_bench_${process.pid}_${label}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  try {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.query(`SET search_path TO ${schema}`);
    const store = await openBenchStore('postgres', PG_URL, schema, true);
    return {
      backend,
      location: PG_URL,
      schema,
      store,
      query: async (sql) => (await admin.query(sql)).rows as Array<Record<string, unknown>>,
      drop: async () => {
        await store.close().catch(() => undefined);
        await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await admin.end();
      },
    };
  } catch (error) {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
    await admin.end();
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// Worker processes

interface WorkerProcess {
  child: ChildProcess;
  ready: Promise<void>;
  exited: Promise<number | null>;
  stats: WorkerStats | undefined;
}

interface WorkerStats {
  errors: number;
  /** CPU time of the process from ready to stopped (user + system). */
  cpuMs: number;
}

function spawnWorker(db: Database): WorkerProcess {
  const execArgv = PROFILE_DIR === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`];
  const child = spawn(process.execPath, [...execArgv, '--import', 'tsx', WORKER_FILE], {
    cwd: ROOT,
    env: {
      ...process.env,
      BENCH_BACKEND: db.backend,
      BENCH_DB: db.location,
      BENCH_SCHEMA: db.schema ?? '',
      BENCH_CONCURRENCY: String(CONCURRENCY),
      BENCH_POLL_MS: String(POLL_MS),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const worker: WorkerProcess = { child, ready: Promise.resolve(), exited: Promise.resolve(null), stats: undefined };
  worker.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  worker.ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker ${child.pid} not ready after 30 s`)), 30_000);
    void worker.exited.then((code) => reject(new Error(`worker ${child.pid} exited with ${code} before it was ready`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('ready ')) {
        clearTimeout(timer);
        resolve();
      } else if (line.startsWith('stopped ')) {
        worker.stats = JSON.parse(line.slice('stopped '.length)) as WorkerStats;
      }
    });
  });
  worker.ready.catch(() => undefined);
  return worker;
}

async function startWorkers(db: Database, count: number): Promise<WorkerProcess[]> {
  const workers = Array.from({ length: count }, () => spawnWorker(db));
  try {
    await Promise.all(workers.map((worker) => worker.ready));
  } catch (error) {
    await stopWorkers(workers);
    throw error;
  }
  return workers;
}

/** SIGTERM (the worker drains and exits); SIGKILL to the same pid if it does not within 30 s. */
async function stopWorkers(workers: readonly WorkerProcess[]): Promise<WorkerStats> {
  await Promise.all(
    workers.map(async (worker) => {
      if (worker.child.exitCode !== null || worker.child.signalCode !== null) return;
      worker.child.kill('SIGTERM');
      const timer = setTimeout(() => worker.child.kill('SIGKILL'), 30_000);
      await worker.exited;
      clearTimeout(timer);
    }),
  );
  return {
    errors: workers.reduce((sum, worker) => sum + (worker.stats?.errors ?? 0), 0),
    cpuMs: workers.reduce((sum, worker) => sum + (worker.stats?.cpuMs ?? Number.NaN), 0),
  };
}

// ---------------------------------------------------------------------------------------------
// (a) sequential chain

interface ChainResult {
  msPerStep: number;
  /** Median of the per-run figures. */
  msPerStepP50: number;
  wallMsPerRun: number;
  /** run.started → first step started: the pickup of a run queued by another process. */
  pickupMs: number;
  /** (run finished − first step started) / 40: the chain without the pickup. */
  msPerStepAfterPickup: number;
  /** CPU time of the worker processes per step (µs), warm-up runs included. */
  workerCpuUsPerStep: number;
  workerErrors: number;
}

async function waitFinished(store: Store, runId: string, pollMs: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const run = await store.getRun('default', runId);
    if (run !== undefined && FINISHED_RUN_STATUSES.has(run.status)) {
      if (run.status !== 'succeeded') throw new Error(`run ${runId} ${run.status}: ${JSON.stringify(run.error)}`);
      return;
    }
    if (Date.now() > deadline) throw new Error(`run ${runId} not finished after 60 s (status ${run?.status})`);
    await sleep(pollMs);
  }
}

async function chainScenario(db: Database, workerCount: number): Promise<ChainResult> {
  const engine = new DurableEngine({ store: db.store, registry: createBuiltinRegistry() });
  await engine.saveWorkflow('chain', chainWorkflow(CHAIN_LENGTH));
  const workers = await startWorkers(db, workerCount);
  const perStep: number[] = [];
  const walls: number[] = [];
  const pickups: number[] = [];
  const afterPickup: number[] = [];
  let stats: WorkerStats = { errors: 0, cpuMs: Number.NaN };
  try {
    for (let index = 0; index < CHAIN_WARMUP + CHAIN_RUNS; index += 1) {
      const begin = performance.now();
      const { id } = await engine.startRun({ workflowId: 'chain', runId: `chain-${index}` });
      await waitFinished(db.store, id, db.backend === 'sqlite' ? 1 : 2);
      const wall = performance.now() - begin;
      if (index < CHAIN_WARMUP) continue;
      const run = (await db.store.getRun('default', id))!;
      const first = (await db.store.getSteps('default', id)).find((step) => step.nodeId === 'n0');
      perStep.push((run.finishedAt! - run.startedAt!) / CHAIN_LENGTH);
      walls.push(wall);
      pickups.push(first!.startedAt! - run.startedAt!);
      afterPickup.push((run.finishedAt! - first!.startedAt!) / CHAIN_LENGTH);
    }
  } finally {
    stats = await stopWorkers(workers);
  }
  return {
    msPerStep: mean(perStep),
    msPerStepP50: percentile([...perStep].sort((a, b) => a - b), 0.5),
    wallMsPerRun: mean(walls),
    pickupMs: mean(pickups),
    msPerStepAfterPickup: mean(afterPickup),
    workerCpuUsPerStep: (stats.cpuMs * 1000) / ((CHAIN_WARMUP + CHAIN_RUNS) * CHAIN_LENGTH),
    workerErrors: stats.errors,
  };
}

// ---------------------------------------------------------------------------------------------
// (b) throughput

interface ThroughputResult {
  insertMs: number;
  stepsPerSecond: number;
  spanMs: number;
  /** Spawn of the workers → every run finished, as the orchestrator saw it (process start included). */
  wallMs: number;
  /** queued→started, ms, every step of the sampled runs. */
  all: { p50: number; p99: number };
  /** The first step of each run: it waits behind the whole backlog of 10,000 runs. */
  first: { p50: number; p99: number };
  /** Steps made ready by a completion in a worker (dispatch latency proper). */
  followOn: { p50: number; p99: number };
  sampled: number;
  /** CPU time of the worker processes per step (µs), idle polling included. */
  workerCpuUsPerStep: number;
  workerErrors: number;
}

function latencies(events: readonly StoredEvent[]): { first: number; followOn: number[] } {
  let runStarted = Number.NaN;
  const started = new Map<string, number>();
  const succeeded = new Map<string, number>();
  for (const { event } of events) {
    if (event.type === 'run.started') runStarted = event.at;
    else if (event.type === 'step.started') started.set(event.nodeId, event.at);
    else if (event.type === 'step.succeeded') succeeded.set(event.nodeId, event.at);
  }
  const followOn: number[] = [];
  for (let index = 1; index < THREE_STEPS.length; index += 1) {
    followOn.push(started.get(THREE_STEPS[index]!)! - succeeded.get(THREE_STEPS[index - 1]!)!);
  }
  return { first: started.get(THREE_STEPS[0])! - runStarted, followOn };
}

const summary = (values: number[]): { p50: number; p99: number } => {
  values.sort((a, b) => a - b);
  return { p50: percentile(values, 0.5), p99: percentile(values, 0.99) };
};

async function throughputScenario(db: Database, workerCount: number): Promise<ThroughputResult> {
  const engine = new DurableEngine({ store: db.store, registry: createBuiltinRegistry() });
  await engine.saveWorkflow('three-step', threeStepWorkflow);
  const runIds = Array.from({ length: RUNS }, (_, index) => `t-${String(index).padStart(6, '0')}`);

  const insertBegin = performance.now();
  for (let offset = 0; offset < RUNS; offset += INSERT_BATCH) {
    await Promise.all(
      runIds.slice(offset, offset + INSERT_BATCH).map((runId, index) => engine.startRun({ workflowId: 'three-step', runId, input: { n: offset + index } })),
    );
  }
  const insertMs = performance.now() - insertBegin;

  const wallBegin = performance.now();
  const workers = await startWorkers(db, workerCount);
  let stats: WorkerStats = { errors: 0, cpuMs: Number.NaN };
  try {
    const deadline = Date.now() + TIMEOUT_MS;
    for (;;) {
      const [row] = await db.query(`SELECT COUNT(*) AS n FROM runs WHERE status IN ('succeeded', 'failed', 'cancelled')`);
      if (Number(row!.n) >= RUNS) break;
      if (Date.now() > deadline) throw new Error(`throughput: only ${Number(row!.n)} of ${RUNS} runs finished after ${TIMEOUT_MS / 1000} s`);
      await sleep(100);
    }
  } finally {
    stats = await stopWorkers(workers);
  }
  const wallMs = performance.now() - wallBegin;

  const [statuses] = await db.query(`SELECT COUNT(*) AS n FROM runs WHERE status <> 'succeeded'`);
  if (Number(statuses!.n) > 0) throw new Error(`throughput: ${Number(statuses!.n)} runs did not succeed`);
  const [span] = await db.query(`SELECT MIN(started_at) AS first_start, MAX(finished_at) AS last_finish, COUNT(*) AS n FROM steps WHERE status = 'succeeded'`);
  if (Number(span!.n) !== RUNS * STEPS_PER_RUN) throw new Error(`throughput: ${Number(span!.n)} succeeded steps, expected ${RUNS * STEPS_PER_RUN}`);
  const spanMs = Number(span!.last_finish) - Number(span!.first_start);

  // Every run's events (readEvents joins outputs back in, so this is the slow part of the report).
  const first: number[] = [];
  const followOn: number[] = [];
  await mapLimit(runIds, db.backend === 'sqlite' ? 1 : 8, async (runId) => {
    const measured = latencies(await db.store.readEvents('default', runId));
    first.push(measured.first);
    followOn.push(...measured.followOn);
  });
  const all = [...first, ...followOn];
  return {
    insertMs,
    stepsPerSecond: (RUNS * STEPS_PER_RUN) / (spanMs / 1000),
    spanMs,
    wallMs,
    all: summary(all),
    first: summary(first),
    followOn: summary(followOn),
    sampled: runIds.length,
    workerCpuUsPerStep: (stats.cpuMs * 1000) / (RUNS * STEPS_PER_RUN),
    workerErrors: stats.errors,
  };
}

// ---------------------------------------------------------------------------------------------
// Main

interface Row {
  backend: Backend;
  workers: number;
  chain?: ChainResult;
  throughput?: ThroughputResult;
  error?: string;
}

async function scenario<T>(backend: Backend, label: string, body: (db: Database) => Promise<T>): Promise<T> {
  const db = await createDatabase(backend, label);
  try {
    return await body(db);
  } finally {
    await db.drop();
  }
}

const cpuList = cpus();
console.log(`node ${process.version}, ${cpuList.length} × ${cpuList[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, ${type()} ${release()}`);
console.log(`date ${new Date().toISOString()}; load average ${loadavg().map((value) => value.toFixed(2)).join(' ')} (other processes on the machine skew the figures)`);
console.log(
  `settings: worker concurrency ${CONCURRENCY}, pollMs ${POLL_MS}; chain ${CHAIN_LENGTH} × noop, ${CHAIN_RUNS} runs (+${CHAIN_WARMUP} warm-up); ` +
    `throughput ${RUNS.toLocaleString('en')} runs × ${STEPS_PER_RUN} steps, inserted in batches of ${INSERT_BATCH} before the workers start`,
);
warnIfStale();

const rows: Row[] = [];
for (const backend of BACKENDS) {
  for (const workers of WORKER_COUNTS) {
    const row: Row = { backend, workers };
    rows.push(row);
    try {
      if (SCENARIOS.has('chain')) {
        row.chain = await scenario(backend, `chain_${workers}`, (db) => chainScenario(db, workers));
        const c = row.chain;
        console.log(
          `${backend} × ${workers} worker(s), chain: ${fmt(c.msPerStep, 3)} ms/step (p50 run ${fmt(c.msPerStepP50, 3)}), ${fmt(c.wallMsPerRun, 1)} ms/run wall, ` +
            `pickup ${fmt(c.pickupMs, 1)} ms, ${fmt(c.msPerStepAfterPickup, 3)} ms/step after pickup; worker CPU ${int(c.workerCpuUsPerStep)} µs/step`,
        );
      }
      if (SCENARIOS.has('throughput')) {
        row.throughput = await scenario(backend, `throughput_${workers}`, (db) => throughputScenario(db, workers));
        const t = row.throughput;
        console.log(
          `${backend} × ${workers} worker(s), throughput: ${int(t.stepsPerSecond)} steps/s over ${int(t.spanMs)} ms ` +
            `(insert ${int(t.insertMs)} ms, workers' wall ${int(t.wallMs)} ms); queued→started p50 ${fmt(t.all.p50, 0)} / p99 ${fmt(t.all.p99, 0)} ms; ` +
            `worker CPU ${int(t.workerCpuUsPerStep)} µs/step`,
        );
      }
    } catch (error) {
      row.error = error instanceof PostgresUnavailableError ? `not run: ${error.message}` : `failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
      console.log(`${backend} × ${workers} worker(s): ${row.error}`);
      if (error instanceof PostgresUnavailableError) {
        for (const other of WORKER_COUNTS.filter((count) => count !== workers)) rows.push({ backend, workers: other, error: row.error });
        break;
      }
    }
  }
}

// The table.
const headers = ['backend', 'workers', 'chain ms/step', 'target', 'after pickup', 'wall ms/run', 'steps/s', 'target', 'q→s p50', 'q→s p99', 'first p50/p99', 'follow-on p50/p99', 'CPU µs/step'];
const table: string[][] = [];
const misses: string[] = [];
const checks: string[] = [];
for (const row of rows) {
  const target = TARGETS[row.backend];
  if (row.error !== undefined) {
    table.push([row.backend, String(row.workers), row.error.split('\n')[0]!]);
    checks.push(`${row.backend} × ${row.workers}: not measured`);
    continue;
  }
  const cells = [row.backend, String(row.workers)];
  const cpu = `${row.chain === undefined ? '—' : int(row.chain.workerCpuUsPerStep)} / ${row.throughput === undefined ? '—' : int(row.throughput.workerCpuUsPerStep)}`;
  if (row.chain === undefined) cells.push('—', '', '—', '—');
  else {
    const ok = row.chain.msPerStep <= target.msPerStep;
    cells.push(fmt(row.chain.msPerStep, 3), `≤ ${target.msPerStep} ${verdict(ok)}`, fmt(row.chain.msPerStepAfterPickup, 3), fmt(row.chain.wallMsPerRun, 1));
    checks.push(`${row.backend} × ${row.workers} chain ≤ ${target.msPerStep} ms/step ${verdict(ok)}`);
    if (!ok) misses.push(`${row.backend} × ${row.workers} chain`);
  }
  if (row.throughput === undefined) cells.push('—', '', '—', '—', '—', '—');
  else {
    const t = row.throughput;
    const applies = (target.stepsWorkers as readonly number[]).includes(row.workers);
    const ok = t.stepsPerSecond >= target.stepsPerSecond;
    cells.push(
      int(t.stepsPerSecond),
      applies ? `≥ ${target.stepsPerSecond.toLocaleString('en')} ${verdict(ok)}` : '(none)',
      fmt(t.all.p50, 0),
      fmt(t.all.p99, 0),
      `${fmt(t.first.p50, 0)} / ${fmt(t.first.p99, 0)}`,
      `${fmt(t.followOn.p50, 0)} / ${fmt(t.followOn.p99, 0)}`,
    );
    if (applies) {
      checks.push(`${row.backend} × ${row.workers} ≥ ${target.stepsPerSecond.toLocaleString('en')} steps/s ${verdict(ok)}`);
      if (!ok) misses.push(`${row.backend} × ${row.workers} throughput`);
    }
  }
  cells.push(cpu);
  table.push(cells);
}
const widths = headers.map((header, index) => Math.max(header.length, ...table.map((cells) => (cells.length === 3 && index === 2 ? 0 : (cells[index] ?? '').length))));
const line = (cells: readonly string[]): string => {
  if (cells.length === 3) return `${cells[0]!.padEnd(widths[0]!)}  ${cells[1]!.padStart(widths[1]!)}  ${cells[2]}`;
  return cells.map((cell, index) => (index < 1 ? cell.padEnd(widths[index]!) : cell.padStart(widths[index]!))).join('  ');
};
console.log('');
console.log(line(headers));
console.log(widths.map((width) => '-'.repeat(width)).join('  '));
for (const cells of table) console.log(line(cells));
console.log('');
console.log('chain ms/step = (run finished_at − started_at) / 40 from the store, mean of the runs; after pickup = (finished_at − first step started) / 40;');
console.log('  wall ms/run = startRun → finished seen by the orchestrator. CPU µs/step = CPU time of the worker processes / steps (chain / throughput).');
console.log(`steps/s = ${(RUNS * STEPS_PER_RUN).toLocaleString('en')} / (last step finished − first step started); q→s = queued→started ms over every step of every run:`);
console.log('  first = first step of a run (waits behind the whole backlog), follow-on = steps made ready by a completion.');
const errors = rows.reduce((sum, row) => sum + (row.chain?.workerErrors ?? 0) + (row.throughput?.workerErrors ?? 0), 0);
if (errors > 0) console.log(`worker processes reported ${errors} error(s) they survived (see stderr above)`);
console.log(`load average at the end: ${loadavg().map((value) => value.toFixed(2)).join(' ')}`);
console.log(`targets: ${checks.join('; ')}`);
if (misses.length > 0) console.log(`MISSED: ${misses.join(', ')}`);
