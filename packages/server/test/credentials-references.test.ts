/**
 * Workflows that reference credentials: save, validate and run start reject missing and wrong-type
 * references (422), a credential an active workflow uses cannot be deleted (409), and a credential
 * that no longer decrypts fails its step with a typed, non-retryable error.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { encryptCredential } from '@flowpilot/vault';
import { describeBackends, postgresUnavailable, type Backend, type TestServer } from './harness.js';
import { createWorkflow, expectJson, expectProblem, runToEnd, tag, type Json } from './helpers.js';
import { createCredential, keyFor, newSecretKey, startVaultServer, withKey } from './credentials-helpers.js';

/** manual → call (http with `credential`). */
const calling = (credential: string | undefined, url = 'http://127.0.0.1:9/never'): Json => ({
  name: `calls-${tag()}`,
  nodes: [
    { id: 'start', type: 'manual' },
    { id: 'call', type: 'http', data: { url, ...(credential === undefined ? {} : { credential }) }, retry: { maxAttempts: 3, initialDelayMs: 1, jitter: false } },
  ],
  edges: [{ source: 'start', target: 'call' }],
});

describeBackends('credential references', await postgresUnavailable(), (backend: Backend) => {
  let t: TestServer;
  let bearer: string;
  let smtp: string;
  beforeAll(async () => {
    ({ t } = await startVaultServer(backend));
    bearer = await createCredential(t, 'httpBearer', { token: 'ref-token-secret' });
    smtp = await createCredential(t, 'smtp', { host: 'h', port: 25, secure: false, username: 'u', password: 'ref-smtp-secret' });
  });
  afterAll(() => t?.close());

  test('save rejects a missing or wrong-type credential with the usual 422 validation problem', async () => {
    const missing = await expectProblem(await t.api('/api/v1/workflows', { method: 'POST', json: calling('no-such-credential') }), 422, 'WORKFLOW_INVALID');
    expect(missing.errors).toEqual([expect.objectContaining({ code: 'CREDENTIAL_NOT_FOUND', nodeId: 'call', path: 'nodes[1].data.credential' })]);
    const wrong = await expectProblem(await t.api('/api/v1/workflows', { method: 'POST', json: calling(smtp) }), 422, 'WORKFLOW_INVALID');
    expect(wrong.errors).toEqual([expect.objectContaining({ code: 'CREDENTIAL_TYPE_MISMATCH', nodeId: 'call', path: 'nodes[1].data.credential' })]);
    expect(wrong.detail).toContain('smtp');
    // Other problems of the workflow come in the same answer.
    const both = calling('no-such-credential');
    (both.nodes as Json[]).push({ id: 'bad', type: 'nope' });
    const all = await expectProblem(await t.api('/api/v1/workflows', { method: 'POST', json: both }), 422, 'WORKFLOW_INVALID');
    expect(all.errors?.map((error) => error.code).sort()).toEqual(['CREDENTIAL_NOT_FOUND', 'UNKNOWN_NODE_TYPE']);
    await createWorkflow(t, calling(bearer));
    await createWorkflow(t, calling(undefined));
  });

  test('validate reports credential issues in errors; a good reference is valid', async () => {
    const bad = await expectJson<{ valid: boolean; errors: Json[] }>(await t.api('/api/v1/workflows/validate', { method: 'POST', json: calling('gone') }), 200);
    expect(bad).toMatchObject({ valid: false, errors: [{ code: 'CREDENTIAL_NOT_FOUND', nodeId: 'call', path: 'nodes[1].data.credential' }] });
    const good = await expectJson<{ valid: boolean; errors: Json[] }>(await t.api('/api/v1/workflows/validate', { method: 'POST', json: calling(bearer) }), 200);
    expect(good).toMatchObject({ valid: true, errors: [] });
  });

  test('a new version with a bad reference is refused and the latest version stays', async () => {
    const id = await createWorkflow(t, calling(bearer));
    const problem = await expectProblem(await t.api(`/api/v1/workflows/${id}`, { method: 'PUT', json: calling(smtp) }), 422, 'WORKFLOW_INVALID');
    expect(problem.errors?.[0]?.code).toBe('CREDENTIAL_TYPE_MISMATCH');
    expect((await expectJson<{ version: number }>(await t.api(`/api/v1/workflows/${id}`), 200)).version).toBe(1);
  });

  test("another workspace's credential id is not found from here", async () => {
    const outsider = await keyFor(t, `ws_${tag()}`, ['admin']);
    const problem = await expectProblem(await withKey(t, outsider, '/api/v1/workflows', { method: 'POST', json: calling(bearer) }), 422, 'WORKFLOW_INVALID');
    expect(problem.errors?.[0]?.code).toBe('CREDENTIAL_NOT_FOUND');
  });

  test('run start refuses a version whose credential was deleted since it was saved', async () => {
    const credential = await createCredential(t, 'httpBearer', { token: 'soon-deleted-token' });
    const id = await createWorkflow(t, calling(credential));
    expect((await t.api(`/api/v1/credentials/${credential}`, { method: 'DELETE' })).status).toBe(204);
    const problem = await expectProblem(await t.api(`/api/v1/workflows/${id}/runs`, { method: 'POST', json: {} }), 422, 'WORKFLOW_INVALID');
    expect(problem.errors).toEqual([expect.objectContaining({ code: 'CREDENTIAL_NOT_FOUND', nodeId: 'call' })]);
    expect((await expectJson<{ items: unknown[] }>(await t.api(`/api/v1/runs?workflowId=${id}`), 200)).items).toEqual([]);
  });

  test('a credential an active workflow uses cannot be deleted (409 naming it); once deactivated it can', async () => {
    const credential = await createCredential(t, 'httpBearer', { token: 'in-use-token' });
    const id = await createWorkflow(t, calling(credential));
    await expectJson(await t.api(`/api/v1/workflows/${id}/activate`, { method: 'POST' }), 200);
    const problem = await expectProblem(await t.api(`/api/v1/credentials/${credential}`, { method: 'DELETE' }), 409, 'CREDENTIAL_IN_USE');
    expect(problem).toMatchObject({ workflowIds: [id] });
    await expectJson(await t.api(`/api/v1/workflows/${id}/deactivate`, { method: 'POST' }), 200);
    expect((await t.api(`/api/v1/credentials/${credential}`, { method: 'DELETE' })).status).toBe(204);
  });

  test('a credential that no longer decrypts: shown with an error, kept-secret updates refused, its step fails once, typed', async () => {
    const credential = await createCredential(t, 'httpBearer', { token: 'rotated-away-token' });
    const id = await createWorkflow(t, calling(credential));
    // As if it had been written under another key.
    const foreign = encryptCredential(newSecretKey(), { workspaceId: 'default', credentialId: credential }, { token: 'rotated-away-token' });
    expect(await t.store.updateCredential('default', credential, { ciphertext: foreign }, Date.now())).toBe(true);
    const shown = await expectJson<Json>(await t.api(`/api/v1/credentials/${credential}`), 200);
    expect(shown).toMatchObject({ id: credential, error: { code: 'CREDENTIAL_DECRYPT_FAILED' } });
    expect(shown.data).toBeUndefined();
    await expectProblem(await t.api(`/api/v1/credentials/${credential}`, { method: 'PUT', json: { data: { token: '********' } } }), 409, 'CREDENTIAL_DECRYPT_FAILED');
    const run = await runToEnd(t, id);
    expect(run.status).toBe('failed');
    expect(run.error).toMatchObject({ code: 'CREDENTIAL_DECRYPT_FAILED', nodeId: 'call' });
    expect(run.error?.message).toContain(`"${credential}"`);
    expect(run.steps?.call).toMatchObject({ status: 'failed', attempts: 1 });
    // Sending every secret again repairs it.
    await expectJson(await t.api(`/api/v1/credentials/${credential}`, { method: 'PUT', json: { data: { token: 'fresh-token-value' } } }), 200);
    expect((await expectJson<Json>(await t.api(`/api/v1/credentials/${credential}`), 200)).data).toEqual({ token: '********' });
  });
});
