/** Raw SQL on a test server's database, for what the API cannot do: tampering with the audit table. */
import pg from 'pg';
import type { Backend, TestServer } from './harness.js';
import { DATABASE_URL } from './harness.js';

interface SqliteLike {
  database: { exec(sql: string): void };
}

/**
 * Runs `sqlite` on a SQLite backend (through the server's own connection) or `postgres` on a
 * PostgreSQL one (a new connection with the backend's schema as search path).
 */
export async function rawSql(t: TestServer, backend: Backend, statements: { sqlite: string; postgres: string }): Promise<void> {
  if (backend.kind === 'sqlite') {
    (t.store as unknown as SqliteLike).database.exec(statements.sqlite);
    return;
  }
  const schema = (backend as Backend & { schema?: string }).schema;
  if (schema === undefined) throw new Error('a PostgreSQL backend without a schema');
  const client = new pg.Client({ connectionString: DATABASE_URL });
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query(`SET search_path TO ${schema}`);
    await client.query(statements.postgres);
  } finally {
    await client.end().catch(() => undefined);
  }
}
