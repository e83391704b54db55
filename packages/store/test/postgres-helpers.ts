/** PostgreSQL test plumbing: the server to use, whether it answers, throwaway schemas. */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, it } from 'vitest';

export const DATABASE_URL = process.env.FLOWPILOT_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Why the server cannot be used, or undefined when it answers. */
export async function probePostgres(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 3_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * `describe` when the server answers. Otherwise: under CI=true a failing test (CI must have a
 * database), else the suite is skipped with a loud warning.
 */
export function describePostgres(name: string, unavailable: string | undefined, body: () => void): void {
  if (unavailable === undefined) {
    describe(name, body);
    return;
  }
  if (process.env.CI === 'true') {
    describe(name, () => {
      it('needs a PostgreSQL server', () => {
        throw new Error(`no PostgreSQL server at ${DATABASE_URL} (${unavailable}); set FLOWPILOT_TEST_DATABASE_URL`);
      });
    });
    return;
  }
  console.warn(
    [
      '',
      '!'.repeat(100),
      `!!! SKIPPED "${name}": no PostgreSQL server at ${DATABASE_URL}`,
      `!!! (${unavailable})`,
      '!!! Start one or set FLOWPILOT_TEST_DATABASE_URL. Under CI=true this is a failure.',
      '!'.repeat(100),
      '',
    ].join('\n'),
  );
  describe.skip(name, body);
}

/** A fresh schema name (lower-case, valid unquoted). */
export function randomSchema(prefix: string): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

/** A plain client for test checks and administration; errors of a dropped connection are ignored. */
export async function adminClient(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}
