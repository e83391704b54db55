/** `flowpilot serve`. */
import { dirname, join, resolve } from 'node:path';
import type { NodeRegistry } from '@flowpilot/engine';
import { createServer, type ServerStore } from '@flowpilot/server';
import { openStore } from '@flowpilot/store';
import { loadSecretKey, SecretKeyError, type SecretKey } from '@flowpilot/vault';
import { ExitCode, type CliIo } from '../io.js';

/**
 * Where an embedded (SQLite) deployment keeps its generated secret key: beside the database. None
 * for PostgreSQL (every process needs the same key, so it must come from FLOWPILOT_SECRET_KEY).
 */
export function secretKeyFile(databaseUrl = process.env.FLOWPILOT_DATABASE_URL ?? resolve('data', 'flowpilot.db')): string | undefined {
  if (/^postgres(ql)?:\/\//.test(databaseUrl)) return undefined;
  const filename = databaseUrl.replace(/^sqlite:(\/\/)?/, '');
  if (filename === ':memory:') return undefined;
  return join(dirname(resolve(filename)), 'secret.key');
}

/** Loads the secret key and says what the operator must know about it. */
export function loadServeSecretKey(io: CliIo): SecretKey | undefined {
  const key = loadSecretKey({ envValue: process.env.FLOWPILOT_SECRET_KEY, file: secretKeyFile() });
  if (key === undefined) {
    io.stderr.write('warning: no FLOWPILOT_SECRET_KEY: logins and credentials are disabled (503) until every process gets the same key (openssl rand -base64 32); API keys still work\n');
  } else if (key.source === 'generated') {
    io.stderr.write(`warning: generated a secret key in ${key.file ?? 'the data directory'}: BACK IT UP. Without it, stored credentials cannot be decrypted (and every login session ends).\n`);
  }
  return key;
}

/** `flowpilot serve [--port N] [--no-worker]`: runs until SIGTERM/SIGINT, then shuts down gracefully. */
export async function serveCommand(options: { port?: string; host: string; worker: boolean; concurrency: string }, registry: NodeRegistry, io: CliIo): Promise<number> {
  const port = Number.parseInt(options.port ?? process.env.PORT ?? '8080', 10);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    io.stderr.write(`flowpilot: --port must be a port number, got "${options.port ?? process.env.PORT}"\n`);
    return ExitCode.INVALID;
  }
  const ttl = process.env.FLOWPILOT_ACCESS_TOKEN_TTL;
  const accessTokenTtlSeconds = ttl === undefined ? undefined : Number.parseInt(ttl, 10);
  if (accessTokenTtlSeconds !== undefined && !(Number.isInteger(accessTokenTtlSeconds) && accessTokenTtlSeconds > 0)) {
    io.stderr.write(`flowpilot: FLOWPILOT_ACCESS_TOKEN_TTL must be a positive number of seconds, got "${ttl}"\n`);
    return ExitCode.INVALID;
  }
  let secretKey: SecretKey | undefined;
  try {
    secretKey = loadServeSecretKey(io);
  } catch (error) {
    if (!(error instanceof SecretKeyError)) throw error;
    io.stderr.write(`flowpilot: ${error.message}\n`);
    return ExitCode.INVALID;
  }
  const store = (await openStore()) as ServerStore;
  const server = await createServer({
    secretKey,
    accessTokenTtlSeconds,
    store,
    registry,
    embeddedWorker: options.worker,
    workerConcurrency: Number.parseInt(options.concurrency, 10) || 64,
    apiKey: process.env.FLOWPILOT_API_KEY,
    logger: process.env.FLOWPILOT_LOG_LEVEL === undefined ? false : { level: process.env.FLOWPILOT_LOG_LEVEL },
  });
  const url = await server.listen(port, options.host);
  io.stderr.write(`FlowPilot listening on ${url} (${store.kind}${options.worker ? ', embedded worker' : ''}); API docs at ${url}/api/v1/docs\n`);
  if ((await store.countUsers()) === 0 && secretKey !== undefined) io.stderr.write(`no users yet: create the owner with POST ${url}/api/v1/setup or \`flowpilot users create --owner --email …\`\n`);
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
