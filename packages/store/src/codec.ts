/** Encoding shared by both backends: JSON columns, events without outputs, large-output payloads. */
import { readdirSync, readFileSync } from 'node:fs';
import type { ErrorInfo, RunEvent } from '@flowpilot/engine';
import type { RunWrite, StoredEvent } from './types.js';

/** Outputs larger than this (bytes of JSON) go to the payload table. */
export const DEFAULT_PAYLOAD_THRESHOLD = 256 * 1024;

/** A numbered migration file. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Reads `NNN_name.sql` files of a backend, in order. */
export function loadMigrations(kind: 'sqlite' | 'postgres'): Migration[] {
  // src/codec.ts and dist/codec.js both sit one level below the package root.
  const directory = new URL(`../migrations/${kind}/`, import.meta.url);
  return readdirSync(directory)
    .filter((file) => /^\d+_[\w-]+\.sql$/.test(file))
    .sort()
    .map((file) => ({ version: Number.parseInt(file, 10), name: file.replace(/^\d+_|\.sql$/g, ''), sql: readFileSync(new URL(file, directory), 'utf8') }));
}

export function toJson(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(value);
}

export function fromJson<T>(text: string | null | undefined): T | undefined {
  return text === null || text === undefined ? undefined : (JSON.parse(text) as T);
}

/** The columns of an event row. Outputs and the run input are stored once elsewhere, not here. */
export function encodeEvent(event: RunEvent): { type: string; nodeId: string | null; at: number; data: string } {
  const { output: _output, input: _input, ...rest } = event as RunEvent & { output?: unknown; input?: unknown };
  return { type: event.type, nodeId: 'nodeId' in event ? event.nodeId : null, at: event.at, data: JSON.stringify(rest) };
}

/** Rebuilds an event from its row, joining the step output or run input back in. */
export function decodeEvent(seq: number, data: string, outputs: ReadonlyMap<string, unknown>, runInput: unknown): StoredEvent {
  const event = JSON.parse(data) as RunEvent;
  if (event.type === 'step.succeeded' || event.type === 'step.waiting') {
    (event as { output: unknown }).output = outputs.get(event.nodeId);
  } else if (event.type === 'run.started') {
    (event as { input: unknown }).input = runInput;
  }
  return { seq, event };
}

/** Does any event need step outputs joined in? (Saves a query when not.) */
export function needsOutputs(rows: ReadonlyArray<{ type: string }>): boolean {
  return rows.some((row) => row.type === 'step.succeeded' || row.type === 'step.waiting');
}

/** Splits an output into an inline column or a payload row, by size. */
export function placeOutput(value: unknown, threshold: number): { inline: string | null; payload: string | null } {
  if (value === undefined) return { inline: null, payload: null };
  const text = JSON.stringify(value);
  return text.length > threshold ? { inline: null, payload: text } : { inline: text, payload: null };
}

export type StoredError = ErrorInfo & { nodeId?: string };

/** Thrown when a write's expected `last_seq` does not match: another writer got there first. */
export class SequenceConflictError extends Error {
  readonly code = 'SEQUENCE_CONFLICT';
  constructor(runId: string, expected: number) {
    super(`run ${runId}: expected last_seq ${expected}; the run changed under the writer`);
  }
}

/** Serialises async critical sections (one SQLite connection, one writer at a time). */
export class AsyncMutex {
  #tail: Promise<void> = Promise.resolve();

  run<T>(fn: () => Promise<T> | T): Promise<T> {
    const result = this.#tail.then(fn);
    this.#tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

/** `onWork` listeners. A listener that throws is reported, never breaks its caller (a committed transaction). */
export class WorkSignal {
  readonly #entries = new Set<{ listener: () => void }>();

  constructor(private readonly onError: (error: unknown) => void = () => {}) {}

  get size(): number {
    return this.#entries.size;
  }

  add(listener: () => void): () => void {
    const entry = { listener };
    this.#entries.add(entry);
    return () => {
      this.#entries.delete(entry);
    };
  }

  emit(): void {
    for (const { listener } of [...this.#entries]) {
      try {
        listener();
      } catch (error) {
        this.onError(error);
      }
    }
  }
}

/** A shift of an eager lease's expiry, applied just before COMMIT. */
export interface LeaseShift {
  token: string;
  from: number;
  to: number;
}

/**
 * Eager leases written in one transaction, with when. Before COMMIT, `shifts` says how far to move
 * each expiry so it counts from the commit rather than from the write (see `QueueWrite.lease`).
 */
export class EagerLeases {
  readonly #written: Array<{ token: string; expiresAt: number; at: number }> = [];

  record(write: RunWrite, now: number): void {
    for (const item of write.enqueue) if (item.lease !== undefined) this.#written.push({ token: item.lease.token, expiresAt: item.lease.expiresAt, at: now });
  }

  /** Leases written at least `minDelayMs` ago, moved on by their delay. */
  shifts(now: number, minDelayMs = 50): LeaseShift[] {
    return this.#written.filter((lease) => now - lease.at >= minDelayMs).map((lease) => ({ token: lease.token, from: lease.expiresAt, to: lease.expiresAt + (now - lease.at) }));
  }
}
