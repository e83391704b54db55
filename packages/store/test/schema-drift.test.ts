/**
 * Schema drift: applying every migration to an empty database must yield exactly the committed
 * snapshots (packages/store/migrations/*.schema.txt). After adding a migration, regenerate them
 * with `npm run schema:dump` (scripts/dump-schema.ts) and review the diff.
 */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { POSTGRES_SNAPSHOT, renderPostgresSchema, renderSqliteSchema, SQLITE_SNAPSHOT } from '../../../scripts/dump-schema.js';
import { DATABASE_URL, describePostgres, probePostgres } from './postgres-helpers.js';

it('SQLite: the migrations yield the committed schema snapshot (`npm run schema:dump` after changing them)', async () => {
  expect(await renderSqliteSchema()).toBe(readFileSync(SQLITE_SNAPSHOT, 'utf8'));
});

describePostgres('PostgreSQL schema snapshot', await probePostgres(), () => {
  it('PostgreSQL: the migrations yield the committed schema snapshot (`npm run schema:dump` after changing them)', async () => {
    expect(await renderPostgresSchema(DATABASE_URL)).toBe(readFileSync(POSTGRES_SNAPSHOT, 'utf8'));
  });
});
