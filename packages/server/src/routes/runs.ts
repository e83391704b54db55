/** `/api/v1/workflows/{id}/runs` and `/api/v1/runs`: start, list, read, logs, cancel, retry, pause, resume. */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { RunRecord } from '@flowpilot/store';
import { auditRequest } from '../audit.js';
import { callerOf } from '../auth.js';
import type { ServerContext } from '../context.js';
import { assertCredentialReferences } from '../credential-references.js';
import { checkConcurrentRuns, checkRunStart } from '../limits.js';
import { presentRun } from '../present.js';
import { HttpProblem } from '../problems.js';
import { idParams, listRunsQuery, problemResponses, problemSchema, runSchema, startRunBody, startRunQuery } from '../schemas.js';

const tags = ['runs'];

export function runRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const { store, engine } = ctx;

  /** A run with its steps in the order of its workflow version. */
  const full = async (run: RunRecord) => {
    const plan = await engine.plans.get(run.workspaceId, run.workflowId, run.version).catch(() => undefined);
    return presentRun(run, await store.getSteps(run.workspaceId, run.id), plan?.nodes.map((node) => node.id));
  };

  const load = async (workspaceId: string, id: string): Promise<RunRecord> => {
    const run = await store.getRun(workspaceId, id);
    if (run === undefined) throw new HttpProblem(404, 'RUN_NOT_FOUND', `run "${id}" not found`);
    return run;
  };

  api.post('/workflows/:id/runs', {
    config: { level: 'run' },
    schema: {
      tags,
      summary: 'Start a run; with ?wait=true, answer when it finishes (202 when timeoutMs passes first)',
      params: idParams,
      querystring: startRunQuery,
      body: startRunBody,
      response: { 200: runSchema, 201: runSchema, 202: runSchema, ...problemResponses, 429: problemSchema },
    },
    handler: async (request, reply) => {
      const { workspaceId } = callerOf(request);
      const workflow = await store.getWorkflow(workspaceId, request.params.id);
      if (workflow === undefined) throw new HttpProblem(404, 'WORKFLOW_NOT_FOUND', `workflow "${request.params.id}" not found`);
      const body = request.body ?? {};
      if (body.version !== undefined && body.version > workflow.latestVersion) {
        throw new HttpProblem(404, 'VERSION_NOT_FOUND', `workflow "${workflow.id}" has no version ${body.version}`);
      }
      const plan = await engine.plans.get(workspaceId, workflow.id, body.version ?? workflow.latestVersion);
      // A credential deleted (or replaced) since the version was saved: refuse now, not halfway through the run.
      await assertCredentialReferences(ctx, workspaceId, plan.workflow);
      await checkRunStart(ctx, { workspaceId, input: body.input, nodes: plan.nodes.length });
      const run = await engine.startRun({ workspaceId, workflowId: workflow.id, version: body.version, input: body.input ?? {}, priority: body.priority });
      ctx.metrics.runsStarted.inc({ trigger: 'api' });
      // Ids and the version only: the input may hold secrets.
      await auditRequest(request, ctx, { action: 'run.start', resourceType: 'run', resourceId: run.id, details: { workflowId: workflow.id, version: run.version, trigger: 'api' } });
      if (request.query.wait !== 'true') return reply.code(201).send(await full(run));
      const finished = await ctx.hub.waitForFinish(workspaceId, run.id, request.query.timeoutMs, run);
      if (finished === undefined) return reply.code(202).send(await full((await store.getRun(workspaceId, run.id))!));
      return reply.code(200).send(await full(finished));
    },
  });

  api.get('/runs', {
    schema: { tags, summary: 'List runs (newest first)', querystring: listRunsQuery, response: { 200: z.object({ items: z.array(runSchema), nextCursor: z.string().optional() }), ...problemResponses } },
    handler: async (request) => {
      const { workspaceId } = callerOf(request);
      const { workflowId, status, since, cursor, limit } = request.query;
      const page = await store.listRuns(workspaceId, { workflowId, status, since: since === undefined ? undefined : Date.parse(since), cursor, limit });
      return { items: page.items.map((run) => presentRun(run)), ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor }) };
    },
  });

  api.get('/runs/:id', {
    schema: { tags, summary: 'A run with every step: status, output, error, attempts, timings', params: idParams, response: { 200: runSchema, ...problemResponses } },
    handler: async (request) => full(await load(callerOf(request).workspaceId, request.params.id)),
  });

  api.get('/runs/:id/steps/:nodeId/logs', {
    schema: {
      tags,
      summary: 'Log lines a step wrote, all attempts',
      params: idParams.extend({ nodeId: z.string().min(1).max(200) }),
      response: {
        200: z.object({ items: z.array(z.object({ seq: z.number(), at: z.string(), attempt: z.number(), level: z.string(), message: z.string(), fields: z.record(z.string(), z.unknown()).optional() })) }),
        ...problemResponses,
      },
    },
    handler: async (request) => {
      const { workspaceId } = callerOf(request);
      const run = await load(workspaceId, request.params.id);
      const items = [];
      for (const { seq, event } of await store.readEvents(workspaceId, run.id)) {
        if (event.type !== 'step.log' || event.nodeId !== request.params.nodeId) continue;
        items.push({ seq, at: new Date(event.at).toISOString(), attempt: event.attempt, level: event.level, message: event.message, ...(event.fields === undefined ? {} : { fields: event.fields }) });
      }
      return { items };
    },
  });

  const control = {
    cancel: (ws: string, id: string) => engine.cancelRun(id, 'cancelled through the API', ws),
    retry: (ws: string, id: string) => engine.retryRun(id, ws),
    pause: (ws: string, id: string) => engine.pauseRun(id, ws),
    resume: (ws: string, id: string) => engine.resumeRun(id, ws),
  } as const;
  for (const [action, apply] of Object.entries(control)) {
    api.post(`/runs/:id/${action}`, {
      config: { level: 'run' },
      schema: { tags, summary: `${action[0]!.toUpperCase()}${action.slice(1)} a run`, params: idParams, response: { 200: runSchema, ...problemResponses, 429: problemSchema } },
      handler: async (request) => {
        const { workspaceId } = callerOf(request);
        const run = await load(workspaceId, request.params.id);
        // A retried run is unfinished again: it counts against the workspace's concurrency limit.
        if (action === 'retry' && (run.status === 'failed' || run.status === 'cancelled')) await checkConcurrentRuns(ctx, workspaceId);
        const result = await full(await apply(workspaceId, request.params.id));
        await auditRequest(request, ctx, { action: `run.${action}`, resourceType: 'run', resourceId: run.id, details: { workflowId: run.workflowId } });
        return result;
      },
    });
  }
}
