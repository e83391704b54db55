/**
 * The server process of `npm run bench:api` (spawned by bench/api.ts, not run by hand): what
 * `flowpilot serve` runs, on the SQLite file the orchestrator created and migrated, with the
 * embedded worker, listening on a free port of 127.0.0.1.
 *
 * Environment:
 * - BENCH_DB: the SQLite file (already migrated)
 * - FLOWPILOT_API_KEY: bootstrapped like `flowpilot serve` does
 * - BENCH_WORKER_CONCURRENCY: the embedded worker's concurrency (default 64, the server's default)
 * - BENCH_RATE_LIMIT: webhook requests a minute per client IP (default 1e9: one load generator on
 *   127.0.0.1 is every client here, and the server's default of 6,000 would answer 429 from 100 req/s)
 *
 * stdout protocol: `listening <url>` once it serves; `cpu <json>` after each `cpu` line read on
 * stdin (CPU time of the process so far, ms); `stopped <json>` after SIGTERM (graceful close).
 */
import { createInterface } from 'node:readline';
import { createBuiltinRegistry } from '@flowpilot/nodes';
import { createServer, type ServerStore } from '@flowpilot/server';
import { SqliteStore } from '@flowpilot/store';

const database = process.env.BENCH_DB;
if (database === undefined) {
  process.stderr.write('api-server: set BENCH_DB\n');
  process.exit(2);
}

const cpuMs = (): number => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
};

const sqlite = new SqliteStore({ filename: database });
for (const pragma of (process.env.BENCH_SQLITE_PRAGMAS ?? '').split(';').map((item) => item.trim()).filter(Boolean)) sqlite.database.pragma(pragma);
const store = sqlite as unknown as ServerStore;
// BENCH_COUNT_SQL=1: count statements by their first words (printed on stderr at exit), to see what a run costs.
const sqlCounts = new Map<string, number>();
if (process.env.BENCH_COUNT_SQL === '1') {
  const db = sqlite.database;
  const count = (sql: string): void => {
    const key = sql.trim().replace(/\s+/g, ' ').slice(0, 60);
    sqlCounts.set(key, (sqlCounts.get(key) ?? 0) + 1);
  };
  const exec = db.exec.bind(db);
  db.exec = ((sql: string) => (count(sql), exec(sql))) as typeof db.exec;
  // Statements are prepared when the store opens: count on their shared prototype.
  const proto = Object.getPrototypeOf(db.prepare('SELECT 1')) as Record<string, (...args: unknown[]) => unknown>;
  for (const method of ['run', 'get', 'all'] as const) {
    const original = proto[method]!;
    proto[method] = function (this: { source: string }, ...args: unknown[]) {
      count(this.source);
      return original.apply(this, args);
    };
  }
}
const server = await createServer({
  store,
  registry: createBuiltinRegistry(),
  apiKey: process.env.FLOWPILOT_API_KEY,
  embeddedWorker: true,
  workerConcurrency: Number(process.env.BENCH_WORKER_CONCURRENCY ?? 64),
  rateLimitPerMinute: Number(process.env.BENCH_RATE_LIMIT ?? 1e9),
});
const url = await server.listen(0, '127.0.0.1');

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'cpu') process.stdout.write(`cpu ${JSON.stringify({ cpuMs: cpuMs(), rssMiB: process.memoryUsage().rss / 2 ** 20 })}\n`);
});
const stopped = new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
process.stdout.write(`listening ${url}\n`);
await stopped;
await server.close();
await store.close();
process.stdout.write(`stopped ${JSON.stringify({ cpuMs: cpuMs() })}\n`);
if (sqlCounts.size > 0) for (const [sql, n] of [...sqlCounts].sort((x, y) => y[1] - x[1])) process.stderr.write(`${String(n).padStart(9)}  ${sql}\n`);
// process.exit so stdin (still open) cannot keep the process alive; --cpu-prof profiles are written on exit.
process.exit(0);
