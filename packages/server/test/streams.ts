/** Reading live-event streams in tests, and checking a run's stream against its stored events. */
import { expect } from 'vitest';
import { DEFAULT_WORKSPACE_ID } from '@flowpilot/store';
import type { TestServer } from './harness.js';
import { sseEvents, type SseEvent } from './helpers.js';

/** Reads a stream until `stop` holds for a message (returns early) or the stream ends. */
export async function readUntil(response: Response, stop: (event: SseEvent) => boolean = () => false, timeoutMs = 15_000): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  const timeout = AbortSignal.timeout(timeoutMs);
  for await (const event of sseEvents(response, timeout)) {
    events.push(event);
    if (stop(event)) break;
  }
  return events;
}

/**
 * Checks a run's messages against its stored events: each stored event arrives once, in seq order,
 * as a message named after it with the seq as id; effect messages share their event's id; the
 * last message is run.finished.
 */
export async function expectCompleteStream(t: TestServer, runId: string, messages: readonly SseEvent[]): Promise<void> {
  const stored = await t.store.readEvents(DEFAULT_WORKSPACE_ID, runId);
  const withIds = messages.filter((message) => message.id !== undefined);
  const primary = withIds.filter((message) => message.event === message.data.type);
  expect(primary.map((message) => Number(message.id))).toEqual(stored.map((event) => event.seq));
  expect(primary.map((message) => message.event)).toEqual(stored.map((event) => event.event.type));
  for (const message of withIds) {
    expect(message.data.seq).toBe(Number(message.id));
    expect(message.data.runId).toBe(runId);
  }
  const ids = withIds.map((message) => Number(message.id));
  expect(ids).toEqual([...ids].sort((a, b) => a - b));
  const finished = withIds.filter((message) => message.event === 'run.finished');
  expect(finished).toHaveLength(1);
  expect(withIds.at(-1)).toBe(finished[0]);
}
