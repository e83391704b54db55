/** Key rotation: every credential re-encrypted under a new secret key, in one store transaction. */
import { CredentialDecryptError, decryptCredential, encryptCredential, envelopeKeyId } from './cipher.js';
import type { SecretKey } from './secret-key.js';

/** The part of the credential store rotation needs (`CredentialStore` of @flowpilot/store fits). */
export interface ReencryptingStore {
  /** Calls `reencrypt` for every credential and stores the results in one transaction (all or none). */
  reencryptCredentials(reencrypt: (credential: { workspaceId: string; id: string; ciphertext: string }) => string): Promise<number>;
}

export interface RotationResult {
  /** Credentials now under the new key (including any that already were). */
  credentials: number;
}

/**
 * Re-encrypts every credential from `oldKey` to `newKey`. A credential already under `newKey` is
 * kept as is, so a rotation whose key file could not be written afterwards can simply be run again.
 * A credential under neither key aborts the whole rotation (nothing changes).
 */
export async function rotateSecretKey(store: ReencryptingStore, oldKey: SecretKey, newKey: SecretKey): Promise<RotationResult> {
  if (oldKey.id === newKey.id) throw new CredentialDecryptError('wrong_key', 'the new secret key is the same as the old one');
  const credentials = await store.reencryptCredentials((credential) => {
    if (envelopeKeyId(credential.ciphertext) === newKey.id) return credential.ciphertext;
    const aad = { workspaceId: credential.workspaceId, credentialId: credential.id };
    try {
      return encryptCredential(newKey, aad, decryptCredential(oldKey, aad, credential.ciphertext));
    } catch (error) {
      if (error instanceof CredentialDecryptError) {
        throw new CredentialDecryptError(error.reason, `credential "${credential.id}" (workspace "${credential.workspaceId}"): ${error.message}`);
      }
      throw error;
    }
  });
  return { credentials };
}
