/** The `flowpilot` command line. */
import { Command, CommanderError } from 'commander';
import { FlowPilotError } from '@flowpilot/engine';
import { createBuiltinRegistry } from '@flowpilot/nodes';
import { runCommand } from './commands/run.js';
import { secretsRotateCommand } from './commands/secrets.js';
import { migrateCommand, pruneCommand, runControlCommand, workerCommand } from './commands/store-commands.js';
import { serveCommand } from './commands/serve.js';
import { keysCreateCommand, usersCreateCommand, type KeysCreateOptions, type UsersCreateOptions } from './commands/users.js';
import { validateCommand } from './commands/validate.js';
import { ExitCode, processIo, type CliIo } from './io.js';

const VERSION = '0.1.0';

/** Runs the CLI with `argv` (as `process.argv`) and resolves to the exit code. */
export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const registry = createBuiltinRegistry();
  let exitCode: number = ExitCode.OK;
  const program = new Command()
    .name('flowpilot')
    .description('FlowPilot: durable workflow orchestration')
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeOut: (text) => io.stdout.write(text), writeErr: (text) => io.stderr.write(text) });

  program
    .command('validate')
    .description('check a workflow file; exit 0 when valid, 2 when invalid')
    .argument('<file>', 'workflow JSON file')
    .option('--json', 'print {valid, errors, warnings} as JSON')
    .action(async (file: string, options: { json?: boolean }) => {
      exitCode = await validateCommand(file, options, registry, io);
    });

  program
    .command('run')
    .description('run a workflow in memory; exit 0 succeeded, 1 failed, 2 invalid workflow or input')
    .argument('<file>', 'workflow JSON file')
    .option('--input <json>', 'run input as JSON, or @file.json')
    .option('--json', 'print the result as JSON on stdout')
    .option('--durable', 'run through the store (FLOWPILOT_DATABASE_URL, default ./data/flowpilot.db): survives crashes')
    .option('--workflow-id <id>', 'with --durable: the workflow id to save the file under (default: from its name)')
    .option('--priority <n>', 'with --durable: higher runs are admitted and claimed first', '0')
    .action(async (file: string, options: { input?: string; json?: boolean; durable?: boolean; workflowId?: string; priority?: string }) => {
      exitCode = await runCommand(file, options, registry, io);
    });

  program
    .command('worker')
    .description('run durable steps from the store until SIGTERM (then drain and exit 0)')
    .option('--concurrency <n>', 'steps run at once', '10')
    .option('--retention <duration>', 'prune finished runs older than this, hourly (or FLOWPILOT_RETENTION), e.g. 30d')
    .action(async (options: { concurrency: string; retention?: string }) => {
      exitCode = await workerCommand(options, registry, io);
    });

  for (const action of ['cancel', 'retry'] as const) {
    program
      .command(action)
      .description(action === 'cancel' ? 'cancel a durable run (its running steps are aborted)' : 'retry a failed or cancelled durable run from its failed steps')
      .argument('<runId>')
      .action(async (runId: string) => {
        exitCode = await runControlCommand(action, runId, registry, io);
      });
  }

  program
    .command('serve')
    .description('serve the API, webhooks and schedules on one port, with an embedded worker')
    .option('--port <port>', 'port (default PORT or 8080)')
    .option('--host <host>', 'interface to listen on', '0.0.0.0')
    .option('--no-worker', 'do not run steps in this process (API-only)')
    .option('--concurrency <n>', 'embedded worker: steps run at once', '64')
    .action(async (options: { port?: string; host: string; worker: boolean; concurrency: string }) => {
      exitCode = await serveCommand(options, registry, io);
    });

  program
    .command('keys')
    .description('manage API keys')
    .command('create')
    .description('create an API key of the default workspace and print it (once)')
    .requiredOption('--name <name>', 'what the key is for')
    .option('--scope <scope>', 'read | run | write | admin', 'admin')
    .option('--email <email>', 'the user the key belongs to (its scope may not exceed their role)')
    .action(async (options: KeysCreateOptions) => {
      exitCode = await keysCreateCommand(options, io);
    });

  program
    .command('users')
    .description('manage users')
    .command('create')
    .description('create a user and print its id; exit 2 on bad input, 1 when the email is taken')
    .requiredOption('--email <email>', 'login email')
    .option('--name <name>', 'display name (default: the part of the email before @)')
    .option('--password <password>', 'at least 8 characters (or FLOWPILOT_PASSWORD)')
    .option('--owner', 'make the user an owner of the default workspace')
    .action(async (options: UsersCreateOptions) => {
      exitCode = await usersCreateCommand(options, io);
    });

  program
    .command('secrets')
    .description('manage the secret key that encrypts credentials')
    .command('rotate')
    .description('re-encrypt every credential under a new key (embedded: replaces secret.key, keeping secret.key.old; FLOWPILOT_SECRET_KEY: prints the new key once)')
    .option('--new-key <key>', 'the new key (32 bytes, base64 or hex); default: a random one')
    .action(async (options: { newKey?: string }) => {
      exitCode = await secretsRotateCommand(options, io);
    });

  program
    .command('migrate')
    .description('apply pending database migrations')
    .action(async () => {
      exitCode = await migrateCommand(io);
    });

  program
    .command('prune')
    .description('delete finished runs older than a duration, with everything they own')
    .requiredOption('--older-than <duration>', 'e.g. 30d, 12h')
    .action(async (options: { olderThan: string }) => {
      exitCode = await pruneCommand(options, io);
    });

  try {
    await program.parseAsync([...argv]);
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version exit 0; usage mistakes are "invalid" (2).
      return error.exitCode === 0 ? ExitCode.OK : ExitCode.INVALID;
    }
    if (error instanceof FlowPilotError && !error.retryable) {
      io.stderr.write(`flowpilot: ${error.message}\n`);
      return ExitCode.INVALID;
    }
    io.stderr.write(`flowpilot: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return ExitCode.FAILED;
  }
}
