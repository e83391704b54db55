/**
 * Password hashing with scrypt (node:crypto): memory-hard, so guessing stolen hashes is slow on
 * GPUs too. The stored string names its parameters, so they can be raised later without breaking
 * old hashes: `$scrypt$ln=15,r=8,p=1$<salt>$<hash>` (salt and hash base64url).
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/** Shortest password accepted. */
export const MIN_PASSWORD_LENGTH = 8;
/** Longest accepted: hashing cost grows with the input, so a cap keeps a login cheap to refuse. */
export const MAX_PASSWORD_LENGTH = 1024;

const LOG_N = 15;
const R = 8;
const P = 1;
const KEY_BYTES = 32;
const SALT_BYTES = 16;

/** scrypt needs about 128·N·r bytes (32 MiB here): Node's default `maxmem` (32 MiB) is too tight, so allow twice that. */
function options(logN: number, r: number, p: number): ScryptOptions {
  return { N: 2 ** logN, r, p, maxmem: 2 * 128 * 2 ** logN * r };
}

function derive(password: string, salt: Buffer, logN: number, r: number, p: number, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, length, options(logN, r, p), (error, key) => (error === null ? resolve(key) : reject(error)));
  });
}

/** Hashes a password with a fresh random salt. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(password, salt, LOG_N, R, P, KEY_BYTES);
  return `$scrypt$ln=${LOG_N},r=${R},p=${P}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

const FORMAT = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/;

/**
 * True when `password` matches `stored` (compared in constant time). A malformed hash, or none,
 * never matches.
 */
export async function verifyPassword(password: string, stored: string | undefined): Promise<boolean> {
  const match = stored === undefined ? null : FORMAT.exec(stored);
  if (match === null) return false;
  const [logN, r, p] = [Number(match[1]), Number(match[2]), Number(match[3])];
  // Parameters come from our own database, but a corrupted row must not make us allocate gigabytes.
  if (logN < 10 || logN > 20 || r < 1 || r > 32 || p < 1 || p > 16) return false;
  const salt = Buffer.from(match[4]!, 'base64url');
  const expected = Buffer.from(match[5]!, 'base64url');
  if (expected.length < 16) return false;
  const actual = await derive(password, salt, logN, r, p, expected.length);
  return timingSafeEqual(actual, expected);
}

/** A hash of nothing in particular, to spend the same time on unknown emails as on known ones. */
let decoy: Promise<string> | undefined;

/** Spends as long as a real verification, for callers that must not reveal whether a user exists. */
export async function verifyDecoy(password: string): Promise<false> {
  decoy ??= hashPassword(randomBytes(16).toString('hex'));
  await verifyPassword(password, await decoy);
  return false;
}
