/** @flowpilot/vault — the secret key, credential types and the encryption of credentials. */
export * from './secret-key.js';
export * from './credential-types.js';
export * from './registry.js';
export * from './cipher.js';
export * from './masking.js';
export * from './rotate.js';
