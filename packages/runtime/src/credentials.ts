/**
 * Credentials for runs: runners are given a provider (like the clock) that resolves a credential
 * id to its decrypted data and its secret values. The durable worker's provider reads the run's
 * workspace from the store and decrypts with the vault; an in-memory run has none, and a node that
 * asks for a credential fails with `NO_CREDENTIAL_PROVIDER`.
 */
import type { CredentialValue } from '@flowpilot/engine';

/** A decrypted credential and the strings to scrub for it (its secret fields and derived forms). */
export interface ResolvedCredential extends CredentialValue {
  readonly secrets: readonly string[];
}

/**
 * Resolves a credential id for a run. Throws a non-retryable `FlowPilotError` naming the id (never
 * a value) when the credential is missing or does not decrypt; store outages may be retryable.
 */
export type CredentialProvider = (credentialId: string) => Promise<ResolvedCredential>;
