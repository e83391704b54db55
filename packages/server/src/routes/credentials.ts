/**
 * `/api/v1/credentials` and `/api/v1/credential-types`: typed secrets of the workspace, stored
 * encrypted (vault), answered masked. Reads need `read`, changes `write`. Without a secret key
 * (PostgreSQL without FLOWPILOT_SECRET_KEY) the credential routes answer 503 `SECRET_KEY_REQUIRED`;
 * the type list needs no key.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { CredentialRecord } from '@flowpilot/store';
import {
  credentialTypes as builtinTypes,
  CredentialDecryptError,
  decryptCredential,
  encryptCredential,
  maskCredentialData,
  mergeCredentialData,
  SECRET_MASK,
  type CredentialDataIssue,
  type CredentialTypeRegistry,
  type SecretKey,
} from '@flowpilot/vault';
import { recordAudit, type AuditAction } from '../audit.js';
import { callerOf } from '../auth.js';
import type { ServerContext } from '../context.js';
import { activeWorkflowsUsing } from '../credential-references.js';
import { iso } from '../present.js';
import { HttpProblem } from '../problems.js';
import { idParams, pageQuery, problemResponses, problemSchema } from '../schemas.js';

const tags = ['credentials'];
const responses = { ...problemResponses, 403: problemSchema, 503: problemSchema };
const dataSchema = z.record(z.string(), z.unknown());

const credentialSchema = z.object({
  id: z.string(),
  name: z.string(),
  type: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  createdBy: z.string().optional(),
  data: dataSchema.optional().describe(`Non-secret fields as stored; secret fields as "${SECRET_MASK}".`),
  error: z.object({ code: z.string(), message: z.string() }).optional().describe('Why the data cannot be shown (it does not decrypt with this key).'),
});

const createBody = z.object({ name: z.string().trim().min(1).max(200), type: z.string().min(1).max(100), data: dataSchema }).strict();
const updateBody = z
  .object({
    name: z.string().trim().min(1).max(200).optional(),
    data: z.record(z.string(), z.unknown().nullable()).optional().describe(`Secret fields omitted or sent as "${SECRET_MASK}" keep their stored value; null clears an optional one.`),
  })
  .strict()
  .refine((body) => body.name !== undefined || body.data !== undefined, 'send name and/or data');

const typeInfoSchema = z.object({ type: z.string(), title: z.string(), description: z.string(), schema: z.record(z.string(), z.unknown()), secretFields: z.array(z.string()) });

export function credentialRoutes(app: FastifyInstance, ctx: ServerContext, types: CredentialTypeRegistry = builtinTypes): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const { store } = ctx;

  const keyOf = (): SecretKey => {
    if (ctx.secretKey === undefined) throw new HttpProblem(503, 'SECRET_KEY_REQUIRED', 'credentials need a secret key: set FLOWPILOT_SECRET_KEY (32 bytes, base64 or hex) on every FlowPilot process');
    return ctx.secretKey;
  };

  const load = async (workspaceId: string, id: string): Promise<CredentialRecord> => {
    const credential = await store.getCredential(workspaceId, id);
    if (credential === undefined) throw new HttpProblem(404, 'CREDENTIAL_NOT_FOUND', `credential "${id}" not found`);
    return credential;
  };

  const decrypt = (key: SecretKey, credential: CredentialRecord): Record<string, unknown> =>
    decryptCredential(key, { workspaceId: credential.workspaceId, credentialId: credential.id }, credential.ciphertext) as Record<string, unknown>;

  const present = (key: SecretKey, credential: CredentialRecord): z.infer<typeof credentialSchema> => {
    const out: z.infer<typeof credentialSchema> = { id: credential.id, name: credential.name, type: credential.type, createdAt: iso(credential.createdAt), updatedAt: iso(credential.updatedAt) };
    if (credential.createdBy !== undefined) out.createdBy = credential.createdBy;
    try {
      out.data = maskCredentialData(types.get(credential.type), decrypt(key, credential));
    } catch (error) {
      if (!(error instanceof CredentialDecryptError)) throw error;
      out.error = { code: error.code, message: error.message };
    }
    return out;
  };

  const audit = async (request: FastifyRequest, entry: AuditAction): Promise<void> => {
    // The change happened: a failure to record it is logged, not answered.
    await recordAudit(ctx, callerOf(request), entry).catch((error: unknown) => request.log.error({ err: error, action: entry.action }, 'could not record an audit entry'));
  };

  api.get('/credential-types', {
    schema: { tags, summary: 'Credential types with the JSON Schema of their data and their secret fields', response: { 200: z.object({ items: z.array(typeInfoSchema) }), ...responses } },
    handler: () => ({ items: types.describeAll() }),
  });

  api.post('/credentials', {
    config: { level: 'write' },
    schema: { tags, summary: 'Store a credential (encrypted); answers its id', body: createBody, response: { 201: z.object({ id: z.string(), name: z.string(), type: z.string() }), ...responses } },
    handler: async (request, reply) => {
      const key = keyOf();
      const caller = callerOf(request);
      const { name, type } = request.body;
      const data = checked(types, type, request.body.data);
      const id = randomUUID();
      const now = ctx.now();
      const ciphertext = encryptCredential(key, { workspaceId: caller.workspaceId, credentialId: id }, data);
      await store
        .createCredential({ workspaceId: caller.workspaceId, id, name, type, ciphertext, createdAt: now, updatedAt: now, ...(caller.userId === undefined ? {} : { createdBy: caller.userId }) })
        .catch(nameTaken(name));
      await audit(request, { action: 'credential.create', resourceType: 'credential', resourceId: id, details: { name, type } });
      return reply.code(201).send({ id, name, type });
    },
  });

  api.get('/credentials', {
    schema: {
      tags,
      summary: 'Credentials of the workspace, by name (data masked)',
      querystring: pageQuery.extend({ type: z.string().min(1).max(100).optional() }),
      response: { 200: z.object({ items: z.array(credentialSchema), nextCursor: z.string().optional() }), ...responses },
    },
    handler: async (request) => {
      const key = keyOf();
      const { type, cursor, limit } = request.query;
      const page = await store.listCredentials(callerOf(request).workspaceId, { type, cursor, limit });
      return { items: page.items.map((credential) => present(key, credential)), ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor }) };
    },
  });

  api.get('/credentials/:id', {
    schema: { tags, summary: 'A credential (data masked)', params: idParams, response: { 200: credentialSchema, ...responses } },
    handler: async (request) => present(keyOf(), await load(callerOf(request).workspaceId, request.params.id)),
  });

  api.put('/credentials/:id', {
    config: { level: 'write' },
    schema: { tags, summary: 'Rename a credential and/or change its data (masked secrets are kept)', params: idParams, body: updateBody, response: { 200: credentialSchema, ...responses } },
    handler: async (request) => {
      const key = keyOf();
      const { workspaceId } = callerOf(request);
      const before = await load(workspaceId, request.params.id);
      const patch: { name?: string; ciphertext?: string } = {};
      if (request.body.name !== undefined) patch.name = request.body.name;
      if (request.body.data !== undefined) {
        const type = types.get(before.type);
        if (type === undefined) throw new HttpProblem(409, 'UNKNOWN_CREDENTIAL_TYPE', `credential type "${before.type}" is no longer known: delete the credential`);
        const data = mergeCredentialData(type, storedForMerge(key, before, type.secretFields, request.body.data, decrypt), request.body.data);
        patch.ciphertext = encryptCredential(key, { workspaceId, credentialId: before.id }, checked(types, before.type, data));
      }
      const updated = await store.updateCredential(workspaceId, before.id, patch, ctx.now()).catch(nameTaken(patch.name ?? before.name));
      if (!updated) throw new HttpProblem(404, 'CREDENTIAL_NOT_FOUND', `credential "${before.id}" not found`);
      const changed = Object.keys(patch).map((field) => (field === 'ciphertext' ? 'data' : field));
      await audit(request, { action: 'credential.update', resourceType: 'credential', resourceId: before.id, details: { name: patch.name ?? before.name, type: before.type, changed } });
      return present(key, await load(workspaceId, before.id));
    },
  });

  api.delete('/credentials/:id', {
    config: { level: 'write' },
    schema: { tags, summary: 'Delete a credential (409 while an active workflow uses it)', params: idParams, response: { 204: z.null(), ...responses } },
    handler: async (request, reply) => {
      keyOf();
      const { workspaceId } = callerOf(request);
      const credential = await load(workspaceId, request.params.id);
      const using = await activeWorkflowsUsing(ctx, workspaceId, credential.id);
      if (using.length > 0) {
        throw new HttpProblem(409, 'CREDENTIAL_IN_USE', `credential "${credential.id}" is used by active workflow${using.length === 1 ? '' : 's'} ${using.map((id) => `"${id}"`).join(', ')}: deactivate or change them first`, { workflowIds: using });
      }
      if (!(await store.deleteCredential(workspaceId, credential.id))) throw new HttpProblem(404, 'CREDENTIAL_NOT_FOUND', `credential "${credential.id}" not found`);
      await audit(request, { action: 'credential.delete', resourceType: 'credential', resourceId: credential.id, details: { name: credential.name, type: credential.type } });
      return reply.code(204).send(null);
    },
  });
}

/** Data valid for the type, or a 400 problem naming each bad field (never echoing a value). */
function checked(types: CredentialTypeRegistry, type: string, data: unknown): Record<string, unknown> {
  const result = types.check(type, data);
  if (result.ok) return result.data;
  const errors = result.issues.map((issue: CredentialDataIssue) => ({ code: 'INVALID_CREDENTIAL', message: `${issue.path}: ${issue.message}`, path: issue.path }));
  throw new HttpProblem(400, 'INVALID_CREDENTIAL', errors[0]!.message, { errors });
}

/**
 * The stored data an update merges with. It is decrypted only when a secret is kept (omitted or
 * masked): an update that sends every secret anew also repairs a credential that no longer decrypts.
 */
function storedForMerge(
  key: SecretKey,
  credential: CredentialRecord,
  secretFields: readonly string[],
  incoming: Record<string, unknown>,
  decrypt: (key: SecretKey, credential: CredentialRecord) => Record<string, unknown>,
): Record<string, unknown> {
  const keepsOne = secretFields.some((field) => incoming[field] === undefined || incoming[field] === SECRET_MASK);
  if (!keepsOne) return {};
  try {
    return decrypt(key, credential);
  } catch (error) {
    if (!(error instanceof CredentialDecryptError)) throw error;
    throw new HttpProblem(409, 'CREDENTIAL_DECRYPT_FAILED', `credential "${credential.id}" does not decrypt with this server's key (${error.message}); send every secret field to replace them`);
  }
}

/** Maps a unique-name violation to a 409 naming the name. */
function nameTaken(name: string) {
  return (error: unknown): never => {
    const code = (error as { code?: unknown }).code;
    if (code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
      throw new HttpProblem(409, 'CREDENTIAL_EXISTS', `a credential named "${name}" already exists in this workspace`);
    }
    throw error;
  };
}
