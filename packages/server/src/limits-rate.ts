/**
 * The request rate limit of `/api`: per API key or user (the caller the auth guard found), per IP
 * for requests without one (the public routes: setup, login, refresh). Over it: 429 problem with
 * `Retry-After`. Counted in this process's memory over a one-minute window.
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ServerContext } from './context.js';
import { limitsOf } from './limits.js';
import { problem } from './problems.js';

/** Registers the limit on the `/api` plugin `api`; call before its routes are added. */
export async function apiRateLimit(api: FastifyInstance, ctx: ServerContext): Promise<void> {
  const limits = limitsOf(ctx);
  await api.register(rateLimit, {
    // After the auth guard (an onRequest hook), so the caller is known; before the body is read.
    hook: 'preParsing',
    timeWindow: 60_000,
    keyGenerator: rateKey,
    max: async (request: FastifyRequest) =>
      request.caller === undefined ? limits.defaults.apiRequestsPerMinute : (await limits.effective(request.caller.workspaceId)).apiRequestsPerMinute,
    errorResponseBuilder: (request, context) => ({
      ...problem(429, 'RATE_LIMITED', `more than ${context.max} API requests a minute ${request.caller === undefined ? 'from this address' : 'with these credentials'}; retry after ${context.after}`, {
        limit: 'apiRequestsPerMinute',
        max: context.max,
      }),
      statusCode: 429,
    }),
  });
}

/** Whose requests count together: the API key or user, else the client address. */
function rateKey(request: FastifyRequest): string {
  const caller = request.caller;
  return caller === undefined ? `ip:${request.ip}` : `${caller.actorType}:${caller.actorId}`;
}
