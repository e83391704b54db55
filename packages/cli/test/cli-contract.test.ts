/** The `flowpilot` command-line contract: exit codes, JSON shapes, human output, progress and SIGINT. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { RunResult } from '@flowpilot/runtime';
import { main, type CliIo } from '@flowpilot/cli';
import { EXAMPLES, parseJson, ROOT, runCli, spawnCli, spawnCommand, tempDir } from './helpers.js';

interface ValidationJson {
  valid: boolean;
  errors: Array<{ code: string; message: string; path?: string; nodeId?: string }>;
  warnings: Array<{ code: string; message: string }>;
}

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const INVALID = tmp.write('invalid.json', {
  name: 'Broken',
  nodes: [{ id: 'a', type: 'no-such-type' }],
  edges: [{ source: 'a', target: 'ghost' }],
});
const NOT_JSON = tmp.write('not-json.json', '{ "name": "half a workflow", ');
const MISSING = join(tmp.dir, 'does-not-exist.json');
const ORPHAN = tmp.write('orphan.json', {
  name: 'Orphan',
  nodes: [{ id: 'start', type: 'input' }, { id: 'next', type: 'noop' }, { id: 'lonely', type: 'noop' }],
  edges: [{ source: 'start', target: 'next' }],
});
const FAILING = tmp.write('failing.json', {
  name: 'Failing',
  nodes: [
    { id: 'start', type: 'input' },
    { id: 'boom', type: 'fail', data: { message: 'it broke', code: 'BROKEN' } },
    { id: 'after', type: 'noop' },
  ],
  edges: [{ source: 'start', target: 'boom' }, { source: 'boom', target: 'after' }],
});
const GREETING = 'examples/greeting.json';

describe('validate', () => {
  test('an invalid workflow: exit 2, --json lists every error with its code', async () => {
    const cli = await runCli(['validate', INVALID, '--json']);
    expect(cli.code).toBe(2);
    const report = parseJson<ValidationJson>(cli);
    expect(report.valid).toBe(false);
    expect(Array.isArray(report.warnings)).toBe(true);
    expect(report.errors.map((issue) => issue.code)).toEqual(expect.arrayContaining(['UNKNOWN_NODE_TYPE', 'DANGLING_EDGE']));
    for (const issue of report.errors) expect(issue).toEqual(expect.objectContaining({ code: expect.any(String), message: expect.any(String) }));
    expect(report.errors).toContainEqual(expect.objectContaining({ code: 'UNKNOWN_NODE_TYPE', nodeId: 'a', path: 'nodes[0].type' }));
  });

  test('an invalid workflow without --json: exit 2 and a human report naming the codes', async () => {
    const cli = await runCli(['validate', INVALID]);
    expect(cli.code).toBe(2);
    const report = cli.stdout + cli.stderr;
    expect(report).toContain('invalid');
    expect(report).toContain('UNKNOWN_NODE_TYPE');
    expect(report).toContain('DANGLING_EDGE');
    expect(report).toContain(INVALID);
  });

  test('a file that is not JSON: exit 2 with INVALID_JSON', async () => {
    const json = await runCli(['validate', NOT_JSON, '--json']);
    expect(json.code).toBe(2);
    expect(parseJson<ValidationJson>(json)).toMatchObject({ valid: false, errors: [{ code: 'INVALID_JSON' }], warnings: [] });
    const human = await runCli(['validate', NOT_JSON]);
    expect(human.code).toBe(2);
    expect(human.stdout + human.stderr).toContain('INVALID_JSON');
  });

  test('a missing file: exit 2 naming the file', async () => {
    const cli = await runCli(['validate', MISSING]);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toContain(MISSING);
    expect(cli.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
  });

  test('a missing file with --json: exit 2 and the report on stdout names the file', async () => {
    const cli = await runCli(['validate', MISSING, '--json']);
    expect(cli.code).toBe(2);
    const report = parseJson<ValidationJson>(cli);
    expect(report).toMatchObject({ valid: false, errors: [{ code: 'FILE_UNREADABLE' }], warnings: [] });
    expect(report.errors[0]?.message).toContain(MISSING);
  });

  test('warnings do not make a workflow invalid', async () => {
    const cli = await runCli(['validate', ORPHAN, '--json']);
    expect(cli.code).toBe(0);
    expect(parseJson<ValidationJson>(cli)).toMatchObject({ valid: true, errors: [], warnings: [{ code: 'ORPHAN_NODE' }] });
  });
});

describe('run: invalid workflow or input (exit 2)', () => {
  test('an invalid workflow is not run', async () => {
    const json = await runCli(['run', INVALID, '--json']);
    expect(json.code).toBe(2);
    expect(json.stdout).toContain('UNKNOWN_NODE_TYPE');
    const human = await runCli(['run', INVALID]);
    expect(human.code).toBe(2);
    expect(human.stdout + human.stderr).toContain('UNKNOWN_NODE_TYPE');
  });

  test('a missing workflow file', async () => {
    const cli = await runCli(['run', MISSING]);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toContain(MISSING);
  });

  test('--input that is not JSON', async () => {
    const cli = await runCli(['run', GREETING, '--input', '{name: Ada}', '--json']);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toContain('--input');
    expect(cli.stderr).toContain('not valid JSON');
  });

  test('--input @file.json reads the input from the file', async () => {
    const input = tmp.write('input.json', { name: 'Grace' });
    const cli = await runCli(['run', GREETING, '--input', `@${input}`, '--json']);
    expect(cli.code).toBe(0);
    expect(parseJson<RunResult>(cli).output).toEqual({ greet: { message: 'Hello, Grace!', length: 5 } });
  });

  test('--input @file.json with a missing or non-JSON file names the file', async () => {
    const missing = await runCli(['run', GREETING, '--input', `@${MISSING}`]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(MISSING);
    const broken = tmp.write('broken-input.json', '{"name": ');
    const notJson = await runCli(['run', GREETING, '--input', `@${broken}`]);
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toContain(broken);
  });

  test("input failing the input node's JSON schema: exit 2, INVALID_INPUT", async () => {
    const cli = await runCli(['run', GREETING, '--input', '{}', '--json']);
    expect(cli.code).toBe(2);
    const result = parseJson<RunResult>(cli);
    expect(result.status).toBe('failed');
    expect(result.error).toMatchObject({ code: 'INVALID_INPUT', nodeId: 'start' });
    expect(result.error?.message).toContain('name');
    expect(result.steps.start).toMatchObject({ status: 'failed', error: { code: 'INVALID_INPUT' } });
    // The run stopped at the failure: what never started is cancelled.
    expect(result.steps.greet?.status).toBe('cancelled');
  });
});

describe('run: outcome', () => {
  test('a failing run: exit 1, status failed, the step error as {code, message}', async () => {
    const cli = await runCli(['run', FAILING, '--json']);
    expect(cli.code).toBe(1);
    const result = parseJson<RunResult>(cli);
    expect(result.status).toBe('failed');
    expect(result.error).toMatchObject({ code: 'BROKEN', message: 'it broke', nodeId: 'boom' });
    expect(result.steps.boom).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'BROKEN', message: 'it broke' } });
    expect(Object.keys(result.steps.boom?.error ?? {}).sort()).toEqual(['code', 'message']);
    expect(result.steps.start?.status).toBe('succeeded');
    expect(result.steps.after?.status).toBe('cancelled');
  });

  test('a failing run without --json: a readable summary with the status and node ids', async () => {
    const cli = await runCli(['run', FAILING]);
    expect(cli.code).toBe(1);
    for (const text of ['failed', 'start', 'boom', 'after', 'cancelled', 'BROKEN', 'it broke']) expect(cli.stdout).toContain(text);
    expect(() => JSON.parse(cli.stdout) as unknown).toThrow();
  });

  test('a succeeding run without --json: summary with status, node ids and output; nothing on stderr off a TTY', async () => {
    const cli = await runCli(['run', GREETING, '--input', '{"name":"Ada"}']);
    expect(cli.code).toBe(0);
    for (const text of ['succeeded', 'start', 'greet', 'Hello, Ada!']) expect(cli.stdout).toContain(text);
    expect(cli.stderr).toBe('');
  });

  test('a run fails (exit 1), not "invalid input" (exit 2), when a sub-workflow gets bad input from the workflow itself', async () => {
    // The run input is valid; the parent passes a constant the child's schema rejects: a workflow bug.
    tmp.write('strict-child.json', {
      name: 'Strict child',
      nodes: [{ id: 'start', type: 'input', data: { schema: { type: 'object', required: ['amounts'] } } }],
      edges: [],
    });
    const parent = tmp.write('calls-child-badly.json', {
      name: 'Calls child badly',
      nodes: [
        { id: 'start', type: 'input' },
        { id: 'child', type: 'subworkflow', data: { file: 'strict-child.json', input: { wrong: 1 } } },
      ],
      edges: [{ source: 'start', target: 'child' }],
    });
    const cli = await runCli(['run', parent, '--json']);
    const result = parseJson<RunResult>(cli);
    expect(result.status).toBe('failed');
    expect(result.error?.nodeId).toBe('child');
    expect(cli.code).toBe(1);
  });
});

describe('command line', () => {
  test.each([[['frobnicate']], [['run', GREETING, '--bogus']], [['validate', GREETING, '--nope']], [['run']], [[]]])(
    'usage error %j: exit 2',
    async (args) => {
      const cli = await runCli(args);
      expect(cli.code).toBe(2);
      expect(cli.stderr).not.toBe('');
    },
  );

  test.each([[['--help']], [['run', '--help']], [['validate', '--help']]])('%j: exit 0 with usage on stdout', async (args) => {
    const cli = await runCli(args);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain('Usage: flowpilot');
  });

  test('--version prints the version', async () => {
    const cli = await runCli(['--version']);
    expect(cli.code).toBe(0);
    expect(cli.stdout.trim()).toBe('0.1.0');
  });

  test('node_modules/.bin/flowpilot and `npx flowpilot --version` work from the repository root', async () => {
    const bin = await spawnCommand(join(ROOT, 'node_modules', '.bin', 'flowpilot'), ['--version']).done;
    expect(bin).toMatchObject({ code: 0, stdout: '0.1.0\n' });
    const npx = await spawnCommand(process.platform === 'win32' ? 'npx.cmd' : 'npx', ['flowpilot', '--version'], { timeoutMs: 30_000 }).done;
    expect(npx.code).toBe(0);
    expect(npx.stdout.trim()).toBe('0.1.0');
  }, 40_000);
});

describe('live progress', () => {
  function fakeIo(isTTY: boolean): { io: CliIo; out: () => string; err: () => string } {
    let stdout = '';
    let stderr = '';
    const io: CliIo = {
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: (text: string) => (stderr += text), isTTY },
    };
    return { io, out: () => stdout, err: () => stderr };
  }

  test('on a TTY, stderr shows a line per node as it starts and finishes', async () => {
    const fake = fakeIo(true);
    const code = await main(['node', 'flowpilot', 'run', join(EXAMPLES, 'greeting.json'), '--input', '{"name":"Ada"}', '--json'], fake.io);
    expect(code).toBe(0);
    const lines = fake.err().split('\n');
    for (const id of ['start', 'greet']) {
      expect(lines.some((line) => line.includes(`▶ ${id}`)), fake.err()).toBe(true);
      expect(lines.some((line) => line.includes(`✔ ${id}`)), fake.err()).toBe(true);
    }
    expect(fake.err().indexOf('✔ start')).toBeLessThan(fake.err().indexOf('▶ greet'));
    expect((JSON.parse(fake.out()) as RunResult).status).toBe('succeeded');
  });

  test('on a TTY, a failing node shows its error', async () => {
    const fake = fakeIo(true);
    expect(await main(['node', 'flowpilot', 'run', FAILING], fake.io)).toBe(1);
    expect(fake.err()).toMatch(/✖ boom .*BROKEN: it broke/);
  });

  test('off a TTY, nothing is printed on stderr', async () => {
    const fake = fakeIo(false);
    expect(await main(['node', 'flowpilot', 'run', join(EXAMPLES, 'greeting.json'), '--input', '{"name":"Ada"}'], fake.io)).toBe(0);
    expect(fake.err()).toBe('');
    expect(fake.out()).toContain('Hello, Ada!');
  });
});

describe('SIGINT', () => {
  // The workflow pings this server once it runs (so SIGINT is not sent while node is still starting), then waits 10 s.
  let server: Server;
  let pinged: Promise<void>;
  let url = '';
  beforeAll(async () => {
    let onPing: () => void = () => undefined;
    pinged = new Promise((resolve) => (onPing = resolve));
    server = createServer((_request, response) => {
      response.end('ok');
      onPing();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/started`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test('cancels the run: exit 1 within a few seconds, --json status cancelled', async () => {
    const slow = tmp.write('slow.json', {
      name: 'Slow',
      nodes: [
        { id: 'start', type: 'input' },
        { id: 'ping', type: 'http', data: { url } },
        { id: 'wait', type: 'delay', data: { ms: 10_000 } },
      ],
      edges: [{ source: 'start', target: 'ping' }, { source: 'ping', target: 'wait' }],
    });
    const { child, done } = spawnCli(['run', slow, '--json'], { timeoutMs: 12_000 });
    await Promise.race([pinged, done.then((early) => Promise.reject(new Error(`exited early: ${JSON.stringify(early)}`)))]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const sentAt = Date.now();
    child.kill('SIGINT');
    const cli = await done;
    expect(Date.now() - sentAt).toBeLessThan(3_000);
    expect(cli.signal).toBeNull();
    expect(cli.code).toBe(1);
    const result = parseJson<RunResult>(cli);
    expect(result.status).toBe('cancelled');
    expect(result.error?.code).toBe('CANCELLED');
    expect(result.steps.ping?.status).toBe('succeeded');
    expect(result.steps.wait?.status).toBe('cancelled');
  });
});
