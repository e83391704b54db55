#!/usr/bin/env node
/**
 * Makes sure the services the tests use are reachable before `npm test` (run by `pretest`):
 * PostgreSQL at FLOWPILOT_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test).
 * If nothing answers and this machine has a local cluster (Debian's pg_ctlcluster), start it; if the
 * database is missing, create it. It never fails the test run itself: the PostgreSQL suites do that
 * (under CI=true) or skip loudly when the server is still unreachable.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import pg from 'pg';

const url = process.env.FLOWPILOT_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

async function connect(target) {
  const client = new pg.Client({ connectionString: target, connectionTimeoutMillis: 3000 });
  await client.connect();
  return client;
}

async function reachable() {
  try {
    const client = await connect(url);
    await client.end();
    return true;
  } catch (error) {
    return error;
  }
}

function startLocalCluster() {
  if (!existsSync('/etc/postgresql')) return false;
  for (const version of readdirSync('/etc/postgresql')) {
    try {
      execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'start'], { stdio: 'ignore' });
      return true;
    } catch {
      // not this one
    }
  }
  return false;
}

async function createDatabase() {
  const target = new URL(url);
  const name = target.pathname.slice(1);
  target.pathname = '/postgres';
  const client = await connect(target.toString());
  try {
    await client.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
  } finally {
    await client.end();
  }
}

let result = await reachable();
if (result !== true && /ECONNREFUSED|ENOENT|timeout/i.test(String(result?.message ?? result)) && startLocalCluster()) {
  await new Promise((resolve) => setTimeout(resolve, 1500));
  result = await reachable();
}
if (result !== true && result?.code === '3D000') {
  await createDatabase().catch(() => undefined);
  result = await reachable();
}
if (result === true) console.log(`test services: PostgreSQL reachable at ${url}`);
else console.warn(`test services: PostgreSQL NOT reachable at ${url} (${result?.message ?? result}); its suites will skip (or fail under CI=true)`);
