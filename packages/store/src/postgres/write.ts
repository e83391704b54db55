/** Turns a `RunWrite` into the parameters of the one-statement write script (`WRITE`). */
import { encodeEvent, placeOutput, toJson } from '../codec.js';
import type { QueueWrite, RunWrite, StepWrite } from '../types.js';

/**
 * The parameters of `WRITE`. A statement may change each row only once, so repeated entries are
 * folded here into the result of applying them in order, as the SQLite store does:
 * - a step written twice: the later write wins, keeping the earlier output when it has none and the
 *   first start time;
 * - a node enqueued twice: the later item wins (and is the newer item);
 * - a node dequeued and enqueued: the enqueue replaces the item, so only the enqueue is sent;
 * - a timer set twice: the later due time; set and deleted: deleted.
 * `wakes`: the write enqueued an unleased item (other processes' workers should hear of it).
 */
export function writeParams(w: RunWrite, threshold: number): { values: Record<string, unknown>; wakes: boolean } {
  const { workspaceId: ws, runId } = w;
  const payloadIds: string[] = [];
  const payloadData: string[] = [];
  const place = (value: unknown, id: string): { inline: string | null; payloadId: string | null } => {
    const placed = placeOutput(value, threshold);
    if (placed.payload === null) return { inline: placed.inline, payloadId: null };
    payloadIds.push(id);
    payloadData.push(placed.payload);
    return { inline: null, payloadId: id };
  };

  const events = w.events.map(encodeEvent);

  const steps = new Map<string, StepWrite>();
  for (const step of w.steps) {
    const before = steps.get(step.nodeId);
    steps.set(
      step.nodeId,
      before === undefined ? step : { ...step, output: step.output !== undefined ? step.output : before.output, startedAt: before.startedAt ?? step.startedAt },
    );
  }
  const stepRows = [...steps.values()].map((step) => ({ step, ...place(step.output, `step:${runId}:${step.nodeId}`) }));

  const queue = new Map<string, QueueWrite>();
  for (const item of w.enqueue) {
    queue.delete(item.nodeId);
    queue.set(item.nodeId, item);
  }
  const items = [...queue.values()];
  const claimedAt = w.events.at(-1)?.at ?? null;

  const deleted = new Set(w.timersDeleted);
  const timers = new Map<string, number>();
  for (const timer of w.timersSet) if (!deleted.has(timer.timerId)) timers.set(timer.timerId, timer.dueAt);

  const run = w.run;
  const runOutput = run === undefined ? { inline: null, payloadId: null } : place(run.output, `run:${runId}`);
  const wakes = items.some((item) => item.lease === undefined);

  return {
    wakes,
    values: {
      ws,
      run: runId,
      expected: w.expectedSeq,
      event_count: events.length,
      has_run: run !== undefined,
      status: run?.status ?? null,
      output: runOutput.inline,
      output_payload_id: runOutput.payloadId,
      error: toJson(run?.error),
      started_at: run?.startedAt ?? null,
      finished_at: run?.finishedAt ?? null,
      event_type: events.map((event) => event.type),
      event_node: events.map((event) => event.nodeId),
      event_at: events.map((event) => event.at),
      event_data: events.map((event) => event.data),
      payload_id: payloadIds,
      payload_data: payloadData,
      step_node: stepRows.map((row) => row.step.nodeId),
      step_status: stepRows.map((row) => row.step.status),
      step_attempts: stepRows.map((row) => row.step.attempts),
      step_output: stepRows.map((row) => row.inline),
      step_payload_id: stepRows.map((row) => row.payloadId),
      step_error: stepRows.map((row) => toJson(row.step.error)),
      step_started_at: stepRows.map((row) => row.step.startedAt ?? null),
      step_finished_at: stepRows.map((row) => row.step.finishedAt ?? null),
      dequeue: w.dequeue.filter((nodeId) => !queue.has(nodeId)),
      priority: w.priority,
      queue_node: items.map((item) => item.nodeId),
      queue_attempt: items.map((item) => item.attempt),
      queue_inputs: items.map((item) => JSON.stringify(item.inputs)),
      queue_owner: items.map((item) => item.lease?.owner ?? null),
      queue_token: items.map((item) => item.lease?.token ?? null),
      queue_expires: items.map((item) => item.lease?.expiresAt ?? 0),
      queue_claims: items.map((item) => (item.lease === undefined ? 0 : 1)),
      queue_claimed_at: items.map((item) => (item.lease === undefined ? null : claimedAt)),
      timer_id: [...timers.keys()],
      timer_due: [...timers.values()],
      timers_deleted: [...deleted],
    },
  };
}
