/**
 * `flowpilot users create`, `flowpilot keys create` and `flowpilot serve`'s secret key, through the
 * built bin on a real SQLite database; the users and keys it makes then log in over real HTTP.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { verifyPassword, type ServerStore } from '@flowpilot/server';
import { SqliteStore } from '@flowpilot/store';
import { BIN, ROOT, type CliResult } from './helpers.js';

const PASSWORD = 'correct horse battery';
let dir: string;
let database: string;

/** The environment of a spawned CLI: this test's database, nothing inherited that changes auth. */
function environment(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', FLOWPILOT_DATABASE_URL: database, ...extra };
  for (const name of ['FLOWPILOT_SECRET_KEY', 'FLOWPILOT_PASSWORD', 'FLOWPILOT_API_KEY']) if (!(name in extra)) delete env[name];
  return env;
}

function cli(args: string[], extra: Record<string, string> = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: environment(extra), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Starts `flowpilot serve` on a free port; resolves once it listens. */
async function serve(): Promise<{ url: string; stderr: () => string; stop: () => Promise<CliResult> }> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--host', '127.0.0.1', '--no-worker'], { cwd: ROOT, env: environment({}), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  const done = new Promise<CliResult>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${stderr}`)), 15_000);
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(stderr);
      if (match !== null) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    void done.then((result) => reject(new Error(`serve exited ${String(result.code)}:\n${stderr}`)));
  });
  return {
    url,
    stderr: () => stderr,
    stop: () => {
      child.kill('SIGTERM');
      return done;
    },
  };
}

async function withStore<T>(use: (store: ServerStore) => Promise<T>): Promise<T> {
  const store = new SqliteStore({ filename: database }) as unknown as ServerStore;
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'flowpilot-users-'));
  database = join(dir, 'data', 'flowpilot.db');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('flowpilot users create', () => {
  test('--owner makes an owner of the default workspace with a scrypt-hashed password; prints the id', async () => {
    const result = await cli(['users', 'create', '--owner', '--email', 'Ada@Example.com', '--name', 'Ada', '--password', PASSWORD]);
    expect(result.code, result.stderr).toBe(0);
    const id = result.stdout.trim();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    await withStore(async (store) => {
      const user = await store.findUserByEmail('ada@example.com');
      expect(user).toMatchObject({ id, email: 'ada@example.com', name: 'Ada' });
      expect(user?.passwordHash).toMatch(/^\$scrypt\$ln=15,r=8,p=1\$/);
      expect(user?.passwordHash).not.toContain(PASSWORD);
      expect(await verifyPassword(PASSWORD, user?.passwordHash)).toBe(true);
      expect(await store.getMembership('default', id)).toMatchObject({ role: 'owner' });
    });
  });

  test('the password may come from FLOWPILOT_PASSWORD; without --owner the user has no workspace', async () => {
    const result = await cli(['users', 'create', '--email', 'bob@example.com'], { FLOWPILOT_PASSWORD: PASSWORD });
    expect(result.code, result.stderr).toBe(0);
    await withStore(async (store) => {
      const user = await store.findUserByEmail('bob@example.com');
      expect(user?.name).toBe('bob');
      expect(await verifyPassword(PASSWORD, user?.passwordHash)).toBe(true);
      expect(await store.listUserWorkspaces(user!.id)).toEqual([]);
    });
  });

  test('bad input exits 2 (invalid email, short or missing password); a taken email exits 1', async () => {
    for (const args of [
      ['--email', 'not-an-email', '--password', PASSWORD],
      ['--email', 'carl@example.com', '--password', 'short'],
      ['--email', 'carl@example.com'],
      ['--password', PASSWORD],
    ]) {
      const result = await cli(['users', 'create', ...args]);
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(2);
    }
    const taken = await cli(['users', 'create', '--email', 'ADA@example.com', '--password', PASSWORD]);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toContain('ada@example.com');
    await withStore(async (store) => expect(await store.findUserByEmail('carl@example.com')).toBeUndefined());
  });
});

describe('flowpilot keys create', () => {
  test('defaults to an admin key without a user; --scope and --email make a member’s key', async () => {
    const plain = await cli(['keys', 'create', '--name', 'deploy']);
    expect(plain.code, plain.stderr).toBe(0);
    const ada = await cli(['keys', 'create', '--name', 'ada-read', '--scope', 'read', '--email', 'ada@example.com']);
    expect(ada.code, ada.stderr).toBe(0);
    await withStore(async (store) => {
      const keys = await store.listApiKeys('default');
      expect(keys.find((key) => key.name === 'deploy')).toMatchObject({ scopes: ['admin'] });
      expect(keys.find((key) => key.name === 'deploy')?.userId).toBeUndefined();
      const user = await store.findUserByEmail('ada@example.com');
      expect(keys.find((key) => key.name === 'ada-read')).toMatchObject({ scopes: ['read'], userId: user?.id, prefix: ada.stdout.trim().slice(0, 10) });
    });
  });

  test('an unknown scope exits 2; an unknown user or one outside the default workspace exits 1', async () => {
    expect((await cli(['keys', 'create', '--name', 'x', '--scope', 'root'])).code).toBe(2);
    expect((await cli(['keys', 'create', '--name', 'x', '--email', 'nobody@example.com'])).code).toBe(1);
    expect((await cli(['keys', 'create', '--name', 'x', '--scope', 'read', '--email', 'bob@example.com'])).code).toBe(1);
  });
});

describe('flowpilot serve and the secret key', () => {
  test('generates secret.key beside the database with a backup warning; users and keys from the CLI log in; sessions survive a restart', async () => {
    const file = join(dir, 'data', 'secret.key');
    expect(existsSync(file)).toBe(false);
    const first = await serve();
    let accessToken: string;
    try {
      expect(first.stderr()).toContain(`generated a secret key in ${file}`);
      expect(first.stderr()).toContain('BACK IT UP');
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const login = await fetch(`${first.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'ada@example.com', password: PASSWORD }) });
      expect(login.status).toBe(200);
      accessToken = ((await login.json()) as { accessToken: string }).accessToken;
      const key = (await cli(['keys', 'create', '--name', 'reader', '--scope', 'read', '--email', 'ada@example.com'])).stdout.trim();
      const me = await fetch(`${first.url}/api/v1/me`, { headers: { authorization: `Bearer ${key}` } });
      expect(((await me.json()) as { workspaces: unknown[] }).workspaces).toEqual([expect.objectContaining({ id: 'default', role: 'owner', level: 'read' })]);
    } finally {
      expect((await first.stop()).code).toBe(0);
    }
    const keyText = readFileSync(file, 'utf8');
    const second = await serve();
    try {
      expect(second.stderr()).not.toContain('generated a secret key');
      expect(readFileSync(file, 'utf8')).toBe(keyText);
      const me = await fetch(`${second.url}/api/v1/me`, { headers: { authorization: `Bearer ${accessToken}` } });
      expect(me.status).toBe(200);
    } finally {
      await second.stop();
    }
  });
});
