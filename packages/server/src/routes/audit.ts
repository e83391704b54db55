/** `GET /api/v1/audit`: the workspace's audit log, newest first (owners and admin keys). */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AuditEntry } from '@flowpilot/store';
import { callerOf } from '../auth.js';
import type { ServerContext } from '../context.js';
import { iso } from '../present.js';
import { pageQuery, problemResponses, problemSchema } from '../schemas.js';

const tags = ['audit'];

/** A point in time: milliseconds since the epoch, or ISO-8601 with an offset. */
const instant = z
  .union([z.string().regex(/^\d{1,15}$/), z.iso.datetime({ offset: true })])
  .transform((value) => (/^\d+$/.test(value) ? Number(value) : Date.parse(value)));

export const auditQuery = pageQuery.extend({
  action: z.string().max(100).optional().describe('e.g. `workflow.create`, `run.cancel`.'),
  actorId: z.string().max(200).optional().describe('A user id, an API key id, or `webhook:<path>` / `schedule:<workflowId>/<nodeId>`.'),
  resourceType: z.string().max(100).optional().describe('e.g. `workflow`, `run`.'),
  resourceId: z.string().max(200).optional(),
  since: instant.optional().describe('Entries at or after this time: ms since the epoch or ISO-8601.'),
  until: instant.optional().describe('Entries before this time: ms since the epoch or ISO-8601.'),
});

export const auditEntrySchema = z.object({
  id: z.number().int(),
  at: z.string(),
  actorType: z.enum(['user', 'api_key', 'system']),
  actorId: z.string(),
  action: z.string(),
  resourceType: z.string(),
  resourceId: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
});

function presentEntry(entry: AuditEntry): z.infer<typeof auditEntrySchema> {
  const { workspaceId: _workspaceId, at, details, ...rest } = entry;
  return { ...rest, at: iso(at), ...(details === undefined ? {} : { details }) };
}

export function auditRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.get('/audit', {
    config: { level: 'admin' },
    schema: {
      tags,
      summary: 'The audit log: who did what to which resource, and when (newest first)',
      querystring: auditQuery,
      response: { 200: z.object({ items: z.array(auditEntrySchema), nextCursor: z.string().optional() }), ...problemResponses, 403: problemSchema },
    },
    handler: async (request) => {
      const { workspaceId } = callerOf(request);
      const { action, actorId, resourceType, resourceId, since, until, cursor, limit } = request.query;
      const page = await ctx.store.listAudit(workspaceId, { action, actorId, resourceType, resourceId, since, until, cursor, limit });
      return { items: page.items.map(presentEntry), ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor }) };
    },
  });
}
