/**
 * `/hooks/{path}`: webhook triggers. A request to an active workflow's webhook starts a run with
 * `{body, query, headers}` as input; async answers 202 `{runId}`, sync answers with the run's
 * `respond` node (or its output as JSON), or 504 with the run id when it takes too long.
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RunRecord, WebhookRoute } from '@flowpilot/store';
import { auditAs } from '../audit.js';
import type { ServerContext } from '../context.js';
import { checkRunStart } from '../limits.js';
import { problem, sendProblem } from '../problems.js';
import { SIGNATURE_HEADER, verifySignature } from '../signature.js';
import { WebhookSecrets } from '../webhook-secrets.js';

export interface HookOptions {
  /** Requests per minute per client IP (default 6000); over it: 429 with Retry-After. */
  rateLimitPerMinute?: number;
}

/** Headers never copied into a run's input: credentials would end up in the run history. */
const DROPPED_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization']);

export async function hookRoutes(app: FastifyInstance, ctx: ServerContext, options: HookOptions): Promise<void> {
  await app.register(rateLimit, {
    max: options.rateLimitPerMinute ?? 6000,
    timeWindow: 60_000,
    errorResponseBuilder: (_request, context) => ({ ...problem(429, 'RATE_LIMITED', `more than ${context.max} webhook requests a minute from this address`), statusCode: 429 }),
  });
  // Keep the raw body: signatures are computed over the exact bytes sent.
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser(['application/json', 'text/plain'], { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  const secrets = new WebhookSecrets(ctx);
  app.route({
    method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
    url: '/hooks/*',
    schema: { hide: true },
    handler: async (request, reply) => {
      const path = (request.params as { '*': string })['*'].replace(/\/+$/, '');
      const route = await ctx.store.findWebhook(request.method, path);
      if (route === undefined) return sendProblem(reply, problem(404, 'WEBHOOK_NOT_FOUND', `no active webhook ${request.method} /hooks/${path}`));
      const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const secret = await secrets.of(route);
      if (secret !== undefined && !verifySignature(secret, raw, header(request, SIGNATURE_HEADER))) {
        return sendProblem(reply, problem(401, 'INVALID_SIGNATURE', `missing or wrong ${SIGNATURE_HEADER} (sha256=<hex HMAC-SHA256 of the body>)`));
      }
      const body = parseBody(request, raw);
      if (body instanceof Error) return sendProblem(reply, problem(400, 'INVALID_JSON', `request body is not valid JSON: ${body.message}`));
      const input = { body, query: request.query ?? {}, headers: inputHeaders(request) };
      // The version is looked up here (not in startRun) so the workspace's limits can see its plan.
      const version = route.latestVersion ?? (await ctx.store.getWorkflow(route.workspaceId, route.workflowId))?.latestVersion;
      if (version !== undefined) {
        const plan = await ctx.engine.plans.get(route.workspaceId, route.workflowId, version);
        await checkRunStart(ctx, { workspaceId: route.workspaceId, input, nodes: plan.nodes.length });
      }
      const run = await ctx.engine.startRun({ workspaceId: route.workspaceId, workflowId: route.workflowId, version, input });
      ctx.metrics.runsStarted.inc({ trigger: 'webhook' });
      const actor = { workspaceId: route.workspaceId, actorType: 'system' as const, actorId: `webhook:${route.path}` };
      await auditAs(request.log, ctx, actor, { action: 'run.start', resourceType: 'run', resourceId: run.id, details: { workflowId: route.workflowId, version: run.version, trigger: 'webhook' } });
      if (route.mode === 'async') return reply.code(202).send({ runId: run.id });
      return answerSync(ctx, route, run, reply);
    },
  });
}

async function answerSync(ctx: ServerContext, route: WebhookRoute, started: RunRecord, reply: FastifyReply): Promise<FastifyReply> {
  const runId = started.id;
  const run = await ctx.hub.waitForFinish(route.workspaceId, runId, route.timeoutMs, started);
  if (run === undefined) return sendProblem(reply, problem(504, 'RUN_TIMEOUT', `the run did not finish within ${route.timeoutMs} ms`, { runId }));
  if (run.status !== 'succeeded') return sendProblem(reply, problem(500, 'RUN_FAILED', run.error?.message ?? `run ${run.status}`, { runId, error: run.error }));
  const plan = await ctx.engine.plans.get(run.workspaceId, run.workflowId, run.version);
  const responders = plan.nodes.filter((node) => node.nodeType.type === 'respond').map((node) => node.id);
  if (responders.length > 0) {
    const outputs = await ctx.store.readOutputs(run.workspaceId, run.id, responders);
    for (const id of responders) {
      const response = outputs.get(id) as { status: number; headers: Record<string, string>; body: unknown } | undefined;
      if (response === undefined) continue;
      return reply.code(response.status).headers({ 'x-flowpilot-run-id': runId, ...response.headers }).send(response.body);
    }
  }
  return reply.code(200).header('x-flowpilot-run-id', runId).send(run.output ?? null);
}

function parseBody(request: FastifyRequest, raw: Buffer): unknown {
  if (raw.length === 0) return null;
  const text = raw.toString('utf8');
  if (!/json/i.test(request.headers['content-type'] ?? '')) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    return error as Error;
  }
}

function inputHeaders(request: FastifyRequest): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined || DROPPED_HEADERS.has(name)) continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
