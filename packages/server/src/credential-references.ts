/**
 * Credential references of workflows, checked against the workspace's credentials: on save,
 * validate and run start (a missing or wrong-type credential is a 422 validation problem), and
 * before a credential is deleted (an active workflow still using it is a 409).
 */
import { credentialReferences, NonRetryableError, validateCredentialReferences, validateWorkflow, type ValidationIssue } from '@flowpilot/engine';
import type { ServerContext } from './context.js';

/** The credential issues of a workflow definition in a workspace (none for a malformed definition). */
export async function credentialIssues(ctx: ServerContext, workspaceId: string, definition: unknown): Promise<ValidationIssue[]> {
  const nodes = (definition as { nodes?: unknown } | null)?.nodes;
  if (!Array.isArray(nodes)) return [];
  const workflow = { nodes };
  const ids = new Set<string>();
  for (const reference of credentialReferences(workflow, ctx.registry)) if (reference.credentialId !== undefined) ids.add(reference.credentialId);
  const known = new Map<string, string>();
  await Promise.all(
    [...ids].map(async (id) => {
      const credential = await ctx.store.getCredential(workspaceId, id);
      if (credential !== undefined) known.set(id, credential.type);
    }),
  );
  return validateCredentialReferences(workflow, ctx.registry, known);
}

/**
 * Throws the usual 422 `WORKFLOW_INVALID` problem when a credential reference is bad, with every
 * issue of the workflow in `errors` (its other validation errors too, so one answer lists all).
 */
export async function assertCredentialReferences(ctx: ServerContext, workspaceId: string, definition: unknown): Promise<void> {
  const credentials = await credentialIssues(ctx, workspaceId, definition);
  if (credentials.length === 0) return;
  const issues = [...validateWorkflow(definition, ctx.registry).errors, ...credentials];
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
  throw new NonRetryableError('WORKFLOW_INVALID', `invalid workflow: ${issues[0]!.message}${more}`, { details: { errors: issues } });
}

/** Active workflows of the workspace whose latest version references the credential. */
export async function activeWorkflowsUsing(ctx: ServerContext, workspaceId: string, credentialId: string): Promise<string[]> {
  const using: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await ctx.store.listWorkflows(workspaceId, { limit: 200, cursor });
    for (const workflow of page.items) {
      if (workflow.active !== true) continue;
      const version = await ctx.store.getWorkflowVersion(workspaceId, workflow.id);
      const nodes = (version?.definition as { nodes?: unknown } | undefined)?.nodes;
      if (!Array.isArray(nodes)) continue;
      if (credentialReferences({ nodes }, ctx.registry).some((reference) => reference.credentialId === credentialId)) using.push(workflow.id);
    }
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return using;
}
