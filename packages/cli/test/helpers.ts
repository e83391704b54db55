/** Helpers for the CLI end-to-end tests: spawn the built `flowpilot` bin and capture what it prints. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (cwd of every spawned CLI). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const BIN = join(ROOT, 'packages', 'cli', 'bin', 'flowpilot.js');
export const EXAMPLES = join(ROOT, 'examples');

if (!existsSync(join(ROOT, 'packages', 'cli', 'dist', 'main.js'))) {
  throw new Error('packages/cli/dist is missing: run `npx tsc -b` (npm test does it in pretest) before the CLI tests');
}

/** What a finished CLI process left behind. */
export interface CliResult {
  /** Exit code, or null when the process was killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A running CLI process and the promise of its result. */
export interface CliProcess {
  child: ChildProcess;
  done: Promise<CliResult>;
}

/** Spawns `node bin/flowpilot.js ...args` with piped (non-TTY) stdio and cwd = repository root. */
export function spawnCli(args: readonly string[], options: { cwd?: string; timeoutMs?: number } = {}): CliProcess {
  return spawnCommand(process.execPath, [BIN, ...args], options);
}

/** Runs the CLI to completion. */
export function runCli(args: readonly string[], options: { cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return spawnCli(args, options).done;
}

/** Spawns any command (e.g. `npx`), capturing stdout and stderr; killed after `timeoutMs`. */
export function spawnCommand(command: string, args: readonly string[], options: { cwd?: string; timeoutMs?: number } = {}): CliProcess {
  const child = spawn(command, [...args], {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const done = new Promise<CliResult>((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 15_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, done };
}

/** Parses a CLI's stdout as JSON, with the raw output in the error when it is not. */
export function parseJson<T>(result: CliResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`stdout is not JSON (exit ${String(result.code)}):\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`);
  }
}

/** A fresh directory under os.tmpdir(); `cleanup()` removes it. */
export function tempDir(): { dir: string; write(name: string, content: unknown): string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'flowpilot-cli-test-'));
  return {
    dir,
    /** Writes a file (strings as is, anything else as JSON) and returns its absolute path. */
    write(name: string, content: unknown): string {
      const path = join(dir, name);
      writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
      return path;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Every `*.json` file under examples/, as sorted posix paths relative to examples/. */
export function findExamples(dir: string = EXAMPLES): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...findExamples(path));
    else if (entry.isFile() && entry.name.endsWith('.json')) found.push(relative(EXAMPLES, path).split(sep).join('/'));
  }
  return found.sort();
}

/** The ISO-8601 form `Date#toISOString` produces. */
export const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
