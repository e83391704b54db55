/** Which store errors are worth retrying the whole transaction for (the caller decides; the store never re-runs a transaction body). */
import { SequenceConflictError } from './codec.js';
import { isConnectionError } from './postgres/connection.js';

/** PostgreSQL: deadlock_detected, serialization_failure, lock_not_available. */
const TRANSIENT_STATES = new Set(['40P01', '40001', '55P03']);

/**
 * True for failures a retry of the whole transaction can overcome: a deadlock or serialization
 * failure (PostgreSQL aborted the transaction), a lost connection, a busy SQLite database, a write
 * whose run changed under it. The transaction was rolled back (or, for a connection lost during
 * COMMIT, its outcome is unknown: the retry must re-read what it depends on, as it does anyway).
 */
export function isTransientStoreError(error: unknown): boolean {
  if (error instanceof SequenceConflictError) return true;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && (TRANSIENT_STATES.has(code) || code === 'SQLITE_BUSY' || code === 'SQLITE_BUSY_SNAPSHOT')) return true;
  return isConnectionError(error);
}
