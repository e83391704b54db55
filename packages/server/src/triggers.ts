/**
 * Trigger activation: an active workflow's `webhook` nodes become routes under `/hooks`, its
 * `schedule` nodes become schedule rows with their next tick. Deactivating removes both.
 */
import type { Plan } from '@flowpilot/engine';
import type { ScheduleRecord, WebhookRoute } from '@flowpilot/store';
import { nextTick } from './schedule-math.js';
import { HttpProblem } from './problems.js';
import type { ServerStore } from './server-store.js';

interface WebhookParams {
  path: string;
  method: string;
  mode: 'async' | 'sync';
  secret?: string;
  credential?: string;
  timeoutMs: number;
}

interface ScheduleParams {
  cron: string;
  timezone?: string;
  catchUp: 'one' | 'none';
}

/** The trigger rows of a planned workflow. */
export function triggersOf(workspaceId: string, workflowId: string, plan: Plan, now: number): { webhooks: WebhookRoute[]; schedules: ScheduleRecord[] } {
  const webhooks: WebhookRoute[] = [];
  const schedules: ScheduleRecord[] = [];
  for (const node of plan.nodes) {
    const params = node.staticParams?.value;
    if (node.nodeType.type === 'webhook' && params !== undefined) {
      const { path, method, mode, secret, credential, timeoutMs } = params as WebhookParams;
      webhooks.push({ workspaceId, workflowId, nodeId: node.id, method, path, mode, timeoutMs, ...(secret === undefined ? {} : { secret }), ...(credential === undefined ? {} : { credentialId: credential }) });
    } else if (node.nodeType.type === 'schedule' && params !== undefined) {
      const { cron, timezone, catchUp } = params as ScheduleParams;
      const schedule: ScheduleRecord = { workspaceId, workflowId, nodeId: node.id, cron, catchUp, nextFireAt: nextTick(cron, timezone, now) ?? null };
      if (timezone !== undefined) schedule.timezone = timezone;
      schedules.push(schedule);
    }
  }
  return { webhooks, schedules };
}

/** Turns a workflow's triggers on (from `plan`, its latest version) or off. */
export async function setTriggers(store: ServerStore, workspaceId: string, workflowId: string, plan: Plan | undefined, now: number): Promise<void> {
  if (plan === undefined) {
    await store.setWorkflowTriggers(workspaceId, workflowId, false, [], []);
    return;
  }
  const { webhooks, schedules } = triggersOf(workspaceId, workflowId, plan, now);
  for (const hook of webhooks) {
    const taken = await store.findWebhook(hook.method, hook.path);
    if (taken !== undefined && (taken.workflowId !== workflowId || taken.workspaceId !== workspaceId)) {
      throw new HttpProblem(409, 'WEBHOOK_PATH_TAKEN', `webhook ${hook.method} /hooks/${hook.path} belongs to another workflow`, { nodeId: hook.nodeId });
    }
  }
  await store.setWorkflowTriggers(workspaceId, workflowId, true, webhooks, schedules);
}
