/** `flowpilot serve` and `flowpilot keys create`. */
import type { NodeRegistry } from '@flowpilot/engine';
import { createApiKey, createServer, type ServerStore } from '@flowpilot/server';
import { openStore } from '@flowpilot/store';
import { ExitCode, type CliIo } from '../io.js';

/** `flowpilot serve [--port N] [--no-worker]`: runs until SIGTERM/SIGINT, then shuts down gracefully. */
export async function serveCommand(options: { port?: string; host: string; worker: boolean; concurrency: string }, registry: NodeRegistry, io: CliIo): Promise<number> {
  const port = Number.parseInt(options.port ?? process.env.PORT ?? '8080', 10);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    io.stderr.write(`flowpilot: --port must be a port number, got "${options.port ?? process.env.PORT}"\n`);
    return ExitCode.INVALID;
  }
  const store = (await openStore()) as ServerStore;
  const server = await createServer({
    store,
    registry,
    embeddedWorker: options.worker,
    workerConcurrency: Number.parseInt(options.concurrency, 10) || 16,
    apiKey: process.env.FLOWPILOT_API_KEY,
    logger: process.env.FLOWPILOT_LOG_LEVEL === undefined ? false : { level: process.env.FLOWPILOT_LOG_LEVEL },
  });
  const url = await server.listen(port, options.host);
  io.stderr.write(`FlowPilot listening on ${url} (${store.kind}${options.worker ? ', embedded worker' : ''}); API docs at ${url}/api/v1/docs\n`);
  if (process.env.FLOWPILOT_API_KEY === undefined) io.stderr.write('no FLOWPILOT_API_KEY set: create a key with `flowpilot keys create --name NAME`\n');
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  io.stderr.write(`${signal}: shutting down\n`);
  await server.close();
  await store.close();
  return ExitCode.OK;
}

/** `flowpilot keys create --name NAME`: prints a new API key once. */
export async function keysCreateCommand(options: { name: string }, io: CliIo): Promise<number> {
  const store = (await openStore()) as ServerStore;
  try {
    const { key, record } = await createApiKey(store, { name: options.name });
    io.stdout.write(`${key}\n`);
    io.stderr.write(`API key "${record.name}" (${record.prefix}…) created; it is shown only once.\n`);
    return ExitCode.OK;
  } finally {
    await store.close();
  }
}
