/**
 * The durable worker's credentials: a step's `ctx.credential()` reads the credential of the run's
 * workspace from the store and decrypts it with the vault, inside the attempt that needs it.
 * Failures are non-retryable typed errors naming the credential id (never a value): no retry
 * makes a deleted credential appear or a wrong key fit.
 */
import { NonRetryableError } from '@flowpilot/engine';
import type { ResolvedCredential } from '@flowpilot/runtime';
import type { CredentialStore } from '@flowpilot/store';
import { credentialTypes, CredentialDecryptError, decryptCredential, type CredentialTypeRegistry, type SecretKey } from '@flowpilot/vault';

/** Resolves a credential of a workspace (the worker binds it to each step's workspace). */
export type WorkspaceCredentialProvider = (workspaceId: string, credentialId: string) => Promise<ResolvedCredential>;

/**
 * Credentials from the store, decrypted with `key` — or with what `key()` answers when it is
 * needed (a worker started before the embedded key file existed). Without a key (PostgreSQL
 * without FLOWPILOT_SECRET_KEY) every request fails with `SECRET_KEY_REQUIRED`.
 */
export function storeCredentials(
  store: Pick<CredentialStore, 'getCredential'>,
  secretKey: SecretKey | undefined | (() => SecretKey | undefined),
  types: CredentialTypeRegistry = credentialTypes,
): WorkspaceCredentialProvider {
  return async (workspaceId, credentialId) => {
    const details = { credentialId };
    const key = typeof secretKey === 'function' ? secretKey() : secretKey;
    if (key === undefined) {
      throw new NonRetryableError('SECRET_KEY_REQUIRED', `credential "${credentialId}" cannot be decrypted: this worker has no secret key (set FLOWPILOT_SECRET_KEY)`, { details });
    }
    // A store outage propagates as is: retryable, like any transient failure of a step.
    const record = await store.getCredential(workspaceId, credentialId);
    if (record === undefined) throw new NonRetryableError('CREDENTIAL_NOT_FOUND', `credential "${credentialId}" not found`, { details });
    let data: unknown;
    try {
      data = decryptCredential(key, { workspaceId, credentialId }, record.ciphertext);
    } catch (error) {
      if (!(error instanceof CredentialDecryptError)) throw error;
      throw new NonRetryableError('CREDENTIAL_DECRYPT_FAILED', `credential "${credentialId}" cannot be decrypted: ${error.message}`, { details: { ...details, reason: error.reason } });
    }
    if (data === null || typeof data !== 'object' || Array.isArray(data)) {
      throw new NonRetryableError('CREDENTIAL_DECRYPT_FAILED', `credential "${credentialId}" does not hold an object`, { details });
    }
    const values = data as Record<string, unknown>;
    return { id: credentialId, type: record.type, data: values, secrets: types.secretValues(record.type, values) };
  };
}
