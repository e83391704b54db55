/**
 * One worker process of `npm run bench:store` (spawned by bench/store.ts, not run by hand).
 *
 * Opens the store the environment names, runs `new Worker({ engine, concurrency, pollMs })` until
 * SIGTERM, then `stop()`s it (drain + record), closes the store and exits 0.
 *
 * Environment:
 * - BENCH_BACKEND: `sqlite` | `postgres`
 * - BENCH_DB: the SQLite file, or the postgres:// connection string
 * - BENCH_SCHEMA: the PostgreSQL schema (PostgreSQL only)
 * - BENCH_CONCURRENCY, BENCH_POLL_MS: the Worker options
 *
 * Prints `ready <owner>` on stdout once the worker runs, and `stopped <json stats>` after `stop()`:
 * errors survived, and the CPU time (user + system, ms) the process spent from `ready` to stopped.
 */
import { createBuiltinRegistry } from '@flowpilot/nodes';
import { DurableEngine, Worker } from '@flowpilot/worker';
import { openBenchStore, type Backend } from './store-open.js';

const backend = process.env.BENCH_BACKEND as Backend;
const database = process.env.BENCH_DB;
if ((backend !== 'sqlite' && backend !== 'postgres') || database === undefined) {
  process.stderr.write('store-worker: set BENCH_BACKEND (sqlite|postgres) and BENCH_DB\n');
  process.exit(2);
}
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 10);
const pollMs = Number(process.env.BENCH_POLL_MS ?? 1000);

const store = await openBenchStore(backend, database, process.env.BENCH_SCHEMA);
const engine = new DurableEngine({ store, registry: createBuiltinRegistry() });
let errors = 0;
const worker = new Worker({
  engine,
  concurrency,
  pollMs,
  onError: (error) => {
    errors += 1;
    // A handful is enough to diagnose; thousands would only slow the benchmark down.
    if (errors <= 5) process.stderr.write(`store-worker ${process.pid}: ${error instanceof Error ? error.message : String(error)}\n`);
  },
});

const stopped = new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
worker.start();
const cpuAtStart = process.cpuUsage();
process.stdout.write(`ready ${worker.owner}\n`);
await stopped;
await worker.stop(10_000);
await store.close();
const cpu = process.cpuUsage(cpuAtStart);
process.stdout.write(`stopped ${JSON.stringify({ errors, cpuMs: (cpu.user + cpu.system) / 1000 })}\n`);
// process.exit (rather than waiting for the event loop) so a lingering pool socket cannot hang
// the benchmark; --cpu-prof profiles are still written on exit.
process.exit(0);
