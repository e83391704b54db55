/** `/api/v1/workflows`: create, list, read, version, diff, delete, validate, activate. */
import { randomUUID } from 'node:crypto';
import { diffWorkflows, planWorkflow, validateWorkflow } from '@flowpilot/engine';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { auditRequest } from '../audit.js';
import { callerOf } from '../auth.js';
import type { ServerContext } from '../context.js';
import { assertCredentialReferences, credentialIssues } from '../credential-references.js';
import { presentVersion, presentWorkflow } from '../present.js';
import { HttpProblem } from '../problems.js';
import { definitionSchema, idParams, pageQuery, problemResponses, validationReportSchema, versionParams, versionSchema, workflowSchema } from '../schemas.js';
import { setTriggers } from '../triggers.js';

const tags = ['workflows'];

export function workflowRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const { store, engine } = ctx;

  const load = async (workspaceId: string, id: string) => {
    const workflow = await store.getWorkflow(workspaceId, id);
    if (workflow === undefined) throw new HttpProblem(404, 'WORKFLOW_NOT_FOUND', `workflow "${id}" not found`);
    return workflow;
  };

  api.post('/workflows', {
    schema: { tags, summary: 'Create a workflow (version 1)', querystring: z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/).optional() }), body: definitionSchema, response: { 201: workflowSchema, ...problemResponses } },
    handler: async (request, reply) => {
      const { workspaceId } = callerOf(request);
      const id = request.query.id ?? randomUUID();
      if ((await store.getWorkflow(workspaceId, id)) !== undefined) throw new HttpProblem(409, 'WORKFLOW_EXISTS', `workflow "${id}" already exists: PUT a new version`);
      // A deleted workflow's versions stay for the runs pinned to them, so its id is not free again.
      if ((await store.listWorkflowVersions(workspaceId, id)).length > 0) throw new HttpProblem(409, 'WORKFLOW_EXISTS', `workflow id "${id}" belonged to a deleted workflow; choose another`);
      await assertCredentialReferences(ctx, workspaceId, request.body);
      const version = await engine.saveWorkflow(id, request.body, workspaceId, { createOnly: true });
      await auditRequest(request, ctx, { action: 'workflow.create', resourceType: 'workflow', resourceId: id, details: { version: version.version } });
      return reply.code(201).send(presentWorkflow((await store.getWorkflow(workspaceId, id))!, version));
    },
  });

  api.get('/workflows', {
    schema: {
      tags,
      summary: 'List workflows',
      // U+0000 ends a LIKE pattern in SQLite (the search matched every workflow) and PostgreSQL refuses it: 400 on both.
      querystring: pageQuery.extend({ q: z.string().max(200).refine((q) => !q.includes('\u0000'), 'must not contain U+0000').optional() }),
      response: { 200: z.object({ items: z.array(workflowSchema), nextCursor: z.string().optional() }), ...problemResponses },
    },
    handler: async (request) => {
      const { workspaceId } = callerOf(request);
      const page = await store.listWorkflows(workspaceId, { q: request.query.q, cursor: request.query.cursor, limit: request.query.limit });
      return { items: page.items.map((workflow) => presentWorkflow(workflow)), ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor }) };
    },
  });

  api.post('/workflows/validate', {
    // Validating changes nothing: viewers may check a workflow too.
    config: { level: 'read' },
    schema: { tags, summary: 'Validate a workflow without saving it', body: z.unknown(), response: { 200: validationReportSchema, ...problemResponses } },
    handler: async (request) => {
      const { valid, errors, warnings } = validateWorkflow(request.body, ctx.registry);
      const credentials = await credentialIssues(ctx, callerOf(request).workspaceId, request.body);
      return { valid: valid && credentials.length === 0, errors: [...errors, ...credentials], warnings };
    },
  });

  api.get('/workflows/:id', {
    schema: { tags, summary: 'The latest version of a workflow', params: idParams, response: { 200: workflowSchema, ...problemResponses } },
    handler: async (request) => {
      const { workspaceId } = callerOf(request);
      const workflow = await load(workspaceId, request.params.id);
      return presentWorkflow(workflow, await store.getWorkflowVersion(workspaceId, workflow.id));
    },
  });

  api.put('/workflows/:id', {
    schema: { tags, summary: 'Save a new immutable version', params: idParams, body: definitionSchema, response: { 200: workflowSchema, ...problemResponses } },
    handler: async (request) => {
      const { workspaceId } = callerOf(request);
      const before = await load(workspaceId, request.params.id);
      await assertCredentialReferences(ctx, workspaceId, request.body);
      const version = await engine.saveWorkflow(before.id, request.body, workspaceId);
      const workflow = (await store.getWorkflow(workspaceId, before.id))!;
      // An active workflow's triggers follow its latest version.
      if (workflow.active === true) await setTriggers(store, workspaceId, workflow.id, planWorkflow(version.definition, ctx.registry), ctx.now());
      await auditRequest(request, ctx, { action: 'workflow.update', resourceType: 'workflow', resourceId: workflow.id, details: { version: version.version } });
      return presentWorkflow(workflow, version);
    },
  });

  api.delete('/workflows/:id', {
    schema: { tags, summary: 'Delete a workflow (runs are kept)', params: idParams, response: { 204: z.null(), ...problemResponses } },
    handler: async (request, reply) => {
      const { workspaceId } = callerOf(request);
      if (!(await store.deleteWorkflow(workspaceId, request.params.id, ctx.now()))) throw new HttpProblem(404, 'WORKFLOW_NOT_FOUND', `workflow "${request.params.id}" not found`);
      await auditRequest(request, ctx, { action: 'workflow.delete', resourceType: 'workflow', resourceId: request.params.id });
      return reply.code(204).send(null);
    },
  });

  api.get('/workflows/:id/versions', {
    schema: { tags, summary: 'All versions of a workflow', params: idParams, response: { 200: z.object({ items: z.array(versionSchema) }), ...problemResponses } },
    handler: async (request) => {
      const { workspaceId } = callerOf(request);
      await load(workspaceId, request.params.id);
      return { items: (await store.listWorkflowVersions(workspaceId, request.params.id)).map(presentVersion) };
    },
  });

  api.get('/workflows/:id/versions/:v', {
    schema: { tags, summary: 'One version of a workflow', params: versionParams, response: { 200: versionSchema, ...problemResponses } },
    handler: async (request) => {
      const { workspaceId } = callerOf(request);
      const version = await store.getWorkflowVersion(workspaceId, request.params.id, request.params.v);
      if (version === undefined) throw new HttpProblem(404, 'VERSION_NOT_FOUND', `workflow "${request.params.id}" has no version ${request.params.v}`);
      return presentVersion(version);
    },
  });

  api.get('/workflows/:id/diff', {
    schema: {
      tags,
      summary: 'Nodes and edges added, removed and changed between two versions',
      params: idParams,
      querystring: z.object({ from: z.coerce.number().int().min(1), to: z.coerce.number().int().min(1).optional() }),
      response: { 200: z.object({ from: z.number(), to: z.number(), nodes: z.object({ added: z.array(z.string()), removed: z.array(z.string()), changed: z.array(z.string()) }), edges: z.object({ added: z.array(z.string()), removed: z.array(z.string()), changed: z.array(z.string()) }), fields: z.array(z.string()) }), ...problemResponses },
    },
    handler: async (request) => {
      const { workspaceId } = callerOf(request);
      const workflow = await load(workspaceId, request.params.id);
      const to = request.query.to ?? workflow.latestVersion;
      const [a, b] = await Promise.all([store.getWorkflowVersion(workspaceId, workflow.id, request.query.from), store.getWorkflowVersion(workspaceId, workflow.id, to)]);
      if (a === undefined || b === undefined) throw new HttpProblem(404, 'VERSION_NOT_FOUND', `workflow "${workflow.id}" has no version ${a === undefined ? request.query.from : to}`);
      return { from: a.version, to: b.version, ...diffWorkflows(a.definition, b.definition) };
    },
  });

  for (const action of ['activate', 'deactivate'] as const) {
    api.post(`/workflows/:id/${action}`, {
      schema: { tags, summary: action === 'activate' ? 'Turn the triggers on' : 'Turn the triggers off', params: idParams, response: { 200: workflowSchema, ...problemResponses } },
      handler: async (request) => {
        const { workspaceId } = callerOf(request);
        const workflow = await load(workspaceId, request.params.id);
        const version = await store.getWorkflowVersion(workspaceId, workflow.id);
        await setTriggers(store, workspaceId, workflow.id, action === 'activate' ? planWorkflow(version!.definition, ctx.registry) : undefined, ctx.now());
        await auditRequest(request, ctx, { action: `workflow.${action}`, resourceType: 'workflow', resourceId: workflow.id, details: { version: version!.version } });
        return presentWorkflow((await store.getWorkflow(workspaceId, workflow.id))!, version);
      },
    });
  }
}
