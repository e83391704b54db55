/** Server-Sent Events: one writer per connection, event ids are per-run sequence numbers. */
import type { FastifyReply, FastifyRequest } from 'fastify';

export interface SseMessage {
  id?: string;
  event: string;
  data: unknown;
}

/** Opens an SSE stream on `reply`; returns a writer. Heartbeat comments keep proxies from closing it. */
export function openSse(request: FastifyRequest, reply: FastifyReply, heartbeatMs = 15_000): { send(messages: readonly SseMessage[]): boolean; close(): void; closed: Promise<void> } {
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  raw.write('retry: 1000\n\n');
  let open = true;
  const closed = new Promise<void>((resolve) => {
    const done = (): void => {
      open = false;
      clearInterval(heartbeat);
      resolve();
    };
    request.raw.once('close', done);
    raw.once('close', done);
  });
  const heartbeat = setInterval(() => open && raw.write(': keep-alive\n\n'), heartbeatMs);
  heartbeat.unref();
  return {
    closed,
    // All messages of one call go out in one write, so a client never sees half of a sequence number.
    send(messages) {
      if (!open) return false;
      raw.write(messages.map(format).join(''));
      return true;
    },
    close() {
      if (open) raw.end();
    },
  };
}

function format(message: SseMessage): string {
  const id = message.id === undefined ? '' : `id: ${message.id}\n`;
  return `${id}event: ${message.event}\ndata: ${JSON.stringify(message.data)}\n\n`;
}

/** Parses `Last-Event-ID` (or `?lastEventId=`) into a sequence number. */
export function lastEventId(request: FastifyRequest): number {
  const header = request.headers['last-event-id'];
  const query = (request.query as { lastEventId?: string } | undefined)?.lastEventId;
  const value = (Array.isArray(header) ? header[0] : header) ?? query;
  const parsed = value === undefined ? 0 : Number.parseInt(value, 10);
  return Number.isFinite(parsed) && parsed > 0 ? parsed : 0;
}
