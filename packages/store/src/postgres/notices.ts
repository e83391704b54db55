/**
 * What a PostgreSQL store hears on its LISTEN connection, and from whom. Every store instance has
 * a source id, `<schema>/<uuid>`: the payload of its work NOTIFYs and the `source` of its events
 * notices. A store skips its own notifications (it told its listeners at commit already) and other
 * schemas' (another FlowPilot on the same database).
 */
import { randomUUID } from 'node:crypto';
import { RUN_STATUSES, type RunStatus } from '@flowpilot/engine';
import type { EventsNotice } from '../catalog-types.js';

/** A new source id for a store of `schema`. */
export function newSource(schema: string | undefined): string {
  return `${schema ?? ''}/${randomUUID()}`;
}

/** Is a notification from `source` news for the store `self` of `schema`? (Unknown senders count as news.) */
export function fromPeer(source: string | undefined, self: string, schema: string | undefined): boolean {
  if (source === self) return false;
  const slash = source?.lastIndexOf('/') ?? -1;
  const sender = source === undefined || slash === -1 ? '' : source.slice(0, slash);
  return sender === '' || schema === undefined || sender === schema;
}

/** An events NOTIFY payload (see `WRITE`), or undefined when it is not one. */
export function parseEventsPayload(payload: string | undefined): { source: string | undefined; notice: EventsNotice } | undefined {
  if (payload === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { source, workspaceId, runId, workflowId, seq, status } = value as Record<string, unknown>;
  if (typeof workspaceId !== 'string' || typeof runId !== 'string' || typeof workflowId !== 'string' || typeof seq !== 'number') return undefined;
  const notice: EventsNotice = { workspaceId, runId, workflowId, seq };
  if (typeof status === 'string' && (RUN_STATUSES as readonly string[]).includes(status)) notice.status = status as RunStatus;
  return { source: typeof source === 'string' ? source : undefined, notice };
}

/** The `onEvents` listeners of a store; a listener's failure is reported, never thrown to the committer. */
export class EventsSignal {
  readonly #listeners = new Set<(notice: EventsNotice) => void>();

  constructor(private readonly onError: (error: unknown) => void) {}

  add(listener: (notice: EventsNotice) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  emit(notices: readonly EventsNotice[]): void {
    for (const notice of notices) {
      for (const listener of [...this.#listeners]) {
        try {
          listener(notice);
        } catch (error) {
          this.onError(error);
        }
      }
    }
  }
}
