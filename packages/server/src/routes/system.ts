/** `/healthz` (alive), `/readyz` (the store answers), `/metrics` (Prometheus). Public. */
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { problem, sendProblem } from '../problems.js';

export function systemRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/healthz', { schema: { hide: true } }, () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    try {
      await ctx.store.queueDepth(ctx.now());
      return { status: 'ready', store: ctx.store.kind };
    } catch (error) {
      return sendProblem(reply, problem(503, 'STORE_UNREACHABLE', `the ${ctx.store.kind} store does not answer: ${(error as Error).message}`));
    }
  });
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    return reply.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics());
  });
}
