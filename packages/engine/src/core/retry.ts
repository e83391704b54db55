/** Retry backoff. Pure: the jitter comes from a hash of the run, node and attempt, not a PRNG. */
import type { RetryPolicy } from '../workflow/schema.js';

/**
 * Delay before attempt `nextAttempt` (2 for the first retry): exponential, capped, and with
 * jitter spread between half and all of it — the lower bound keeps retries from hammering a
 * service, the spread keeps many failed runs from retrying in lockstep.
 */
export function retryDelayMs(policy: RetryPolicy, nextAttempt: number, jitterSeed: string): number {
  const exponent = Math.max(0, nextAttempt - 2);
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.factor ** exponent);
  if (!policy.jitter) return Math.round(base);
  return Math.round(base / 2 + (base / 2) * unitHash(jitterSeed));
}

/** FNV-1a of a string mapped to [0, 1): deterministic, so replay computes the same delays. */
export function unitHash(text: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index += 1) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) / 0x1_0000_0000;
}
