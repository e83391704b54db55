/** AES-256-GCM envelopes: round trip, format, and typed failures for a wrong key, another row, tampering. */
import { randomBytes } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { CredentialDecryptError, decryptCredential, encryptCredential, envelopeKeyId, toSecretKey, type CredentialAad } from '@flowpilot/vault';

const key = toSecretKey(randomBytes(32), 'env');
const otherKey = toSecretKey(randomBytes(32), 'env');
const row: CredentialAad = { workspaceId: 'ws1', credentialId: 'cred1' };
const data = { token: 'tok_super_secret_value_123', note: 'ünïcødé ✓' };

function decryptFailure(run: () => unknown): CredentialDecryptError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(CredentialDecryptError);
    expect((error as CredentialDecryptError).code).toBe('CREDENTIAL_DECRYPT_FAILED');
    return error as CredentialDecryptError;
  }
  throw new Error('decryption did not fail');
}

describe('credential envelopes', () => {
  test('encrypt then decrypt gives the data back; the envelope is v1.<keyId>.<iv>.<tag>.<ciphertext> in base64url', () => {
    const envelope = encryptCredential(key, row, data);
    expect(envelope).toMatch(/^v1\.[0-9a-f]{8}\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]+$/);
    expect(envelopeKeyId(envelope)).toBe(key.id);
    expect(decryptCredential(key, row, envelope)).toEqual(data);
  });

  test('the envelope contains no trace of the plain data, and two encryptions differ (fresh IV)', () => {
    const a = encryptCredential(key, row, data);
    const b = encryptCredential(key, row, data);
    expect(a).not.toBe(b);
    for (const envelope of [a, b]) {
      expect(envelope).not.toContain('tok_super');
      expect(Buffer.from(envelope.split('.')[4]!, 'base64url').toString('latin1')).not.toContain('tok_super');
    }
  });

  test('a wrong key fails with reason wrong_key, naming both key ids but no key material', () => {
    const error = decryptFailure(() => decryptCredential(otherKey, row, encryptCredential(key, row, data)));
    expect(error.reason).toBe('wrong_key');
    expect(error.message).toContain(key.id);
    expect(error.message).toContain(otherKey.id);
    expect(error.message).not.toContain(key.bytes.toString('base64'));
  });

  test('a key with the same id but other bytes cannot authenticate (tampered)', () => {
    const impostor = { ...otherKey, id: key.id };
    expect(decryptFailure(() => decryptCredential(impostor, row, encryptCredential(key, row, data))).reason).toBe('tampered');
  });

  test('a ciphertext copied to another credential or another workspace fails (AAD)', () => {
    const envelope = encryptCredential(key, row, data);
    expect(decryptFailure(() => decryptCredential(key, { ...row, credentialId: 'cred2' }, envelope)).reason).toBe('tampered');
    expect(decryptFailure(() => decryptCredential(key, { ...row, workspaceId: 'ws2' }, envelope)).reason).toBe('tampered');
    // The separator cannot be shifted between the two ids to forge a match.
    expect(decryptFailure(() => decryptCredential(key, { workspaceId: 'ws1:cred1', credentialId: '' }, envelope)).reason).toBe('tampered');
  });

  test('an altered ciphertext, tag or IV fails; a malformed envelope fails as malformed', () => {
    const parts = encryptCredential(key, row, data).split('.');
    const flip = (text: string): string => {
      const bytes = Buffer.from(text, 'base64url');
      bytes[0] = bytes[0]! ^ 1;
      return bytes.toString('base64url');
    };
    for (const index of [2, 3, 4]) {
      const changed = [...parts];
      changed[index] = flip(changed[index]!);
      expect(decryptFailure(() => decryptCredential(key, row, changed.join('.'))).reason).toBe('tampered');
    }
    for (const bad of ['', 'plain text', 'v2.a.b.c.d', parts.slice(0, 4).join('.'), [...parts.slice(0, 2), 'AA', ...parts.slice(3)].join('.')]) {
      expect(decryptFailure(() => decryptCredential(key, row, bad)).reason).toBe('malformed');
    }
    expect(envelopeKeyId('plain text')).toBeUndefined();
  });
});
