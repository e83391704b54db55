/**
 * Where the leak test looks for secrets: every row of every table (as text), and the forms a
 * secret may take (the value, base64 padded and not, base64url, percent-encoded, JSON-escaped).
 */
import pg from 'pg';
import type Database from 'better-sqlite3';
import { DATABASE_URL, type Backend, type TestServer } from './harness.js';

/** The strings under which `value` could be found. */
export function leakForms(value: string): string[] {
  const base64 = Buffer.from(value, 'utf8').toString('base64');
  return [...new Set([value, base64, base64.replace(/=+$/, ''), Buffer.from(value, 'utf8').toString('base64url'), encodeURIComponent(value), JSON.stringify(value).slice(1, -1)])];
}

/** One text per table row, labelled `<table>: <row>`. */
export async function dumpDatabase(backend: Backend, t: TestServer): Promise<string[]> {
  if (backend.kind === 'sqlite') {
    const db = (t.store as unknown as { database: Database.Database }).database;
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>;
    const rows: string[] = [];
    for (const { name } of tables) {
      for (const row of db.prepare(`SELECT * FROM "${name}"`).all() as Array<Record<string, unknown>>) {
        rows.push(`${name}: ${Object.values(row).map((value) => (Buffer.isBuffer(value) ? value.toString('utf8') : String(value))).join(' | ')}`);
      }
    }
    return rows;
  }
  const schema = (backend as Backend & { schema: string }).schema;
  const client = new pg.Client({ connectionString: DATABASE_URL });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const tables = await client.query<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE'", [schema]);
    const rows: string[] = [];
    for (const { table_name: name } of tables.rows) {
      for (const row of (await client.query<{ row: string }>(`SELECT t::text AS row FROM "${schema}"."${name}" t`)).rows) rows.push(`${name}: ${row.row}`);
    }
    return rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Each (place, form) where a secret form occurs in the texts. */
export function findLeaks(texts: Record<string, readonly string[]>, secrets: readonly string[]): string[] {
  const leaks: string[] = [];
  for (const secret of secrets) {
    for (const form of leakForms(secret)) {
      for (const [place, items] of Object.entries(texts)) {
        const hit = items.find((text) => text.includes(form));
        if (hit !== undefined) leaks.push(`${place}: "${form}" in ${hit.slice(0, 300)}`);
      }
    }
  }
  return leaks;
}
