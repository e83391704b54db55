/**
 * Recording the audit log: one call per action that changes something or runs something.
 * Failures to record are logged and do not fail the request (the action already happened).
 */
import type { AuditEntry } from '@flowpilot/store';
import type { Caller } from './auth.js';
import type { ServerContext } from './context.js';

/** What a route says about an action; who and when come from the caller and the clock. */
export interface AuditAction {
  /** `resource.verb`, e.g. `workflow.create`. */
  action: string;
  resourceType: string;
  resourceId: string;
  details?: Record<string, unknown>;
}

/** Appends an audit entry for `caller` (or for FlowPilot itself when `caller` is `system`). */
export async function recordAudit(context: ServerContext, caller: Caller | { workspaceId: string; actorType: 'system'; actorId: string }, entry: AuditAction): Promise<void> {
  const row: Omit<AuditEntry, 'id'> = { workspaceId: caller.workspaceId, at: context.now(), actorType: caller.actorType, actorId: caller.actorId, ...entry };
  await context.store.appendAudit(row);
}
