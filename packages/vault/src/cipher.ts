/**
 * Credential encryption: AES-256-GCM (node:crypto) under a subkey of the secret key (HKDF, info
 * `flowpilot-credentials`), so the key that signs access tokens never encrypts data too.
 *
 * Envelope: `v1.<keyId>.<iv>.<tag>.<ciphertext>`, the last three base64url. `keyId` names the
 * secret key (see `secretKeyId`) so a wrong key is reported as such instead of as corruption. The
 * additional authenticated data is `<workspaceId>:<credentialId>`: a ciphertext copied into another
 * row, or another workspace, fails authentication.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { deriveKey, type SecretKey } from './secret-key.js';

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const PURPOSE = 'flowpilot-credentials';

/** Which row a ciphertext belongs to (its additional authenticated data). */
export interface CredentialAad {
  workspaceId: string;
  credentialId: string;
}

/** Why a credential could not be decrypted. */
export type CredentialDecryptReason = 'malformed' | 'wrong_key' | 'tampered';

/** A ciphertext that does not decrypt: malformed, under another key, or altered / moved to another row. */
export class CredentialDecryptError extends Error {
  readonly code = 'CREDENTIAL_DECRYPT_FAILED';
  constructor(
    readonly reason: CredentialDecryptReason,
    message: string,
  ) {
    super(message);
    this.name = 'CredentialDecryptError';
  }
}

const subkeys = new WeakMap<SecretKey, Buffer>();

function subkey(key: SecretKey): Buffer {
  let derived = subkeys.get(key);
  if (derived === undefined) {
    derived = deriveKey(key, PURPOSE);
    subkeys.set(key, derived);
  }
  return derived;
}

function aadOf(aad: CredentialAad): Buffer {
  return Buffer.from(`${aad.workspaceId}:${aad.credentialId}`, 'utf8');
}

/** Encrypts credential data (any JSON value) for one row. */
export function encryptCredential(key: SecretKey, aad: CredentialAad, data: unknown): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', subkey(key), iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aadOf(aad));
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(data), 'utf8'), cipher.final()]);
  return [VERSION, key.id, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ciphertext.toString('base64url')].join('.');
}

/** The key id an envelope names, or undefined when it is not an envelope. */
export function envelopeKeyId(envelope: string): string | undefined {
  const parts = envelope.split('.');
  return parts.length === 5 && parts[0] === VERSION ? parts[1] : undefined;
}

/** Decrypts an envelope of this row; throws {@link CredentialDecryptError} otherwise. */
export function decryptCredential(key: SecretKey, aad: CredentialAad, envelope: string): unknown {
  const parts = envelope.split('.');
  if (parts.length !== 5 || parts[0] !== VERSION) throw new CredentialDecryptError('malformed', 'not a v1 credential envelope');
  const [, keyId, iv, tag, ciphertext] = parts as [string, string, string, string, string];
  if (keyId !== key.id) {
    throw new CredentialDecryptError('wrong_key', `encrypted under secret key ${keyId}, but the loaded key is ${key.id} (FLOWPILOT_SECRET_KEY or secret.key changed?)`);
  }
  const ivBytes = Buffer.from(iv, 'base64url');
  const tagBytes = Buffer.from(tag, 'base64url');
  if (ivBytes.length !== IV_BYTES || tagBytes.length !== TAG_BYTES) throw new CredentialDecryptError('malformed', 'credential envelope has a bad IV or tag');
  let plain: string;
  try {
    const decipher = createDecipheriv('aes-256-gcm', subkey(key), ivBytes, { authTagLength: TAG_BYTES });
    decipher.setAAD(aadOf(aad));
    decipher.setAuthTag(tagBytes);
    plain = Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
  } catch {
    throw new CredentialDecryptError('tampered', 'credential does not authenticate: altered, or copied from another credential or workspace');
  }
  return JSON.parse(plain) as unknown;
}
