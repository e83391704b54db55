/**
 * Crash recovery on SQLite with real processes: worker processes on one database file are killed
 * with SIGKILL at random moments and restarted while 200 fan-out runs (parallel branches, a retried
 * step, a durable delay) go through. Every run must finish, every step succeed exactly once with the
 * expected output, and no step may ever run concurrently with itself.
 */
import { afterAll, afterEach, describe, it } from 'vitest';
import { killAllClusters, type WorkerCluster } from './crash-cluster.js';
import { crashSeed, removeDir, removeWorkerBundle, sqliteBackend, tempDir, type CrashBackend } from './crash-env.js';
import { assertFanScenario, runFanScenario } from './crash-helpers.js';

let backend: CrashBackend | undefined;
let dir: string | undefined;

afterAll(() => removeWorkerBundle());

afterEach(async () => {
  await killAllClusters();
  await backend?.close();
  backend = undefined;
  if (process.env.CRASH_KEEP === undefined) removeDir(dir);
  else console.log(`crash test files kept in ${dir}`);
  dir = undefined;
});

describe('crash recovery on SQLite (real processes, kill -9)', () => {
  it('one worker process, killed and restarted at random moments: 200 runs finish, each step succeeds exactly once, no output lost', async ({ onTestFailed }) => {
    dir = tempDir('flowpilot-crash-sqlite1-');
    backend = await sqliteBackend(dir);
    let cluster: WorkerCluster | undefined;
    onTestFailed(() => console.error(cluster?.diagnostics() ?? 'no worker processes were started'));
    const seed = crashSeed(1001);
    console.log(`sqlite/1 worker: seed ${seed} (CRASH_SEED=${seed} replays the kill schedule)`);
    const result = await runFanScenario({
      label: 'sqlite, 1 worker process',
      backend,
      dir,
      workers: 1,
      runs: 200,
      upfront: 40,
      batchSize: 10,
      batchIntervalMs: 800,
      seed,
      maxKills: 8,
      intervalMs: [300, 1000],
      downMs: [50, 300],
      startupKillChance: 0.15,
      probe: { sleepMs: 20, jitterMs: 60 },
      workerEnv: { CRASH_CONCURRENCY: '16', CRASH_LEASE_MS: '1000', CRASH_POLL_MS: '200' },
      timeoutMs: 120_000,
      onCluster: (created) => (cluster = created),
    });
    assertFanScenario(result, 3);
  }, 180_000);

  it('two worker processes on one file (WAL, busy timeout), killed at random: the same guarantees', async ({ onTestFailed }) => {
    dir = tempDir('flowpilot-crash-sqlite2-');
    backend = await sqliteBackend(dir);
    let cluster: WorkerCluster | undefined;
    onTestFailed(() => console.error(cluster?.diagnostics() ?? 'no worker processes were started'));
    const seed = crashSeed(2002);
    console.log(`sqlite/2 workers: seed ${seed} (CRASH_SEED=${seed} replays the kill schedule)`);
    const result = await runFanScenario({
      label: 'sqlite, 2 worker processes',
      backend,
      dir,
      workers: 2,
      runs: 200,
      upfront: 40,
      batchSize: 10,
      batchIntervalMs: 600,
      seed,
      maxKills: 10,
      intervalMs: [300, 1000],
      downMs: [50, 300],
      doubleKillChance: 0.2,
      startupKillChance: 0.15,
      probe: { sleepMs: 20, jitterMs: 60 },
      workerEnv: { CRASH_CONCURRENCY: '16', CRASH_LEASE_MS: '1000', CRASH_POLL_MS: '200' },
      timeoutMs: 120_000,
      onCluster: (created) => (cluster = created),
    });
    assertFanScenario(result, 3);
  }, 180_000);
});
