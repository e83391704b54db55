/** `/api/v1/workspace/limits`: the limits in force for the caller's workspace; owners change them. */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { WorkspaceLimits } from '@flowpilot/store';
import { auditRequest } from '../audit.js';
import { callerOf } from '../auth.js';
import type { ServerContext } from '../context.js';
import { LIMIT_NAMES, limitsOf, type EffectiveLimits, type LimitName } from '../limits.js';
import { HttpProblem } from '../problems.js';
import { problemResponses, problemSchema } from '../schemas.js';

const tags = ['limits'];

const DESCRIPTIONS: Record<LimitName, string> = {
  maxConcurrentRuns: 'Runs of the workspace queued, running, waiting or paused at once; a start over it answers 429.',
  maxRunDurationMs: 'A run still going after this long fails with LIMIT_RUN_DURATION (the workflow may set a shorter timeout).',
  maxPayloadBytes: 'Largest run input, in bytes of JSON; a larger one answers 413.',
  maxStepsPerRun: 'Most steps one run may execute: its nodes (a larger workflow answers 422 at start) plus the steps of forEach/loop bodies and sub-workflows (the run fails with LIMIT_STEPS_PER_RUN).',
  apiRequestsPerMinute: 'API requests a minute per API key or user; over it: 429 with Retry-After.',
};

const positive = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);

const effectiveSchema = z.object(Object.fromEntries(LIMIT_NAMES.map((name) => [name, positive.describe(DESCRIPTIONS[name])])) as Record<LimitName, typeof positive>);
const overridesSchema = effectiveSchema.partial();

export const limitsSchema = z.object({
  limits: effectiveSchema.describe('The limits in force: the overrides over the defaults.'),
  overrides: overridesSchema.describe("This workspace's own values."),
  defaults: effectiveSchema.describe("The server's defaults (FLOWPILOT_LIMIT_*)."),
});

export const limitsPatchSchema = z
  .object(Object.fromEntries(LIMIT_NAMES.map((name) => [name, positive.nullable().optional().describe(`${DESCRIPTIONS[name]} null: back to the default.`)])) as Record<LimitName, z.ZodOptional<z.ZodNullable<typeof positive>>>)
  .strict()
  .describe('Overrides to change: a positive integer sets one, null clears it, an absent field is kept.');

function present(defaults: Readonly<EffectiveLimits>, overrides: WorkspaceLimits): z.infer<typeof limitsSchema> {
  return { limits: { ...defaults, ...overrides }, overrides, defaults: { ...defaults } };
}

export function limitRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const limits = limitsOf(ctx);

  api.get('/workspace/limits', {
    config: { level: 'read' },
    schema: { tags, summary: "The workspace's limits in force, its overrides and the server's defaults", response: { 200: limitsSchema, ...problemResponses } },
    handler: async (request) => present(limits.defaults, await limits.overrides(callerOf(request).workspaceId)),
  });

  api.put('/workspace/limits', {
    config: { level: 'admin' },
    schema: { tags, summary: "Change the workspace's limits (owners)", body: limitsPatchSchema, response: { 200: limitsSchema, ...problemResponses, 403: problemSchema } },
    handler: async (request) => {
      const { workspaceId } = callerOf(request);
      const overrides = await limits.update(workspaceId, request.body);
      if (overrides === false) throw new HttpProblem(404, 'WORKSPACE_NOT_FOUND', `workspace "${workspaceId}" not found`);
      // The values are numbers: nothing secret, and worth knowing who lifted a limit.
      await auditRequest(request, ctx, { action: 'limits.update', resourceType: 'workspace', resourceId: workspaceId, details: { changes: request.body } });
      return present(limits.defaults, overrides);
    },
  });
}
