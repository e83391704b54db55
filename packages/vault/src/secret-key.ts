/**
 * The secret key: 32 bytes that encrypt credentials and (through HKDF) sign access tokens.
 *
 * `FLOWPILOT_SECRET_KEY` (base64, base64url or hex of 32 bytes) wins. Without it, an embedded
 * (SQLite) deployment generates one into `<data dir>/secret.key` on first start — the caller warns
 * the user to back it up — while a PostgreSQL deployment has none: every process sharing the
 * database needs the same key, so it must be given.
 */
import { createHash, hkdfSync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export const SECRET_KEY_BYTES = 32;

/** A loaded secret key. */
export interface SecretKey {
  readonly bytes: Buffer;
  /** First 8 hex digits of SHA-256(key): names the key in ciphertext envelopes without revealing it. */
  readonly id: string;
  /** Where it came from. */
  readonly source: 'env' | 'file' | 'generated';
  /** The key file, when it came from or went to one. */
  readonly file?: string;
}

/** Thrown for an unusable key value (wrong length or encoding). */
export class SecretKeyError extends Error {
  readonly code = 'INVALID_SECRET_KEY';
  constructor(message: string) {
    super(message);
    this.name = 'SecretKeyError';
  }
}

/** Parses a key given as hex (64 digits), base64 or base64url (of 32 bytes). */
export function parseSecretKey(text: string, origin = 'FLOWPILOT_SECRET_KEY'): Buffer {
  const value = text.trim();
  const bytes = /^[0-9a-fA-F]{64}$/.test(value) ? Buffer.from(value, 'hex') : /^[A-Za-z0-9+/_-]+={0,2}$/.test(value) ? Buffer.from(value.replace(/-/g, '+').replace(/_/g, '/'), 'base64') : undefined;
  if (bytes === undefined || bytes.length !== SECRET_KEY_BYTES) {
    throw new SecretKeyError(`${origin} must be ${SECRET_KEY_BYTES} bytes as 64 hex digits or base64 (generate one with: openssl rand -base64 32)`);
  }
  return bytes;
}

export function secretKeyId(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 8);
}

export function toSecretKey(bytes: Buffer, source: SecretKey['source'], file?: string): SecretKey {
  return { bytes, id: secretKeyId(bytes), source, ...(file === undefined ? {} : { file }) };
}

export interface LoadSecretKeyOptions {
  /** The value of FLOWPILOT_SECRET_KEY, if any. */
  envValue?: string;
  /** The key file of an embedded deployment (`<data dir>/secret.key`); none for PostgreSQL. */
  file?: string;
}

/**
 * Loads the key: from `envValue`, else from `file`, else generates `file` (0600). Returns
 * undefined when neither is given (PostgreSQL without FLOWPILOT_SECRET_KEY).
 */
export function loadSecretKey(options: LoadSecretKeyOptions): SecretKey | undefined {
  if (options.envValue !== undefined && options.envValue.trim() !== '') return toSecretKey(parseSecretKey(options.envValue), 'env');
  const file = options.file;
  if (file === undefined) return undefined;
  if (existsSync(file)) return toSecretKey(parseSecretKey(readFileSync(file, 'utf8'), file), 'file', file);
  const bytes = randomBytes(SECRET_KEY_BYTES);
  mkdirSync(dirname(file), { recursive: true });
  // `wx`: two processes starting at once must not overwrite each other's key.
  try {
    writeFileSync(file, `${bytes.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return toSecretKey(parseSecretKey(readFileSync(file, 'utf8'), file), 'file', file);
    throw error;
  }
  chmodSync(file, 0o600);
  return toSecretKey(bytes, 'generated', file);
}

/** A 32-byte subkey for one purpose (`flowpilot-jwt`, …), so one secret never serves two uses. */
export function deriveKey(key: SecretKey, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', key.bytes, Buffer.alloc(0), purpose, SECRET_KEY_BYTES));
}
