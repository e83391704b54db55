/** Stored run events as the messages clients see on SSE and WebSocket streams. */
import { FINISHED_RUN_STATUSES, type RunEvent } from '@flowpilot/engine';
import type { StoredEvent } from '@flowpilot/store';
import type { EventEffects } from '@flowpilot/worker';
import type { SseMessage } from './sse.js';

/**
 * One stored event becomes one message named after it (`step.succeeded`, …) plus one per effect:
 * `step.retrying`, `step.skipped`, `step.cancelled`, and `run.finished`. All carry the event's seq
 * as id, so a client resuming after it gets none of them again.
 */
export function eventMessages(runId: string, stored: StoredEvent): SseMessage[] {
  const { effects, ...event } = stored.event as RunEvent & { effects?: EventEffects };
  const id = String(stored.seq);
  const base = { runId, seq: stored.seq, at: event.at };
  const messages: SseMessage[] = [{ id, event: event.type, data: { ...base, ...event } }];
  if (effects === undefined) return messages;
  if (effects.retryAt !== undefined && event.type === 'step.failed') {
    messages.push({ id, event: 'step.retrying', data: { ...base, nodeId: event.nodeId, attempt: event.attempt, retryAt: effects.retryAt } });
  }
  for (const nodeId of effects.skipped ?? []) messages.push({ id, event: 'step.skipped', data: { ...base, nodeId } });
  for (const nodeId of effects.cancelled ?? []) messages.push({ id, event: 'step.cancelled', data: { ...base, nodeId } });
  if (effects.runStatus !== undefined) {
    messages.push({ id, event: FINISHED_RUN_STATUSES.has(effects.runStatus) ? 'run.finished' : 'run.status', data: { ...base, status: effects.runStatus } });
  }
  return messages;
}

/** Does this event end the run's stream? */
export function endsRun(stored: StoredEvent): boolean {
  const status = (stored.event as { effects?: EventEffects }).effects?.runStatus;
  return status !== undefined && FINISHED_RUN_STATUSES.has(status);
}
