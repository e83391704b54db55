/**
 * `flowpilot secrets rotate`, and the secret key of the commands that run steps (`flowpilot
 * worker`, `flowpilot run --durable`): FLOWPILOT_SECRET_KEY, else the embedded key file beside the
 * SQLite database.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, renameSync, writeFileSync } from 'node:fs';
import { openStore } from '@flowpilot/store';
import { CredentialDecryptError, loadSecretKey, parseSecretKey, rotateSecretKey, SECRET_KEY_BYTES, SecretKeyError, toSecretKey, type SecretKey } from '@flowpilot/vault';
import { FlowPilotError } from '@flowpilot/engine';
import { ExitCode, type CliIo } from '../io.js';
import { secretKeyFile } from './serve.js';

/**
 * The key of a process that runs steps: FLOWPILOT_SECRET_KEY (checked now), else the embedded key
 * file, read when a step first needs it (`serve` may create it after this process started; a
 * worker never generates one). Without either (PostgreSQL, no FLOWPILOT_SECRET_KEY) steps that
 * use a credential fail with SECRET_KEY_REQUIRED, as the warning says.
 */
export function loadStepSecretKey(io: CliIo): () => SecretKey | undefined {
  let key: SecretKey | undefined;
  try {
    key = loadSecretKey({ envValue: process.env.FLOWPILOT_SECRET_KEY });
  } catch (error) {
    if (error instanceof SecretKeyError) throw new FlowPilotError(error.code, error.message, { retryable: false });
    throw error;
  }
  if (key !== undefined) return () => key;
  const file = secretKeyFile();
  if (file === undefined) {
    io.stderr.write('warning: no FLOWPILOT_SECRET_KEY: steps that use a credential will fail (SECRET_KEY_REQUIRED)\n');
    return () => undefined;
  }
  return () => (key ??= existsSync(file) ? loadSecretKey({ file }) : undefined);
}

/** `flowpilot secrets rotate [--new-key KEY]`. */
export async function secretsRotateCommand(options: { newKey?: string }, io: CliIo): Promise<number> {
  let oldKey: SecretKey | undefined;
  let newKey: SecretKey;
  const file = secretKeyFile();
  try {
    const fromEnv = process.env.FLOWPILOT_SECRET_KEY;
    // Never generate the key being rotated away from: a fresh one encrypts nothing.
    if (fromEnv !== undefined && fromEnv.trim() !== '') oldKey = loadSecretKey({ envValue: fromEnv });
    else if (file !== undefined && existsSync(file)) oldKey = loadSecretKey({ file });
    newKey = toSecretKey(options.newKey === undefined ? randomBytes(SECRET_KEY_BYTES) : parseSecretKey(options.newKey, '--new-key'), 'env');
  } catch (error) {
    if (!(error instanceof SecretKeyError)) throw error;
    io.stderr.write(`flowpilot: ${error.message}\n`);
    return ExitCode.INVALID;
  }
  if (oldKey === undefined) {
    io.stderr.write(`flowpilot: no secret key to rotate: set FLOWPILOT_SECRET_KEY${file === undefined ? '' : ` (or keep the key file ${file})`}\n`);
    return ExitCode.INVALID;
  }
  if (oldKey.id === newKey.id) {
    io.stderr.write('flowpilot: --new-key is the current key\n');
    return ExitCode.INVALID;
  }
  const store = await openStore();
  let count: number;
  try {
    count = (await rotateSecretKey(store, oldKey, newKey)).credentials;
  } catch (error) {
    if (!(error instanceof CredentialDecryptError)) throw error;
    io.stderr.write(`flowpilot: nothing was changed: ${error.message}\n`);
    return ExitCode.FAILED;
  } finally {
    await store.close();
  }
  io.stderr.write(`re-encrypted ${count} credential${count === 1 ? '' : 's'} from key ${oldKey.id} to key ${newKey.id}\n`);
  const encoded = newKey.bytes.toString('base64');
  if (oldKey.source === 'file' && oldKey.file !== undefined) {
    try {
      writeKeyFile(oldKey.file, encoded, io);
    } catch (error) {
      // The credentials are under the new key already: it must not be lost.
      io.stdout.write(`${encoded}\n`);
      io.stderr.write(`flowpilot: the credentials are re-encrypted, but the key file could not be replaced (${(error as Error).message}): save the new key printed above into ${oldKey.file}\n`);
      return ExitCode.FAILED;
    }
  } else {
    // The key lives outside FlowPilot (FLOWPILOT_SECRET_KEY): show it this once.
    io.stdout.write(`${encoded}\n`);
    io.stderr.write('set FLOWPILOT_SECRET_KEY to this new key on every FlowPilot process and restart them: processes still on the old key cannot decrypt credentials. It is shown only now.\n');
  }
  return ExitCode.OK;
}

/**
 * Replaces the key file after the re-encryption committed, keeping the old key as `<file>.old`.
 * The new key is written beside it first, so a crash leaves it on disk rather than nowhere.
 */
function writeKeyFile(file: string, encoded: string, io: CliIo): void {
  const next = `${file}.new`;
  writeFileSync(next, `${encoded}\n`, { mode: 0o600 });
  chmodSync(next, 0o600);
  renameSync(file, `${file}.old`);
  renameSync(next, file);
  io.stderr.write(`wrote the new key to ${file} (the old one is ${file}.old); restart running FlowPilot processes so they load it. Back the new key up.\n`);
}
