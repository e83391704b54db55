/** Request and response schemas of the API (zod): they validate requests and generate OpenAPI. */
import { z } from 'zod';

export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    code: z.string().describe('Stable machine-readable error code.'),
    detail: z.string().optional(),
    errors: z.array(z.object({ code: z.string(), message: z.string(), nodeId: z.string().optional(), path: z.string().optional() }).loose()).optional(),
    runId: z.string().optional(),
  })
  .loose()
  .describe('application/problem+json');

/** A workflow definition as sent by clients; validated by the engine, not here, for precise errors. */
export const definitionSchema = z.record(z.string(), z.unknown()).describe('A workflow (format v1, see docs/workflow.schema.json).');

export const idParams = z.object({ id: z.string().min(1).max(200) });
export const versionParams = idParams.extend({ v: z.coerce.number().int().min(1) });

export const workflowSchema = z.object({
  id: z.string(),
  name: z.string(),
  version: z.number().int(),
  active: z.boolean(),
  createdAt: z.string(),
  updatedAt: z.string(),
  definition: z.unknown().optional(),
});

export const versionSchema = z.object({ id: z.string(), version: z.number().int(), createdAt: z.string(), definition: z.unknown().optional() });

export const pageQuery = z.object({
  cursor: z.string().max(500).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50).describe('At most 200.'),
});

export const stepSchema = z.object({
  status: z.string(),
  attempts: z.number().int(),
  output: z.unknown().optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  durationMs: z.number().optional(),
});

export const runSchema = z.object({
  id: z.string(),
  workflowId: z.string(),
  version: z.number().int(),
  status: z.string(),
  priority: z.number().int(),
  input: z.unknown().optional(),
  output: z.unknown().optional(),
  error: z.object({ code: z.string(), message: z.string(), nodeId: z.string().optional() }).loose().optional(),
  createdAt: z.string(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  steps: z.record(z.string(), stepSchema).optional(),
});

export const startRunBody = z
  .object({
    input: z.unknown().optional(),
    version: z.number().int().min(1).optional(),
    priority: z.number().int().min(-1000).max(1000).optional(),
  })
  .strict()
  .default({});

export const startRunQuery = z.object({
  wait: z.enum(['true', 'false']).optional(),
  timeoutMs: z.coerce.number().int().min(0).max(300_000).default(30_000),
});

export const listRunsQuery = pageQuery.extend({
  workflowId: z.string().max(200).optional(),
  status: z.enum(['pending', 'running', 'waiting', 'paused', 'succeeded', 'failed', 'cancelled']).optional(),
  since: z.iso.datetime({ offset: true }).optional().describe('ISO-8601: runs created at or after.'),
});

export const issueSchema = z.object({
  code: z.string(),
  message: z.string(),
  nodeId: z.string().optional(),
  edgeId: z.string().optional(),
  path: z.string().optional(),
  nodeIds: z.array(z.string()).optional(),
});

export const validationReportSchema = z.object({ valid: z.boolean(), errors: z.array(issueSchema), warnings: z.array(issueSchema) });

export const problemResponses = { 400: problemSchema, 401: problemSchema, 404: problemSchema, 409: problemSchema, 413: problemSchema, 422: problemSchema };
