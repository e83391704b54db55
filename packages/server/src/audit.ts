/**
 * Recording the audit log: one call per action that changes something or runs something.
 * Failures to record are logged and do not fail the request (the action already happened).
 *
 * Details hold ids, versions and names only, never request bodies: a run's input or a
 * credential's data may carry secrets, and the audit log is kept forever.
 */
import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import { TurnBatcher } from '@flowpilot/runtime';
import type { AccessStore, AuditEntry } from '@flowpilot/store';
import { callerOf, type Caller } from './auth.js';
import type { ServerContext } from './context.js';

/** What a route says about an action; who and when come from the caller and the clock. */
export interface AuditAction {
  /** `resource.verb`, e.g. `workflow.create`. */
  action: string;
  resourceType: string;
  resourceId: string;
  details?: Record<string, unknown>;
}

/** FlowPilot itself acting: a webhook (`webhook:<path>`) or a schedule (`schedule:<workflowId>/<nodeId>`). */
export interface SystemActor {
  workspaceId: string;
  actorType: 'system';
  actorId: string;
}

/**
 * Appends audit entries; those recorded in the same turn of the event loop share one transaction
 * (a webhook under load records one entry per request).
 */
export class AuditWriter {
  readonly #batches: TurnBatcher<Omit<AuditEntry, 'id'>, void>;

  constructor(store: Pick<AccessStore, 'appendAudit'>) {
    this.#batches = new TurnBatcher<Omit<AuditEntry, 'id'>, void>(async (entries) => {
      await store.appendAudit(entries);
      return entries.map(() => undefined);
    });
  }

  append(entry: Omit<AuditEntry, 'id'>): Promise<void> {
    return this.#batches.add(entry);
  }
}

/** Appends an audit entry for `caller` (or for FlowPilot itself when `caller` is `system`). Rejects when the store does. */
export async function recordAudit(context: ServerContext, caller: Caller | SystemActor, entry: AuditAction): Promise<void> {
  const row: Omit<AuditEntry, 'id'> = { workspaceId: caller.workspaceId, at: context.now(), actorType: caller.actorType, actorId: caller.actorId, ...entry };
  await context.audit.append(row);
}

/** Records an action of the request's caller; a failure is logged, never thrown. */
export async function auditRequest(request: FastifyRequest, context: ServerContext, entry: AuditAction): Promise<void> {
  await auditAs(request.log, context, callerOf(request), entry);
}

/** Records an action of `actor`; a failure is logged on `log`, never thrown. */
export async function auditAs(log: FastifyBaseLogger, context: ServerContext, actor: Caller | SystemActor, entry: AuditAction): Promise<void> {
  try {
    await recordAudit(context, actor, entry);
  } catch (error) {
    log.error({ err: error, action: entry.action, resourceId: entry.resourceId }, 'could not record an audit entry');
  }
}
