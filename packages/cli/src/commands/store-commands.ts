/** `flowpilot migrate`, `flowpilot prune` and `flowpilot worker`: commands that work on the store. */
import { openStore } from '@flowpilot/store';
import { DurableEngine, storeCredentials, storeWorkflowLoader, Worker } from '@flowpilot/worker';
import { workspaceRunLimits } from './run-limits.js';
import type { NodeRegistry } from '@flowpilot/engine';
import { parseDuration } from '../duration.js';
import { ExitCode, type CliIo } from '../io.js';
import { fileWorkflowLoader } from '../workflow-file.js';
import { loadStepSecretKey } from './secrets.js';

/** `flowpilot migrate`: applies pending migrations and says which. */
export async function migrateCommand(io: CliIo): Promise<number> {
  const store = await openStore({ migrate: false });
  try {
    const applied = await store.migrate();
    io.stdout.write(applied.length === 0 ? `${store.kind}: schema is up to date\n` : `${store.kind}: applied migrations ${applied.join(', ')}\n`);
    return ExitCode.OK;
  } finally {
    await store.close();
  }
}

/** `flowpilot prune --older-than 30d`: deletes finished runs (and everything they own). */
export async function pruneCommand(options: { olderThan: string }, io: CliIo): Promise<number> {
  const age = parseDuration(options.olderThan, '--older-than');
  const store = await openStore();
  try {
    let total = 0;
    for (let deleted = -1; deleted !== 0; total += deleted) deleted = await store.pruneRuns(Date.now() - age, 1000);
    io.stdout.write(`pruned ${total} run${total === 1 ? '' : 's'} finished more than ${options.olderThan} ago\n`);
    return ExitCode.OK;
  } finally {
    await store.close();
  }
}

/** `flowpilot worker`: runs steps until SIGTERM/SIGINT, then drains and exits 0. */
export async function workerCommand(options: { concurrency: string; retention?: string }, registry: NodeRegistry, io: CliIo): Promise<number> {
  const concurrency = Number.parseInt(options.concurrency, 10);
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    io.stderr.write(`flowpilot: --concurrency must be a positive integer, got "${options.concurrency}"\n`);
    return ExitCode.INVALID;
  }
  const retention = options.retention ?? process.env.FLOWPILOT_RETENTION;
  const retentionMs = retention === undefined ? undefined : parseDuration(retention, '--retention');
  const secretKey = loadStepSecretKey(io);
  const store = await openStore();
  const engine = new DurableEngine({ store, registry, runLimits: workspaceRunLimits(store) });
  const worker = new Worker({
    engine,
    concurrency,
    loadWorkflow: storeWorkflowLoader(store, fileWorkflowLoader),
    credentials: storeCredentials(store, secretKey),
    onError: (error) => io.stderr.write(`worker: ${error instanceof Error ? error.message : String(error)}\n`),
  });
  worker.start();
  io.stderr.write(`worker ${worker.owner} started on ${store.kind} (concurrency ${concurrency})\n`);
  // Retention: prune finished runs older than the policy once an hour (and at start).
  const prune = async (): Promise<void> => {
    if (retentionMs !== undefined) await store.pruneRuns(Date.now() - retentionMs, 1000).catch(() => 0);
  };
  void prune();
  const pruner = setInterval(() => void prune(), 3_600_000);
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  io.stderr.write(`worker: ${signal}: draining ${worker.inFlight} running step(s)\n`);
  clearInterval(pruner);
  await worker.stop(Number(process.env.FLOWPILOT_DRAIN_MS ?? 30_000));
  await store.close();
  io.stderr.write('worker: stopped\n');
  return ExitCode.OK;
}

/** `flowpilot cancel RUN_ID` / `flowpilot retry RUN_ID`: run control on the store. */
export async function runControlCommand(action: 'cancel' | 'retry', runId: string, registry: NodeRegistry, io: CliIo): Promise<number> {
  const store = await openStore();
  try {
    const engine = new DurableEngine({ store, registry });
    const run = action === 'cancel' ? await engine.cancelRun(runId, 'cancelled from the command line') : await engine.retryRun(runId);
    io.stdout.write(`run ${run.id}: ${run.status}\n`);
    return ExitCode.OK;
  } finally {
    await store.close();
  }
}
