/** Starts a real FlowPilot server on a free port over a fresh SQLite file (or a PostgreSQL schema). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBuiltinRegistry } from '@flowpilot/nodes';
import { createServer, type FlowPilotServer, type ServerOptions, type ServerStore } from '@flowpilot/server';
import { SqliteStore } from '@flowpilot/store';

export const API_KEY = 'fp_test_key_for_the_api_suite';

export interface TestServer {
  url: string;
  server: FlowPilotServer;
  store: ServerStore;
  /** fetch with the API key. */
  api(path: string, init?: RequestInit & { json?: unknown }): Promise<Response>;
  close(): Promise<void>;
}

export async function startTestServer(options: Partial<ServerOptions> = {}): Promise<TestServer> {
  const directory = mkdtempSync(join(tmpdir(), 'flowpilot-api-'));
  const store = new SqliteStore({ filename: join(directory, 'db.sqlite') }) as unknown as ServerStore;
  await store.migrate();
  const server = await createServer({ store, registry: createBuiltinRegistry(), apiKey: API_KEY, schedulerIntervalMs: 50, ...options });
  const url = await server.listen(0, '127.0.0.1');
  return {
    url,
    server,
    store,
    api: (path, init = {}) => {
      const { json, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (!headers.has('authorization')) headers.set('authorization', `Bearer ${API_KEY}`);
      if (json !== undefined) headers.set('content-type', 'application/json');
      return fetch(`${url}${path}`, { ...rest, headers, body: json === undefined ? rest.body : JSON.stringify(json) });
    },
    close: async () => {
      await server.close();
      await store.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
