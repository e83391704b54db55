/** @flowpilot/vault — the secret key and the encryption of credentials. */
export * from './secret-key.js';
