/**
 * What the API shows of credential data: non-secret fields as they are, secret fields as a fixed
 * mask. The mask reveals nothing (not even a length or a last character). Editors send the mask
 * back unchanged for secrets the user did not retype; {@link mergeCredentialData} keeps those.
 */
import type { CredentialType } from './credential-types.js';

/** Stands for a stored secret in API answers. */
export const SECRET_MASK = '********';

/** The data with every secret field replaced by {@link SECRET_MASK}. */
export function maskCredentialData(type: CredentialType | undefined, data: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const masked: Record<string, unknown> = {};
  // An unknown type (no longer registered) shows nothing but masks: any field may be secret.
  const secret = new Set(type?.secretFields ?? Object.keys(data));
  for (const [field, value] of Object.entries(data)) masked[field] = secret.has(field) && value !== undefined && value !== null ? SECRET_MASK : value;
  return masked;
}

/**
 * The data of an update: `incoming` as sent, except that a secret field that is omitted or still
 * the mask keeps its stored value. A field sent as `null` is removed (clears an optional one).
 * Non-secret fields are taken from `incoming` only (an omitted one is cleared), like a form
 * submitted as a whole.
 */
export function mergeCredentialData(type: CredentialType, stored: Readonly<Record<string, unknown>>, incoming: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const merged: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(incoming)) if (value !== null) merged[field] = value;
  for (const field of type.secretFields) {
    const value = incoming[field];
    if (value === undefined || value === SECRET_MASK) {
      if (stored[field] === undefined) delete merged[field];
      else merged[field] = stored[field];
    }
  }
  return merged;
}
