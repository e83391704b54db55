/**
 * Live events: `GET /runs/{id}/events` and `GET /workflows/{id}/events` (Server-Sent Events), and
 * `/ws` (WebSocket; subscribe by run or workflow). A run stream replays what the client missed
 * (`Last-Event-ID`) from the store and then follows new events as notices arrive.
 */
import { FINISHED_RUN_STATUSES } from '@flowpilot/engine';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { WebSocket } from '@fastify/websocket';
import { z } from 'zod';
import { callerOf } from '../auth.js';
import type { ServerContext } from '../context.js';
import { endsRun, eventMessages } from '../event-messages.js';
import { HttpProblem, problem, sendProblem } from '../problems.js';
import { idParams } from '../schemas.js';
import { lastEventId, openSse, type SseMessage } from '../sse.js';

/** Open SSE streams, so a shutting-down server can say goodbye to each. */
export type StreamRegistry = Set<{ send(messages: readonly SseMessage[]): boolean; close(): void }>;

/**
 * Follows a run from `after`: calls `deliver` with each batch of new messages, in order, exactly
 * once. Resolves when the run has finished and everything was delivered, or `stop()` is called.
 */
export function followRun(ctx: ServerContext, workspaceId: string, runId: string, after: number, deliver: (messages: SseMessage[]) => boolean): { done: Promise<void>; stop(): void } {
  let last = after;
  let running = false;
  let again = false;
  let stopped = false;
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const pump = async (): Promise<void> => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        const events = await ctx.store.readEvents(workspaceId, runId, last);
        if (events.length === 0) {
          // Resumed after the last event of a finished run: nothing more will come.
          const run = await ctx.store.getRun(workspaceId, runId);
          if (run === undefined || (FINISHED_RUN_STATUSES.has(run.status) && run.lastSeq <= last)) stopped = true;
          continue;
        }
        last = events.at(-1)!.seq;
        if (!deliver(events.flatMap((stored) => eventMessages(runId, stored))) || events.some(endsRun)) {
          stopped = true;
        }
      } while (again && !stopped);
    } catch {
      stopped = true;
    } finally {
      running = false;
      if (stopped) finish();
    }
  };
  const off = ctx.hub.onRun(runId, () => void pump());
  // Notices can be lost with a dropped connection: a slow poll backs them up.
  const poll = setInterval(() => void pump(), 2000);
  poll.unref();
  void done.then(() => {
    off();
    clearInterval(poll);
  });
  void pump();
  return {
    done,
    stop() {
      stopped = true;
      finish();
    },
  };
}

export function eventRoutes(app: FastifyInstance, ctx: ServerContext, streams: StreamRegistry): void {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.get('/runs/:id/events', {
    schema: {
      tags: ['events'],
      summary: 'Server-Sent Events of a run; resume with Last-Event-ID',
      params: idParams,
      querystring: z.object({ lastEventId: z.string().max(20).optional() }),
    },
    handler: async (request, reply) => {
      const { workspaceId } = callerOf(request);
      const run = await ctx.store.getRun(workspaceId, request.params.id);
      if (run === undefined) throw new HttpProblem(404, 'RUN_NOT_FOUND', `run "${request.params.id}" not found`);
      if (request.method === 'HEAD') return reply.code(200).type('text/event-stream').send();
      const sse = openSse(request, reply);
      streams.add(sse);
      const follow = followRun(ctx, workspaceId, run.id, lastEventId(request), (messages) => sse.send(messages));
      await Promise.race([follow.done, sse.closed]);
      follow.stop();
      sse.send([{ event: 'end', data: { runId: run.id } }]);
      sse.close();
      streams.delete(sse);
    },
  });

  api.get('/workflows/:id/events', {
    schema: { tags: ['events'], summary: 'Server-Sent Events of every run of a workflow (live; ids are runId:seq)', params: idParams },
    handler: async (request, reply) => {
      const { workspaceId } = callerOf(request);
      const workflow = await ctx.store.getWorkflow(workspaceId, request.params.id);
      if (workflow === undefined) throw new HttpProblem(404, 'WORKFLOW_NOT_FOUND', `workflow "${request.params.id}" not found`);
      if (request.method === 'HEAD') return reply.code(200).type('text/event-stream').send();
      const sse = openSse(request, reply);
      streams.add(sse);
      const followers = new Map<string, { stop(): void }>();
      const off = ctx.hub.onWorkflow(workspaceId, workflow.id, (notice) => {
        if (followers.has(notice.runId)) return;
        // A run seen for the first time: follow it from the notice's first unseen event.
        const follow = followRun(ctx, workspaceId, notice.runId, Math.max(0, notice.seq - 64), (messages) =>
          sse.send(messages.map((message) => ({ ...message, id: `${notice.runId}:${message.id ?? ''}` }))),
        );
        followers.set(notice.runId, follow);
        void follow.done.then(() => followers.delete(notice.runId));
      });
      await sse.closed;
      off();
      for (const follow of followers.values()) follow.stop();
      streams.delete(sse);
    },
  });

  app.route({
    method: 'GET',
    url: '/ws',
    schema: { hide: true },
    handler: (_request, reply) => sendProblem(reply.header('upgrade', 'websocket'), problem(426, 'UPGRADE_REQUIRED', 'connect with a WebSocket client (Upgrade: websocket)')),
    wsHandler: (socket: WebSocket, request) => webSocketSession(ctx, socket, request),
  });
}

/** One WebSocket client: subscribes by run or workflow and receives the same messages as SSE. */
function webSocketSession(ctx: ServerContext, socket: WebSocket, request: FastifyRequest): void {
  const { workspaceId } = callerOf(request);
  const subscriptions: Array<{ stop(): void } | (() => void)> = [];
  const send = (messages: SseMessage[]): boolean => {
    if (socket.readyState !== socket.OPEN) return false;
    for (const message of messages) socket.send(JSON.stringify({ id: message.id, event: message.event, data: message.data }));
    return true;
  };
  socket.on('message', (raw) => {
    let request: { subscribe?: { runId?: unknown; workflowId?: unknown; after?: unknown } };
    try {
      request = JSON.parse(String(raw)) as typeof request;
    } catch {
      socket.send(JSON.stringify({ event: 'error', data: { code: 'INVALID_MESSAGE', message: 'send JSON: {"subscribe": {"runId": "…", "after": 0}}' } }));
      return;
    }
    const { runId, workflowId, after } = request.subscribe ?? {};
    if (typeof runId === 'string') {
      subscriptions.push(followRun(ctx, workspaceId, runId, typeof after === 'number' ? after : 0, send));
    } else if (typeof workflowId === 'string') {
      subscriptions.push(ctx.hub.onWorkflow(workspaceId, workflowId, (notice) => void ctx.store.readEvents(workspaceId, notice.runId, notice.seq - 1).then((events) => send(events.flatMap((stored) => eventMessages(notice.runId, stored))))));
    } else {
      socket.send(JSON.stringify({ event: 'error', data: { code: 'INVALID_MESSAGE', message: 'subscribe needs runId or workflowId' } }));
      return;
    }
    socket.send(JSON.stringify({ event: 'subscribed', data: request.subscribe }));
  });
  socket.on('close', () => {
    for (const subscription of subscriptions) {
      if (typeof subscription === 'function') subscription();
      else subscription.stop();
    }
  });
}
