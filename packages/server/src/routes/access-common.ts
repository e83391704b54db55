/** Pieces shared by the access routes (setup, auth, me, workspaces, members, invitations, keys). */
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ROLES, type Role } from '@flowpilot/store';
import { ROLE_LEVELS, type Caller } from '../auth.js';
import { recordAudit, type AuditAction } from '../audit.js';
import type { ServerContext } from '../context.js';
import { problemResponses, problemSchema } from '../schemas.js';

/** Problems the access routes answer besides the common ones. */
export const accessProblems = { ...problemResponses, 403: problemSchema, 410: problemSchema, 503: problemSchema };

/** No bearer needed (OpenAPI: these operations override the global security requirement). */
export const publicSecurity: Array<Record<string, string[]>> = [];

export const roleSchema = z.enum(ROLES);

export const tokenPairSchema = z.object({
  accessToken: z.string(),
  refreshToken: z.string(),
  tokenType: z.literal('Bearer'),
  expiresIn: z.number().int().describe('Seconds until the access token expires.'),
});

export const userSchema = z.object({ id: z.string(), email: z.string(), name: z.string(), createdAt: z.string(), disabled: z.boolean().optional() });

/** The caller a user is in one workspace (for audit entries of routes that choose no workspace). */
export function userCaller(userId: string, workspaceId: string, role: Role): Caller {
  return { workspaceId, actorType: 'user', actorId: userId, userId, level: ROLE_LEVELS[role] };
}

/**
 * Records an audit entry. The action already happened, so a failure to record is logged, not
 * answered as an error.
 */
export async function audit(request: FastifyRequest, ctx: ServerContext, caller: Caller, entry: AuditAction): Promise<void> {
  await recordAudit(ctx, caller, entry).catch((error: unknown) => request.log.error({ err: error, action: entry.action }, 'could not record an audit entry'));
}
